//! `/user/v1/admin/registerApp`: an admin registers a client application,
//! whose id entity v5's requests then send in `X-APP-ID`.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::http::authorize::guarded;
use crate::http::elevate::envelope::ApiOk;
use crate::http::elevate::errors::AppError;
use crate::http::extract::{Authenticated, JsonBody, RequestMeta};
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/registerApp", guarded(post(register_app)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RegisterAppBody {
    /// 1 to 64 letters, digits, `.`, `_` or `-`.
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._-]+$", example = "crm")]
    app_id: String,
    /// What the app is (defaults to its id).
    #[serde(default)]
    #[schema(max_length = 256, example = "The sales CRM")]
    name: Option<String>,
}

/// Registers a client application (admins only); an id registered already is refused.
#[utoipa::path(post, path = "/user/v1/admin/registerApp", request_body = RegisterAppBody,
    responses((status = 201, description = "`{app_id}`", body = super::openapi::Answer)))]
pub(super) async fn register_app(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<RegisterAppBody>,
) -> Result<ApiOk, AppError> {
    let app_id = state.register_client_app(&caller, &body.app_id, body.name.as_deref(), &meta.by(&caller)).await?;
    Ok(ApiOk::created("App registered successfully.", json!({"app_id": app_id})))
}
