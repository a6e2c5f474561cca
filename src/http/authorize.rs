//! One middleware decides every `/user/v1` request: it authenticates the
//! caller (if a token is sent), takes the caller's current roles from the
//! read model (so a granted or revoked role counts at once), adds the public
//! role everyone holds, and asks whether any of them permits this route and
//! method. Handlers then find the caller in the request extensions.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Extension;

use crate::authorization::PUBLIC_ROLE_ID;
use crate::http::elevate::errors::AppError;
use crate::http::AppState;

use super::extract::token_from_headers;

/// Puts a route under the authorisation check. Applied per method router
/// (not per `Router`) so a wrong method still answers 405, not 401.
pub fn guarded(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.route_layer(axum::middleware::from_fn(authorize))
}

async fn authorize(Extension(state): Extension<AppState>, mut request: Request, next: Next) -> Response {
    match decide(&state, &mut request).await {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

async fn decide(state: &AppState, request: &mut Request) -> Result<(), AppError> {
    let Some(route) = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()) else {
        return Ok(());
    };
    let caller = match token_from_headers(request.headers()) {
        Some(token) => Some(state.authenticate(&token).await?),
        None => None,
    };
    let mut role_ids = vec![PUBLIC_ROLE_ID];
    if let Some(caller) = &caller {
        role_ids.extend(caller.role_ids.iter().copied());
    }
    if !state.grants.allowed(&state.db, &state.projector, &role_ids, &route, request.method().as_str()).await? {
        return Err(if caller.is_some() { AppError::Forbidden } else { AppError::Unauthorized });
    }
    if let Some(caller) = caller {
        request.extensions_mut().insert(caller);
    }
    Ok(())
}
