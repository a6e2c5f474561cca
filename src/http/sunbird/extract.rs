//! Sunbird's requests: the `{"request": {...}}` body wrapper (its
//! rejections in Sunbird's words), the metadata its events carry, and its
//! two credentials:
//!
//! - `Authorization: Bearer <key>` is the client's (Sunbird's gateway
//!   checks an API key there). Every Sunbird route requires it: an API key
//!   an admin issued (`crate::api_keys`) or a Roster access token with a
//!   live session (a service account's, say); a missing, malformed,
//!   expired or revoked one is 401. It authenticates the client only: it
//!   grants nothing.
//! - `x-authenticated-user-token` carries the acting user's token: a Roster
//!   access token, checked against its session like ELEVATE's, or a
//!   Keycloak RS256 token of a Roster user (`crate::user_tokens`). What the
//!   route needs is asked of that user's capabilities (and the public
//!   role's): without the header only what anyone may do (sign up) passes.
//! - `x-authenticated-for` (with a user token) carries the token of a user
//!   the acting user manages; a request about that user then acts as them
//!   (`ActingFor`), as Sunbird's `RequestInterceptor` does.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Extension;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::envelope::msgid;
use super::errors::{SbError, INVALID_REQUESTED_DATA};
use crate::accounts::Caller;
use crate::commands::Metadata;
use crate::http::authorize::{capability_of, held_capabilities};
use crate::http::text_hygiene;
use crate::http::AppState;

/// The fields of a body's `request` object, as `T`.
pub struct SbBody<T>(pub T);

fn rejected(rejection: JsonRejection) -> SbError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => SbError::for_status(StatusCode::PAYLOAD_TOO_LARGE),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            SbError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, INVALID_REQUESTED_DATA, "Invalid Content-Type header")
        }
        _ => SbError::bad_request_data(),
    }
}

/// The type Sunbird names in "Data type of {field} should be {type}."
fn type_name(expected: &str) -> &str {
    let expected = expected.trim();
    if expected.contains("string") {
        "String"
    } else if expected.contains("bool") {
        "Boolean"
    } else if expected.contains("sequence") || expected.contains("list") {
        "List"
    } else if expected.contains("map") || expected.starts_with("struct") {
        "Map"
    } else if ["i64", "u64", "i32", "u32", "integer", "number"].iter().any(|t| expected.contains(t)) {
        "Number"
    } else {
        expected
    }
}

/// `T` from the fields of `request`: malformed or unwrapped bodies are
/// Sunbird's "invalid requested data", text the stores cannot hold (NUL)
/// an invalid field, a missing field "mandatory parameter missing", a
/// wrong type "data type ... should be", an unknown field "invalid parameter".
pub fn request_of<T: DeserializeOwned>(value: Value) -> Result<T, SbError> {
    if let Some(path) = text_hygiene::first_unstorable(&value) {
        let field = path.strip_prefix("request.").unwrap_or(&path);
        return Err(SbError::invalid(if field.is_empty() { "request" } else { field }));
    }
    let Value::Object(mut body) = value else { return Err(SbError::bad_request_data()) };
    let Some(inner @ Value::Object(_)) = body.remove("request") else { return Err(SbError::bad_request_data()) };
    serde_path_to_error::deserialize(inner).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let within = |name: &str| if path == "." { name.to_string() } else { format!("{path}.{name}") };
        let quoted = |rest: &str| rest.split_once('`').map(|(name, _)| name.to_string());
        if let Some(name) = message.strip_prefix("missing field `").and_then(quoted) {
            SbError::missing(&within(&name))
        } else if let Some(name) = message.strip_prefix("unknown field `").and_then(quoted) {
            // The path of an unknown field names it already.
            SbError::unknown_parameter(if path == "." { &name } else { &path })
        } else if let Some((_, expected)) =
            message.strip_prefix("invalid type: ").and_then(|m| m.split_once(", expected "))
        {
            SbError::data_type(&path, type_name(expected))
        } else if path == "." {
            SbError::bad_request_data()
        } else {
            SbError::invalid(&path)
        }
    })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for SbBody<T> {
    type Rejection = SbError;

    async fn from_request(request: Request, state: &S) -> Result<Self, SbError> {
        let axum::Json(value) = axum::Json::<Value>::from_request(request, state).await.map_err(rejected)?;
        request_of(value).map(SbBody)
    }
}

/// Metadata recorded with every event this request causes: dialect
/// `sunbird`, the message id as correlation id.
pub struct SbMeta(pub Metadata);

impl<S: Send + Sync> FromRequestParts<S> for SbMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let client_addr = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        let correlation_id = msgid(&parts.headers);
        Ok(SbMeta(Metadata { actor_id: None, correlation_id, dialect: "sunbird", client_addr }))
    }
}

