//! Sunbird's user routes, in both forms (the managed-user, login-id and
//! terms routes' handlers live in `managed`): create (v1-v3, sso, sign-up),
//! read (v1-v5), get by identifier and exists, block and unblock, update
//! (v1-v3), search (v1-v3) and role assignment (v1 replaces, v2 adds and
//! removes). Sunbird's field names are mapped onto the shared use cases
//! here (see the README's Sunbird section for the mapping).

use axum::extract::{MatchedPath, Path, Query, State};
use axum::routing::{get, patch, post};
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use aggregates::ProfileChanges;

use super::declarations;
use super::envelope::SbOk;
use super::errors::{Code, SbError, INVALID_VALUE, PARAMETER_MISMATCH};
use super::extract::{guarded, Acting, ActingFor, SbBody, SbMeta};
use super::managed;
use super::profile;
use super::render;
use super::search;
use super::{merge, migration};
use crate::accounts::Caller;
use crate::contacts::ContactChange;
use crate::error::{Clash, ServiceError};
use crate::http::AppState;
use crate::organizations::{normalize_org_code, OrganizationKey, RoleChanges};
use crate::registrations::NewAccount;
use crate::users::{Identifier, UserKey};
use crate::visibility::{ContactScope, ProfileView};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/user/v1/create", guarded(post(create)))
        .route("/api/user/v2/create", guarded(post(create)))
        .route("/api/user/v3/create", guarded(post(create)))
        .route("/api/user/v1/sso/create", guarded(post(create)))
        .route("/api/user/v1/signup", guarded(post(create)))
        .route("/api/user/v2/signup", guarded(post(create)))
        .route("/v1/user/create", guarded(post(create)))
        .route("/v2/user/create", guarded(post(create)))
        .route("/v3/user/create", guarded(post(create)))
        .route("/v1/ssouser/create", guarded(post(create)))
        .route("/v1/user/signup", guarded(post(create)))
        .route("/v2/user/signup", guarded(post(create)))
        .route("/api/user/v1/read/{userId}", guarded(get(read)))
        .route("/api/user/v2/read/{userId}", guarded(get(read)))
        .route("/api/user/v3/read/{userId}", guarded(get(read)))
        .route("/api/user/v4/read/{userId}", guarded(get(read)))
        .route("/api/user/v5/read/{userId}", guarded(get(read)))
        .route("/v1/user/read/{userId}", guarded(get(read)))
        .route("/v2/user/read/{userId}", guarded(get(read)))
        .route("/v3/user/read/{userId}", guarded(get(read)))
        .route("/v4/user/read/{userId}", guarded(get(read)))
        .route("/v5/user/read/{userId}", guarded(get(read)))
        .route("/api/user/v1/get/{idType}/{id}", guarded(get(get_by)))
        .route("/api/user/v2/get/{idType}/{id}", guarded(get(get_by)))
        .route("/v1/user/get/{idType}/{id}", guarded(get(get_by)))
        .route("/v2/user/get/{idType}/{id}", guarded(get(get_by)))
        .route("/api/user/v1/exists/{idType}/{id}", guarded(get(exists)))
        .route("/api/user/v2/exists/{idType}/{id}", guarded(get(exists)))
        .route("/v1/user/exists/{idType}/{id}", guarded(get(exists)))
        .route("/v2/user/exists/{idType}/{id}", guarded(get(exists)))
        .route("/api/user/v1/block", guarded(post(block)))
        .route("/api/user/v1/unblock", guarded(post(unblock)))
        .route("/v1/user/block", guarded(post(block)))
        .route("/v1/user/unblock", guarded(post(unblock)))
        .route("/api/user/v1/update", guarded(patch(update)))
        .route("/api/user/v2/update", guarded(patch(update)))
        .route("/api/user/v3/update", guarded(patch(update)))
        .route("/v1/user/update", guarded(patch(update)))
        .route("/v2/user/update", guarded(patch(update)))
        .route("/v3/user/update", guarded(patch(update)))
        .route("/api/user/v1/search", guarded(post(search::search)))
        .route("/api/user/v2/search", guarded(post(search::search)))
        .route("/api/user/v3/search", guarded(post(search::search)))
        .route("/v1/user/search", guarded(post(search::search)))
        .route("/v2/user/search", guarded(post(search::search)))
        .route("/v3/user/search", guarded(post(search::search)))
        .route("/api/user/v1/role/assign", guarded(post(assign_roles)))
        .route("/v1/user/assign/role", guarded(post(assign_roles)))
        .route("/api/user/v2/role/assign", guarded(post(change_roles)))
        .route("/v2/user/assign/role", guarded(post(change_roles)))
        .route("/api/user/v4/create", guarded(post(managed::create_managed)))
        .route("/api/user/v1/managed/create", guarded(post(managed::create_managed)))
        .route("/v4/user/create", guarded(post(managed::create_managed)))
        .route("/v1/manageduser/create", guarded(post(managed::create_managed)))
        .route("/api/user/v2/managed/create", guarded(post(managed::create_managed)))
        .route("/v2/manageduser/create", guarded(post(managed::create_managed)))
        .route("/api/user/v1/managed/{userId}", guarded(get(managed::managed_users)))
        .route("/v1/user/managed/{userId}", guarded(get(managed::managed_users)))
        .route("/api/user/v1/profile/read", guarded(post(managed::by_login_id)))
        .route("/v1/user/getuser", guarded(post(managed::by_login_id)))
        .route("/api/user/v1/tnc/accept", guarded(post(managed::accept_tnc)))
        .route("/v1/user/tnc/accept", guarded(post(managed::accept_tnc)))
        .route("/api/user/v1/account/merge", guarded(patch(merge::merge)))
        .route("/private/user/v1/account/merge", guarded(patch(merge::merge)))
        .route("/api/user/v1/migrate", guarded(post(migration::migrate)))
        .route("/v1/user/migrate", guarded(post(migration::migrate)))
        .route("/api/user/v1/feed/{userId}", guarded(get(migration::feed)))
        .route("/v1/user/feed/{userId}", guarded(get(migration::feed)))
        .route("/api/user/v1/feed/create", guarded(post(migration::create_feed)))
        .route("/v1/user/feed/create", guarded(post(migration::create_feed)))
        .route("/api/user/v1/declarations", guarded(patch(declarations::declare)))
        .route("/v1/user/declarations", guarded(patch(declarations::declare)))
}

