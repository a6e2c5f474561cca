//! `/user/v1/user/...`: read and update profiles.

use axum::extract::{Path, State};
use axum::routing::{get, patch};
use axum::Router;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use aggregates::ProfileChanges;

use crate::http::authorize::guarded;
use crate::http::elevate::envelope::ApiOk;
use crate::http::elevate::errors::AppError;
use crate::http::elevate::render::ToElevateJson;
use crate::http::extract::{Authenticated, JsonBody, RequestMeta};
use crate::http::AppState;
use crate::users::UserKey;
use crate::visibility::ContactScope;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/user/read", guarded(get(read_self)))
        .route("/user/read/{id}", guarded(get(read_one)))
        .route("/user/update", guarded(patch(update)))
        .route("/user/setLanguagePreference", guarded(patch(set_language)))
}

/// The caller's own profile.
#[utoipa::path(get, path = "/user/v1/user/read",
    responses((status = 200, description = "The profile", body = super::openapi::OneProfile)))]
async fn read_self(State(state): State<AppState>, Authenticated(caller): Authenticated) -> Result<ApiOk, AppError> {
    let profile = state.profile(&UserKey::Uuid(caller.user_uuid().to_string())).await?;
    Ok(ApiOk::ok("Profile fetched successfully.", profile.to_elevate_json()))
}

/// Any user, in the view the caller may see of them (`visibility`).
#[utoipa::path(get, path = "/user/v1/user/read/{id}",
    params(("id" = crate::http::openapi::UserKey, Path, description = "The user's numeric id or uuid")),
    responses((status = 200, description = "The profile, or its public view", body = super::openapi::OneProfile)))]
async fn read_one(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<ApiOk, AppError> {
    let key = UserKey::parse(&id).ok_or_else(|| AppError::NotFound("User not found".into()))?;
    let profile = state.profile(&key).await?;
    let view = ContactScope::of(&caller).view_of(profile.user.id, profile.user.organization_id);
    Ok(ApiOk::ok("Profile fetched successfully.", profile.to_elevate_view(view)))
}

/// Fields of a profile update, as ELEVATE names them. Identity and access
/// fields (email, password, roles, organisation, status) cannot be changed
/// here and are refused.
#[derive(Deserialize)]
struct UpdateBody {
    #[serde(flatten)]
    changes: ProfileFields,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

/// The profile fields ELEVATE clients send; `None` leaves a field as it is.
/// Free-form ones (gender, location, languages) keep the client's JSON.
#[derive(Deserialize, ToSchema)]
struct ProfileFields {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 256, example = "Mary Fairfax")]
    name: Option<String>,
    #[serde(default)]
    about: Option<Value>,
    #[serde(default)]
    gender: Option<Value>,
    #[serde(default)]
    location: Option<Value>,
    #[serde(default)]
    image: Option<Value>,
    #[serde(default)]
    languages: Option<Value>,
    #[serde(default)]
    share_link: Option<Value>,
    #[serde(default)]
    #[schema(example = "en")]
    preferred_language: Option<Value>,
    #[serde(default)]
    has_accepted_terms_and_conditions: Option<bool>,
}

impl From<ProfileFields> for ProfileChanges {
    fn from(f: ProfileFields) -> Self {
        ProfileChanges {
            name: f.name,
            about: f.about,
            gender: f.gender,
            location: f.location,
            image: f.image,
            languages: f.languages,
            share_link: f.share_link,
            preferred_language: f.preferred_language,
            has_accepted_terms_and_conditions: f.has_accepted_terms_and_conditions,
            // Sunbird's fields: ELEVATE's update does not take them.
            extension: None,
        }
    }
}

const PROTECTED: [&str; 9] =
    ["email", "password", "roles", "organization_id", "status", "id", "phone", "username", "user_roles"];

/// Updates the caller's profile; email, password, roles, organisation, status, phone and user name are refused.
#[utoipa::path(patch, path = "/user/v1/user/update", request_body = ProfileFields,
    responses((status = 200, description = "The updated profile", body = super::openapi::OneProfile)))]
async fn update(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<ApiOk, AppError> {
    if let Some(field) = body.rest.keys().find(|k| PROTECTED.contains(&k.as_str())) {
        return Err(AppError::invalid_field(field, format!("{field} cannot be changed through user/update")));
    }
    let profile = state.update_profile(&caller, body.changes.into(), &meta.by(&caller)).await?;
    Ok(ApiOk::ok("Profile updated successfully.", profile.to_elevate_json()))
}

impl ProfileFields {
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.about.is_none()
            && self.gender.is_none()
            && self.location.is_none()
            && self.image.is_none()
            && self.languages.is_none()
            && self.share_link.is_none()
            && self.preferred_language.is_none()
            && self.has_accepted_terms_and_conditions.is_none()
    }
}

/// `preferred_language`, as upstream takes it; the seed shows a profile
/// body here (name, location, about, ...), which is applied as
/// `user/update` would.
#[utoipa::path(patch, path = "/user/v1/user/setLanguagePreference", request_body = ProfileFields,
    responses((status = 200, description = "The updated profile", body = super::openapi::OneProfile)))]
async fn set_language(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<ApiOk, AppError> {
    if let Some(field) = body.rest.keys().find(|k| PROTECTED.contains(&k.as_str())) {
        return Err(AppError::invalid_field(
            field,
            format!("{field} cannot be changed through user/setLanguagePreference"),
        ));
    }
    if body.changes.is_empty() || body.changes.preferred_language.as_ref().is_some_and(Value::is_null) {
        return Err(AppError::invalid_field("preferred_language", "preferred_language is required"));
    }
    let profile = state.update_profile(&caller, body.changes.into(), &meta.by(&caller)).await?;
    Ok(ApiOk::ok("Profile updated successfully.", profile.to_elevate_json()))
}
