//! `/user/v1/account/...`: sign-up, login, tokens, terms, list and search.

use axum::extract::{Query, State};
use axum::routing::{get, patch, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::accounts::{SignUp, Tokens};
use crate::http::authorize::guarded;
use crate::http::elevate::envelope::ApiOk;
use crate::http::elevate::errors::AppError;
use crate::http::elevate::render::ToElevateJson;
use crate::http::extract::{paging, Authenticated, JsonBody, RequestMeta};
use crate::http::AppState;
use crate::storage::Count;
use crate::users::{ListedUser, Profile, UserKey, UserQuery};
use crate::visibility::ContactScope;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account/create", guarded(post(create)))
        .route("/account/login", guarded(post(login)))
        .route("/account/generateToken", guarded(post(generate_token)))
        .route("/account/logout", guarded(post(logout)))
        .route("/account/acceptTermsAndCondition", guarded(patch(accept_terms)))
        .route("/account/list", guarded(get(list)))
        .route("/account/search", guarded(post(search).get(search)))
}

#[derive(Deserialize, ToSchema)]
#[schema(as = elevate::SignUpBody)]
pub(super) struct CreateBody {
    #[schema(min_length = 1, max_length = 256, example = "Hypatia Example")]
    pub name: String,
    #[schema(format = Email, example = "mary@example.com")]
    pub email: String,
    /// 8 to 256 characters with an upper-case and a lower-case letter, a digit and a special character, no spaces.
    #[schema(min_length = 8, max_length = 256, example = "Str0ng!pass")]
    pub password: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub has_accepted_terms_and_conditions: Option<bool>,
    #[serde(default)]
    pub preferred_language: Option<String>,
    /// Required with `ENABLE_EMAIL_OTP_VERIFICATION`: the code `registrationOtp` mailed.
    #[serde(default)]
    pub otp: Option<Value>,
}

pub(super) fn tokens_result(profile: &Profile, tokens: Tokens) -> Value {
    json!({
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "user": profile.to_elevate_json(),
    })
}

/// Sign-up: a new user with the default role, signed in at once.
#[utoipa::path(post, path = "/user/v1/account/create", request_body = CreateBody,
    responses((status = 200, description = "Signed up", body = super::openapi::SignedIn)))]
async fn create(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<ApiOk, AppError> {
    let otp = super::otp::otp_text(body.otp.as_ref())?;
    let input = SignUp {
        name: body.name,
        email: body.email,
        password: body.password,
        phone: body.phone,
        username: body.username,
        has_accepted_terms_and_conditions: body.has_accepted_terms_and_conditions.unwrap_or(false),
        preferred_language: body.preferred_language,
        roles: vec![],
    };
    let (profile, tokens) = state.self_sign_up(input, otp, &meta).await?;
    Ok(ApiOk::ok("Sign-up successful Please wait while logging in.", tokens_result(&profile, tokens)))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct LoginBody {
    #[serde(default)]
    #[schema(example = "mary@example.com")]
    pub email: Option<String>,
    #[serde(default)]
    pub identifier: Option<String>,
    #[schema(example = "Str0ng!pass")]
    pub password: String,
}

impl LoginBody {
    pub fn identifier(&self) -> Result<&str, AppError> {
        self.identifier
            .as_deref()
            .or(self.email.as_deref())
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| AppError::invalid_field("email", "email or identifier is required"))
    }
}

/// Login by email, phone or user name (`identifier`, or `email`).
#[utoipa::path(post, path = "/user/v1/account/login", request_body = LoginBody,
    responses((status = 200, description = "Signed in", body = super::openapi::SignedIn)))]
async fn login(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<ApiOk, AppError> {
    let identifier = body.identifier()?.to_string();
    let (profile, tokens) = state.login(&identifier, body.password, false, &meta).await?;
    Ok(ApiOk::ok("User logged in successfully.", tokens_result(&profile, tokens)))
}

#[derive(Deserialize, ToSchema)]
struct RefreshBody {
    refresh_token: String,
}

/// A new access token (and refresh token) for a refresh token; the old refresh token is spent.
#[utoipa::path(post, path = "/user/v1/account/generateToken", request_body = RefreshBody,
    responses((status = 200, description = "New tokens", body = super::openapi::Refreshed)))]
async fn generate_token(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<ApiOk, AppError> {
    let tokens = state.refresh(&body.refresh_token).await?;
    Ok(ApiOk::ok(
        "Access token generated successfully",
        json!({"access_token": tokens.access_token, "refresh_token": tokens.refresh_token}),
    ))
}

#[derive(Deserialize, Default, ToSchema)]
struct LogoutBody {
    #[serde(default)]
    refresh_token: Option<String>,
}

/// Ends the caller's session (its tokens stop working at once).
#[utoipa::path(post, path = "/user/v1/account/logout", request_body = Option<LogoutBody>,
    responses((status = 200, description = "Signed out; `result` is `[]`", body = super::openapi::Answer)))]
