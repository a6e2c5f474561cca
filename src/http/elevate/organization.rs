//! `/user/v1/organization/...`: create, update, list, read, requestOrgRole.

use axum::extract::{Path, Query, State};
use axum::routing::{get, patch, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use aggregates::OrganizationChanges;

use crate::http::authorize::guarded;
use crate::http::elevate::envelope::ApiOk;
use crate::http::elevate::errors::AppError;
use crate::http::elevate::render::ToElevateJson;
use crate::http::extract::{paging, Authenticated, JsonBody, RequestMeta};
use crate::http::AppState;
use crate::organizations::OrganizationKey;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/organization/create", guarded(post(create)))
        .route("/organization/update/{id}", guarded(patch(update).post(update)))
        .route("/organization/list", guarded(get(list)))
        .route("/organization/read", guarded(get(read)))
        .route("/organization/requestOrgRole", guarded(post(request_role)))
}

#[derive(Deserialize, ToSchema)]
#[schema(as = elevate::OrganizationBody)]
struct CreateBody {
    #[schema(min_length = 1, max_length = 256, example = "Springfield School")]
    name: String,
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$", example = "springfield")]
    code: String,
    #[serde(default)]
    description: String,
}

#[utoipa::path(post, path = "/user/v1/organization/create", request_body = CreateBody,
    responses((status = 200, description = "The organisation", body = super::openapi::OneOrganization)))]
async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<ApiOk, AppError> {
    let org = state.create_organization(&body.name, &body.code, &body.description, &meta.by(&caller)).await?;
    Ok(ApiOk::ok("Organization created successfully", org.to_elevate_json()))
}

pub(super) fn organization_id(raw: &str) -> Result<i64, AppError> {
    raw.trim().parse().map_err(|_| AppError::NotFound("Organization not found".into()))
}

/// What `organization/update/{id}` may change; `None` leaves it as it is.
#[derive(Deserialize, ToSchema)]
#[schema(as = elevate::OrganizationChanges)]
struct UpdateBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    related_orgs: Option<Vec<i64>>,
}

impl From<UpdateBody> for OrganizationChanges {
    fn from(body: UpdateBody) -> Self {
        OrganizationChanges { name: body.name, description: body.description, related_orgs: body.related_orgs }
    }
}

#[utoipa::path(method(patch, post), path = "/user/v1/organization/update/{id}", request_body = UpdateBody,
    params(("id" = i64, Path, minimum = 1, description = "The organisation's id")),
    responses((status = 200, description = "The organisation", body = super::openapi::OneOrganization)))]
async fn update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<ApiOk, AppError> {
    let org = state.update_organization(&caller, organization_id(&id)?, body.into(), &meta.by(&caller)).await?;
    Ok(ApiOk::ok("Organization updated successfully", org.to_elevate_json()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    page: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    search: Option<String>,
}

#[utoipa::path(get, path = "/user/v1/organization/list", params(ListQuery),
    responses((status = 200, description = "Organisations", body = super::openapi::Organizations)))]
async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> Result<ApiOk, AppError> {
    let (page, limit) = paging(query.page.as_deref(), query.limit.as_deref())?;
    let (rows, count) = state.list_organizations(query.search.as_deref(), page, limit).await?;
    let data: Vec<Value> = rows.iter().map(|o| o.to_elevate_json()).collect();
    Ok(ApiOk::counted("Organization fetched successfully.", data, count))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReadQuery {
    /// Or `organization_id`.
    #[serde(alias = "organization_id")]
    #[param(value_type = Option<i64>)]
    organisation_id: Option<String>,
    #[serde(alias = "organization_code")]
    organisation_code: Option<String>,
}

/// One organisation, by id or code.
#[utoipa::path(get, path = "/user/v1/organization/read", params(ReadQuery),
    responses((status = 200, description = "The organisation", body = super::openapi::OneOrganization)))]
async fn read(State(state): State<AppState>, Query(query): Query<ReadQuery>) -> Result<ApiOk, AppError> {
    let key = match (query.organisation_id, query.organisation_code) {
        (Some(id), _) => OrganizationKey::Id(organization_id(&id)?),
        (None, Some(code)) => OrganizationKey::Code(code.trim().to_lowercase()),
        (None, None) => {
            return Err(AppError::invalid_field("organisation_id", "organisation_id or organisation_code is required"))
        }
    };
    let org = state.organization(&key).await?;
    Ok(ApiOk::ok("Organization fetched successfully.", org.to_elevate_json()))
}

#[derive(Deserialize, ToSchema)]
struct RoleRequestBody {
    /// The id of the role asked for.
    #[schema(minimum = 1, example = 2)]
    role: i64,
    #[serde(default)]
    form_data: Option<Value>,
}

/// Asks the organisation's admins for a role.
#[utoipa::path(post, path = "/user/v1/organization/requestOrgRole", request_body = RoleRequestBody,
    responses((status = 200, description = "`{request_id, org_id, status, meta}`", body = super::openapi::Answer)))]
async fn request_role(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<RoleRequestBody>,
) -> Result<ApiOk, AppError> {
    let form_data = body.form_data.unwrap_or_else(|| json!({}));
    let request = state.request_role(&caller, body.role, form_data, &meta.by(&caller)).await?;
    Ok(ApiOk::ok(
        "Role requested successfully",
        json!({"request_id": request.id, "org_id": request.organization_id, "status": request.status, "meta": {}}),
    ))
}
