//! `userRole` (`user-role`), `modules`, `permissions` and
//! `rolePermissionMapping` (`role-permission-mapping`): the authorisation
//! data, for system admins.

use axum::extract::{Path, Query, State};
use axum::routing::{delete, get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use aggregates::{PermissionDefinition, RoleChanges, RoleDefinition};

use crate::catalogue::RoleFilter;
use crate::http::authorize::guarded;
use crate::http::elevate::envelope::ApiOk;
use crate::http::elevate::errors::AppError;
use crate::http::elevate::render::ToElevateJson;
use crate::http::extract::{paging, Authenticated, JsonBody, RequestMeta};
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for base in ["/userRole", "/user-role"] {
        router = router
            .route(&format!("{base}/create"), guarded(post(create_role)))
            .route(&format!("{base}/update/{{id}}"), guarded(post(update_role).patch(update_role)))
            .route(&format!("{base}/delete/{{id}}"), guarded(delete(delete_role)))
            .route(&format!("{base}/list"), guarded(get(list_roles)));
    }
    for base in ["/rolePermissionMapping", "/role-permission-mapping"] {
        router = router
            .route(&format!("{base}/create/{{role_id}}"), guarded(post(map_permission)))
            .route(&format!("{base}/delete/{{role_id}}"), guarded(post(unmap_permission)))
            .route(&format!("{base}/list"), guarded(post(list_mappings)));
    }
    router
        // The seed's own spelling.
        .route("/userRole/Create", guarded(post(create_role)))
        .route("/modules/create", guarded(post(create_module)))
        .route("/modules/update/{id}", guarded(post(update_module).patch(update_module)))
        .route("/modules/delete/{id}", guarded(delete(delete_module)))
        .route("/modules/list", guarded(get(list_modules)))
        .route("/permissions/create", guarded(post(create_permission)))
        .route("/permissions/update/{id}", guarded(post(update_permission).patch(update_permission)))
        .route("/permissions/delete/{id}", guarded(delete(delete_permission)))
        .route("/permissions/list", guarded(get(list_permissions)))
}

fn numeric(raw: &str, what: &str) -> Result<i64, AppError> {
    raw.trim().parse().map_err(|_| AppError::NotFound(format!("{what} not found")))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    page: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    search: Option<String>,
    user_type: Option<i64>,
    visibility: Option<String>,
    status: Option<String>,
    organization_id: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
struct RoleBody {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$", example = "reviewer")]
    title: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    /// 0: a user role, 1: a system role.
    #[schema(minimum = 0, maximum = 1)]
    user_type: i32,
    #[serde(default)]
    #[schema(pattern = "^(ACTIVE|INACTIVE|active|inactive)$", example = "ACTIVE")]
    status: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^(PUBLIC|PRIVATE|public|private)$", example = "PUBLIC")]
    visibility: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, example = 1)]
    organization_id: Option<i64>,
    #[serde(default)]
    translations: Value,
    #[serde(default)]
    meta: Value,
}

#[utoipa::path(post, path = "/user/v1/userRole/create", request_body = RoleBody,
    responses((status = 201, description = "The role", body = super::openapi::OneRole)))]
async fn create_role(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<RoleBody>,
) -> Result<ApiOk, AppError> {
    let role = RoleDefinition {
        numeric_id: 0,
        label: body.label.unwrap_or_else(|| body.title.clone()),
        title: body.title,
        user_type: body.user_type,
        status: body.status.unwrap_or_else(|| "ACTIVE".into()).to_uppercase(),
        visibility: body.visibility.unwrap_or_else(|| "PUBLIC".into()).to_uppercase(),
        organization_id: body.organization_id.unwrap_or(caller.organization_id),
        translations: body.translations,
        meta: body.meta,
    };
    let role = state.create_role(role, &meta.by(&caller)).await?;
    Ok(ApiOk::created("Roles added successfully", role.to_elevate_json()))
}

