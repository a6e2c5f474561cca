//! Sunbird's managed users (create v4, managed create, the list of a
//! manager's users with their tokens), profile read by login id, and
//! terms-and-conditions acceptance. Their routes, in both forms, are
//! registered with the others in `user`.

use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::envelope::SbOk;
use super::errors::SbError;
use super::extract::{Acting, ActingFor, SbBody, SbMeta};
use super::profile;
use super::render;
use super::user::{full_name, profile_fields};
use crate::error::ServiceError;
use crate::http::AppState;
use crate::managed_users::ManagedSignUp;
use crate::users::{Identifier, UserKey};
use crate::visibility::{ContactScope, ProfileView};

fn user_key(raw: &str) -> Result<UserKey, SbError> {
    UserKey::parse(raw).ok_or_else(|| SbError::not_found("user"))
}

/// A managed user: names, the manager, and the profile-extension fields
/// (`profile`: Sunbird's own examples send `profileLocation` and
/// `framework`); anything else is refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ManagedBody {
    #[serde(rename = "firstName", alias = "firstname")]
    #[schema(min_length = 1, max_length = 256, example = "Kid")]
    first_name: String,
    #[serde(default, rename = "lastName", alias = "lastname")]
    last_name: Option<String>,
    #[serde(rename = "managedBy")]
    /// The acting user's id.
    #[schema(format = Uuid)]
    managed_by: String,
    #[serde(default, deserialize_with = "profile::present")]
    #[schema(value_type = Option<String>, example = "2015")]
    dob: Option<Value>,
    #[serde(default, rename = "profileLocation", deserialize_with = "profile::present")]
    #[schema(value_type = Option<Vec<profile::ProfileLocation>>)]
    profile_location: Option<Value>,
    #[serde(default, rename = "profileUserType", deserialize_with = "profile::present")]
    #[schema(value_type = Option<profile::ProfileUserType>)]
    profile_user_type: Option<Value>,
    #[serde(default, rename = "profileUserTypes", deserialize_with = "profile::present")]
    #[schema(value_type = Option<Vec<profile::ProfileUserType>>)]
    profile_user_types: Option<Value>,
    #[serde(default, deserialize_with = "profile::present")]
    #[schema(value_type = Option<Object>, example = json!({"id": ["ekstep_ncert_k-12"], "board": ["CBSE"]}))]
    framework: Option<Value>,
}

/// A user managed by the acting user (`managedBy`).
#[utoipa::path(post, path = "/api/user/v1/managed/create", request_body = super::openapi::Request<ManagedBody>,
    responses((status = 200, description = "Created", body = super::openapi::Created)))]
pub(super) async fn create_managed(
    State(state): State<AppState>,
    Acting(caller): Acting,
    meta: SbMeta,
    SbBody(body): SbBody<ManagedBody>,
) -> Result<SbOk, SbError> {
    if body.managed_by.trim().is_empty() {
        return Err(SbError::missing("managedBy"));
    }
    let name = full_name(&body.first_name, body.last_name.as_deref());
    let managed_by = user_key(&body.managed_by)?;
    let extension = profile_fields!(body).created()?;
    let input = ManagedSignUp { name, managed_by, extension };
    match state.create_managed_user(&caller, input, &meta.by(&caller)).await {
        Ok(profile) => Ok(SbOk::success(json!({"userId": profile.user.user_uuid}))),
        // Sunbird: a managedBy other than the caller is not authorised.
        Err(ServiceError::Forbidden) => Err(SbError::unauthorized()),
        Err(other) => Err(other.into()),
    }
}

/// `withTokens=true`: each active managed user's access token in
/// `managedToken`. `sortBy` and `order` are accepted; the list is oldest first.
#[derive(Deserialize, IntoParams)]
#[allow(dead_code)]
#[into_params(parameter_in = Query)]
pub(super) struct ManagedQuery {
    #[serde(rename = "withTokens")]
    with_tokens: Option<String>,
    #[serde(rename = "sortBy")]
    sort_by: Option<String>,
    order: Option<String>,
}