impl SbMeta {
    pub fn by(self, caller: &Caller) -> Metadata {
        Metadata { actor_id: Some(caller.user_uuid().to_string()), ..self.0 }
    }
}

/// The acting user (`x-authenticated-user-token`), once `guarded` has
/// checked them; 401 on a route that needs one when none was sent.
pub struct Acting(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Acting {
    type Rejection = SbError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, SbError> {
        parts.extensions.get::<Caller>().cloned().map(Acting).ok_or_else(SbError::unauthorized)
    }
}

/// The managed user `x-authenticated-for` named, once `guarded` checked
/// that the acting user manages them.
#[derive(Clone)]
pub struct ManagedFor(pub Caller);

/// The acting user and, with `x-authenticated-for`, the managed user they
/// act for.
pub struct ActingFor {
    pub caller: Caller,
    pub managed: Option<Caller>,
}

impl<S: Send + Sync> FromRequestParts<S> for ActingFor {
    type Rejection = SbError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, SbError> {
        let Acting(caller) = Acting::from_request_parts(parts, state).await?;
        Ok(ActingFor { caller, managed: parts.extensions.get::<ManagedFor>().map(|m| m.0.clone()) })
    }
}

impl ActingFor {
    /// Who acts on the user `target` (a UUID): the managed user when the
    /// request is about them, the acting user when it is about themselves
    /// or no `x-authenticated-for` came; anyone else with a for-token is
    /// 401, as Sunbird's interceptor answers a token for another user.
    pub fn on(self, target: &str) -> Result<Caller, SbError> {
        match self.managed {
            None => Ok(self.caller),
            Some(_) if self.caller.user_uuid() == target => Ok(self.caller),
            Some(managed) if managed.user_uuid() == target => Ok(managed),
            Some(_) => Err(SbError::unauthorized()),
        }
    }
}

/// A header's token: `Bearer <token>` (scheme optional, any case).
pub(super) fn token(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => value,
    };
    (!token.is_empty()).then(|| token.to_string())
}

/// Puts a Sunbird route under its credential and capability checks. Applied
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

async fn decide(state: &AppState, request: &mut Request) -> Result<(), SbError> {
    let Some(route) = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()) else {
        return Ok(());
    };
    let needed = capability_of(request.method(), &route);
    if needed.is_none() {
        tracing::error!(%route, method = %request.method(), "a Sunbird route without a capability: refused");
    }
    let key = token(request.headers(), header::AUTHORIZATION).ok_or_else(SbError::unauthorized)?;
    state.authenticate_client(&key).await?;
    let caller = match token(request.headers(), "x-authenticated-user-token") {
        Some(user_token) => Some(state.authenticate_user(&user_token).await?),
        None => None,
    };
    let held = held_capabilities(state, caller.as_ref()).await?;
    if !needed.is_some_and(|needed| held.contains(needed)) {
        return Err(if caller.is_some() { SbError::forbidden() } else { SbError::unauthorized() });
    }
    if let Some(mut caller) = caller {
        if let Some(for_token) = token(request.headers(), "x-authenticated-for") {
            let mut managed = state.authenticate_managed_for(&caller, &for_token).await?;
            managed.capabilities = held_capabilities(state, Some(&managed)).await?;
            request.extensions_mut().insert(ManagedFor(managed));
        }
        caller.capabilities = held;
        request.extensions_mut().insert(caller);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;
    use crate::http::sunbird::errors::Code;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        #[serde(rename = "firstName")]
        first_name: String,
        #[serde(default)]
        roles: Vec<String>,
    }

    fn refused(value: Value) -> (Code, String) {
        let error = request_of::<Body>(value).unwrap_err();
        (error.code, error.message)
    }

    #[test]
    fn bodies_are_refused_in_sunbirds_words() {
        assert_eq!(refused(json!({"firstName": "A"})).0, Code::Number("0028"), "no request wrapper");
        assert_eq!(refused(json!([1])).0, Code::Number("0028"));
        assert_eq!(refused(json!({"request": {}})).1, "Mandatory parameter firstName is missing.");
        assert_eq!(refused(json!({"request": {"firstName": 5}})).1, "Data type of firstName should be String.");
        assert_eq!(
            refused(json!({"request": {"firstName": "A", "roles": "x"}})).1,
            "Data type of roles should be List."
        );
        assert_eq!(refused(json!({"request": {"firstName": "A", "x": 1}})).1, "Invalid parameter x in request.");
        assert_eq!(refused(json!({"request": {"firstName": "a\u{0}b"}})).1, "Please provide valid firstName.");
        assert!(request_of::<Body>(json!({"request": {"firstName": "A"}})).is_ok());
    }
}
