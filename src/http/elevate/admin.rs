//! `/user/v1/admin/create` and `/user/v1/admin/login`.

use axum::extract::{Path, State};
use axum::routing::{delete, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::http::authorize::guarded;
use crate::http::elevate::envelope::ApiOk;
use crate::http::elevate::errors::AppError;
use crate::http::extract::{Authenticated, JsonBody, RequestMeta};
use crate::http::AppState;
use crate::users::{UserKey, UserRef};

use super::account::{tokens_result, LoginBody};

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/create", guarded(post(create))).route("/admin/login", guarded(post(login)))
}

#[derive(Deserialize, ToSchema)]
struct CreateAdminBody {
    name: String,
    #[schema(format = Email, example = "admin@example.com")]
    email: String,
    #[schema(min_length = 8, max_length = 256, example = "Str0ng!pass")]
    password: String,
    secret_code: String,
}

/// Constant-time comparison, so the secret cannot be guessed byte by byte.
fn same_secret(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter().zip(y.iter()).fold(0u8, |acc, (p, q)| acc | (p ^ q)) == 0
}

/// ELEVATE compatibility: creates an admin when `secret_code` is `ADMIN_SECRET_CODE` (refused when that is unset).
#[utoipa::path(post, path = "/user/v1/admin/create", request_body = CreateAdminBody,
    responses((status = 201, description = "Created; `result` is `[]`", body = super::openapi::Answer)))]
async fn create(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    JsonBody(body): JsonBody<CreateAdminBody>,
) -> Result<ApiOk, AppError> {
    let allowed =
        state.settings.admin_secret_code.as_ref().is_some_and(|secret| same_secret(secret.expose(), &body.secret_code));
    if !allowed {
        return Err(AppError::Unauthorized);
    }
    state.create_admin(body.name, body.email, body.password, &meta).await?;
    Ok(ApiOk::created("Sign-up successful, Please wait while logging in.", json!([])))
}

/// Login for admins only.
#[utoipa::path(post, path = "/user/v1/admin/login", request_body = super::account::LoginBody,
    responses((status = 200, description = "Signed in", body = super::openapi::SignedIn)))]
async fn login(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<ApiOk, AppError> {
    let identifier = body.identifier()?.to_string();
    let (profile, tokens) = state.login(&identifier, body.password, true, &meta).await?;
    Ok(ApiOk::ok("User logged in successfully.", tokens_result(&profile, tokens)))
}

pub fn powers() -> Router<AppState> {
    Router::new()
        .route("/admin/addOrgAdmin", guarded(post(add_org_admin)))
        .route("/admin/deactivateOrg/{id}", guarded(post(deactivate_org)))
        .route("/admin/deactivateUser", guarded(post(deactivate_user)))
        .route("/admin/deleteUser/{id}", guarded(delete(delete_user)))
        .route("/admin/assignRole", guarded(post(assign_role)))
}

#[derive(Deserialize, ToSchema)]
struct TargetUser {
    #[serde(default)]
    #[schema(minimum = 1, example = 2)]
    user_id: Option<i64>,
    #[serde(default)]
    /// The user's email, when `user_id` is not given.
    #[schema(format = Email)]
    identifier: Option<String>,
}

impl TargetUser {
    /// The user named: by `user_id`, else by `identifier` (an email).
    fn named(&self) -> Result<UserRef, AppError> {
        match (&self.user_id, &self.identifier) {
            (Some(id), _) => Ok(UserRef::Id(*id)),
            (None, Some(identifier)) => Ok(UserRef::Email(identifier.clone())),
            (None, None) => Err(AppError::invalid_field("user_id", "user_id or identifier is required")),
        }
    }
}

#[derive(Deserialize, ToSchema)]
struct AddOrgAdminBody {
    #[serde(flatten)]
    user: TargetUser,
    #[schema(minimum = 1, example = 1)]
    organization_id: i64,
}

#[utoipa::path(post, path = "/user/v1/admin/addOrgAdmin", request_body = AddOrgAdminBody,
    responses((status = 200, description = "`{user_id, org_id, user_roles}`", body = super::openapi::Answer)))]
async fn add_org_admin(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<AddOrgAdminBody>,
) -> Result<ApiOk, AppError> {
    let who = body.user.named()?;
    let assigned = state.add_org_admin(&caller, &who, body.organization_id, &meta.by(&caller)).await?;
    Ok(ApiOk::ok(
        "User Assigned As The Org-Admin Successfully",
        json!({"user_id": assigned.user.id, "org_id": assigned.organization_id, "user_roles": [assigned.roles]}),
    ))
}

/// Deactivates an organisation and its users.
#[utoipa::path(post, path = "/user/v1/admin/deactivateOrg/{id}",
    params(("id" = i64, Path, minimum = 1, description = "The organisation's id")),
    responses((status = 202, description = "`[{deactivated_users}]`", body = super::openapi::Answer)))]
async fn deactivate_org(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> Result<ApiOk, AppError> {
    let id = super::organization::organization_id(&id)?;
    let count = state.deactivate_organization(&caller, id, &meta.by(&caller)).await?;
    Ok(ApiOk::accepted("Organization deactivated Successfully.", json!([{"deactivated_users": count}])))
}

#[utoipa::path(post, path = "/user/v1/admin/deactivateUser", request_body = super::org_admin::DeactivateBody,
    responses((status = 202, description = "`{deactivated_users}`", body = super::openapi::Answer)))]
async fn deactivate_user(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<super::org_admin::DeactivateBody>,
) -> Result<ApiOk, AppError> {
    let count = state.deactivate_users(&caller, &body.id, &body.email, &meta.by(&caller)).await?;
    Ok(ApiOk::accepted("User deactivated Successfully.", json!({"deactivated_users": count})))
}

/// Erases a user (their personal data is crypto-shredded).
#[utoipa::path(delete, path = "/user/v1/admin/deleteUser/{id}",
    params(("id" = crate::http::openapi::UserKey, Path, description = "The user's numeric id or uuid")),
    responses((status = 202, description = "`[{user_id}]`", body = super::openapi::Answer)))]
async fn delete_user(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> Result<ApiOk, AppError> {
    let key = UserKey::parse(&id).ok_or_else(|| AppError::NotFound("User not found".into()))?;
    let user = state.erase_user(&caller, &key, &meta.by(&caller)).await?;
    Ok(ApiOk::accepted("User deleted successfully", json!([{"user_id": user.id}])))
}

#[derive(Deserialize, ToSchema)]
struct AssignRoleBody {
    #[serde(flatten)]
    user: TargetUser,
    #[schema(minimum = 1, example = 2)]
    role_id: i64,
    #[serde(default)]
    #[schema(minimum = 1)]
    organization_id: Option<i64>,
}

#[utoipa::path(post, path = "/user/v1/admin/assignRole", request_body = AssignRoleBody,
    responses((status = 200, description = "`{user_id, org_id, user_roles}`", body = super::openapi::Answer)))]
async fn assign_role(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<AssignRoleBody>,
) -> Result<ApiOk, AppError> {
    let who = body.user.named()?;
    let assigned = state.assign_role(&caller, &who, body.role_id, body.organization_id, &meta.by(&caller)).await?;
    Ok(ApiOk::ok(
        "Role assigned successfully",
        json!({"user_id": assigned.user.id, "org_id": assigned.organization_id, "user_roles": assigned.roles}),
    ))
}
