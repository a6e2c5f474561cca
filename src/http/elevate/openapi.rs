//! ELEVATE's OpenAPI document: its envelope and result shapes as schemas,
//! its `X-auth-token` scheme, and every route (the handlers carry their
//! `#[utoipa::path]`; routes that share a handler are listed in `ALIASES`).
//! `crate::http::openapi` serves it and adds the errors every route shares.

use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi, ToSchema};

use crate::http::openapi::{expand_aliases, Dialect};

/// `meta` of every answer: the forms' versions and the request's
/// correlation id (lists add `count_is_estimate`).
#[derive(Serialize, ToSchema)]
#[schema(as = elevate::Meta)]
#[allow(dead_code)]
pub struct Meta {
    /// Every form's `{id, type, version}`.
    #[serde(rename = "formsVersion")]
    forms_version: Vec<Value>,
    /// The request's `X-Request-Id` (one is made when none is sent).
    correlation: String,
    /// On lists: whether `count` was estimated (README, "Search").
    #[schema(nullable = false)]
    count_is_estimate: Option<bool>,
}

/// `responseCode` of a success.
#[derive(Serialize, ToSchema)]
#[schema(as = elevate::OkCode)]
#[allow(dead_code)]
pub enum OkCode {
    #[serde(rename = "OK")]
    Ok,
}

/// `responseCode` of an error: `UNAUTHORIZED` for 401, `CLIENT_ERROR` for
/// other 4xx, `SERVER_ERROR` for 5xx.
#[derive(Serialize, ToSchema)]
#[schema(as = elevate::ErrorCode)]
#[allow(dead_code)]
pub enum ErrorCode {
    #[serde(rename = "CLIENT_ERROR")]
    ClientError,
    #[serde(rename = "UNAUTHORIZED")]
    Unauthorized,
    #[serde(rename = "SERVER_ERROR")]
    ServerError,
}

/// A refused field: its name (`body` for the whole body) and why.
#[derive(Serialize, ToSchema)]
#[schema(as = elevate::FieldError)]
#[allow(dead_code)]
pub struct FieldError {
    param: String,
    msg: String,
}

/// Every ELEVATE error: 4xx and 5xx alike, unknown routes included.
#[derive(Serialize, ToSchema)]
#[schema(as = elevate::Error)]
#[allow(dead_code)]
pub struct Error {
    #[serde(rename = "responseCode")]
    response_code: ErrorCode,
    /// What went wrong, in ELEVATE's words.
    message: String,
    /// The refused fields, if any.
    error: Vec<FieldError>,
    meta: Meta,
}

/// A success envelope whose `result` is `$result`.
macro_rules! envelope {
    ($(#[$doc:meta])* $name:ident, $schema:path, $result:ty) => {
        $(#[$doc])*
        #[derive(Serialize, ToSchema)]
        #[schema(as = $schema)]
        #[allow(dead_code)]
        pub struct $name {
            #[serde(rename = "responseCode")]
            response_code: OkCode,
            message: String,
            result: $result,
            meta: Meta,
        }
    };
}

envelope!(
    /// A success; `result` is the route's answer.
    Answer,
    elevate::Answer,
    Value
);
envelope!(
    /// Tokens and the signed-in user's profile.
    SignedIn,
    elevate::SignedIn,
    TokensResult
);
envelope!(
    /// A new pair of tokens.
    Refreshed,
    elevate::Refreshed,
    RefreshedTokens
);
envelope!(
    /// One page of a list, with the count of every match.
    Listed,
    elevate::Listed,
    Listing
);

#[derive(Serialize, ToSchema)]
#[schema(as = elevate::TokensResult)]
#[allow(dead_code)]
pub struct TokensResult {
    access_token: String,
    refresh_token: String,
    /// The user's profile.
    user: Value,
}

#[derive(Serialize, ToSchema)]
#[schema(as = elevate::RefreshedTokens)]
#[allow(dead_code)]
pub struct RefreshedTokens {
    access_token: String,
    refresh_token: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = elevate::Listing)]
#[allow(dead_code)]
pub struct Listing {
    /// Every match (see `meta.count_is_estimate`).
    #[schema(minimum = 0)]
    count: i64,
    /// This page.
    data: Vec<Value>,
}

pub const SECURITY_SCHEME: &str = "X-auth-token";
/// The same token in `Authorization: Bearer` (read when `X-auth-token` is absent).
pub const BEARER_SCHEME: &str = "elevate.bearer";

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = ApiKey::Header(ApiKeyValue::with_description(
            "X-auth-token",
            "`bearer <access token>` (the scheme word in any case), the token `account/login` answers. \
             What a route needs is data (roles and their permissions): anonymous callers get the public role's.",
        ));
        components.add_security_scheme(SECURITY_SCHEME, SecurityScheme::ApiKey(scheme));
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some("The same access token, when `X-auth-token` is not sent."))
            .build();
        components.add_security_scheme(BEARER_SCHEME, SecurityScheme::Http(bearer));
    }
}

