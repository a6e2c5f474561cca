//! Sunbird's OpenAPI document: its envelope, `{"request": {...}}` bodies
//! and result shapes as schemas, its two credentials, and every route (the
//! handlers carry their `#[utoipa::path]` at the gateway's v1 path; the
//! other versions and the service forms are listed in `ALIASES`).
//! `crate::http::openapi` serves it and adds the errors every route shares.

use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi, ToSchema};

use crate::http::openapi::{expand_aliases, Dialect};

/// `params` of every answer.
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::Params)]
#[allow(dead_code)]
pub struct Params {
    /// A fresh id of this answer.
    resmsgid: String,
    /// The request's `X-msgid` (else its request id).
    msgid: String,
    /// The error code (`UOS_<operation><number>` or a named code); null on success.
    err: Option<String>,
    /// `success`, `failed` or a named status.
    status: String,
    /// The error's message; null on success.
    errmsg: Option<String>,
}

/// `responseCode` of a success.
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::OkCode)]
#[allow(dead_code)]
pub enum OkCode {
    #[serde(rename = "OK")]
    Ok,
}

/// `responseCode` of an error, from its status.
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::ErrorCode)]
#[allow(dead_code)]
pub enum ErrorCode {
    #[serde(rename = "CLIENT_ERROR")]
    ClientError,
    #[serde(rename = "UNAUTHORIZED")]
    Unauthorized,
    #[serde(rename = "FORBIDDEN")]
    Forbidden,
    #[serde(rename = "RESOURCE_NOT_FOUND")]
    ResourceNotFound,
    #[serde(rename = "TOO_MANY_REQUESTS")]
    TooManyRequests,
    #[serde(rename = "SERVICE_UNAVAILABLE")]
    ServiceUnavailable,
    #[serde(rename = "SERVER_ERROR")]
    ServerError,
}

/// Every Sunbird error (unknown paths under its prefixes included):
/// `params.err` and `params.errmsg` say what went wrong, `result` is empty.
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::Error)]
#[allow(dead_code)]
pub struct Error {
    /// The operation, e.g. `api.user.create`; null on Sunbird's private routes (account merge).
    id: Option<String>,
    /// The version the path names, e.g. `v1`; `private` on the private routes.
    ver: String,
    /// When it was answered.
    ts: String,
    params: Params,
    #[serde(rename = "responseCode")]
    response_code: ErrorCode,
    result: Empty,
}

/// `{}`.
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::Empty)]
pub struct Empty {}

/// A success envelope whose `result` is `$result`.
macro_rules! envelope {
    ($(#[$doc:meta])* $name:ident, $schema:path, $result:ty) => {
        $(#[$doc])*
        #[derive(Serialize, ToSchema)]
        #[schema(as = $schema)]
        #[allow(dead_code)]
        pub struct $name {
            id: String,
            ver: String,
            ts: String,
            params: Params,
            #[serde(rename = "responseCode")]
            response_code: OkCode,
            result: $result,
        }
    };
}

envelope!(
    /// A user created: `{response: "SUCCESS", userId}`.
    Created,
    sunbird::Created,
    CreatedResult
);
envelope!(
    /// Done: `{response: "SUCCESS"}`.
    Done,
    sunbird::Done,
    DoneResult
);
envelope!(
    /// One user: `{response: {...profile}}`.
    OneUser,
    sunbird::OneUser,
    UserResult
);
envelope!(
    /// Users found: `{response: {count, content}}`.
    Users,
    sunbird::Users,
    UsersResult
);
envelope!(
    /// Whether someone holds an identifier: `{exists}`.
    Exists,
    sunbird::Exists,
    ExistsResult
);

envelope!(
    /// A migration prospect added: `{response: "SUCCESS", id}`.
    FeedCreated,
    sunbird::FeedCreated,
    FeedCreatedResult
);
envelope!(
    /// A user's feed: `{response: {userFeed: [...]}}`.
    Feed,
    sunbird::Feed,
    FeedResult
);

/// An account merged: `id` null and `ver` `private`, as Sunbird's private routes answer.
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::Merged)]
#[allow(dead_code)]
pub struct Merged {
    id: Option<String>,
    /// `private`.
    ver: String,
    ts: String,
    params: Params,
    #[serde(rename = "responseCode")]
    response_code: OkCode,
    result: DoneResult,
}

