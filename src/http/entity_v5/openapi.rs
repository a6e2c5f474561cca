//! Entity v5's OpenAPI document: its envelope `{code, msg, data}` and data
//! shapes as schemas, its two credentials (`Authorization: Bearer`,
//! `X-APP-ID`), and every route. `crate::http::openapi` serves it and adds
//! the errors every route shares.

use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi, ToSchema};

use crate::http::openapi::Dialect;

/// Every error (unknown paths under `/api/v5/entity` included): a non-zero
/// `code` (the README's table; the HTTP status times 100 plus a detail),
/// `msg` saying what went wrong, `data` null.
#[derive(Serialize, ToSchema)]
#[schema(as = entity_v5::Error)]
#[allow(dead_code)]
pub struct Error {
    #[schema(minimum = 40000, maximum = 59999, example = 40400)]
    code: i64,
    msg: String,
    #[schema(value_type = Option<Object>)]
    data: Option<()>,
}

/// A success envelope whose `data` is `$data`.
macro_rules! envelope {
    ($(#[$doc:meta])* $name:ident, $schema:path, $data:ty) => {
        $(#[$doc])*
        #[derive(Serialize, ToSchema)]
        #[schema(as = $schema)]
        #[allow(dead_code)]
        pub struct $name {
            /// `0`.
            #[schema(minimum = 0, maximum = 0)]
            code: i64,
            /// `success.`
            #[schema(example = "success.")]
            msg: String,
            data: $data,
        }
    };
}

envelope!(
    /// The user created, or found (`is_user_exists`).
    Created,
    entity_v5::Created,
    CreatedData
);
envelope!(
    /// A profile.
    ProfileAnswer,
    entity_v5::ProfileAnswer,
    ProfileData
);
envelope!(
    /// The owners after the change.
    OwnersAnswer,
    entity_v5::OwnersAnswer,
    OwnersData
);
envelope!(
    /// The user changed.
    UserIdAnswer,
    entity_v5::UserIdAnswer,
    UserIdData
);
envelope!(
    /// A contact value.
    ContactAnswer,
    entity_v5::ContactAnswer,
    ContactData
);

#[derive(Serialize, ToSchema)]
#[schema(as = entity_v5::CreatedData)]
#[allow(dead_code)]
pub struct CreatedData {
    #[schema(format = Uuid)]
    user_id: String,
    /// Whether the user was registered before this create.
    is_user_exists: bool,
}

#[derive(Serialize, ToSchema)]
#[schema(as = entity_v5::ProfileData)]
#[allow(dead_code)]
pub struct ProfileData {
    #[schema(format = Uuid)]
    user_id: String,
    /// Its organisation's numeric id.
    corp_id: String,
    name: String,
    last_name: Option<String>,
    first_name: Option<String>,
    area_code: Option<String>,
    mobile: Option<String>,
    gender: Option<String>,
    age: Option<i64>,
    city: Option<String>,
    city_raw: Option<String>,
    city_mobile: Option<String>,
    company_name: Option<String>,
    job_title: Option<String>,
    department: Option<String>,
    industry: Option<String>,
    linkedin_url: Option<String>,
    /// Roster's: `alive`, `dead`, `public`, or null (none set).
    pool: Option<String>,
    /// Roster's: the owners' user ids.
    owner_id: Vec<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = entity_v5::OwnersData)]
#[allow(dead_code)]
pub struct OwnersData {
    #[schema(format = Uuid)]
    user_id: String,
    /// The owners' user ids, in the order they were added.
    owner_id: Vec<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = entity_v5::UserIdData)]
#[allow(dead_code)]
pub struct UserIdData {
    #[schema(format = Uuid)]
    user_id: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = entity_v5::ContactData)]
#[allow(dead_code)]
pub struct ContactData {
    #[schema(format = Uuid)]
    user_id: String,
    corp_id: String,
    /// `mobile`, `email` or `mobile_backup`.
    contact_type: String,
    /// `[area_code, mobile]`, `[email]`, or empty.
    value: Vec<String>,
}

pub const BEARER: &str = "Bearer";
pub const APP: &str = "X-APP-ID";

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "A Roster access token with a live session (from an ELEVATE or Sunbird login). The token's user \
                 acts: an org admin on their organisation's users, an admin on any.",
            ))
            .build();
        components.add_security_scheme(BEARER, SecurityScheme::Http(bearer));
        let app = ApiKey::Header(ApiKeyValue::with_description(
            APP,
            "The id of an app an admin registered (`POST /user/v1/admin/registerApp`).",
        ));
        components.add_security_scheme(APP, SecurityScheme::ApiKey(app));
    }
}

#[derive(OpenApi)]
#[openapi(
    modifiers(&Security),
    components(schemas(Error)),
    paths(
        super::user::create,
        super::user::profile_fetch,
        super::user::owner_update,
        super::user::pool_update,
        super::user::email_update,
        super::user::contact_fetch,
    )
)]
struct EntityV5Api;

pub const DIALECT: Dialect = Dialect {
    name: "entity-v5",
    tag_prefix: "Entity v5",
    security: &[&[BEARER, APP]],
    error_schema: "entity_v5.Error",
    title: "Roster: entity v5 dialect",
    description: "The entity v5 user API (`/api/v5/entity/...`): every answer is `{code, msg, data}`, `code` 0 on \
                  success.",
};

pub fn document() -> Document {
    EntityV5Api::openapi()
}
