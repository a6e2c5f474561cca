//! Entity v5's routes: create a user from a mobile or an email, fetch a
//! profile, change owners, pool and email, fetch a contact value. The seed's
//! field names are mapped onto the shared use cases here (see the README's
//! "Entity v5 dialect" section for the mapping and where Roster differs).

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use aggregates::UserPool;

use super::envelope::V5Ok;
use super::errors::V5Error;
use super::extract::{guarded, Acting, V5Body, V5Meta, V5Query};
use super::render::{self, ContactType};
use crate::accounts::Caller;
use crate::contacts::ContactChange;
use crate::http::AppState;
use crate::organizations::{normalize_org_code, OrganizationKey};
use crate::ownership::OwnerChange;
use crate::unverified_users::{Contact, UnverifiedUser};
use crate::users::UserKey;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v5/entity/user/create", guarded(post(create)))
        .route("/api/v5/entity/profile/fetch", guarded(get(profile_fetch)))
        .route("/api/v5/entity/user/owner/update", guarded(post(owner_update)))
        .route("/api/v5/entity/user/pool/update", guarded(post(pool_update)))
        .route("/api/v5/entity/user/email/update", guarded(post(email_update)))
        .route("/api/v5/entity/user/contact/fetch", guarded(get(contact_fetch)))
}

/// A value sent as text or as a number (ids, phone numbers).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub(super) enum Text {
    Text(String),
    Number(i64),
}

impl Text {
    fn text(&self) -> String {
        match self {
            Text::Text(text) => text.trim().to_string(),
            Text::Number(n) => n.to_string(),
        }
    }
}

/// `corp_id`: an organisation's numeric id or its code; absent, the
/// caller's own organisation (the seed's examples leave it out).
fn corp(caller: &Caller, corp_id: Option<&Text>) -> Result<OrganizationKey, V5Error> {
    let Some(corp_id) = corp_id else { return Ok(OrganizationKey::Id(caller.organization_id)) };
    let text = corp_id.text();
    if text.is_empty() {
        return Ok(OrganizationKey::Id(caller.organization_id));
    }
    match text.parse::<i64>() {
        Ok(id) => Ok(OrganizationKey::Id(id)),
        Err(_) => normalize_org_code(&text).map(OrganizationKey::Code).map_err(|_| V5Error::not_found("corp")),
    }
}

fn user_key(field: &str, raw: &Text) -> Result<UserKey, V5Error> {
    let text = raw.text();
    if text.is_empty() {
        return Err(V5Error::missing(field));
    }
    UserKey::parse(&text).ok_or_else(|| V5Error::not_found(if field == "user_id" { "user" } else { field }))
}

/// The longest area code (E.164 country codes have up to three digits; a
/// fourth allows the seed's sub-regional codes such as `1684`).
const AREA_CODE_MAX: usize = 4;

/// A phone number in full from the seed's `area_code` (no `+`; one given is
/// dropped) and `mobile`.
fn phone_of(area_code: &str, mobile: &str) -> Result<String, V5Error> {
    let area = area_code.strip_prefix('+').unwrap_or(area_code);
    if area.is_empty() || area.len() > AREA_CODE_MAX || !area.bytes().all(|b| b.is_ascii_digit()) {
        return Err(V5Error::invalid("area_code", "must be 1 to 4 digits"));
    }
    if mobile.starts_with('+') {
        return Err(V5Error::invalid("mobile", "must be the number without the area code"));
    }
    Ok(format!("+{area}{mobile}"))
}

/// A create: `area_code` and `mobile`, or `email`, in `corp_id`.
#[derive(Deserialize, ToSchema)]
#[schema(as = entity_v5::CreateBody)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    /// The country calling code, without `+` (ITU E.164).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "86")]
    area_code: Option<Text>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "13888888888")]
    mobile: Option<Text>,
    #[serde(default)]
    #[schema(format = Email, example = "test@example.com")]
    email: Option<String>,
    /// An organisation id or code (default: the caller's).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "1")]
    corp_id: Option<Text>,
}

/// Creates a user from a mobile number or an email; a value someone in the
/// organisation holds answers that user (`is_user_exists: true`).
#[utoipa::path(post, path = "/api/v5/entity/user/create", request_body = CreateBody,
    responses((status = 200, description = "The user", body = super::openapi::Created)))]
