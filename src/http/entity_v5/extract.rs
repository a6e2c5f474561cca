//! Entity v5's requests: JSON bodies and query strings (their rejections in
//! its envelope), the metadata its events carry, and its two credentials:
//!
//! - `Authorization: Bearer <token>`: a Roster access token with a live
//!   session (`client_credentials` is the one place that checks it, so API
//!   keys can be accepted there too). Missing, malformed, expired or
//!   revoked: 401, code 40100. The token's user is the caller: what the
//!   route needs is asked of their capabilities.
//! - `X-APP-ID`: an app an admin registered (`/user/v1/admin/registerApp`);
//!   missing or unknown: 401, code 40101.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Extension;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::errors::{V5Error, BAD_REQUEST, NOT_JSON};
use crate::accounts::Caller;
use crate::commands::Metadata;
use crate::error::ServiceError;
use crate::http::authorize::{capability_of, held_capabilities};
use crate::http::text_hygiene;
use crate::http::AppState;

/// The source dialect recorded with every event this dialect causes.
pub const DIALECT: &str = "entity-v5";

/// `T` from a JSON object body.
pub struct V5Body<T>(pub T);

/// `T` from the query string (every value a string).
pub struct V5Query<T>(pub T);

fn rejected(rejection: JsonRejection) -> V5Error {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => V5Error::for_status(StatusCode::PAYLOAD_TOO_LARGE),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            V5Error::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, NOT_JSON, "the body must be application/json.")
        }
        _ => V5Error::bad_request("the body is not valid JSON."),
    }
}

/// The JSON type serde expected, in the seed's words (`String`, ...).
fn type_name(expected: &str) -> &'static str {
    if expected.contains("string") {
        "a String"
    } else if expected.contains("bool") {
        "a Boolean"
    } else if expected.contains("sequence") {
        "an Array"
    } else {
        "of another type"
    }
}

/// `T` from a JSON object: text the stores cannot hold (NUL), a missing, an
/// unknown or a mistyped field each named in `msg` (code 40001); anything
/// but an object is 40000.
pub fn fields_of<T: DeserializeOwned>(value: Value) -> Result<T, V5Error> {
    if let Some(path) = text_hygiene::first_unstorable(&value) {
        let field = if path.is_empty() { "body" } else { path.as_str() };
        return Err(V5Error::invalid(field, "text with a NUL character"));
    }
    if !value.is_object() {
        return Err(V5Error::new(StatusCode::BAD_REQUEST, BAD_REQUEST, "the body must be a JSON object."));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let quoted = |rest: &str| rest.split_once('`').map(|(name, _)| name.to_string());
        if let Some(name) = message.strip_prefix("missing field `").and_then(quoted) {
            V5Error::missing(&name)
        } else if let Some(name) = message.strip_prefix("unknown field `").and_then(quoted) {
            V5Error::invalid(if path == "." { &name } else { &path }, "unknown field")
        } else if let Some((_, expected)) =
            message.strip_prefix("invalid type: ").and_then(|m| m.split_once(", expected "))
        {
            V5Error::invalid(&path, format_args!("must be {}", type_name(expected)))
        } else {
            V5Error::invalid(&path, "refused")
        }
    })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for V5Body<T> {
    type Rejection = V5Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, V5Error> {
        let axum::Json(value) = axum::Json::<Value>::from_request(request, state).await.map_err(rejected)?;
        fields_of(value).map(V5Body)
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for V5Query<T> {
    type Rejection = V5Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, V5Error> {
        let Query(pairs) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| V5Error::bad_request("the query string is malformed."))?;
        let object: Map<String, Value> = pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        fields_of(Value::Object(object)).map(V5Query)
    }
}

/// Metadata recorded with every event this request causes: dialect
/// `entity-v5`, the request id as correlation id, the caller as actor.
pub struct V5Meta(pub Metadata);

impl<S: Send + Sync> FromRequestParts<S> for V5Meta {
    type Rejection = V5Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, V5Error> {
        let client_addr = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        let correlation_id =
            parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let caller = parts.extensions.get::<Caller>().ok_or_else(V5Error::unauthenticated)?;
        let actor_id = Some(caller.user_uuid().to_string());
        Ok(V5Meta(Metadata { actor_id, correlation_id, dialect: DIALECT, client_addr }))
    }
}

/// The caller, once `guarded` has checked them.
pub struct Acting(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Acting {
    type Rejection = V5Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, V5Error> {
        parts.extensions.get::<Caller>().cloned().map(Acting).ok_or_else(V5Error::unauthenticated)
    }
}

/// `Authorization: Bearer <token>` (the scheme required, any case).
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

/// Who the bearer credential is. The one call site of the credential check:
/// switch it to `Services::authenticate_client` (which takes API keys too)
/// once that exists.
async fn client_credentials(state: &AppState, token: &str) -> Result<Caller, ServiceError> {
    state.authenticate(token).await
}

/// Puts a route under entity v5's credential and capability checks. Applied
/// per method router, so a wrong method still answers 405.
pub fn guarded(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.route_layer(axum::middleware::from_fn(authorize))
}

async fn authorize(Extension(state): Extension<AppState>, mut request: Request, next: Next) -> Response {
    match decide(&state, &mut request).await {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

async fn decide(state: &AppState, request: &mut Request) -> Result<(), V5Error> {
    let Some(route) = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()) else {
        return Ok(());
    };
    let needed = capability_of(request.method(), &route);
    if needed.is_none() {
        tracing::error!(%route, method = %request.method(), "an entity v5 route without a capability: refused");
    }
    let token = bearer(request.headers()).ok_or_else(V5Error::unauthenticated)?;
    let mut caller = client_credentials(state, &token).await?;
    let app = request.headers().get("x-app-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    state.require_client_app(app.as_deref().ok_or_else(V5Error::unknown_app)?).await?;
    let held = held_capabilities(state, Some(&caller)).await?;
    if !needed.is_some_and(|needed| held.contains(needed)) {
        return Err(V5Error::forbidden());
    }
    caller.capabilities = held;
    request.extensions_mut().insert(caller);
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;
    use crate::http::entity_v5::errors::INVALID_FIELD;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        user_id: String,
        #[serde(default)]
        owners: Vec<String>,
    }

    fn refused(value: Value) -> (i64, String) {
        let error = fields_of::<Body>(value).unwrap_err();
        (error.code, error.msg)
    }

    #[test]
    fn bodies_are_refused_naming_the_field() {
        assert_eq!(refused(json!([1])).0, BAD_REQUEST);
        assert_eq!(refused(json!({})), (INVALID_FIELD, "user_id is required.".into()));
        assert_eq!(refused(json!({"user_id": 5})).1, "invalid user_id: must be a String.");
        assert_eq!(refused(json!({"user_id": "u", "owners": "x"})).1, "invalid owners: must be an Array.");
        assert_eq!(refused(json!({"user_id": "u", "x": 1})).1, "invalid x: unknown field.");
        assert_eq!(refused(json!({"user_id": "a\u{0}b"})).1, "invalid user_id: text with a NUL character.");
        assert!(fields_of::<Body>(json!({"user_id": "u"})).is_ok());
    }
}