/// A phone number, sent as text or as a number.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
enum Phone {
    Text(String),
    Number(u64),
}

impl Phone {
    fn text(self) -> String {
        match self {
            Phone::Text(text) => text,
            Phone::Number(n) => n.to_string(),
        }
    }
}

/// An organisation id, sent as text or as a number.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub(super) enum OrgId {
    Text(String),
    Number(i64),
}

impl OrgId {
    pub(super) fn id(&self) -> Result<i64, SbError> {
        match self {
            OrgId::Number(n) => Ok(*n),
            OrgId::Text(text) => text.trim().parse().map_err(|_| SbError::invalid_value(&clip(text), "organisationId")),
        }
    }
}

/// A client's value, short enough to echo in a message.
pub(super) fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

fn user_key(raw: &str) -> Result<UserKey, SbError> {
    UserKey::parse(raw).ok_or_else(|| SbError::not_found("user"))
}

/// The fields a create takes: an email, a phone or both (Sunbird spells the
/// names both ways). `emailVerified`, `phoneVerified` and `countryCode` are
/// accepted and not kept (Roster does not verify contacts); `channel` (an
/// organisation code) or `rootOrgId` (its id) name the organisation to
/// join; anything else is refused.
#[derive(Deserialize, ToSchema)]
#[schema(as = sunbird::CreateBody)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    #[serde(rename = "firstName", alias = "firstname")]
    #[schema(min_length = 1, max_length = 256, example = "Sofia")]
    first_name: String,
    #[serde(default, rename = "lastName", alias = "lastname")]
    last_name: Option<String>,
    #[serde(default)]
    #[schema(format = Email, example = "sofia@example.com")]
    email: Option<String>,
    #[schema(min_length = 8, max_length = 256, example = "Str0ng!pass")]
    password: String,
    #[serde(default)]
    phone: Option<Phone>,
    #[serde(default, rename = "userName", alias = "username")]
    user_name: Option<String>,
    #[serde(default, rename = "emailVerified")]
    _email_verified: Option<bool>,
    #[serde(default, rename = "phoneVerified")]
    _phone_verified: Option<bool>,
    #[serde(default, rename = "countryCode")]
    _country_code: Option<Value>,
    /// The code of the organisation to join (Sunbird's tenant channel).
    #[serde(default)]
    #[schema(example = "sunbird")]
    channel: Option<String>,
    /// The id of the organisation to join; with `channel`, both must name it.
    #[serde(default, rename = "rootOrgId")]
    #[schema(value_type = Option<String>, example = "1")]
    root_org_id: Option<OrgId>,
    /// A year (`2000`, kept as `2000-12-31` as Sunbird keeps it) or a date.
    #[serde(default, deserialize_with = "profile::present")]
    #[schema(value_type = Option<String>, example = "2000")]
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
    /// `{id: [framework], <category>: [names]}`.
    #[serde(default, deserialize_with = "profile::present")]
    #[schema(value_type = Option<Object>, example = json!({"id": ["ekstep_ncert_k-12"], "board": ["CBSE"]}))]
    framework: Option<Value>,
}

