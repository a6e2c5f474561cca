//! The ELEVATE user-service dialect (`/user/v1/...`): every string and shape
//! its clients see lives here. `envelope` wraps its routes' answers,
//! `errors` maps the use cases' neutral codes to its statuses and messages,
//! `render` writes its JSON for their typed results, `extract` parses its
//! requests (`X-auth-token`, JSON rejections, paging); the other modules are
//! its handlers, one per area.

mod account;
mod admin;
mod api_key;
mod apps;
mod audit;
pub mod capabilities;
mod catalogue;
pub mod doors;
mod entity;
pub mod envelope;
pub mod errors;
pub mod extract;
mod files;
mod form;
mod notification;
pub mod openapi;
mod org_admin;
mod organization;
mod otp;
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
        .merge(api_key::routes())
        .merge(apps::routes())
        .merge(organization::routes())
        .merge(org_admin::routes())
        .merge(catalogue::routes())
        .merge(audit::routes())
        .merge(form::routes())
        .merge(entity::routes())
        .merge(files::routes())
        .merge(otp::routes())
        .merge(notification::routes())
}
