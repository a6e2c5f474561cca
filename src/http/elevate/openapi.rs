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

envelope!(
    /// A user's profile.
    OneProfile,
    elevate::OneProfile,
    Profile
);
envelope!(
    /// An organisation.
    OneOrganization,
    elevate::OneOrganization,
    Organization
);
envelope!(
    /// A role.
    OneRole,
    elevate::OneRole,
    Role
);
envelope!(
    /// A module.
    OneModule,
    elevate::OneModule,
    Module
);
envelope!(
    /// A permission.
    OnePermission,
    elevate::OnePermission,
    Permission
);
envelope!(
    /// A form.
    OneForm,
    elevate::OneForm,
    Form
);
envelope!(
    /// A page of the event log.
    Events,
    elevate::Events,
    EventPage
);
envelope!(
    /// A page of organisations.
    Organizations,
    elevate::Organizations,
    ListingOf<Organization>
);
envelope!(
    /// A page of roles.
    Roles,
    elevate::Roles,
    ListingOf<Role>
);
envelope!(
    /// A page of modules.
    Modules,
    elevate::Modules,
    ListingOf<Module>
);

/// A profile. Callers who may not see all of it (README, "Field-level
/// visibility") get its public fields only: `id`, `uuid`, `name`, `about`,
/// `image`, `languages`, `status`, `organization_id`, `organization`,
/// `roles` and `user_roles`.
#[derive(Serialize, ToSchema)]
#[schema(as = elevate::Profile)]
#[allow(dead_code)]
pub struct Profile {
    id: i64,
    uuid: String,
    name: Option<String>,
    /// `ACTIVE`, `INACTIVE` or `DELETED`.
    status: String,
    organization_id: i64,
    #[schema(nullable = false)]
    roles: Option<Vec<i64>>,
    /// `[{id, title, user_type, status}]`.
    #[schema(nullable = false)]
    user_roles: Option<Vec<Value>>,
    /// `{id, name, code}`.
    organization: Option<Value>,
    about: Option<Value>,
    image: Option<Value>,
    #[schema(nullable = false)]
    languages: Option<Vec<Value>>,
    email: Option<String>,
    #[schema(nullable = false)]
    email_verified: Option<bool>,
    phone: Option<String>,
    username: Option<String>,
    gender: Option<Value>,
    #[schema(nullable = false)]
    location: Option<Vec<Value>>,
    share_link: Option<Value>,
    #[schema(nullable = false)]
    has_accepted_terms_and_conditions: Option<bool>,
    preferred_language: Option<Value>,
    last_logged_in_at: Option<String>,
    deleted_at: Option<String>,
    #[schema(nullable = false)]
    created_at: Option<String>,
    #[schema(nullable = false)]
    updated_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = elevate::Organization)]
#[allow(dead_code)]
pub struct Organization {
    id: i64,
    name: String,
    code: String,
    description: String,
    /// `ACTIVE` or `INACTIVE`.
    status: String,
    related_orgs: Vec<i64>,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = elevate::Role)]
#[allow(dead_code)]
pub struct Role {
    id: i64,
    title: String,
    label: String,
    /// 0: a user role, 1: a system role.
    user_type: i64,
    status: String,
    visibility: String,
    organization_id: i64,
    /// As sent (a JSON object), or null.
    translations: Value,
    meta: Value,
}

#[derive(Serialize, ToSchema)]
#[schema(as = elevate::Module)]
#[allow(dead_code)]
pub struct Module {
    id: i64,
    /// `id` again, as ELEVATE answers it.
    #[serde(rename = "Id")]
    id_again: i64,
    code: String,
    status: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = elevate::Permission)]
#[allow(dead_code)]
pub struct Permission {
    id: i64,
    code: String,
    module: String,
    request_type: Vec<String>,
    api_path: String,
    status: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = elevate::Form)]
#[allow(dead_code)]
pub struct Form {
    id: i64,
    #[serde(rename = "type")]
    form_type: String,
    sub_type: String,
    /// As sent.
    data: Value,
    version: i64,
    organization_id: i64,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = elevate::EventPage)]
#[allow(dead_code)]
pub struct EventPage {
    /// README, "Audit API".
    events: Vec<Value>,
    /// Where the next page starts (`after_position` / `after_sequence`); null on the last page.
    next_cursor: Option<i64>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ListingOf<T: ToSchema> {
    #[schema(minimum = 0)]
    count: i64,
    data: Vec<T>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = elevate::TokensResult)]
#[allow(dead_code)]
pub struct TokensResult {
    access_token: String,
    refresh_token: String,
    user: Profile,
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
        super::otp::registration_otp,
        super::otp::generate_otp,
        super::otp::reset_password,
        super::otp::change_password,
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
        super::api_key::create,
        super::api_key::list,
        super::api_key::revoke,
        super::apps::register_app,
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
        super::org_admin::bulk_user_create,
        super::org_admin::bulk_invites_list,
        super::org_admin::deactivate_user_by_path,
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
        super::entity::create_type,
        super::entity::update_type,
        super::entity::delete_type,
        super::entity::read_types,
        super::entity::inherit_type,
        super::entity::create_entity,
        super::entity::update_entity,
        super::entity::delete_entity,
        super::entity::read_entity,
        super::entity::list_entities,
        super::files::signed_url,
        super::files::downloadable_url,
        super::files::sample_csv,
        super::audit::events,
        super::audit::user_history,
        super::audit::user_state,
        super::audit::organization_history,
        super::notification::create,
        super::notification::update,
        super::notification::update_by_code,
        super::notification::read_all,
        super::notification::read,
    )
)]
struct ElevateApi;

/// Paths served by the handler of another (the first): ELEVATE's two
/// spellings of the catalogue routes.
const ALIASES: &[(&str, &[&str])] = &[
    ("/user/v1/userRole/create", &["/user/v1/user-role/create", "/user/v1/userRole/Create"]),
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
    title: "Roster: ELEVATE dialect",
    description: "The ELEVATE user service API (`/user/v1/...`): answers `{responseCode, message, result, meta}`, \
                  errors `{responseCode, message, error, meta}`.",
};

/// The ELEVATE document, aliases expanded.
pub fn document() -> Document {
    let mut document = ElevateApi::openapi();
    expand_aliases(&mut document, ALIASES);
    document
}