/// The profile-extension fields of a body (`profile`).
macro_rules! profile_fields {
    ($body:expr) => {
        profile::ProfileFields {
            dob: $body.dob,
            profile_location: $body.profile_location,
            profile_user_type: $body.profile_user_type,
            profile_user_types: $body.profile_user_types,
            framework: $body.framework,
        }
    };
}
pub(super) use profile_fields;

/// Roster's one name from Sunbird's two.
pub(super) fn full_name(first: &str, last: Option<&str>) -> String {
    match last.map(str::trim).filter(|l| !l.is_empty()) {
        Some(last) => format!("{} {last}", first.trim()),
        None => first.to_string(),
    }
}

/// Which organisation a create's `channel` or `rootOrgId` names (blank counts
/// as absent); naming one both ways, they must agree (as Sunbird checks
/// them, `0045`). Answers the key and the field that named it.
async fn organization_named(
    state: &AppState,
    channel: Option<String>,
    root_org_id: Option<OrgId>,
) -> Result<Option<(OrganizationKey, &'static str, String)>, SbError> {
    let channel = channel.filter(|c| !c.trim().is_empty());
    let root_org_id = match root_org_id {
        Some(OrgId::Text(text)) if text.trim().is_empty() => None,
        Some(id) => Some(id.id().map_err(|_| SbError::invalid("rootOrgId"))?),
        None => None,
    };
    let by_channel = match &channel {
        Some(raw) => {
            let code = normalize_org_code(raw).map_err(|_| SbError::invalid_value(&clip(raw), "channel"))?;
            Some((OrganizationKey::Code(code), raw.trim().to_string()))
        }
        None => None,
    };
    match (by_channel, root_org_id) {
        (None, None) => Ok(None),
        (Some((key, raw)), None) => Ok(Some((key, "channel", raw))),
        (None, Some(id)) => Ok(Some((OrganizationKey::Id(id), "rootOrgId", id.to_string()))),
        (Some((key, raw)), Some(id)) => match state.organization(&key).await {
            Ok(org) if org.id == id => Ok(Some((OrganizationKey::Id(id), "channel", raw))),
            Ok(_) => Err(SbError::client(PARAMETER_MISMATCH, "Mismatch of given parameters: channel and rootOrgId.")),
            Err(ServiceError::NotFound { .. }) => Err(SbError::invalid_value(&clip(&raw), "channel")),
            Err(other) => Err(other.into()),
        },
    }
}