/// What `userRole/update/{id}` may change; `None` leaves it as it is.
#[derive(Deserialize, ToSchema)]
struct RoleUpdateBody {
    #[serde(default)]
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$", example = "reviewer")]
    title: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1)]
    user_type: Option<i32>,
    #[serde(default)]
    #[schema(pattern = "^(ACTIVE|INACTIVE|active|inactive)$", example = "ACTIVE")]
    status: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^(PUBLIC|PRIVATE|public|private)$", example = "PUBLIC")]
    visibility: Option<String>,
    #[serde(default)]
    translations: Option<Value>,
    #[serde(default)]
    meta: Option<Value>,
}

impl From<RoleUpdateBody> for RoleChanges {
    fn from(body: RoleUpdateBody) -> Self {
        RoleChanges {
            title: body.title,
            label: body.label,
            user_type: body.user_type,
            status: body.status,
            visibility: body.visibility,
            translations: body.translations,
            meta: body.meta,
        }
    }
}

#[utoipa::path(method(post, patch), path = "/user/v1/userRole/update/{id}", request_body = RoleUpdateBody, params(("id" = i64, Path, minimum = 1, description = "The role's id")),
    responses((status = 201, description = "The role", body = super::openapi::OneRole)))]
async fn update_role(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RoleUpdateBody>,
) -> Result<ApiOk, AppError> {
    let role = state.update_role(numeric(&id, "Role")?, body.into(), &meta.by(&caller)).await?;
    Ok(ApiOk::created("Roles updated successfully", role.to_elevate_json()))
}

#[utoipa::path(delete, path = "/user/v1/userRole/delete/{id}", params(("id" = i64, Path, minimum = 1, description = "The role's id")),
    responses((status = 202, description = "Deleted; `result` is `{}`", body = super::openapi::Answer)))]
async fn delete_role(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> Result<ApiOk, AppError> {
    state.delete_role(numeric(&id, "Role")?, &meta.by(&caller)).await?;
    Ok(ApiOk::accepted("Role deleted successfully", json!({})))
}

#[utoipa::path(get, path = "/user/v1/userRole/list", params(ListQuery),
    responses((status = 200, description = "Roles", body = super::openapi::Roles)))]
async fn list_roles(State(state): State<AppState>, Query(q): Query<ListQuery>) -> Result<ApiOk, AppError> {
    let (page, limit) = paging(q.page.as_deref(), q.limit.as_deref())?;
    let filter = RoleFilter {
        search: q.search,
        user_type: q.user_type,
        visibility: q.visibility.map(|v| v.to_uppercase()),
        status: q.status.map(|v| v.to_uppercase()),
        organization_id: q.organization_id,
        page,
        limit,
    };
    let (rows, count) = state.list_roles(&filter).await?;
    let data: Vec<Value> = rows.iter().map(|r| r.to_elevate_json()).collect();
    Ok(ApiOk::counted("Roles fetched successfully", data, count))
}

#[derive(Deserialize, ToSchema)]
struct ModuleBody {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$", example = "reports")]
    code: String,
    #[serde(default)]
    #[schema(pattern = "^(ACTIVE|INACTIVE|active|inactive)$", example = "ACTIVE")]
    status: Option<String>,
}

fn module_json(m: &crate::catalogue::ModuleRow) -> Value {
    json!({"id": m.id, "Id": m.id, "code": m.code, "status": m.status})
}

#[utoipa::path(post, path = "/user/v1/modules/create", request_body = ModuleBody,
    responses((status = 201, description = "The module", body = super::openapi::OneModule)))]
async fn create_module(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<ModuleBody>,
) -> Result<ApiOk, AppError> {
    let module = state.save_module(None, &body.code, body.status.map(|s| s.to_uppercase()), &meta.by(&caller)).await?;
    Ok(ApiOk::created("MODULES_CREATED_SUCCESSFULLY", module_json(&module)))
}

#[utoipa::path(method(post, patch), path = "/user/v1/modules/update/{id}", request_body = ModuleBody, params(("id" = i64, Path, minimum = 1, description = "The module's id")),
    responses((status = 201, description = "The module", body = super::openapi::OneModule)))]
