//! `/user/v1/admin/apiKey/*`: the API keys of client applications (issue,
//! list, revoke), an admin's (`client.key.manage`).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::api_keys::ApiKeyRow;
use crate::http::authorize::guarded;
use crate::http::elevate::envelope::ApiOk;
use crate::http::elevate::errors::AppError;
use crate::http::extract::{Authenticated, JsonBody, RequestMeta};
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/apiKey/create", guarded(post(create)))
        .route("/admin/apiKey/list", guarded(get(list)))
        .route("/admin/apiKey/revoke/{id}", guarded(post(revoke)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateApiKeyBody {
    /// What the key is for (1 to 100 characters).
    #[schema(example = "learner portal")]
    name: String,
}

/// A key as listed: never its secret.
fn rendered(row: &ApiKeyRow) -> Value {
    json!({
        "id": row.id,
        "name": row.name,
        "status": if row.revoked_at.is_some() { "REVOKED" } else { "ACTIVE" },
        "issued_by": row.issued_by,
        "issued_at": row.issued_at,
        "revoked_at": row.revoked_at,
        "revoked_by": row.revoked_by,
    })
}

/// Issues an API key; `result.key` is the key, shown this once.
#[utoipa::path(post, path = "/user/v1/admin/apiKey/create", request_body = CreateApiKeyBody,
    responses((status = 201, description = "`{id, name, status, key, issued_by, issued_at, ...}`", body = super::openapi::Answer)))]
async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<CreateApiKeyBody>,
) -> Result<ApiOk, AppError> {
    let issued = state.issue_api_key(&body.name, &meta.by(&caller)).await?;
    let mut result = rendered(&issued.row);
    result["key"] = issued.key.into();
    Ok(ApiOk::created("API key created successfully. Keep the key now: it is not shown again.", result))
}

/// Every API key, revoked ones too, oldest first; no secrets.
#[utoipa::path(get, path = "/user/v1/admin/apiKey/list",
    responses((status = 200, description = "`[{id, name, status, issued_by, issued_at, revoked_at, revoked_by}]`", body = super::openapi::Answer)))]
async fn list(State(state): State<AppState>, Authenticated(_caller): Authenticated) -> Result<ApiOk, AppError> {
    let keys = state.api_keys().await?;
    Ok(ApiOk::ok("API keys fetched successfully", Value::Array(keys.iter().map(rendered).collect())))
}

/// Revokes an API key at once; revoking a revoked key succeeds and changes nothing.
#[utoipa::path(post, path = "/user/v1/admin/apiKey/revoke/{id}",
    params(("id" = String, Path, description = "The key's id (a UUID), as listed")),
    responses((status = 200, description = "The key, `status: REVOKED`", body = super::openapi::Answer)))]
async fn revoke(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> Result<ApiOk, AppError> {
    let row = state.revoke_api_key(&id, &meta.by(&caller)).await?;
    Ok(ApiOk::ok("API key revoked successfully", rendered(&row)))
}
