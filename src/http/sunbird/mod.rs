//! The Sunbird UserOrg dialect: `/api/user/v1..v5/...` as Sunbird's gateway
//! serves it, and the service form its own clients call behind the gateway
//! (`/v1/user/...`, `/v1/ssouser/create`). Every string and shape its
//! clients see lives here: `envelope` wraps every answer (unknown paths under
//! its prefixes included) in `{id, ver, ts, params, responseCode, result}`,
//! `errors` maps the use cases' neutral codes to Sunbird's statuses,
//! `params.err` codes and messages, `extract` parses its requests (the
//! `{"request": {...}}` wrapper, `Authorization` and
//! `x-authenticated-user-token`), `capabilities` says what each route asks
//! for, and `render` writes its JSON for the use cases' typed results.

pub mod capabilities;
mod declarations;
pub mod doors;
pub mod envelope;
pub mod errors;
pub mod extract;
mod managed;
mod merge;
mod migration;
pub mod openapi;
mod profile;
mod render;
mod search;
mod user;

use std::convert::Infallible;

use axum::response::IntoResponse;
use axum::Router;

use crate::http::AppState;

/// The prefixes under which every path is Sunbird's, unknown ones included.
pub const PREFIXES: &[&str] = &[
    "/api/user",
    "/v1/user",
    "/v2/user",
    "/v3/user",
    "/v4/user",
    "/v5/user",
    "/v1/ssouser",
    "/v1/manageduser",
    "/v2/manageduser",
    "/private/user",
];

/// Every Sunbird route at its full path, and a catch-all per prefix, so an
/// unknown path under a prefix is answered (404) in Sunbird's envelope.
pub fn routes() -> Router<AppState> {
    let mut routes = user::routes();
    for prefix in PREFIXES {
        let unknown =
            tower::service_fn(|_| async { Ok::<_, Infallible>(axum::http::StatusCode::NOT_FOUND.into_response()) });
        routes = routes.route_service(&format!("{prefix}/{{*rest}}"), unknown);
    }
    routes
}