async fn logout(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
    body: Option<JsonBody<LogoutBody>>,
) -> Result<ApiOk, AppError> {
    let body = body.map(|b| b.0).unwrap_or_default();
    state.logout(&caller, body.refresh_token.as_deref(), &meta.by(&caller)).await?;
    Ok(ApiOk::ok("User logged out successfully.", json!([])))
}

/// Records that the caller accepted the terms and conditions.
#[utoipa::path(patch, path = "/user/v1/account/acceptTermsAndCondition",
    responses((status = 200, description = "Accepted; `result` is `[]`", body = super::openapi::Answer)))]
async fn accept_terms(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    meta: RequestMeta,
) -> Result<ApiOk, AppError> {
    state.accept_terms(&caller, &meta.by(&caller)).await?;
    Ok(ApiOk::ok("User successfully updated.", json!([])))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    #[serde(rename = "userType", alias = "type")]
    user_type: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    page: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    search: Option<String>,
    /// ELEVATE's optional narrowing to one organisation.
    #[param(value_type = Option<i64>)]
    organization_id: Option<String>,
}

fn organization_filter(raw: Option<&str>) -> Result<Option<i64>, AppError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(raw) => raw
            .parse()
            .map(Some)
            .map_err(|_| AppError::invalid_field("organization_id", "organization_id must be a whole number")),
    }
}

fn role_filter(user_type: Option<String>) -> Option<String> {
    user_type.map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty() && t != "all")
}

/// ELEVATE groups listed users by the first letter of their name. Each
/// user's email is there only if `seen_by` covers them (`visibility`).
fn grouped(users: &[ListedUser], count: Count, seen_by: &ContactScope) -> ApiOk {
    let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
    for user in users {
        let name = user.name.clone().unwrap_or_default();
        let key = name.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_else(|| "#".into());
        let mut value = json!({
            "id": user.id,
            "uuid": user.user_uuid,
            "name": name,
            "image": user.image(),
            "organization_id": user.organization_id,
            "user_roles": user.roles,
        });
        if seen_by.covers(user.id, user.organization_id) {
            value["email"] = json!(user.email);
        }
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value),
            None => groups.push((key, vec![value])),
        }
    }
    let data: Vec<Value> = groups
        .into_iter()
        .map(|(key, values)| {
            // Moved in: `json!` would copy every value.
            let mut group = Map::new();
            group.insert("key".into(), key.into());
            group.insert("values".into(), Value::Array(values));
            Value::Object(group)
        })
        .collect();
    ApiOk::counted("User list fetched successfully.", data, count)
}

/// Every organisation's active users, as ELEVATE lists its tenant's; each
/// in the view the caller may see of them.
#[utoipa::path(get, path = "/user/v1/account/list", params(ListQuery),
    responses((status = 200, description = "`data` groups the users by their name's first letter: `[{key, values}]`", body = super::openapi::Listed)))]
async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<ListQuery>,
) -> Result<ApiOk, AppError> {
    let (users, count) = state.list_users(&caller, listing_query(query)?).await?;
    Ok(grouped(&users, count, &ContactScope::of(&caller)))
}

/// What `account/list` and `account/search` share: the query's search,
/// role, organisation and page.
fn listing_query(query: ListQuery) -> Result<UserQuery, AppError> {
    let (page, limit) = paging(query.page.as_deref(), query.limit.as_deref())?;
    Ok(UserQuery {
        search: query.search,
        role: role_filter(query.user_type),
        organization_id: organization_filter(query.organization_id.as_deref())?,
        page,
        limit,
        ..Default::default()
    })
}

/// Ids may come as numbers or strings (numeric ids or UUIDs).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
enum IdValue {
    Number(i64),
    Text(String),
}

fn keys(ids: Vec<IdValue>) -> Result<Vec<UserKey>, AppError> {
    ids.into_iter()
        .map(|id| match id {
            IdValue::Number(n) => Ok(UserKey::Numeric(n)),
            IdValue::Text(s) => {
                UserKey::parse(&s).ok_or_else(|| AppError::invalid_field("user_ids", format!("{s} is not a user id")))
            }
        })
        .collect()
}

#[derive(Deserialize, Default, ToSchema)]
struct SearchBody {
    #[serde(default)]
    user_ids: Vec<IdValue>,
    #[serde(default)]
    email_ids: Vec<String>,
    #[serde(default)]
    excluded_user_ids: Vec<IdValue>,
}

/// `account/list`, narrowed to (or excluding) the users the body names.
#[utoipa::path(method(post, get), path = "/user/v1/account/search", params(ListQuery), request_body = Option<SearchBody>,
    responses((status = 200, description = "As `account/list`", body = super::openapi::Listed)))]
async fn search(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<ListQuery>,
    body: Option<JsonBody<SearchBody>>,
) -> Result<ApiOk, AppError> {
    let body = body.map(|b| b.0).unwrap_or_default();
    let query = UserQuery {
        include_ids: keys(body.user_ids)?,
        include_emails: body.email_ids,
        exclude_ids: keys(body.excluded_user_ids)?,
        ..listing_query(query)?
    };
    let (users, count) = state.list_users(&caller, query).await?;
    Ok(grouped(&users, count, &ContactScope::of(&caller)))
}
