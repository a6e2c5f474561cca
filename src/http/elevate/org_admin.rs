//! `/user/v1/org-admin/...`: the role-request queue, user deactivation and
//! bulk invites, for admins of the caller's own organisation.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use aggregates::RequestStatus;

use crate::http::authorize::guarded;
use crate::http::elevate::envelope::ApiOk;
use crate::http::elevate::errors::AppError;
use crate::http::extract::{paging, Authenticated, JsonBody, RequestMeta};
use crate::http::AppState;
use crate::organizations::{RequestQuery, RoleRequestRow};
use crate::visibility::ContactScope;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/org-admin/getRequests", guarded(post(get_requests)))
        .route("/org-admin/updateRequestStatus", guarded(post(update_request_status)))
        .route("/org-admin/getRequestDetails", guarded(get(request_details_query)))
        .route("/org-admin/getRequestDetails/{id}", guarded(get(request_details_path)))
        .route("/org-admin/deactivateUser", guarded(post(deactivate_user)))
        .route("/org-admin/bulkUserCreate", guarded(post(bulk_user_create)))
        .route("/org-admin/getBulkInvitesFilesList", guarded(get(bulk_invites_list)))
        .route("/org-admin/deactivateUser/{id}", guarded(post(deactivate_user_by_path)))
}

/// The requester's email only for callers who may see it (`visibility`).
fn request_json(r: &RoleRequestRow, seen_by: &ContactScope) -> Value {
    let email = match r.requester_organization_id {
        Some(org) if seen_by.covers(r.requester_id, org) => json!(r.requester_email),
        _ => Value::Null,
    };
    json!({
        "id": r.id,
        "requester_id": r.requester_id,
        "role": r.role_id,
        "status": r.status,
        "org_id": r.organization_id,
        "handled_by": r.handled_by,
        "requester": {"id": r.requester_id, "name": r.requester_name, "email": email},
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

#[derive(Deserialize, Default, ToSchema)]
struct Filters {
    #[serde(default)]
    role: Vec<i64>,
    #[serde(default)]
    status: Vec<String>,
    #[serde(default)]
    handled_by: Vec<i64>,
}

#[derive(Deserialize, Default, ToSchema)]
struct GetRequestsBody {
    #[serde(default)]
    filters: Filters,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    page: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

/// The role requests of the caller's organisation.
#[utoipa::path(post, path = "/user/v1/org-admin/getRequests", params(PageQuery), request_body = Option<GetRequestsBody>,
    responses((status = 200, description = "Requests", body = super::openapi::Listed)))]
async fn get_requests(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<PageQuery>,
    body: Option<JsonBody<GetRequestsBody>>,
) -> Result<ApiOk, AppError> {
    let (page, limit) = paging(query.page.as_deref(), query.limit.as_deref())?;
    let filters = body.map(|b| b.0.filters).unwrap_or_default();
    let query =
        RequestQuery { roles: filters.role, statuses: filters.status, handled_by: filters.handled_by, page, limit };
    let (rows, count) = state.role_requests(&caller, query).await?;
    let scope = ContactScope::of(&caller);
    let data: Vec<Value> = rows.iter().map(|r| request_json(r, &scope)).collect();
    Ok(ApiOk::counted("Organization requests fetched successfully", data, count))
}

#[derive(Deserialize, ToSchema)]
struct UpdateStatusBody {
    #[schema(minimum = 1, example = 1)]
    request_id: i64,
    #[schema(pattern = "^(APPROVED|REJECTED|UNDER_REVIEW)$", example = "APPROVED")]
    status: String,
    #[serde(default)]
    comments: Vec<String>,
}

/// Approves, rejects or reviews a role request.
#[utoipa::path(post, path = "/user/v1/org-admin/updateRequestStatus", request_body = UpdateStatusBody,
    responses((status = 200, description = "The request", body = super::openapi::Answer)))]
