//! `/user/v1/form/...`: create, update and read forms. Admins write them;
//! every signed-in user reads them, their organisation's or else the
//! default organisation's. A form is read or updated by id, or by `type`
//! (and `sub_type`) in the body or, for a read, the query.

use axum::extract::{Path, Query, State};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use crate::forms::{FormInput, FormKey, FormRow};
use crate::http::authorize::guarded;
use crate::http::elevate::envelope::ApiOk;
use crate::http::elevate::errors::AppError;
use crate::http::extract::{Authenticated, JsonBody, RequestMeta};
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/form/create", guarded(post(create)))
        .route("/form/update", guarded(post(update_by_type).patch(update_by_type)))
        .route("/form/update/{id}", guarded(post(update).patch(update)))
        .route("/form/read", guarded(post(read_by_type).get(read_by_type)))
        .route("/form/read/{id}", guarded(post(read).get(read)))
}

/// A form as ELEVATE sends it.
#[derive(Deserialize, ToSchema)]
struct FormBody {
    #[serde(rename = "type")]
    #[schema(example = "profile")]
    form_type: String,
    #[schema(example = "profileForm")]
    sub_type: String,
    data: Value,
}

impl From<FormBody> for FormInput {
    fn from(body: FormBody) -> Self {
        FormInput { form_type: body.form_type, sub_type: body.sub_type, data: body.data }
    }
}

/// Which form a read by type means (body or query).
#[derive(Deserialize, Default, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
struct KindBody {
    #[serde(rename = "type")]
    form_type: Option<String>,
    sub_type: Option<String>,
}

impl KindBody {
    fn key(self) -> Result<FormKey, AppError> {
        match self.form_type.filter(|t| !t.trim().is_empty()) {
            Some(form_type) => {
                Ok(FormKey::Kind { form_type, sub_type: self.sub_type.filter(|s| !s.trim().is_empty()) })
            }
            None => Err(AppError::invalid_field("type", "type is required".to_string())),
        }
    }
}

fn form_id(raw: &str) -> Result<i64, AppError> {
    raw.trim().parse().map_err(|_| AppError::NotFound("Form not found".into()))
}

/// ELEVATE's form: its columns, `data` as stored.
fn form_json(form: &FormRow) -> Value {
    json!({
        "id": form.id,
        "type": form.form_type,
        "sub_type": form.sub_type,
        "data": form.data(),
        "version": form.version,
        "organization_id": form.organization_id,
        "created_at": form.created_at,
        "updated_at": form.updated_at,
    })
}

#[utoipa::path(post, path = "/user/v1/form/create", request_body = FormBody,
    responses((status = 200, description = "The form", body = super::openapi::OneForm)))]
async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<FormBody>,
) -> Result<ApiOk, AppError> {
    let form = state.create_form(caller.organization_id, body.into(), &meta.by(&caller)).await?;
    Ok(ApiOk::ok("Form created successfully", form_json(&form)))
}

#[utoipa::path(method(post, patch), path = "/user/v1/form/update/{id}", request_body = FormBody, params(("id" = i64, Path, minimum = 1, description = "The form's id")),
    responses((status = 200, description = "The form", body = super::openapi::OneForm)))]
async fn update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    meta: RequestMeta,
    JsonBody(body): JsonBody<FormBody>,
) -> Result<ApiOk, AppError> {
    let key = FormKey::Id(form_id(&id)?);
    let form = state.update_form(caller.organization_id, key, body.into(), &meta.by(&caller)).await?;
    Ok(ApiOk::ok("Form updated successfully", form_json(&form)))
}

/// `form/update` without an id: the form of the body's type and sub-type.
#[utoipa::path(method(post, patch), path = "/user/v1/form/update", request_body = FormBody,
    responses((status = 200, description = "The form", body = super::openapi::OneForm)))]
async fn update_by_type(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<FormBody>,
) -> Result<ApiOk, AppError> {
    let key = FormKey::Kind { form_type: body.form_type.clone(), sub_type: Some(body.sub_type.clone()) };
    let form = state.update_form(caller.organization_id, key, body.into(), &meta.by(&caller)).await?;
    Ok(ApiOk::ok("Form updated successfully", form_json(&form)))
}

#[utoipa::path(method(get, post), path = "/user/v1/form/read/{id}", params(("id" = i64, Path, minimum = 1, description = "The form's id")),
    responses((status = 200, description = "The form", body = super::openapi::OneForm)))]
async fn read(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<ApiOk, AppError> {
    let form = state.form(caller.organization_id, &FormKey::Id(form_id(&id)?)).await?;
    Ok(ApiOk::ok("Form fetched successfully", form_json(&form)))
}

/// The form of a type (and sub-type), named in the body or the query.
#[utoipa::path(method(get, post), path = "/user/v1/form/read", params(KindBody), request_body = Option<KindBody>,
    responses((status = 200, description = "The form", body = super::openapi::OneForm)))]
async fn read_by_type(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<KindBody>,
    body: Option<JsonBody<KindBody>>,
) -> Result<ApiOk, AppError> {
    let kind = match body {
        Some(JsonBody(body)) if body.form_type.is_some() => body,
        _ => query,
    };
    let form = state.form(caller.organization_id, &kind.key()?).await?;
    Ok(ApiOk::ok("Form fetched successfully", form_json(&form)))
}