/// A new user (a sign-up when no acting user is sent).
#[utoipa::path(post, path = "/api/user/v1/create", request_body = super::openapi::Request<CreateBody>,
    responses((status = 200, description = "Created", body = super::openapi::Created)))]
async fn create(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    meta: SbMeta,
    SbBody(body): SbBody<CreateBody>,
) -> Result<SbOk, SbError> {
    let meta = match &caller {
        Some(Extension(caller)) => meta.by(caller),
        None => meta.0,
    };
    // Blank counts as absent, as Sunbird's validator reads them.
    let present = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let (email, phone) = (present(body.email), present(body.phone.map(Phone::text)));
    if email.is_none() && phone.is_none() {
        return Err(SbError::invalid("email or phone"));
    }
    let organization = organization_named(&state, body.channel, body.root_org_id).await?;
    let extension = profile_fields!(body).created()?;
    let (organization, named_by) = match organization {
        Some((key, field, raw)) => (Some(key), Some((field, raw))),
        None => (None, None),
    };
    let input = NewAccount {
        name: full_name(&body.first_name, body.last_name.as_deref()),
        email,
        phone,
        username: present(body.user_name),
        password: body.password,
        extension,
        organization,
    };
    let by = caller.as_ref().map(|Extension(caller)| caller);
    let profile = match state.register_by_identifiers(input, by, &meta).await {
        Ok(profile) => profile,
        Err(error) => return Err(organization_refusal(error, named_by)),
    };
    Ok(SbOk::success(json!({"userId": profile.user.user_uuid, "errors": []})))
}

/// A create's refusal, naming the organisation as the request named it: an
/// unknown one is an invalid value (`0017`), a deactivated one not a valid
/// one (`0019`), as Sunbird answers them.
fn organization_refusal(error: ServiceError, named_by: Option<(&'static str, String)>) -> SbError {
    let Some((field, raw)) = named_by else { return error.into() };
    match &error {
        ServiceError::Invalid(fields) if fields.first().is_some_and(|f| f.field == "organization") => {
            SbError::invalid_value(&clip(&raw), field)
        }
        ServiceError::Conflict { what: Clash::OrganizationDeactivated } => SbError::invalid(field),
        _ => error.into(),
    }
}

/// `fields` and `withTokens`: Roster always answers with the organisations
/// and roles; `fields` naming `declarations` adds them (as Sunbird's read
/// does); `withTokens=true` adds `managedToken` when the user is one the
/// caller manages.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReadQuery {
    /// Comma-separated: `declarations` adds the user's declarations.
    #[param(example = "organisations,roles,locations,declarations")]
    fields: Option<String>,
    #[serde(rename = "withTokens")]
    with_tokens: Option<String>,
}

/// One user, in the view the acting user may see.
#[utoipa::path(get, path = "/api/user/v1/read/{userId}", params(("userId" = crate::http::openapi::UserKey, Path, description = "The user's id (a uuid; a numeric id is taken too)"), ReadQuery),
    responses((status = 200, description = "The user", body = super::openapi::OneUser)))]
async fn read(
    State(state): State<AppState>,
    acting: ActingFor,
    Path(user_id): Path<String>,
    Query(query): Query<ReadQuery>,
) -> Result<SbOk, SbError> {
    let profile = state.profile(&user_key(&user_id)?).await?;
    let caller = acting.on(&profile.user.user_uuid)?;
    // A manager sees the users they manage in full, as their list shows them.
    let view = match profile.user.managed_by.as_deref() == Some(caller.user_uuid()) {
        true => ProfileView::Full,
        false => ContactScope::of(&caller).view_of(profile.user.id, profile.user.organization_id),
    };
    let mut user = render::user(&profile, view);
    let asked = |name: &str| query.fields.as_deref().is_some_and(|f| f.split(',').any(|f| f.trim() == name));
    if let (true, ProfileView::Full, Value::Object(map)) = (asked("declarations"), view, &mut user) {
        map.insert("declarations".into(), profile::render_declarations(&profile.user));
    }
    if query.with_tokens.as_deref().is_some_and(|t| t.trim().eq_ignore_ascii_case("true")) {
        if let (Some(token), Value::Object(map)) = (state.managed_token_for(&caller, &profile).await?, &mut user) {
            map.insert("managedToken".into(), token.into());
        }
    }
    Ok(SbOk(json!({"response": user})))
}