async fn update_request_status(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<UpdateStatusBody>,
) -> Result<ApiOk, AppError> {
    let status = RequestStatus::parse_decision(&body.status)
        .ok_or_else(|| AppError::invalid_field("status", "status must be APPROVED, REJECTED or UNDER_REVIEW"))?;
    let request = state.decide_role_request(&caller, body.request_id, status, body.comments, &meta.by(&caller)).await?;
    Ok(ApiOk::ok(
        "Successfully updated organization request status",
        request_json(&request, &ContactScope::of(&caller)),
    ))
}

async fn request_details(state: &AppState, caller: &crate::accounts::Caller, id: i64) -> Result<ApiOk, AppError> {
    let details = state.role_request_details(caller, id).await?;
    let request = &details.request;
    let mut result = request_json(request, &ContactScope::of(caller));
    result["role"] = json!(request.role_title);
    result["comments"] = json!(details.comments);
    result["meta"] = serde_json::from_str(&request.form_data).unwrap_or_else(|_| json!({}));
    if let Some(handler) = &details.handler {
        result["handler"] = json!({"id": handler.id, "name": handler.name});
    }
    Ok(ApiOk::ok("Organisation request details fetched successfully", result))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DetailsQuery {
    #[param(value_type = Option<i64>)]
    request_id: Option<String>,
}

fn request_id(raw: &str) -> Result<i64, AppError> {
    raw.trim().parse().map_err(|_| AppError::invalid_field("request_id", "Request not found"))
}

#[utoipa::path(get, path = "/user/v1/org-admin/getRequestDetails", params(DetailsQuery),
    responses((status = 200, description = "The request, its comments and form data", body = super::openapi::Answer)))]
async fn request_details_query(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<DetailsQuery>,
) -> Result<ApiOk, AppError> {
    let raw = query.request_id.ok_or_else(|| AppError::invalid_field("request_id", "request_id is required"))?;
    request_details(&state, &caller, request_id(&raw)?).await
}

#[utoipa::path(get, path = "/user/v1/org-admin/getRequestDetails/{id}", params(("id" = i64, Path, minimum = 1, description = "The request's id")),
    responses((status = 200, description = "The request, its comments and form data", body = super::openapi::Answer)))]
async fn request_details_path(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<ApiOk, AppError> {
    request_details(&state, &caller, request_id(&id)?).await
}

/// `id` and `email` each take one value (as the seed sends `"id": 12`) or
/// a list (as upstream's bulk form does).
#[derive(Deserialize, Default, ToSchema)]
pub(super) struct DeactivateBody {
    #[serde(default, deserialize_with = "one_or_many")]
    pub id: Vec<i64>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub email: Vec<String>,
}

fn one_or_many<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
    }
    let value = Value::deserialize(deserializer)?;
    match serde_json::from_value::<OneOrMany<T>>(value.clone()) {
        Ok(OneOrMany::Many(list)) => Ok(list),
        Ok(OneOrMany::One(one)) => Ok(vec![one]),
        // The element's own error (e.g. "invalid type: string, expected i64"), not serde's untagged one.
        Err(_) => match value {
            Value::Array(items) => {
                items.into_iter().map(|item| serde_json::from_value(item).map_err(serde::de::Error::custom)).collect()
            }
            other => serde_json::from_value(other).map(|one| vec![one]).map_err(serde::de::Error::custom),
        },
    }
}

/// Deactivates users of the caller's organisation, by id or email.
#[utoipa::path(post, path = "/user/v1/org-admin/deactivateUser", request_body = DeactivateBody,
    responses((status = 202, description = "`{deactivated_users}`", body = super::openapi::Answer)))]
async fn deactivate_user(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<DeactivateBody>,
) -> Result<ApiOk, AppError> {
    deactivated(&state, &caller, body, meta).await
}

/// The form upstream's OpenAPI documents: the user's id in the path (a body
/// with more ids or emails is taken too, as upstream's code reads the body).
#[utoipa::path(post, path = "/user/v1/org-admin/deactivateUser/{id}", request_body = Option<DeactivateBody>,
    params(("id" = i64, Path, minimum = 1, description = "The numeric id of the user to deactivate")),
    responses((status = 202, description = "`{deactivated_users}`", body = super::openapi::Answer)))]