pub(super) async fn create(
    State(state): State<AppState>,
    Acting(caller): Acting,
    V5Meta(meta): V5Meta,
    V5Body(body): V5Body<CreateBody>,
) -> Result<V5Ok, V5Error> {
    let present = |value: Option<String>| value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let email = present(body.email);
    let mobile = present(body.mobile.as_ref().map(Text::text));
    let area_code = present(body.area_code.as_ref().map(Text::text));
    let contact = match (email, mobile, area_code) {
        (Some(_), Some(_), _) => {
            return Err(V5Error::invalid("email", "give email, or area_code and mobile, not both"))
        }
        (Some(_), None, Some(_)) => return Err(V5Error::invalid("area_code", "goes with mobile")),
        (Some(email), None, None) => Contact::Email(email),
        (None, Some(mobile), Some(area_code)) => Contact::Phone(phone_of(&area_code, &mobile)?),
        (None, Some(_), None) => return Err(V5Error::missing("area_code")),
        (None, None, _) => return Err(V5Error::missing("email or mobile")),
    };
    let organization = corp(&caller, body.corp_id.as_ref())?;
    let created = state.create_unverified_user(&caller, UnverifiedUser { organization, contact }, &meta).await?;
    Ok(V5Ok(json!({"user_id": created.user_uuid, "is_user_exists": created.existed})))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ProfileQuery {
    /// An organisation id or code (default: the caller's).
    #[serde(default)]
    corp_id: Option<String>,
    /// The user's id (a uuid; a numeric id is taken too).
    user_id: String,
}

/// A user's profile (only of a user of the organisation).
#[utoipa::path(get, path = "/api/v5/entity/profile/fetch", params(ProfileQuery),
    responses((status = 200, description = "The profile", body = super::openapi::ProfileAnswer)))]
pub(super) async fn profile_fetch(
    State(state): State<AppState>,
    Acting(caller): Acting,
    V5Query(query): V5Query<ProfileQuery>,
) -> Result<V5Ok, V5Error> {
    let organization = corp(&caller, query.corp_id.map(Text::Text).as_ref())?;
    let key = user_key("user_id", &Text::Text(query.user_id))?;
    let (organization, user) = state.member_of(&caller, &organization, &key).await?;
    let ownership = state.ownership(&user.user_uuid).await?;
    Ok(V5Ok(render::profile(&user, organization.id, &ownership)))
}

#[derive(Deserialize, ToSchema)]
#[schema(as = entity_v5::OwnerBody)]
#[serde(deny_unknown_fields)]
pub(super) struct OwnerBody {
    #[schema(value_type = String, format = Uuid)]
    user_id: Text,
    /// A user of the same organisation.
    #[schema(value_type = String, format = Uuid)]
    owner_id: Text,
    #[schema(pattern = "^(add|remove)$", example = "add")]
    event_type: String,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "1")]
    corp_id: Option<Text>,
}

/// Adds or removes an owner of a user; answers the owners.
#[utoipa::path(post, path = "/api/v5/entity/user/owner/update", request_body = OwnerBody,
    responses((status = 200, description = "The owners", body = super::openapi::OwnersAnswer)))]
pub(super) async fn owner_update(
    State(state): State<AppState>,
    Acting(caller): Acting,
    V5Meta(meta): V5Meta,
    V5Body(body): V5Body<OwnerBody>,
) -> Result<V5Ok, V5Error> {
    let change = match body.event_type.trim() {
        "add" => OwnerChange::Add,
        "remove" => OwnerChange::Remove,
        _ => return Err(V5Error::invalid("event_type", "must be add or remove")),
    };
    let organization = corp(&caller, body.corp_id.as_ref())?;
    let user = user_key("user_id", &body.user_id)?;
    let owner = user_key("owner_id", &body.owner_id).map_err(|e| match e.code {
        super::errors::NOT_FOUND => V5Error::invalid("owner_id", "no such user"),
        _ => e,
    })?;
    let (user_uuid, ownership) = state.change_owner(&caller, &organization, &user, &owner, change, &meta).await?;
    Ok(V5Ok(json!({"user_id": user_uuid, "owner_id": ownership.owners})))
}