pub(super) fn identifier(id_type: &str, value: String) -> Result<Identifier, SbError> {
    match id_type {
        "email" => Ok(Identifier::Email(value)),
        "phone" => Ok(Identifier::Phone(value)),
        "loginId" | "userName" | "username" => Ok(Identifier::Username(value)),
        other => Err(SbError::client(
            INVALID_VALUE,
            format!("Invalid idType: {}. Valid values are: email, phone, loginId, userName.", clip(other)),
        )),
    }
}

/// The user an identifier names, if the caller may see their contact data:
/// anyone else is "not found", so the route cannot tell whose an email is.
/// The user an email, phone or login id names (only if the acting user may see their contacts).
#[utoipa::path(get, path = "/api/user/v1/get/{idType}/{id}", params(("idType" = super::openapi::IdType, Path, description = "What `id` is"), ("id" = String, Path, description = "The value")),
    responses((status = 200, description = "The user", body = super::openapi::OneUser)))]
async fn get_by(
    State(state): State<AppState>,
    Acting(caller): Acting,
    matched: MatchedPath,
    Path((id_type, id)): Path<(String, String)>,
) -> Result<SbOk, SbError> {
    let scope = ContactScope::of(&caller);
    let found = state.find_user(&identifier(&id_type, id)?).await?;
    match found.filter(|p| scope.covers(p.user.id, p.user.organization_id)) {
        Some(profile) => Ok(SbOk(
            json!({"response": render::user(&profile, scope.view_of(profile.user.id, profile.user.organization_id))}),
        )),
        None => {
            let mut error = SbError::not_found("user");
            // Sunbird's v1 answers its old code here, in `err` and `status`.
            if matched.as_str().contains("/v1/user/get/") || matched.as_str().starts_with("/api/user/v1/get/") {
                error.code = Code::Whole("USER_NOT_FOUND");
                error.status_text = Some("USER_NOT_FOUND");
            }
            Err(error)
        }
    }
}

/// Whether anyone holds the identifier (what a sign-up form asks).
/// Whether anyone holds an email, phone or login id.
#[utoipa::path(get, path = "/api/user/v1/exists/{idType}/{id}", params(("idType" = super::openapi::IdType, Path, description = "What `id` is"), ("id" = String, Path, description = "The value")),
    responses((status = 200, description = "Whether it is taken", body = super::openapi::Exists)))]
async fn exists(
    State(state): State<AppState>,
    Acting(_caller): Acting,
    Path((id_type, id)): Path<(String, String)>,
) -> Result<SbOk, SbError> {
    let found = state.find_user(&identifier(&id_type, id)?).await?;
    Ok(SbOk(json!({"exists": found.is_some()})))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TargetBody {
    #[serde(rename = "userId")]
    #[schema(format = Uuid)]
    user_id: String,
}

impl TargetBody {
    fn key(&self) -> Result<UserKey, SbError> {
        if self.user_id.trim().is_empty() {
            return Err(SbError::missing("userId"));
        }
        user_key(&self.user_id)
    }
}

#[utoipa::path(post, path = "/api/user/v1/block", request_body = super::openapi::Request<TargetBody>,
    responses((status = 200, description = "Blocked", body = super::openapi::Done)))]
