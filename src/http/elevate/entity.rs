//! `/user/v1/entity-type/...`, `/user/v1/entity/...` and
//! `org-admin/inheritEntityType`: the value catalogues behind profile
//! fields. Org admins (and admins) write their organisation's; every
//! signed-in user reads their organisation's and the default one's.
//! Status codes are upstream ELEVATE's: 201 for a create, 202 for an
//! update or a delete.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use crate::entity_types::{EntityInput, EntityKey, EntityRow, EntityTypeInput, EntityTypeRow, EntityTypeWithEntities};
use crate::http::authorize::guarded;
use crate::http::elevate::envelope::ApiOk;
use crate::http::elevate::errors::AppError;
use crate::http::extract::{paging, Authenticated, JsonBody, RequestMeta};
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/entity-type/create", guarded(post(create_type)))
        .route("/entity-type/update/{id}", guarded(post(update_type).patch(update_type)))
        .route("/entity-type/delete/{id}", guarded(post(delete_type).delete(delete_type)))
        .route("/entity-type/read", guarded(post(read_types).get(read_types)))
        .route("/org-admin/inheritEntityType", guarded(post(inherit_type)))
        .route("/entity/create", guarded(post(create_entity)))
        .route("/entity/update/{id}", guarded(post(update_entity).patch(update_entity)))
        .route("/entity/delete/{id}", guarded(post(delete_entity).delete(delete_entity)))
        .route("/entity/read", guarded(get(read_entity).post(read_entity)))
        .route("/entity/list", guarded(get(list_entities).post(list_entities)))
}

/// A boolean as ELEVATE's clients send it: `true`, `"true"`, or (the seed's
/// example sends `"has_entities": "STRING"`) any other text, read as true.
#[derive(Deserialize, ToSchema, Clone)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    fn value(&self) -> bool {
        match self {
            Flag::Bool(b) => *b,
            Flag::Text(t) => !t.trim().eq_ignore_ascii_case("false"),
        }
    }
}

/// An entity type as ELEVATE sends it. `type` (the seed's `SYSTEM`/`USER`)
/// is accepted and not kept: upstream's entity types have no such column.
#[derive(Deserialize, ToSchema)]
struct EntityTypeBody {
    #[schema(example = "languages")]
    value: Option<String>,
    #[schema(example = "Languages")]
    label: Option<String>,
    #[serde(rename = "type")]
    #[allow(dead_code)]
    kind: Option<String>,
    #[schema(example = "ACTIVE")]
    status: Option<String>,
    #[schema(example = "ARRAY[STRING]")]
    data_type: Option<String>,
    #[schema(value_type = Option<bool>)]
    allow_filtering: Option<Flag>,
    #[schema(value_type = Option<bool>)]
    has_entities: Option<Flag>,
    #[schema(value_type = Option<bool>)]
    allow_custom_entities: Option<Flag>,
    #[schema(example = json!(["User"]))]
    model_names: Option<Vec<String>>,
}

impl From<EntityTypeBody> for EntityTypeInput {
    fn from(body: EntityTypeBody) -> Self {
        EntityTypeInput {
            value: body.value,
            label: body.label,
            status: body.status,
            data_type: body.data_type,
            allow_filtering: body.allow_filtering.as_ref().map(Flag::value),
            has_entities: body.has_entities.as_ref().map(Flag::value),
            allow_custom_entities: body.allow_custom_entities.as_ref().map(Flag::value),
            model_names: body.model_names,
        }
    }
}

#[derive(Deserialize, ToSchema)]
struct EntityBody {
    #[schema(example = "ml")]
    value: Option<String>,
    #[schema(example = "Malayalam")]
    label: Option<String>,
    #[schema(example = "ACTIVE")]
    status: Option<String>,
    #[serde(rename = "type")]
    #[schema(example = "SYSTEM")]
    kind: Option<String>,
    #[schema(example = 1)]
    entity_type_id: Option<i64>,
}

impl From<EntityBody> for EntityInput {
    fn from(body: EntityBody) -> Self {
        EntityInput {
            entity_type_id: body.entity_type_id,
            value: body.value,
            label: body.label,
            status: body.status,
            kind: body.kind,
        }
    }
}

/// `entity-type/read`'s body: the values to read (all when absent).
#[derive(Deserialize, ToSchema, Default)]
struct ReadTypesBody {
    #[schema(example = json!(["languages"]))]
    value: Option<Values>,
    /// Accepted; the entities come with every type read.
    #[allow(dead_code)]
    read_user_entity: Option<Value>,
}

