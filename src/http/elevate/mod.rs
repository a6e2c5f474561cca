//! The ELEVATE user-service dialect (`/user/v1/...`).

mod account;
mod admin;
mod audit;
mod catalogue;
pub mod envelope;
pub mod errors;
pub mod extract;
mod org_admin;
mod organization;
mod render;
mod user;

use axum::Router;

use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(account::routes())
        .merge(user::routes())
        .merge(admin::routes())
        .merge(admin::powers())
        .merge(organization::routes())
        .merge(org_admin::routes())
        .merge(catalogue::routes())
        .merge(audit::routes())
}