async fn block(
    State(state): State<AppState>,
    Acting(caller): Acting,
    meta: SbMeta,
    SbBody(body): SbBody<TargetBody>,
) -> Result<SbOk, SbError> {
    state.block_user(&caller, &body.key()?, &meta.by(&caller)).await?;
    Ok(SbOk::success(json!({})))
}

#[utoipa::path(post, path = "/api/user/v1/unblock", request_body = super::openapi::Request<TargetBody>,
    responses((status = 200, description = "Unblocked", body = super::openapi::Done)))]
async fn unblock(
    State(state): State<AppState>,
    Acting(caller): Acting,
    meta: SbMeta,
    SbBody(body): SbBody<TargetBody>,
) -> Result<SbOk, SbError> {
    state.unblock_user(&caller, &body.key()?, &meta.by(&caller)).await?;
    Ok(SbOk::success(json!({})))
}

/// The fields an update takes: the user (the caller when absent), the
/// names, and new contact values (email, phone, userName: claimed for the
/// user and the old ones given back, in the same commit as the names). The
/// verification flags are accepted and not kept; anything else is refused.
#[derive(Deserialize, ToSchema)]
#[schema(as = sunbird::UpdateBody)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    #[serde(default, rename = "userId", alias = "id")]
    user_id: Option<String>,
    #[serde(default, rename = "firstName", alias = "firstname")]
    #[schema(min_length = 1, max_length = 256, example = "Sofia")]
    first_name: Option<String>,
    #[serde(default, rename = "lastName", alias = "lastname")]
    last_name: Option<String>,
    #[serde(default)]
    email: Option<Value>,
    #[serde(default)]
    phone: Option<Value>,
    #[serde(default, rename = "userName", alias = "username")]
    user_name: Option<Value>,
    #[serde(default, rename = "emailVerified")]
    _email_verified: Option<bool>,
    #[serde(default, rename = "phoneVerified")]
    _phone_verified: Option<bool>,
    #[serde(default, rename = "countryCode")]
    _country_code: Option<Value>,
    /// A year (`2000`, kept as `2000-12-31` as Sunbird keeps it) or a date.
    #[serde(default, deserialize_with = "profile::present")]
    #[schema(value_type = Option<String>, example = "2000")]
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
    /// `{id: [framework], <category>: [names]}`.
    #[serde(default, deserialize_with = "profile::present")]
    #[schema(value_type = Option<Object>, example = json!({"id": ["ekstep_ncert_k-12"], "board": ["CBSE"]}))]
    framework: Option<Value>,
}

/// A contact value of an update: absent or null leaves it as it is; an
/// empty one is refused as Sunbird refuses it (`0017`, the value named).
fn contact_value(field: &str, value: Option<Value>, numbers: bool) -> Result<Option<String>, SbError> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => text,
        Some(Value::Number(n)) if numbers => n.to_string(),
        Some(_) => return Err(SbError::data_type(field, "String")),
    };
    if text.trim().is_empty() {
        return Err(SbError::invalid_value("", field));
    }
    Ok(Some(text))
}

/// The names and contact values of the acting user, or of a user they administer (`userId`).
#[utoipa::path(patch, path = "/api/user/v1/update", request_body = super::openapi::Request<UpdateBody>,
    responses((status = 200, description = "Updated", body = super::openapi::Done)))]
