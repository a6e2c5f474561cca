//! `/user/v1/notification/template`: the templates of the caller's
//! organisation's mail (admins and org admins). POST creates, PATCH (by id,
//! or by the body's `code`) changes, GET reads one (by id, or `?code=`) or
//! all, with the default organisation's and the built-in ones as fallback.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use crate::http::authorize::guarded;
use crate::http::elevate::envelope::ApiOk;
use crate::http::elevate::errors::AppError;
use crate::http::extract::{Authenticated, JsonBody, RequestMeta};
use crate::http::AppState;
use crate::notifications::store::{TemplateInput, TemplateKey, TemplateRow};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/notification/template", guarded(post(create).patch(update_by_code).get(read_all)))
        .route("/notification/template/{id}", guarded(axum::routing::patch(update).get(read)))
}

/// ELEVATE's template fields.
#[derive(Deserialize, Default, ToSchema)]
struct TemplateBody {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    #[schema(example = "emailotp")]
    code: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    email_header: Option<String>,
    #[serde(default)]
    email_footer: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^(ACTIVE|INACTIVE|active|inactive)$", example = "ACTIVE")]
    status: Option<String>,
}

impl From<TemplateBody> for TemplateInput {
    fn from(b: TemplateBody) -> Self {
        TemplateInput {
            code: b.code,
            kind: b.kind,
            subject: b.subject,
            body: b.body,
            email_header: b.email_header,
            email_footer: b.email_footer,
            status: b.status,
        }
    }
}

fn template_json(t: &TemplateRow) -> Value {
    json!({
        "id": t.id,
        "type": t.kind,
        "code": t.code,
        "subject": t.subject,
        "body": t.body,
        "email_header": t.email_header,
        "email_footer": t.email_footer,
        "status": t.status,
        "organization_id": t.organization_id,
        "created_by": t.created_by,
        "updated_by": t.updated_by,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "deleted_at": Value::Null,
    })
}

fn template_id(raw: &str) -> Result<i64, AppError> {
    raw.trim().parse().map_err(|_| AppError::invalid_field("id", "id must be a whole number"))
}

fn accepted(message: &'static str, result: Value) -> ApiOk {
    ApiOk { status: StatusCode::ACCEPTED, ..ApiOk::ok(message, result) }
}

/// A template of the caller's organisation.
#[utoipa::path(post, path = "/user/v1/notification/template", request_body = TemplateBody,
    responses((status = 202, description = "The template", body = super::openapi::Answer)))]
async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<TemplateBody>,
) -> Result<ApiOk, AppError> {
    let template = state.create_template(&caller, body.into(), &meta.by(&caller)).await?;
    Ok(ApiOk::accepted("Notification template created successfully", template_json(&template)))
}

#[utoipa::path(patch, path = "/user/v1/notification/template/{id}", request_body = TemplateBody, params(("id" = i64, Path, minimum = 1, description = "The template's id")),
    responses((status = 202, description = "The template", body = super::openapi::Answer)))]
async fn update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    meta: RequestMeta,
    JsonBody(body): JsonBody<TemplateBody>,
) -> Result<ApiOk, AppError> {
    let key = TemplateKey::Id(template_id(&id)?);
    let template = state.update_template(&caller, key, body.into(), &meta.by(&caller)).await?;
    Ok(accepted("Notification template updated successfully", template_json(&template)))
}

/// PATCH without an id: the template of the body's `code`.
/// The template of the body's `code`.
#[utoipa::path(patch, path = "/user/v1/notification/template", request_body = TemplateBody,
    responses((status = 202, description = "The template", body = super::openapi::Answer)))]
async fn update_by_code(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<TemplateBody>,
) -> Result<ApiOk, AppError> {
    let code = body
        .code
        .clone()
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| AppError::invalid_field("code", "code is required"))?;
    let template = state.update_template(&caller, TemplateKey::Code(code), body.into(), &meta.by(&caller)).await?;
    Ok(accepted("Notification template updated successfully", template_json(&template)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReadQuery {
    code: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// The templates (one `code`, one `type`, or all), the default organisation's and the built-in ones as fallback.
#[utoipa::path(get, path = "/user/v1/notification/template", params(ReadQuery),
    responses((status = 200, description = "`[template]`", body = super::openapi::Answer)))]
async fn read_all(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<ReadQuery>,
) -> Result<ApiOk, AppError> {
    let key = query.code.filter(|c| !c.trim().is_empty()).map(TemplateKey::Code);
    let kind = query.kind.filter(|k| !k.trim().is_empty());
    let templates = state.templates(&caller, key, kind.as_deref()).await?;
    Ok(ApiOk::ok(
        "Notification template fetched successfully",
        Value::Array(templates.iter().map(template_json).collect()),
    ))
}

#[utoipa::path(get, path = "/user/v1/notification/template/{id}", params(("id" = i64, Path, minimum = 1, description = "The template's id")),
    responses((status = 200, description = "`[template]`", body = super::openapi::Answer)))]
async fn read(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<ApiOk, AppError> {
    let templates = state.templates(&caller, Some(TemplateKey::Id(template_id(&id)?)), None).await?;
    Ok(ApiOk::ok(
        "Notification template fetched successfully",
        Value::Array(templates.iter().map(template_json).collect()),
    ))
}