async fn update_module(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ModuleBody>,
) -> Result<ApiOk, AppError> {
    let id = numeric(&id, "Module")?;
    let module =
        state.save_module(Some(id), &body.code, body.status.map(|s| s.to_uppercase()), &meta.by(&caller)).await?;
    Ok(ApiOk::created("MODULES_UPDATED_SUCCESSFULLY", module_json(&module)))
}

#[utoipa::path(delete, path = "/user/v1/modules/delete/{id}", params(("id" = i64, Path, minimum = 1, description = "The module's id")),
    responses((status = 202, description = "Deleted; `result` is `{}`", body = super::openapi::Answer)))]
async fn delete_module(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> Result<ApiOk, AppError> {
    state.delete_module(numeric(&id, "Module")?, &meta.by(&caller)).await?;
    Ok(ApiOk::accepted("Module deleted successfully", json!({})))
}

#[utoipa::path(get, path = "/user/v1/modules/list", params(ListQuery),
    responses((status = 200, description = "Modules", body = super::openapi::Modules)))]
async fn list_modules(State(state): State<AppState>, Query(q): Query<ListQuery>) -> Result<ApiOk, AppError> {
    let (page, limit) = paging(q.page.as_deref(), q.limit.as_deref())?;
    let (rows, count) = state.list_modules(q.search.as_deref(), page, limit).await?;
    let data: Vec<Value> = rows.iter().map(module_json).collect();
    Ok(ApiOk::counted("Module fetched successfully", data, count))
}

