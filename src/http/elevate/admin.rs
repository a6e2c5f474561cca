//! `/user/v1/admin/create` and `/user/v1/admin/login`.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use crate::accounts::SignUp;
use crate::app::AppState;
use crate::error::AppError;
use crate::http::authorize::guarded;
use crate::http::envelope::ApiOk;
use crate::http::extract::{JsonBody, RequestMeta};

use super::account::{tokens_result, LoginBody};

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/create", guarded(post(create))).route("/admin/login", guarded(post(login)))
}

#[derive(Deserialize)]
struct CreateAdminBody {
    name: String,
    email: String,
    password: String,
    secret_code: String,
}

/// Constant-time comparison, so the secret cannot be guessed byte by byte.
fn same_secret(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter().zip(y.iter()).fold(0u8, |acc, (p, q)| acc | (p ^ q)) == 0
}

async fn create(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    JsonBody(body): JsonBody<CreateAdminBody>,
) -> Result<ApiOk, AppError> {
    let allowed =
        state.settings.admin_secret_code.as_deref().is_some_and(|secret| same_secret(secret, &body.secret_code));
    if !allowed {
        return Err(AppError::Unauthorized);
    }
    let input = SignUp {
        name: body.name,
        email: body.email,
        password: body.password,
        phone: None,
        username: None,
        has_accepted_terms_and_conditions: true,
        preferred_language: None,
        roles: vec!["admin".into()],
    };
    state.sign_up(input, &meta).await?;
    Ok(ApiOk::created("Sign-up successful, Please wait while logging in.", json!([])))
}

async fn login(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<ApiOk, AppError> {
    let identifier = body.identifier()?.to_string();
    let (profile, tokens) = state.login(&identifier, body.password, true, &meta).await?;
    Ok(ApiOk::ok("User logged in successfully.", tokens_result(&profile, tokens)))
}
