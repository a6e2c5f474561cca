//! ELEVATE's extractors: JSON bodies whose rejections speak its envelope, request
//! metadata for events, and the caller authenticated by `X-auth-token`.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::accounts::Caller;
use crate::commands::Metadata;
use crate::http::elevate::errors::{AppError, FieldError};
use crate::http::text_hygiene;
use crate::http::AppState;

/// A JSON body whose rejections speak the envelope: malformed JSON, wrong
/// types and missing fields are 400 naming the field (413 and 415 kept for
/// size and content type), and text the stores cannot hold (NUL, at any
/// depth) is refused before the handler sees it (`text_hygiene`).
pub struct JsonBody<T>(pub T);

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let detail = rejection.body_text();
        match status {
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                AppError::Http { status: status.as_u16(), message: detail }
            }
            _ => {
                // serde's message says what was wrong and where.
                let msg = detail.rsplit_once(": ").map_or(detail.clone(), |(_, m)| m.to_string());
                AppError::BadRequest {
                    message: "Invalid request body".into(),
                    errors: vec![FieldError { param: "body".into(), msg }],
                }
            }
        }
    }
}

/// The body as `T`, once every string in it is storable.
fn typed_body<T: DeserializeOwned>(value: Value) -> Result<T, AppError> {
    if let Some(path) = text_hygiene::first_unstorable(&value) {
        return Err(text_hygiene::unstorable_field(&path).into());
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let msg = error.inner().to_string();
        // A missing field's path is the object that lacks it: name the field.
        let missing = msg.strip_prefix("missing field `").and_then(|rest| rest.split_once('`')).map(|(name, _)| name);
        let param = match (path.as_str(), missing) {
            (".", Some(name)) => name.to_string(),
            (_, Some(name)) => format!("{path}.{name}"),
            (".", None) => "body".to_string(),
            (_, None) => path,
        };
        AppError::BadRequest { message: "Invalid request body".into(), errors: vec![FieldError { param, msg }] }
    })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let axum::Json(value) = axum::Json::<Value>::from_request(request, state).await?;
        typed_body(value).map(JsonBody)
    }
}

/// Metadata recorded with every event this request causes.
pub struct RequestMeta(pub Metadata);

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let correlation_id =
            parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let client_addr = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        // Inside a nested router `uri` has lost its prefix (`/user/v1`);
        // the dialect is named by the path the client sent.
        let path = parts.extensions.get::<OriginalUri>().map_or(parts.uri.path(), |original| original.0.path());
        let dialect = if path.starts_with("/user/") {
            "elevate"
        } else if path.starts_with("/api/") {
            "sunbird"
        } else {
            "http"
        };
        Ok(RequestMeta(Metadata { actor_id: None, correlation_id, dialect, client_addr }))
    }
}

impl RequestMeta {
    pub fn by(self, caller: &Caller) -> Metadata {
        Metadata { actor_id: Some(caller.user_uuid().to_string()), ..self.0 }
    }
}

/// The caller, from `X-auth-token: bearer <jwt>` (scheme optional and
/// case-insensitive) or `Authorization: Bearer <jwt>`.
pub struct Authenticated(pub Caller);

fn bearer(value: &str) -> &str {
    let value = value.trim();
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => value,
    }
}

/// The bearer token of a request, if it sent one.
pub fn token_from_headers(headers: &axum::http::HeaderMap) -> Option<String> {
    let header = headers
        .get("x-auth-token")
        .or_else(|| headers.get(axum::http::header::AUTHORIZATION))
        .and_then(|v| v.to_str().ok())?;
    Some(bearer(header).to_string())
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        // The authorisation middleware has usually verified the caller already.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(Authenticated(caller.clone()));
        }
        let token = token_from_headers(&parts.headers).filter(|t| !t.is_empty()).ok_or(AppError::Unauthorized)?;
        Ok(Authenticated(state.authenticate(&token).await?))
    }
}

/// `page` and `limit` from a query string, with ELEVATE's defaults.
pub fn paging(page: Option<&str>, limit: Option<&str>) -> Result<(i64, i64), AppError> {
    let parse = |name: &str, raw: Option<&str>, default: i64, max: i64| -> Result<i64, AppError> {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(AppError::invalid_field(name, format!("{name} must be a whole number from 1 to {max}"))),
            },
        }
    };
    Ok((parse("page", page, 1, 1_000_000)?, parse("limit", limit, 100, 1000)?))
}

/// An optional body: absent (no `Content-Type`) is `None`; present but bad is a 400.
impl<T, S> axum::extract::OptionalFromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, AppError> {
        let json = <axum::Json<Value> as axum::extract::OptionalFromRequest<S>>::from_request(request, state).await?;
        json.map(|axum::Json(value)| typed_body(value).map(JsonBody)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_optional_and_case_insensitive() {
        assert_eq!(bearer("bearer abc"), "abc");
        assert_eq!(bearer("BEARER  abc "), "abc");
        assert_eq!(bearer("abc"), "abc");
    }

    #[test]
    fn paging_defaults_and_limits() {
        assert_eq!(paging(None, None).unwrap(), (1, 100));
        assert_eq!(paging(Some("2"), Some("5")).unwrap(), (2, 5));
        assert!(paging(Some("0"), None).is_err());
        assert!(paging(None, Some("abc")).is_err());
        assert!(paging(None, Some("5000")).is_err());
    }
}