async fn deactivate_user_by_path(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
    body: Option<JsonBody<DeactivateBody>>,
) -> Result<ApiOk, AppError> {
    let id: i64 = id.trim().parse().map_err(|_| AppError::NotFound("User not found".into()))?;
    let mut body = body.map(|JsonBody(b)| b).unwrap_or_default();
    if !body.id.contains(&id) {
        body.id.push(id);
    }
    deactivated(&state, &caller, body, meta).await
}

async fn deactivated(
    state: &AppState,
    caller: &crate::accounts::Caller,
    body: DeactivateBody,
    meta: RequestMeta,
) -> Result<ApiOk, AppError> {
    let count = state.deactivate_users(caller, &body.id, &body.email, &meta.by(caller)).await?;
    Ok(ApiOk {
        status: StatusCode::ACCEPTED,
        message: "User deactivated Successfully.",
        result: json!({"deactivated_users": count}),
        meta: Default::default(),
    })
}

#[derive(Deserialize, ToSchema)]
pub(super) struct BulkUserCreateBody {
    /// The path `cloud-services/file/getSignedUrl` gave for the uploaded CSV.
    #[schema(example = "users/0b7d3c0e-1f6a-4f5e-9a39-2f0c1d2e3f4a-1700000000000-invites.csv")]
    file_path: String,
}

/// A bulk invite job as ELEVATE renders it.
fn bulk_invite_json(job: &crate::bulk_invites::BulkInviteRow) -> Value {
    json!({
        "id": job.id,
        "name": job.name,
        "input_path": job.input_path,
        "output_path": job.output_path,
        "status": job.status,
        "created_by": job.created_by,
        "organization_id": job.organization_id,
        "type": "text/csv",
        "counts": {"created": job.created_count, "existing": job.existing_count, "invalid": job.invalid_count},
        "failure": job.failure,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    })
}

/// Starts a bulk invite of the CSV at `file_path`: answers the job at
/// once (`UPLOADED`); the users are created in the background.
#[utoipa::path(post, path = "/user/v1/org-admin/bulkUserCreate", request_body = BulkUserCreateBody,
    responses((status = 200, description = "The job", body = super::openapi::Answer)))]
async fn bulk_user_create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<BulkUserCreateBody>,
) -> Result<ApiOk, AppError> {
    if body.file_path.trim().is_empty() {
        return Err(AppError::invalid_field("file_path", "file_path is required"));
    }
    let job = state.upload_bulk_invite(&caller, &body.file_path, &meta.by(&caller)).await?;
    Ok(ApiOk::ok("Bulk User Invites CSV Uploaded Successfully", bulk_invite_json(&job)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct BulkListQuery {
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    page: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// `uploaded`, `processed` or `failed` (any case); absent: all.
    #[param(value_type = Option<String>, pattern = "^([Uu][Pp][Ll][Oo][Aa][Dd][Ee][Dd]|[Pp][Rr][Oo][Cc][Ee][Ss][Ss][Ee][Dd]|[Ff][Aa][Ii][Ll][Ee][Dd])$")]
    status: Option<String>,
}

/// The bulk invite jobs of the caller's organisation, newest first.
#[utoipa::path(get, path = "/user/v1/org-admin/getBulkInvitesFilesList", params(BulkListQuery),
    responses((status = 200, description = "`{data, count}`", body = super::openapi::Listed)))]
async fn bulk_invites_list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<BulkListQuery>,
) -> Result<ApiOk, AppError> {
    let (page, limit) = paging(query.page.as_deref(), query.limit.as_deref())?;
    let status = match query.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(
            crate::bulk_invites::STATUSES
                .iter()
                .copied()
                .find(|s| s.eq_ignore_ascii_case(raw))
                .ok_or_else(|| AppError::invalid_field("status", "status must be uploaded, processed or failed"))?,
        ),
    };
    let (jobs, count) = state.bulk_invites(&caller, status, page, limit).await?;
    Ok(ApiOk::counted("Bulk Invites CSV List Fetched Successfully", jobs.iter().map(bulk_invite_json).collect(), count))
}
