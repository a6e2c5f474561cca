//! The entity v5 dialect: `/api/v5/entity/...` as the entity v5 user API
//! documents it. Every string and shape its clients see lives here:
//! `envelope` wraps every answer (unknown paths under its prefix included)
//! in `{code, msg, data}`, `errors` maps the use cases' neutral codes to its
//! statuses, codes and messages, `extract` parses its requests (JSON bodies,
//! query strings, `Authorization: Bearer` and `X-APP-ID`), `capabilities`
//! says what each route asks for, and `render` writes its JSON for the use
//! cases' typed results.

pub mod capabilities;
pub mod envelope;
pub mod errors;
pub mod extract;
pub mod openapi;
mod render;
mod user;

use std::convert::Infallible;

use axum::response::IntoResponse;
use axum::Router;

use crate::http::AppState;

/// Every path under it is entity v5's, unknown ones included.
pub const PREFIX: &str = "/api/v5/entity";

/// Every route at its full path, and a catch-all, so an unknown path under
/// the prefix is answered (404) in entity v5's envelope.
pub fn routes() -> Router<AppState> {
    let unknown =
        tower::service_fn(|_| async { Ok::<_, Infallible>(axum::http::StatusCode::NOT_FOUND.into_response()) });
    user::routes()
        .route_service(&format!("{PREFIX}/{{*rest}}"), unknown)
        .route_service(&format!("{PREFIX}/"), unknown)
        .route_service(PREFIX, unknown)
}