/// The users a user manages (`withTokens=true`: with their access tokens).
#[utoipa::path(get, path = "/api/user/v1/managed/{userId}", params(("userId" = crate::http::openapi::UserKey, Path, description = "The user's id (a uuid; a numeric id is taken too)"), ManagedQuery),
    responses((status = 200, description = "The managed users", body = super::openapi::Users)))]
pub(super) async fn managed_users(
    State(state): State<AppState>,
    Acting(caller): Acting,
    Path(user_id): Path<String>,
    Query(query): Query<ManagedQuery>,
) -> Result<SbOk, SbError> {
    let with_tokens = query.with_tokens.as_deref().is_some_and(|t| t.trim().eq_ignore_ascii_case("true"));
    let listed = state.managed_users(&caller, &user_key(&user_id)?, with_tokens).await?;
    let scope = ContactScope::of(&caller);
    let content: Vec<Value> = listed
        .iter()
        .map(|managed| {
            let user = &managed.profile.user;
            let view = match user.managed_by.as_deref() == Some(caller.user_uuid()) {
                true => ProfileView::Full,
                false => scope.view_of(user.id, user.organization_id),
            };
            let mut entry = render::user(&managed.profile, view);
            if let (Some(token), Value::Object(map)) = (&managed.access_token, &mut entry) {
                map.insert("managedToken".into(), json!(token));
            }
            entry
        })
        .collect();
    Ok(SbOk(json!({"response": {"count": content.len(), "content": content}})))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginIdBody {
    #[serde(default, rename = "loginId")]
    login_id: Option<String>,
    #[serde(default, rename = "fields")]
    _fields: Option<Vec<String>>,
}

#[derive(Deserialize, IntoParams)]
#[allow(dead_code)]
#[into_params(parameter_in = Query)]
pub(super) struct FieldsQuery {
    fields: Option<String>,
}

/// The user a login id (user name) names, if the caller may see their
/// contact data: anyone else is "not found", as `get` by login id.
#[utoipa::path(post, path = "/api/user/v1/profile/read", params(FieldsQuery), request_body = super::openapi::Request<LoginIdBody>,
    responses((status = 200, description = "The user", body = super::openapi::OneUser)))]
pub(super) async fn by_login_id(
    State(state): State<AppState>,
    Acting(caller): Acting,
    Query(_query): Query<FieldsQuery>,
    SbBody(body): SbBody<LoginIdBody>,
) -> Result<SbOk, SbError> {
    let login_id = body
        .login_id
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .ok_or_else(|| SbError::invalid("loginId"))?;
    let scope = ContactScope::of(&caller);
    let found = state.find_user(&Identifier::Username(login_id)).await?;
    match found.filter(|p| scope.covers(p.user.id, p.user.organization_id)) {
        Some(profile) => {
            let view = scope.view_of(profile.user.id, profile.user.organization_id);
            Ok(SbOk(json!({"response": render::user(&profile, view)})))
        }
        None => Err(SbError::not_found("user")),
    }
}

/// `version` is required and not kept (Roster records that the terms were
/// accepted, not which); `userId` names a managed user of the caller.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TncBody {
    #[serde(default)]
    #[schema(example = "v1")]
    version: Option<String>,
    #[serde(default, rename = "userId")]
    #[schema(format = Uuid)]
    user_id: Option<String>,
}

/// Accepts the terms, for the acting user or a user they manage.
#[utoipa::path(post, path = "/api/user/v1/tnc/accept", request_body = super::openapi::Request<TncBody>,
    responses((status = 200, description = "Accepted", body = super::openapi::Done)))]
pub(super) async fn accept_tnc(
    State(state): State<AppState>,
    acting: ActingFor,
    meta: SbMeta,
    SbBody(body): SbBody<TncBody>,
) -> Result<SbOk, SbError> {
    if body.version.as_deref().is_none_or(|v| v.trim().is_empty()) {
        return Err(SbError::missing("version"));
    }
    let user = match body.user_id.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => Some(uuid::Uuid::parse_str(id).map_err(|_| SbError::invalid("userId"))?.to_string()),
        None => None,
    };
    let caller = match &user {
        Some(user) => acting.on(user)?,
        None => acting.caller,
    };
    let key = user.map(UserKey::Uuid);
    state.accept_terms_for(&caller, key.as_ref(), &meta.by(&caller)).await?;
    Ok(SbOk::success(json!({})))
}