/// `responseCode` of a migrate answer: `OK`, or `SERVER_ERROR` for a wrong
/// external id (HTTP 200, `params.status` `success`), as Sunbird documents it.
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::MigrateCode)]
#[allow(dead_code)]
pub enum MigrateCode {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "SERVER_ERROR")]
    ServerError,
}

/// A migrate answer.
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::Migrated)]
#[allow(dead_code)]
pub struct Migrated {
    id: String,
    ver: String,
    ts: String,
    params: Params,
    #[serde(rename = "responseCode")]
    response_code: MigrateCode,
    result: MigrateResult,
}

/// `{success: true, userId}` once migrated or rejected; `{maxAttempt,
/// remainingAttempt, err: true, message}` after a wrong external id.
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::MigrateResult)]
#[allow(dead_code)]
pub struct MigrateResult {
    #[schema(nullable = false)]
    success: Option<bool>,
    #[serde(rename = "userId")]
    #[schema(nullable = false)]
    user_id: Option<String>,
    #[serde(rename = "maxAttempt")]
    #[schema(nullable = false, minimum = 1)]
    max_attempt: Option<i64>,
    #[serde(rename = "remainingAttempt")]
    #[schema(nullable = false, minimum = 0)]
    remaining_attempt: Option<i64>,
    #[schema(nullable = false)]
    err: Option<bool>,
    #[schema(nullable = false)]
    message: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::FeedCreatedResult)]
#[allow(dead_code)]
pub struct FeedCreatedResult {
    response: Success,
    /// The feed item's id (`feedId` of `migrate`).
    id: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::FeedResult)]
#[allow(dead_code)]
pub struct FeedResult {
    response: UserFeed,
}

#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::UserFeed)]
#[allow(dead_code)]
pub struct UserFeed {
    #[serde(rename = "userFeed")]
    user_feed: Vec<FeedItem>,
}

/// A pending migration prospect.
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::FeedItem)]
#[allow(dead_code)]
pub struct FeedItem {
    id: String,
    #[serde(rename = "userId")]
    user_id: String,
    /// `OrgMigrationAction`.
    category: String,
    priority: i64,
    /// `unread`.
    status: String,
    #[serde(rename = "createdBy")]
    created_by: Option<String>,
    #[serde(rename = "createdOn")]
    created_on: String,
    /// `{prospectChannels: [code], prospectChannelsIds: [{id, name}]}`.
    data: Value,
}

/// `SUCCESS`.
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::Success)]
#[allow(dead_code)]
pub enum Success {
    #[serde(rename = "SUCCESS")]
    Success,
}

#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::CreatedResult)]
#[allow(dead_code)]
pub struct CreatedResult {
    response: Success,
    /// The new user's id.
    #[serde(rename = "userId")]
    user_id: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::DoneResult)]
#[allow(dead_code)]
pub struct DoneResult {
    response: Success,
}

#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::UserResult)]
#[allow(dead_code)]
pub struct UserResult {
    response: User,
}