/// One value or a list of them.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
enum Values {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
struct EntityQuery {
    /// The entity's id.
    #[param(value_type = Option<i64>)]
    id: Option<String>,
    /// With `entity_type_id`: the entity of this value.
    value: Option<String>,
    #[param(value_type = Option<i64>)]
    entity_type_id: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    page: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    search: Option<String>,
}

fn type_id(raw: &str) -> Result<i64, AppError> {
    raw.trim().parse().map_err(|_| AppError::NotFound("Entity type not found".into()))
}

fn entity_id(raw: &str) -> Result<i64, AppError> {
    raw.trim().parse().map_err(|_| AppError::NotFound("Entity not found".into()))
}

fn whole_number(name: &str, raw: &str) -> Result<i64, AppError> {
    raw.trim().parse().map_err(|_| AppError::invalid_field(name, format!("{name} must be a whole number")))
}

/// ELEVATE's entity type: its columns; the organisation as both
/// `organization_id` and `org_id` (the seed shows each in one answer).
fn type_json(t: &EntityTypeRow) -> Value {
    json!({
        "id": t.id,
        "value": t.value,
        "label": t.label,
        "status": t.status,
        "data_type": t.data_type,
        "allow_filtering": t.allow_filtering,
        "has_entities": t.has_entities,
        "allow_custom_entities": t.allow_custom_entities,
        "model_names": t.model_names(),
        "parent_id": t.parent_id,
        "organization_id": t.organization_id,
        "org_id": t.organization_id,
        "created_by": t.created_by,
        "updated_by": t.updated_by,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "deleted_at": null,
    })
}

fn entity_json(e: &EntityRow) -> Value {
    json!({
        "id": e.id,
        "entity_type_id": e.entity_type_id,
        "value": e.value,
        "label": e.label,
        "status": e.status,
        "type": e.kind,
        "created_by": e.created_by,
        "updated_by": e.updated_by,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
        "deleted_at": null,
    })
}

fn type_with_entities_json(t: &EntityTypeWithEntities) -> Value {
    let mut json = type_json(&t.entity_type);
    json["entities"] = t.entities.iter().map(entity_json).collect();
    json
}

#[utoipa::path(post, path = "/user/v1/entity-type/create", request_body = EntityTypeBody,
    responses((status = 201, description = "The entity type", body = super::openapi::Answer)))]
async fn create_type(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<EntityTypeBody>,
) -> Result<ApiOk, AppError> {
    let created = state.create_entity_type(&caller, body.into(), &meta.by(&caller)).await?;
    Ok(ApiOk::created("Entity type created successfully.", type_json(&created)))
}

#[utoipa::path(method(post, patch), path = "/user/v1/entity-type/update/{id}", request_body = EntityTypeBody,
    params(("id" = i64, Path, minimum = 1, description = "The entity type's id")),
    responses((status = 201, description = "The entity type", body = super::openapi::Answer)))]
async fn update_type(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    meta: RequestMeta,
    JsonBody(body): JsonBody<EntityTypeBody>,
) -> Result<ApiOk, AppError> {
    let updated = state.update_entity_type(&caller, type_id(&id)?, body.into(), &meta.by(&caller)).await?;
    Ok(ApiOk::created("Entity type updated successfully", type_json(&updated)))
}

#[utoipa::path(method(delete, post), path = "/user/v1/entity-type/delete/{id}",
    params(("id" = i64, Path, minimum = 1, description = "The entity type's id")),
    responses((status = 202, description = "Deleted; `result` is `[]`", body = super::openapi::Answer)))]
async fn delete_type(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    meta: RequestMeta,
) -> Result<ApiOk, AppError> {
    state.delete_entity_type(&caller, type_id(&id)?, &meta.by(&caller)).await?;
    Ok(ApiOk::accepted("Entity deleted successfully", json!([])))
}

/// The active types of the caller's organisation (and the default one's
/// where it has none of a value), with their entities; `value` picks some.
#[utoipa::path(method(post, get), path = "/user/v1/entity-type/read", request_body = Option<ReadTypesBody>,
    responses((status = 201, description = "POST (the status upstream's OpenAPI documents): entity types, each with `entities`", body = super::openapi::Answer),
        (status = 200, description = "GET: as POST", body = super::openapi::Answer)))]
async fn read_types(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    method: Method,
    body: Option<JsonBody<ReadTypesBody>>,
) -> Result<ApiOk, AppError> {
    let values = match body.and_then(|JsonBody(b)| b.value) {
        None => None,
        Some(Values::One(one)) => Some(vec![one]),
        Some(Values::Many(many)) => Some(many),
    };
    let values: Option<Vec<String>> = values.map(|v| v.into_iter().map(|s| s.trim().to_string()).collect());
    let types = state.read_entity_types(caller.organization_id, values.as_deref()).await?;
    let found = types.iter().map(type_with_entities_json).collect();
    Ok(if method == Method::POST {
        ApiOk::created("Entity type fetched successfully", found)
    } else {
        ApiOk::ok("Entity type fetched successfully", found)
    })
}