#[derive(OpenApi)]
#[openapi(
    modifiers(&Security),
    components(schemas(Error, crate::http::openapi::UserKey)),
    paths(
        super::account::create,
        super::account::login,
        super::account::generate_token,
        super::account::logout,
        super::account::accept_terms,
        super::account::list,
        super::account::search,
        super::user::read_self,
        super::user::read_one,
        super::user::update,
        super::user::set_language,
        super::admin::create,
        super::admin::login,
        super::admin::add_org_admin,
        super::admin::deactivate_org,
        super::admin::deactivate_user,
        super::admin::delete_user,
        super::admin::assign_role,
        super::organization::create,
        super::organization::update,
        super::organization::list,
        super::organization::read,
        super::organization::request_role,
        super::org_admin::get_requests,
        super::org_admin::update_request_status,
        super::org_admin::request_details_query,
        super::org_admin::request_details_path,
        super::org_admin::deactivate_user,
        super::catalogue::create_role,
        super::catalogue::update_role,
        super::catalogue::delete_role,
        super::catalogue::list_roles,
        super::catalogue::map_permission,
        super::catalogue::unmap_permission,
        super::catalogue::list_mappings,
        super::catalogue::create_module,
        super::catalogue::update_module,
        super::catalogue::delete_module,
        super::catalogue::list_modules,
        super::catalogue::create_permission,
        super::catalogue::update_permission,
        super::catalogue::delete_permission,
        super::catalogue::list_permissions,
        super::form::create,
        super::form::update,
        super::form::update_by_type,
        super::form::read,
        super::form::read_by_type,
        super::audit::events,
        super::audit::user_history,
        super::audit::user_state,
        super::audit::organization_history,
    )
)]
struct ElevateApi;

/// Paths served by the handler of another (the first): ELEVATE's two
/// spellings of the catalogue routes.
const ALIASES: &[(&str, &[&str])] = &[
    ("/user/v1/userRole/create", &["/user/v1/user-role/create"]),
    ("/user/v1/userRole/update/{id}", &["/user/v1/user-role/update/{id}"]),
    ("/user/v1/userRole/delete/{id}", &["/user/v1/user-role/delete/{id}"]),
    ("/user/v1/userRole/list", &["/user/v1/user-role/list"]),
    ("/user/v1/rolePermissionMapping/create/{role_id}", &["/user/v1/role-permission-mapping/create/{role_id}"]),
    ("/user/v1/rolePermissionMapping/delete/{role_id}", &["/user/v1/role-permission-mapping/delete/{role_id}"]),
    ("/user/v1/rolePermissionMapping/list", &["/user/v1/role-permission-mapping/list"]),
];

pub const DIALECT: Dialect = Dialect {
    name: "elevate",
    tag_prefix: "ELEVATE",
    security: &[&[], &[SECURITY_SCHEME], &[BEARER_SCHEME]],
    error_schema: "elevate.Error",
};

/// The ELEVATE document, aliases expanded.
pub fn document() -> Document {
    let mut document = ElevateApi::openapi();
    expand_aliases(&mut document, ALIASES);
    document
}