/// A user as `read` and `get` show them. Callers who may not see the
/// user's contacts get no `email`, `phone`, `userName` (masked or not) nor
/// personal details (README, "Sunbird dialect").
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::User)]
#[allow(dead_code)]
pub struct User {
    id: String,
    #[serde(rename = "userId")]
    user_id: String,
    identifier: String,
    #[serde(rename = "firstName")]
    first_name: String,
    #[serde(rename = "lastName")]
    last_name: Option<String>,
    avatar: Option<Value>,
    /// 1 active, 0 blocked.
    #[schema(minimum = 0, maximum = 1)]
    status: i64,
    #[serde(rename = "isDeleted")]
    is_deleted: bool,
    #[serde(rename = "isBlocked")]
    is_blocked: bool,
    /// Role titles in upper case, `PUBLIC` first.
    roles: Vec<String>,
    #[serde(rename = "rootOrgId")]
    root_org_id: String,
    #[serde(rename = "rootOrgName")]
    root_org_name: Option<String>,
    channel: Option<String>,
    /// `[{organisationId, orgName, userId, roles, isDeleted}]`.
    organisations: Vec<Value>,
    #[serde(rename = "managedBy")]
    managed_by: Option<String>,
    email: Option<String>,
    #[serde(rename = "maskedEmail")]
    masked_email: Option<String>,
    phone: Option<String>,
    #[serde(rename = "maskedPhone")]
    masked_phone: Option<String>,
    #[serde(rename = "userName")]
    user_name: Option<String>,
    #[serde(rename = "emailVerified")]
    #[schema(nullable = false)]
    email_verified: Option<bool>,
    #[serde(rename = "phoneVerified")]
    #[schema(nullable = false)]
    phone_verified: Option<bool>,
    gender: Option<Value>,
    #[schema(nullable = false)]
    language: Option<Vec<Value>>,
    #[serde(rename = "promptTnC")]
    #[schema(nullable = false)]
    prompt_tnc: Option<bool>,
    #[serde(rename = "lastLoginTime")]
    last_login_time: Option<String>,
    #[serde(rename = "createdDate")]
    #[schema(nullable = false)]
    created_date: Option<String>,
    #[serde(rename = "updatedDate")]
    #[schema(nullable = false)]
    updated_date: Option<String>,
    /// The profile extension (as written; empty when never written).
    dob: Option<String>,
    #[serde(rename = "profileLocation")]
    #[schema(nullable = false)]
    profile_location: Option<Vec<Value>>,
    #[serde(rename = "profileUserType")]
    #[schema(nullable = false)]
    profile_user_type: Option<Value>,
    #[serde(rename = "profileUserTypes")]
    #[schema(nullable = false)]
    profile_user_types: Option<Vec<Value>>,
    #[schema(nullable = false)]
    framework: Option<Value>,
    /// With `fields=declarations`: `[{orgId, persona, status, errorType, info}]`.
    #[schema(nullable = false)]
    declarations: Option<Vec<Value>>,
}

/// A user as `search` and the managed-user list show them: `search`'s
/// `fields` keeps only the fields it names; the list adds `managedToken`
/// with `withTokens=true`.
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::ListedUser)]
#[allow(dead_code)]
pub struct ListedUser {
    #[schema(nullable = false)]
    id: Option<String>,
    #[serde(rename = "userId")]
    #[schema(nullable = false)]
    user_id: Option<String>,
    #[serde(rename = "firstName")]
    #[schema(nullable = false)]
    first_name: Option<String>,
    #[serde(rename = "lastName")]
    last_name: Option<String>,
    email: Option<String>,
    #[schema(minimum = 0, maximum = 1, nullable = false)]
    status: Option<i64>,
    /// Blocked (`status` 0).
    #[serde(rename = "isDeleted")]
    #[schema(nullable = false)]
    is_deleted: Option<bool>,
    /// When the user registered (`search` only).
    #[serde(rename = "createdDate")]
    #[schema(nullable = false)]
    created_date: Option<String>,
    #[schema(nullable = false)]
    roles: Option<Vec<String>>,
    #[serde(rename = "rootOrgId")]
    #[schema(nullable = false)]
    root_org_id: Option<String>,
    #[schema(nullable = false)]
    organisations: Option<Vec<Value>>,
    /// The managed user's access token (`withTokens=true`).
    #[serde(rename = "managedToken")]
    #[schema(nullable = false)]
    managed_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::UsersResult)]
