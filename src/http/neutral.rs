//! Errors of the routes outside any dialect (`/health`, `/metrics`, the JWKS,
//! unknown paths outside a dialect's prefix): a small JSON body,
//! `{"error": code, "message": text}`, in no dialect's envelope. Bodies the
//! routes write themselves (health's checks) pass unchanged.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use crate::http::refusal::EdgeRefusal;

fn describe(status: StatusCode, refusal: Option<&EdgeRefusal>) -> (String, String) {
    if let Some(refusal) = refusal {
        let message = match refusal {
            EdgeRefusal::Unstorable { field } => format!("{field}: NUL characters cannot be stored"),
            EdgeRefusal::CorrelationTooLong { max } => format!("x-request-id: at most {max} characters"),
            EdgeRefusal::BodyTimeout { after } => format!("request body stalled for {} ms", after.as_millis()),
        };
        return (refusal.code().to_string(), message);
    }
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::SERVICE_UNAVAILABLE => "timeout",
        s if s.is_server_error() => "internal",
        _ => "refused",
    };
    (code.to_string(), status.canonical_reason().unwrap_or("request failed").to_lowercase())
}

pub async fn render(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let status = response.status();
    let refusal = response.extensions_mut().remove::<EdgeRefusal>();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || (is_json && refusal.is_none()) {
        return response;
    }
    let (code, message) = describe(status, refusal.as_ref());
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json!({"error": code, "message": message}).to_string()))
}
