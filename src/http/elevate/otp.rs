//! `/user/v1/account/...` OTP routes: `registrationOtp`, `generateOtp`,
//! `resetPassword`, and `changePassword` for a signed-in user. Every answer
//! to an OTP request is the same whether the address has an account or not.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::authorize::guarded;
use crate::http::elevate::account::tokens_result;
use crate::http::elevate::envelope::ApiOk;
use crate::http::elevate::errors::AppError;
use crate::http::extract::{Authenticated, JsonBody, RequestMeta};
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account/registrationOtp", guarded(post(registration_otp)))
        .route("/account/generateOtp", guarded(post(generate_otp)))
        .route("/account/resetPassword", guarded(post(reset_password)))
        .route("/account/changePassword", guarded(post(change_password)))
}

/// ELEVATE's seed sends `email`; its later releases `identifier` (an email here).
#[derive(Deserialize)]
struct OtpRequestBody {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    identifier: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

fn email_of(email: Option<&str>, identifier: Option<&str>) -> Result<String, AppError> {
    email
        .or(identifier)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .ok_or_else(|| AppError::invalid_field("email", "email is required"))
}

/// An OTP as a string or, as the seed shows it, a number.
pub(super) fn otp_text(otp: Option<&Value>) -> Result<Option<String>, AppError> {
    match otp {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if n.is_u64() => Ok(Some(format!("{:06}", n.as_u64().unwrap_or_default()))),
        Some(_) => Err(AppError::invalid_field("otp", "otp must be a number of 6 digits")),
    }
}

async fn registration_otp(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    JsonBody(body): JsonBody<OtpRequestBody>,
) -> Result<ApiOk, AppError> {
    let email = email_of(body.email.as_deref(), body.identifier.as_deref())?;
    state.request_registration_otp(&email, body.name.as_deref(), &meta).await?;
    Ok(ApiOk::ok(
        "OTP has been sent to your registered email ID. Please enter the otp to complete the registration process.",
        json!([]),
    ))
}

async fn generate_otp(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    JsonBody(body): JsonBody<OtpRequestBody>,
) -> Result<ApiOk, AppError> {
    let email = email_of(body.email.as_deref(), body.identifier.as_deref())?;
    state.request_reset_otp(&email, &meta).await?;
    Ok(ApiOk::ok(
        "OTP has been sent to your registered email ID. Please enter the number to update your password.",
        json!([]),
    ))
}

#[derive(Deserialize)]
struct ResetBody {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    identifier: Option<String>,
    password: String,
    otp: Value,
}

async fn reset_password(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    JsonBody(body): JsonBody<ResetBody>,
) -> Result<ApiOk, AppError> {
    let email = email_of(body.email.as_deref(), body.identifier.as_deref())?;
    let otp = otp_text(Some(&body.otp))?.ok_or_else(|| AppError::invalid_field("otp", "otp is required"))?;
    let (profile, tokens) = state.reset_password(&email, &otp, body.password, &meta).await?;
    Ok(ApiOk::ok("Password reset successfully.", tokens_result(&profile, tokens)))
}

#[derive(Deserialize)]
struct ChangePasswordBody {
    #[serde(rename = "oldPassword")]
    old_password: String,
    #[serde(rename = "newPassword")]
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<ChangePasswordBody>,
) -> Result<ApiOk, AppError> {
    state.change_password(&caller, body.old_password, body.new_password, &meta.by(&caller)).await?;
    Ok(ApiOk::ok("Your password has been changed successfully. Please log-in to continue.", json!({})))
}