async fn update(
    State(state): State<AppState>,
    acting: ActingFor,
    meta: SbMeta,
    SbBody(body): SbBody<UpdateBody>,
) -> Result<SbOk, SbError> {
    let extension = profile_fields!(body).patch()?;
    let email = contact_value("email", body.email, false)?;
    let phone = contact_value("phone", body.phone, true)?;
    let username = contact_value("userName", body.user_name, false)?;
    let key = match body.user_id.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => user_key(id)?,
        None => UserKey::Uuid(acting.caller.user_uuid().to_string()),
    };
    let caller = match acting.managed.is_some() {
        true => acting.on(&state.user(&key).await?.user_uuid)?,
        false => acting.caller,
    };
    let name = match (body.first_name, body.last_name) {
        (None, None) => None,
        (Some(first), Some(last)) => Some(full_name(&first, Some(&last))),
        (first, last) => {
            // One of the two: the other is kept from the current name.
            let current = state.user(&key).await?.name.unwrap_or_default();
            let (current_first, current_last) = render::split_name(&current);
            let first = first.unwrap_or(current_first);
            Some(full_name(&first, last.as_deref().or(current_last.as_deref())))
        }
    };
    let profile = ProfileChanges { name, extension, ..Default::default() };
    let meta = meta.by(&caller);
    let change = ContactChange { email, phone, username, profile };
    let updated = match change.is_empty() {
        true => state.update_user(&caller, &key, change.profile, &meta).await,
        false => state.change_contact(&caller, &key, change, &meta).await,
    };
    match updated {
        Ok(_) | Err(ServiceError::NothingToUpdate) => Ok(SbOk::success(json!({"errors": []}))),
        Err(other) => Err(other.into()),
    }
}

/// v1: the roles the user holds in one organisation become exactly these.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    #[serde(rename = "userId")]
    #[schema(format = Uuid)]
    user_id: String,
    #[serde(rename = "organisationId")]
    organisation_id: OrgId,
    #[schema(example = json!(["mentor"]))]
    roles: Vec<String>,
}

/// v1: the user's roles in one organisation become exactly these.
#[utoipa::path(post, path = "/api/user/v1/role/assign", request_body = super::openapi::Request<AssignBody>,
    responses((status = 200, description = "Assigned", body = super::openapi::Done)))]
async fn assign_roles(
    State(state): State<AppState>,
    Acting(caller): Acting,
    meta: SbMeta,
    SbBody(body): SbBody<AssignBody>,
) -> Result<SbOk, SbError> {
    let changes = RoleChanges {
        organization_id: Some(body.organisation_id.id()?),
        grant: body.roles,
        revoke: vec![],
        replace: true,
    };
    state.change_roles(&caller, &user_key(&body.user_id)?, &changes, &meta.by(&caller)).await?;
    Ok(SbOk::success(json!({})))
}

/// v2: roles added or removed (`operation`, default add), each scoped to
/// organisations; Roster keeps a user in one organisation, so every scope
/// of a request must name the same one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    #[serde(rename = "userId")]
    #[schema(format = Uuid)]
    user_id: String,
    roles: Vec<RoleEntry>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RoleEntry {
    role: String,
    #[serde(default)]
    #[schema(pattern = "^(add|remove)$", example = "add")]
    operation: Option<String>,
    #[serde(default)]
    scope: Vec<Scope>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Scope {
    #[serde(rename = "organisationId")]
    organisation_id: OrgId,
}

/// v2: roles added or removed.
#[utoipa::path(post, path = "/api/user/v2/role/assign", request_body = super::openapi::Request<ChangeBody>,
    responses((status = 200, description = "Changed", body = super::openapi::Done)))]
async fn change_roles(
    State(state): State<AppState>,
    Acting(caller): Acting,
    meta: SbMeta,
    SbBody(body): SbBody<ChangeBody>,
) -> Result<SbOk, SbError> {
    let mut changes = RoleChanges::default();
    for entry in body.roles {
        for scope in &entry.scope {
            let id = scope.organisation_id.id()?;
            if changes.organization_id.is_some_and(|before| before != id) {
                return Err(SbError::invalid("scope"));
            }
            changes.organization_id = Some(id);
        }
        match entry.operation.as_deref().map(str::trim) {
            None | Some("add") => changes.grant.push(entry.role),
            Some("remove") => changes.revoke.push(entry.role),
            Some(other) => return Err(SbError::invalid_value(&clip(other), "operation")),
        }
    }
    state.change_roles(&caller, &user_key(&body.user_id)?, &changes, &meta.by(&caller)).await?;
    Ok(SbOk::success(json!({})))
}