#[derive(Deserialize, ToSchema)]
struct PermissionBody {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$", example = "reports_read")]
    code: String,
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$", example = "reports")]
    module: String,
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE` or `*`.
    #[schema(min_items = 1, example = json!(["GET"]))]
    request_type: Vec<String>,
    #[schema(max_length = 256, example = "/user/v1/reports/*")]
    api_path: String,
    #[serde(default)]
    #[schema(pattern = "^(ACTIVE|INACTIVE|active|inactive)$", example = "ACTIVE")]
    status: Option<String>,
}

impl PermissionBody {
    fn definition(self) -> PermissionDefinition {
        PermissionDefinition {
            numeric_id: 0,
            code: self.code,
            module: self.module,
            request_type: self.request_type,
            api_path: self.api_path,
            status: self.status.unwrap_or_else(|| "ACTIVE".into()).to_uppercase(),
        }
    }
}

#[utoipa::path(post, path = "/user/v1/permissions/create", request_body = PermissionBody,
    responses((status = 201, description = "The permission", body = super::openapi::OnePermission)))]
async fn create_permission(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<PermissionBody>,
) -> Result<ApiOk, AppError> {
    let p = state.save_permission(None, body.definition(), &meta.by(&caller)).await?;
    let mut result = p.to_elevate_json();
    result["Id"] = json!(p.id);
    Ok(ApiOk::created("PERMISSION_CREATED_SUCCESSFULLY", result))
}

#[utoipa::path(method(post, patch), path = "/user/v1/permissions/update/{id}", request_body = PermissionBody, params(("id" = i64, Path, minimum = 1, description = "The permission's id")),
    responses((status = 201, description = "The permission", body = super::openapi::OnePermission)))]
async fn update_permission(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PermissionBody>,
) -> Result<ApiOk, AppError> {
    let p = state.save_permission(Some(numeric(&id, "Permission")?), body.definition(), &meta.by(&caller)).await?;
    let mut result = p.to_elevate_json();
    result["Id"] = json!(p.id);
    Ok(ApiOk::created("PERMISSION_UPDATED_SUCCESSFULLY", result))
}

#[utoipa::path(delete, path = "/user/v1/permissions/delete/{id}", params(("id" = i64, Path, minimum = 1, description = "The permission's id")),
    responses((status = 202, description = "Deleted; `result` is `{}`", body = super::openapi::Answer)))]
async fn delete_permission(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> Result<ApiOk, AppError> {
    state.delete_permission(numeric(&id, "Permission")?, &meta.by(&caller)).await?;
    Ok(ApiOk::accepted("Permission deleted successfully", json!({})))
}

#[utoipa::path(get, path = "/user/v1/permissions/list", params(ListQuery),
    responses((status = 200, description = "`{results: {data, count}}`", body = super::openapi::Answer)))]
async fn list_permissions(State(state): State<AppState>, Query(q): Query<ListQuery>) -> Result<ApiOk, AppError> {
    let (page, limit) = paging(q.page.as_deref(), q.limit.as_deref())?;
    let (rows, count) = state.list_permissions(q.search.as_deref(), page, limit).await?;
    let data: Vec<Value> = rows.iter().map(|p| p.to_elevate_json()).collect();
    Ok(ApiOk::ok("Permissions fetched successfully", json!({"results": {"data": data, "count": count.value}}))
        .with_meta("count_is_estimate", json!(count.estimate)))
}

#[derive(Deserialize, ToSchema)]
struct MappingBody {
    #[schema(minimum = 1, example = 1)]
    permission_id: i64,
}

async fn set_mapping(
    state: &AppState,
    caller: &crate::accounts::Caller,
    meta: RequestMeta,
    role_id: &str,
    permission_id: i64,
    grant: bool,
) -> Result<Value, AppError> {
    let role_id = numeric(role_id, "Role")?;
    let p = state.set_role_permission(role_id, permission_id, grant, &meta.by(caller)).await?;
    Ok(json!({
        "roleId": role_id,
        "permissionId": p.id,
        "module": p.module,
        "request_type": serde_json::from_str::<Value>(&p.request_type).unwrap_or(json!([])),
    }))
}

/// Grants a permission to a role.
#[utoipa::path(post, path = "/user/v1/rolePermissionMapping/create/{role_id}", request_body = MappingBody,
    params(("role_id" = i64, Path, minimum = 1, description = "The role's id")),
    responses((status = 201, description = "`{roleId, permissionId, module, request_type}`", body = super::openapi::Answer)))]
async fn map_permission(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    Path(role_id): Path<String>,
    JsonBody(body): JsonBody<MappingBody>,
) -> Result<ApiOk, AppError> {
    let result = set_mapping(&state, &caller, meta, &role_id, body.permission_id, true).await?;
    Ok(ApiOk::created("Permission added to the role", result))
}

/// Takes a permission from a role.
#[utoipa::path(post, path = "/user/v1/rolePermissionMapping/delete/{role_id}", request_body = MappingBody,
    params(("role_id" = i64, Path, minimum = 1, description = "The role's id")),
    responses((status = 202, description = "Revoked; `result` is `{}`", body = super::openapi::Answer)))]
async fn unmap_permission(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    Path(role_id): Path<String>,
    JsonBody(body): JsonBody<MappingBody>,
) -> Result<ApiOk, AppError> {
    set_mapping(&state, &caller, meta, &role_id, body.permission_id, false).await?;
    Ok(ApiOk::accepted("ROLE_PERMISSION_MAPPING_DELETED_SUCCESSFULLY", json!({})))
}

#[derive(Deserialize, Default, ToSchema)]
struct MappingListBody {
    #[serde(default)]
    role_ids: Vec<i64>,
}

/// The permissions of the roles named (all roles' without a body).
#[utoipa::path(post, path = "/user/v1/rolePermissionMapping/list", request_body = Option<MappingListBody>,
    responses((status = 200, description = "`{data, count}`", body = super::openapi::Listed)))]
async fn list_mappings(
    State(state): State<AppState>,
    body: Option<JsonBody<MappingListBody>>,
) -> Result<ApiOk, AppError> {
    let role_ids = body.map(|b| b.0.role_ids).unwrap_or_default();
    let rows = state.role_permissions(&role_ids).await?;
    let data: Vec<Value> = rows
        .iter()
        .map(|(role_id, p)| {
            let mut v = p.to_elevate_json();
            v["role_id"] = json!(role_id);
            v["permission_id"] = json!(p.id);
            v
        })
        .collect();
    Ok(ApiOk::ok("Permissions fetched successfully", json!({"data": data, "count": data.len()})))
}
