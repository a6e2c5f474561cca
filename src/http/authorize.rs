//! One middleware decides every guarded request: it authenticates the
//! caller (if a token is sent), takes the caller's current roles from the
//! read model (so a granted or revoked role counts at once), adds the public
//! role everyone holds, and asks whether their capabilities hold the one the
//! route asks for (`ELEVATE_ROUTES`). Handlers then find the caller, with
//! those capabilities, in the request extensions.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Extension;

use crate::accounts::Caller;
use crate::authorization::PUBLIC_ROLE_ID;
use crate::capabilities::{Capability, CapabilitySet, RouteCapability};
use crate::error::ServiceError;
use crate::http::elevate::errors::AppError;
use crate::http::AppState;

use super::extract::token_from_headers;
use super::ELEVATE_ROUTES;

/// Puts a route under the authorisation check. Applied per method router
/// (not per `Router`) so a wrong method still answers 405, not 401.
pub fn guarded(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.route_layer(axum::middleware::from_fn(authorize))
}

/// The route tables of every dialect, by (method, matched path).
fn route_capabilities() -> &'static HashMap<(&'static str, &'static str), Capability> {
    static TABLE: OnceLock<HashMap<(&'static str, &'static str), Capability>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let tables: [&[RouteCapability]; 3] = [ELEVATE_ROUTES, super::sunbird_routes(), super::entity_v5_routes()];
        tables.iter().flat_map(|t| t.iter()).map(|r| ((r.method, r.path), r.capability)).collect()
    })
}

/// The capability a route asks for; `None` for a route missing from the
/// tables, which is then refused to everyone (a test keeps the tables
/// complete).
pub fn capability_of(method: &Method, route: &str) -> Option<Capability> {
    // HEAD is answered by the GET handler.
    let method = if method == Method::HEAD { "GET" } else { method.as_str() };
    route_capabilities().get(&(method, route)).copied()
}

async fn authorize(Extension(state): Extension<AppState>, mut request: Request, next: Next) -> Response {
    match decide(&state, &mut request).await {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// What the caller (or, without one, anyone) may do: the capabilities of
/// their current roles and of the public role everyone holds.
pub async fn held_capabilities(state: &AppState, caller: Option<&Caller>) -> Result<CapabilitySet, ServiceError> {
    let mut role_ids = vec![PUBLIC_ROLE_ID];
    if let Some(caller) = caller {
        role_ids.extend(caller.role_ids.iter().copied());
    }
    Ok(state.grants.capabilities(&state.db, &state.projector, &role_ids).await?)
}

async fn decide(state: &AppState, request: &mut Request) -> Result<(), AppError> {
    let Some(route) = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()) else {
        return Ok(());
    };
    let needed = capability_of(request.method(), &route);
    if needed.is_none() {
        tracing::error!(%route, method = %request.method(), "route has no capability in the route tables; refused");
    }
    let mut caller = match token_from_headers(request.headers()) {
        Some(token) => Some(state.authenticate(&token).await?),
        None => None,
    };
    let held = held_capabilities(state, caller.as_ref()).await?;
    if !needed.is_some_and(|needed| held.contains(needed)) {
        return Err(if caller.is_some() { AppError::Forbidden } else { AppError::Unauthorized });
    }
    if let Some(mut caller) = caller.take() {
        caller.capabilities = held;
        request.extensions_mut().insert(caller);
    }
    Ok(())
}