#[derive(Deserialize, ToSchema)]
struct InheritBody {
    #[schema(example = "categories")]
    entity_type_value: String,
    #[schema(example = "training")]
    target_entity_type_label: String,
}

/// Copies a default-organisation type (with its entities) into the caller's organisation.
#[utoipa::path(post, path = "/user/v1/org-admin/inheritEntityType", request_body = InheritBody,
    responses((status = 202, description = "The new entity type", body = super::openapi::Answer)))]
async fn inherit_type(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<InheritBody>,
) -> Result<ApiOk, AppError> {
    let created = state
        .inherit_entity_type(&caller, &body.entity_type_value, &body.target_entity_type_label, &meta.by(&caller))
        .await?;
    Ok(ApiOk::accepted("Entity type created successfully", type_json(&created)))
}

#[utoipa::path(post, path = "/user/v1/entity/create", request_body = EntityBody,
    responses((status = 201, description = "The entity", body = super::openapi::Answer)))]
async fn create_entity(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<EntityBody>,
) -> Result<ApiOk, AppError> {
    let created = state.create_entity(&caller, body.into(), &meta.by(&caller)).await?;
    Ok(ApiOk::created("Entity created successfully", entity_json(&created)))
}

#[utoipa::path(method(post, patch), path = "/user/v1/entity/update/{id}", request_body = EntityBody,
    params(("id" = i64, Path, minimum = 1, description = "The entity's id")),
    responses((status = 202, description = "The entity", body = super::openapi::Answer)))]
async fn update_entity(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    meta: RequestMeta,
    JsonBody(body): JsonBody<EntityBody>,
) -> Result<ApiOk, AppError> {
    let updated = state.update_entity(&caller, entity_id(&id)?, body.into(), &meta.by(&caller)).await?;
    Ok(ApiOk::accepted("Entity updated successfully", entity_json(&updated)))
}

#[utoipa::path(method(delete, post), path = "/user/v1/entity/delete/{id}",
    params(("id" = i64, Path, minimum = 1, description = "The entity's id")),
    responses((status = 202, description = "Deleted; `result` is `[]`", body = super::openapi::Answer)))]
async fn delete_entity(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    meta: RequestMeta,
) -> Result<ApiOk, AppError> {
    state.delete_entity(&caller, entity_id(&id)?, &meta.by(&caller)).await?;
    Ok(ApiOk::accepted("Entity deleted successfully", json!([])))
}

/// The entity `id` names, or the one of `value` in `entity_type_id`.
#[utoipa::path(method(get, post), path = "/user/v1/entity/read", params(EntityQuery),
    responses((status = 200, description = "A list of the one entity", body = super::openapi::Answer)))]
async fn read_entity(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<EntityQuery>,
) -> Result<ApiOk, AppError> {
    let key = match (q.id.as_deref().map(str::trim).filter(|s| !s.is_empty()), q.value, q.entity_type_id) {
        (Some(id), _, _) => EntityKey::Id(entity_id(id)?),
        (None, Some(value), Some(type_id)) => {
            EntityKey::Value { entity_type_id: whole_number("entity_type_id", &type_id)?, value: value.trim().into() }
        }
        _ => return Err(AppError::invalid_field("id", "id, or value and entity_type_id, is required".to_string())),
    };
    let entities = state.read_entities(caller.organization_id, &key).await?;
    Ok(ApiOk::ok("Entity fetched successfully", entities.iter().map(entity_json).collect()))
}

/// A page of a type's entities, `search` in their value or label.
#[utoipa::path(method(get, post), path = "/user/v1/entity/list", params(EntityQuery),
    responses((status = 200, description = "`{data, count}`", body = super::openapi::Answer)))]
async fn list_entities(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<EntityQuery>,
) -> Result<ApiOk, AppError> {
    let (page, limit) = paging(q.page.as_deref(), q.limit.as_deref())?;
    let Some(raw_type) = q.entity_type_id.as_deref().filter(|s| !s.trim().is_empty()) else {
        return Err(AppError::invalid_field("entity_type_id", "entity_type_id is required".to_string()));
    };
    let entity_type_id = whole_number("entity_type_id", raw_type)?;
    let (rows, count) =
        state.list_entities(caller.organization_id, entity_type_id, q.search.as_deref(), page, limit).await?;
    Ok(ApiOk::counted("Entity fetched successfully", rows.iter().map(entity_json).collect(), count))
}
