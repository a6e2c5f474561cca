//! ELEVATE's response envelope:
//! `{responseCode, message, result, meta: {formsVersion, correlation}}`, and
//! for errors `{responseCode, message, error: [...], meta}`.
//!
//! Handlers return `ApiOk` or `AppError`; both leave a pending body in the
//! response extensions, and the `render` middleware, which the ELEVATE
//! router applies to its routes (`/user/v1/...`, unknown ones included),
//! writes it with the request's correlation id. What the shared layers
//! refuse (`EdgeRefusal`) and anything else that fails (unknown route, body
//! too large, a timeout, a panic) is wrapped in the same envelope there too.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::errors::AppError;
use crate::http::refusal::EdgeRefusal;
use crate::services::Services;
use crate::storage::Count;

#[derive(Clone)]
enum Pending {
    Ok { message: String, result: Value, meta: Map<String, Value> },
    Err { message: String, errors: Value },
}

pub struct ApiOk {
    pub status: StatusCode,
    pub message: &'static str,
    pub result: Value,
    /// Keys added to `meta` beside `formsVersion` and `correlation`.
    pub meta: Map<String, Value>,
}

impl ApiOk {
    pub fn ok(message: &'static str, result: Value) -> Self {
        ApiOk { status: StatusCode::OK, message, result, meta: Map::new() }
    }
    pub fn created(message: &'static str, result: Value) -> Self {
        ApiOk { status: StatusCode::CREATED, message, result, meta: Map::new() }
    }
    /// 202, as upstream ELEVATE answers its catalogue updates and deletes.
    pub fn accepted(message: &'static str, result: Value) -> Self {
        ApiOk { status: StatusCode::ACCEPTED, message, result, meta: Map::new() }
    }
    pub fn with_meta(mut self, key: &str, value: Value) -> Self {
        self.meta.insert(key.to_string(), value);
        self
    }
    /// A list: `count` in the result, and `meta.count_is_estimate` saying
    /// whether it was counted or estimated (README, "Search").
    pub fn counted(message: &'static str, data: Vec<Value>, count: Count) -> Self {
        let mut result = Map::new();
        result.insert("data".into(), Value::Array(data));
        result.insert("count".into(), count.value.into());
        ApiOk::ok(message, Value::Object(result)).with_meta("count_is_estimate", count.estimate.into())
    }
}

impl IntoResponse for ApiOk {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(Pending::Ok {
            message: self.message.to_string(),
            result: self.result,
            meta: self.meta,
        });
        response
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } | AppError::InvalidCredentials => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Http { status, .. } => StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
            AppError::Busy | AppError::ReadTimeout => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) | AppError::NotProjected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (message, errors) = match self {
            AppError::BadRequest { message, errors } => (message, json!(errors)),
            AppError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                ("Something went wrong".to_string(), json!([]))
            }
            other => (other.to_string(), json!([])),
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(Pending::Err { message, errors });
        response
    }
}

fn response_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "OK",
        401 => "UNAUTHORIZED",
        400..=499 => "CLIENT_ERROR",
        _ => "SERVER_ERROR",
    }
}

/// `render` with `meta.formsVersion` listing every form's id, type and
/// version (from the services' in-memory list), as ELEVATE answers; read
/// after the handler, so an answer to a form change shows it.
pub async fn render_with_forms(State(services): State<Services>, request: Request, next: Next) -> Response {
    let forms = async move {
        match services.form_versions().await {
            Ok(list) => Value::Array(
                list.iter().map(|f| json!({"id": f.id, "type": f.form_type, "version": f.version})).collect(),
            ),
            Err(error) => {
                tracing::warn!(%error, "cannot read the form versions; answering without them");
                json!([])
            }
        }
    };
    render_listing(forms, request, next).await
}

/// The envelope without form versions (unit tests of the shared layers).
#[cfg(test)]
pub async fn render(request: Request, next: Next) -> Response {
    render_listing(async { json!([]) }, request, next).await
}

async fn render_listing(forms: impl std::future::Future<Output = Value>, request: Request, next: Next) -> Response {
    let correlation =
        request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let mut response = next.run(request).await;
    let status = response.status();
    let refusal = response.extensions_mut().remove::<EdgeRefusal>();
    let pending = match (response.extensions_mut().remove::<Pending>(), refusal) {
        (None, Some(refusal)) => AppError::from(refusal).into_response().extensions_mut().remove::<Pending>(),
        (pending, _) => pending,
    };
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let forms = match (&pending, status.is_client_error() || status.is_server_error(), is_json) {
        (None, false, _) | (None, true, true) => return response,
        _ => forms.await,
    };
    let body = match pending {
        Some(Pending::Ok { message, result, meta }) => {
            // Built by moving `result` in: `json!` would copy the whole tree.
            let mut all = Map::new();
            all.insert("formsVersion".into(), forms);
            all.insert("correlation".into(), json!(correlation));
            all.extend(meta);
            let mut body = Map::new();
            body.insert("responseCode".into(), response_code(status).into());
            body.insert("message".into(), message.into());
            body.insert("result".into(), result);
            body.insert("meta".into(), Value::Object(all));
            Value::Object(body)
        }
        Some(Pending::Err { message, errors }) => json!({
            "responseCode": response_code(status),
            "message": message,
            "error": errors,
            "meta": {"formsVersion": forms, "correlation": correlation},
        }),
        None if (status.is_client_error() || status.is_server_error()) && !is_json => {
            let message = match status {
                StatusCode::NOT_FOUND => "Route not found".to_string(),
                StatusCode::PAYLOAD_TOO_LARGE => {
                    format!("Request body is larger than {} bytes", crate::http::BODY_LIMIT_BYTES)
                }
                StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong".to_string(),
                StatusCode::TOO_MANY_REQUESTS => {
                    "Too many requests; retry after the seconds in Retry-After".to_string()
                }
                // Only the request timeout answers 503 without a message.
                StatusCode::SERVICE_UNAVAILABLE => "The request took too long; retry it".to_string(),
                other => other.canonical_reason().unwrap_or("Request failed").to_string(),
            };
            json!({
                "responseCode": response_code(status),
                "message": message,
                "error": [],
                "meta": {"formsVersion": forms, "correlation": correlation},
            })
        }
        None => return response,
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body.to_string()))
}

#[cfg(test)]
mod tests {
    use axum::middleware;

    use crate::http::tests::{answer, boom, huge, routes};

    use super::*;

    #[tokio::test]
    async fn panics_and_huge_bodies_come_out_in_the_envelope() {
        let elevate = |panics| routes(panics).layer(middleware::from_fn(render));
        let (status, body) = answer(elevate(true), boom()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["responseCode"], "SERVER_ERROR", "{body}");
        assert_eq!(body["message"], "Something went wrong", "{body}");
        let (status, body) = answer(elevate(false), huge()).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["responseCode"], "CLIENT_ERROR", "{body}");
        assert_eq!(body["message"], format!("Request body is larger than {} bytes", crate::http::BODY_LIMIT_BYTES));
    }
}