#[allow(dead_code)]
pub struct UsersResult {
    response: UserPage,
}

#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::UserPage)]
#[allow(dead_code)]
pub struct UserPage {
    #[schema(minimum = 0)]
    count: i64,
    content: Vec<ListedUser>,
    /// Only when the request asks for `facets`: counts per value over every match.
    facets: Option<Vec<Facet>>,
}

/// Counts per value of one field: `{name, values: [{name, count}]}`.
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::Facet)]
#[allow(dead_code)]
pub struct Facet {
    /// The field, as the request named it (`roles`, `rootOrgId`, `status`).
    name: String,
    values: Vec<FacetValue>,
}

/// A facet value's name: text (a role, an organisation id) or a number (a status).
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::FacetName)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum FacetName {
    Text(String),
    Number(i64),
}

#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::FacetValue)]
#[allow(dead_code)]
pub struct FacetValue {
    /// The value: a role (upper case), an organisation id, a status (1 or 0).
    name: FacetName,
    #[schema(minimum = 0)]
    count: i64,
}

#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::ExistsResult)]
#[allow(dead_code)]
pub struct ExistsResult {
    exists: bool,
}

/// What a `get` or `exists` path's `id` is (`username` too).
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::IdType)]
#[allow(dead_code)]
pub enum IdType {
    #[serde(rename = "email")]
    Email,
    #[serde(rename = "phone")]
    Phone,
    #[serde(rename = "loginId")]
    LoginId,
    #[serde(rename = "userName")]
    UserName,
}

/// Sunbird's body: the fields inside `request`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Request<T: ToSchema> {
    request: T,
}

pub const CLIENT: &str = "Authorization";
pub const USER: &str = "x-authenticated-user-token";
pub const MANAGED: &str = "x-authenticated-for";

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let client = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "The client's key, required on every Sunbird route: an API key an admin issued \
                 (`/user/v1/admin/apiKey/create`, `roster api-key create`; `rk_...`), or a Roster access token \
                 with a live session. It authenticates the client and grants nothing; a revoked key is refused at once.",
            ))
            .build();
        components.add_security_scheme(CLIENT, SecurityScheme::Http(client));
        let user = ApiKey::Header(ApiKeyValue::with_description(
            USER,
            "The acting user's token (`bearer` optional): a Roster access token, or (with KEYCLOAK_PUBLIC_KEYS_DIR \
             and KEYCLOAK_ISSUER) a Keycloak RS256 token of a Roster user, `sub` `f:<realm>:<userId>`. What the \
             route needs is asked of their roles. Without it only what anyone may do (sign up) passes.",
        ));
        components.add_security_scheme(USER, SecurityScheme::ApiKey(user));
        let managed = ApiKey::Header(ApiKeyValue::with_description(
            MANAGED,
            "With a user token: the token of a user the acting user manages (their Roster access token, or a \
             Keycloak token with `parentId` the acting user and `sub` the managed user). A read, update or terms \
             acceptance about that user then acts as them; one about anyone else is 401.",
        ));
        components.add_security_scheme(MANAGED, SecurityScheme::ApiKey(managed));
    }
}

#[derive(OpenApi)]
#[openapi(
    modifiers(&Security),
    components(schemas(Error, IdType, crate::http::openapi::UserKey)),
    paths(
        super::user::create,
        super::user::read,
        super::user::get_by,
        super::user::exists,
        super::user::block,
        super::user::unblock,
        super::user::update,
        super::search::search,
        super::user::assign_roles,
        super::user::change_roles,
        super::managed::create_managed,
        super::managed::managed_users,
        super::managed::by_login_id,
        super::managed::accept_tnc,
        super::merge::merge,
        super::migration::migrate,
        super::migration::feed,
        super::migration::create_feed,
        super::declarations::declare,
    )
)]
struct SunbirdApi;

