//! `/user/v1/account/...` OTP routes: `registrationOtp`, `generateOtp`,
//! `resetPassword`, and `changePassword` for a signed-in user. Every answer
//! to an OTP request is the same whether the address has an account or not.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

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
#[derive(Deserialize, ToSchema)]
struct OtpRequestBody {
    #[serde(default)]
    #[schema(format = Email, example = "mary@example.com")]
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

/// Mails a sign-up code (the same answer whether the address has an account or not).
#[utoipa::path(post, path = "/user/v1/account/registrationOtp", request_body = OtpRequestBody,
    responses((status = 200, description = "Sent; `result` is `[]`", body = super::openapi::Answer)))]
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

/// Mails a password-reset code (the same answer whether the address has an account or not).
#[utoipa::path(post, path = "/user/v1/account/generateOtp", request_body = OtpRequestBody,
    responses((status = 200, description = "Sent; `result` is `[]`", body = super::openapi::Answer)))]
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

#[derive(Deserialize, ToSchema)]
struct ResetBody {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    identifier: Option<String>,
    #[schema(min_length = 8, max_length = 256, example = "N3w!password")]
    password: String,
    /// The 6 digits mailed, as text or a number.
    #[schema(value_type = String, example = "123456")]
    otp: Value,
}

/// A new password with the mailed code; signs in.
#[utoipa::path(post, path = "/user/v1/account/resetPassword", request_body = ResetBody,
    responses((status = 200, description = "Reset and signed in", body = super::openapi::SignedIn)))]
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

#[derive(Deserialize, ToSchema)]
struct ChangePasswordBody {
    #[serde(rename = "oldPassword")]
    old_password: String,
    #[serde(rename = "newPassword")]
    #[schema(min_length = 8, max_length = 256, example = "N3w!password")]
    new_password: String,
}

/// The caller's new password (the old one required); every session of theirs ends: log in again.
#[utoipa::path(post, path = "/user/v1/account/changePassword", request_body = ChangePasswordBody,
    responses((status = 200, description = "Changed; `result` is `{}`", body = super::openapi::Answer)))]
async fn change_password(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<ChangePasswordBody>,
) -> Result<ApiOk, AppError> {
    state.change_password(&caller, body.old_password, body.new_password, &meta.by(&caller)).await?;
    Ok(ApiOk::ok("Your password has been changed successfully. Please log-in to continue.", json!({})))
}