#[derive(Deserialize, ToSchema)]
#[schema(as = entity_v5::PoolBody)]
#[serde(deny_unknown_fields)]
pub(super) struct PoolBody {
    #[schema(value_type = String, format = Uuid)]
    user_id: Text,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "1")]
    corp_id: Option<Text>,
    #[schema(pattern = "^(alive|dead|public)$", example = "dead")]
    pool: String,
}

/// Moves a user to a pool (`alive`, `dead`, `public`).
#[utoipa::path(post, path = "/api/v5/entity/user/pool/update", request_body = PoolBody,
    responses((status = 200, description = "The user", body = super::openapi::UserIdAnswer)))]
pub(super) async fn pool_update(
    State(state): State<AppState>,
    Acting(caller): Acting,
    V5Meta(meta): V5Meta,
    V5Body(body): V5Body<PoolBody>,
) -> Result<V5Ok, V5Error> {
    let pool = UserPool::ALL
        .into_iter()
        .find(|p| p.as_str() == body.pool.trim())
        .ok_or_else(|| V5Error::invalid("pool", "must be alive, dead or public"))?;
    let organization = corp(&caller, body.corp_id.as_ref())?;
    let user = user_key("user_id", &body.user_id)?;
    let user_uuid = state.set_pool(&caller, &organization, &user, pool, &meta).await?;
    Ok(V5Ok(json!({"user_id": user_uuid})))
}

#[derive(Deserialize, ToSchema)]
#[schema(as = entity_v5::EmailBody)]
#[serde(deny_unknown_fields)]
pub(super) struct EmailBody {
    #[schema(value_type = String, format = Uuid)]
    user_id: Text,
    #[schema(format = Email, example = "test@example.com")]
    email: String,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "1")]
    corp_id: Option<Text>,
}

/// Replaces a user's email (unique: one another user holds is refused).
#[utoipa::path(post, path = "/api/v5/entity/user/email/update", request_body = EmailBody,
    responses((status = 200, description = "The user", body = super::openapi::UserIdAnswer)))]
pub(super) async fn email_update(
    State(state): State<AppState>,
    Acting(caller): Acting,
    V5Meta(meta): V5Meta,
    V5Body(body): V5Body<EmailBody>,
) -> Result<V5Ok, V5Error> {
    if body.email.trim().is_empty() {
        return Err(V5Error::missing("email"));
    }
    let organization = corp(&caller, body.corp_id.as_ref())?;
    let key = user_key("user_id", &body.user_id)?;
    let (_, user) = state.member_of(&caller, &organization, &key).await?;
    let change = ContactChange { email: Some(body.email), ..Default::default() };
    state.change_contact(&caller, &UserKey::Uuid(user.user_uuid.clone()), change, &meta).await?;
    Ok(V5Ok(json!({"user_id": user.user_uuid})))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ContactQuery {
    /// The user's id (a uuid; a numeric id is taken too).
    user_id: String,
    /// An organisation id or code (default: the caller's).
    #[serde(default)]
    corp_id: Option<String>,
    /// `mobile`, `email` or `mobile_backup`.
    #[param(pattern = "^(mobile|email|mobile_backup)$", example = "mobile")]
    contact_type: String,
}

/// A user's mobile (`[area_code, mobile]`) or email (`[email]`).
#[utoipa::path(get, path = "/api/v5/entity/user/contact/fetch", params(ContactQuery),
    responses((status = 200, description = "The contact value", body = super::openapi::ContactAnswer)))]
pub(super) async fn contact_fetch(
    State(state): State<AppState>,
    Acting(caller): Acting,
    V5Query(query): V5Query<ContactQuery>,
) -> Result<V5Ok, V5Error> {
    let kind = ContactType::parse(&query.contact_type)
        .ok_or_else(|| V5Error::invalid("contact_type", "must be mobile, email or mobile_backup"))?;
    let organization = corp(&caller, query.corp_id.map(Text::Text).as_ref())?;
    let key = user_key("user_id", &Text::Text(query.user_id))?;
    let (organization, user) = state.member_of(&caller, &organization, &key).await?;
    Ok(V5Ok(json!({
        "user_id": user.user_uuid,
        "corp_id": organization.id.to_string(),
        "contact_type": kind.as_str(),
        "value": render::contact(&user, kind),
    })))
}