/// Paths served by the handler of another (the first): the versions and
/// the service forms of each route.
const ALIASES: &[(&str, &[&str])] = &[
    (
        "/api/user/v1/create",
        &[
            "/api/user/v2/create",
            "/api/user/v3/create",
            "/api/user/v1/sso/create",
            "/api/user/v1/signup",
            "/api/user/v2/signup",
            "/v1/user/create",
            "/v2/user/create",
            "/v3/user/create",
            "/v1/ssouser/create",
            "/v1/user/signup",
            "/v2/user/signup",
        ],
    ),
    (
        "/api/user/v1/read/{userId}",
        &[
            "/api/user/v2/read/{userId}",
            "/api/user/v3/read/{userId}",
            "/api/user/v4/read/{userId}",
            "/api/user/v5/read/{userId}",
            "/v1/user/read/{userId}",
            "/v2/user/read/{userId}",
            "/v3/user/read/{userId}",
            "/v4/user/read/{userId}",
            "/v5/user/read/{userId}",
        ],
    ),
    (
        "/api/user/v1/get/{idType}/{id}",
        &["/api/user/v2/get/{idType}/{id}", "/v1/user/get/{idType}/{id}", "/v2/user/get/{idType}/{id}"],
    ),
    (
        "/api/user/v1/exists/{idType}/{id}",
        &["/api/user/v2/exists/{idType}/{id}", "/v1/user/exists/{idType}/{id}", "/v2/user/exists/{idType}/{id}"],
    ),
    ("/api/user/v1/block", &["/v1/user/block"]),
    ("/api/user/v1/unblock", &["/v1/user/unblock"]),
    (
        "/api/user/v1/update",
        &["/api/user/v2/update", "/api/user/v3/update", "/v1/user/update", "/v2/user/update", "/v3/user/update"],
    ),
    (
        "/api/user/v1/search",
        &["/api/user/v2/search", "/api/user/v3/search", "/v1/user/search", "/v2/user/search", "/v3/user/search"],
    ),
    ("/api/user/v1/role/assign", &["/v1/user/assign/role"]),
    ("/api/user/v2/role/assign", &["/v2/user/assign/role"]),
    (
        "/api/user/v1/managed/create",
        &[
            "/api/user/v4/create",
            "/v4/user/create",
            "/v1/manageduser/create",
            "/api/user/v2/managed/create",
            "/v2/manageduser/create",
        ],
    ),
    ("/api/user/v1/managed/{userId}", &["/v1/user/managed/{userId}"]),
    ("/api/user/v1/profile/read", &["/v1/user/getuser"]),
    ("/api/user/v1/tnc/accept", &["/v1/user/tnc/accept"]),
    ("/api/user/v1/account/merge", &["/private/user/v1/account/merge"]),
    ("/api/user/v1/migrate", &["/v1/user/migrate"]),
    ("/api/user/v1/feed/{userId}", &["/v1/user/feed/{userId}"]),
    ("/api/user/v1/feed/create", &["/v1/user/feed/create"]),
    ("/api/user/v1/declarations", &["/v1/user/declarations"]),
];

pub const DIALECT: Dialect = Dialect {
    name: "sunbird",
    tag_prefix: "Sunbird",
    security: &[&[CLIENT, USER, MANAGED], &[CLIENT, USER], &[CLIENT]],
    error_schema: "sunbird.Error",
    title: "Roster: Sunbird dialect",
    description: "Sunbird UserOrg's user routes, at the gateway's paths (`/api/user/vN/...`) and the service's \
                  (`/vN/user/...`): every answer is `{id, ver, ts, params, responseCode, result}`.",
};

/// The Sunbird document, aliases expanded.
pub fn document() -> Document {
    let mut document = SunbirdApi::openapi();
    expand_aliases(&mut document, ALIASES);
    document
}
