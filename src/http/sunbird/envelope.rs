//! Sunbird's response envelope, for successes and errors alike:
//! `{id, ver, ts, params: {resmsgid, msgid, err, status, errmsg},
//! responseCode, result}`.
//!
//! Handlers return `SbOk` or `SbError`; both leave a pending body in the
//! response extensions, and `render`, which the Sunbird routes (their
//! unknown paths included) run under, writes it: `id` and the operation code
//! of `params.err` from the route table (`capabilities`), `ver` from the
//! path, `msgid` echoing `X-msgid` (else the request id), a fresh
//! `resmsgid`. What the shared layers refuse (`EdgeRefusal`) and bare
//! statuses (unknown path, wrong method, body too large, rate limit,
//! timeout, panic) are worded here too.

use axum::body::Body;
use axum::extract::{MatchedPath, OriginalUri, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::capabilities::route_at;
use super::errors::{Code, SbError};
use crate::http::refusal::EdgeRefusal;

/// A success: `result` as the route answers it.
#[derive(Clone)]
pub struct SbOk(pub Value);

impl SbOk {
    /// `{"response": "SUCCESS"}` and the given extra keys.
    pub fn success(extra: Value) -> Self {
        let mut result = Map::new();
        result.insert("response".into(), "SUCCESS".into());
        if let Value::Object(extra) = extra {
            result.extend(extra);
        }
        SbOk(Value::Object(result))
    }
}

impl IntoResponse for SbOk {
    fn into_response(self) -> Response {
        let mut response = StatusCode::OK.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// A success whose `responseCode` is not `OK`: Sunbird's migrate answers a
/// wrong external id with 200, `params.status` `success` and
/// `responseCode` `SERVER_ERROR` (its documented answer), the attempts left
/// in `result`.
#[derive(Clone)]
pub struct SbOkCoded(pub SbOk, pub &'static str);

#[derive(Clone, Copy)]
struct ResponseCode(&'static str);

impl IntoResponse for SbOkCoded {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        response.extensions_mut().insert(ResponseCode(self.1));
        response
    }
}

/// The message id of a request: its `X-msgid` when that is a sensible
/// identifier, else the request id every request gets. It is also the
/// correlation id of the events the request causes.
pub fn msgid(headers: &HeaderMap) -> String {
    let sensible = |v: &&str| (1..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic());
    headers
        .get("x-msgid")
        .and_then(|v| v.to_str().ok())
        .filter(sensible)
        .or_else(|| headers.get("x-request-id").and_then(|v| v.to_str().ok()))
        .unwrap_or_default()
        .to_string()
}

fn response_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "OK",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "RESOURCE_NOT_FOUND",
        429 => "TOO_MANY_REQUESTS",
        503 => "SERVICE_UNAVAILABLE",
        400..=499 => "CLIENT_ERROR",
        _ => "SERVER_ERROR",
    }
}

fn is_version(segment: &str) -> bool {
    segment.len() == 2 && segment.starts_with('v') && segment.as_bytes()[1].is_ascii_digit()
}

/// The path's segments in the service form (`/v1/user/create`), the
/// gateway's `/api/user/v1/create` turned into it.
fn service_segments(path: &str) -> Vec<&str> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api", "user", version, rest @ ..] if is_version(version) => {
            [*version, "user"].into_iter().chain(rest.iter().copied()).collect()
        }
        _ => segments,
    }
}

/// `ver`: the version the path names.
fn version(path: &str) -> String {
    service_segments(path).first().filter(|v| is_version(v)).map_or("v1".to_string(), |v| v.to_string())
}

/// `id` of a path no route matched, as Sunbird forms its ids: the service
/// path with its version replaced by `api`, dotted (a few plain segments).
fn id_of_unknown(path: &str) -> String {
    let segments = service_segments(path);
    let words = segments
        .iter()
        .skip(1)
        .take(3)
        .take_while(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    std::iter::once("api").chain(words.copied()).collect::<Vec<_>>().join(".")
}

/// The route's `id`, its `{idType}` taken from the path.
fn id_of(template: &str, table_id: &str, path: &str) -> String {
    if !table_id.contains("{idType}") {
        return table_id.to_string();
    }
    let at = template.split('/').position(|s| s == "{idType}");
    let value = at.and_then(|i| path.split('/').nth(i)).unwrap_or_default();
    let value: String = value.chars().filter(|c| c.is_ascii_alphanumeric()).take(32).collect();
    table_id.replace("{idType}", &value)
}

pub async fn render(request: Request, next: Next) -> Response {
    let path = request.extensions().get::<OriginalUri>().map_or(request.uri().path(), |u| u.0.path()).to_string();
    let template = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let route = template.as_deref().and_then(route_at);
    let msgid = msgid(request.headers());
    let mut response = next.run(request).await;
    let status = response.status();
    let ok = response.extensions_mut().remove::<SbOk>();
    let coded = response.extensions_mut().remove::<ResponseCode>();
    let error = response.extensions_mut().remove::<SbError>();
    let refusal = response.extensions_mut().remove::<EdgeRefusal>();
    let (result, error) = match (ok, error, refusal) {
        (Some(SbOk(result)), _, _) => (result, None),
        (None, Some(error), _) => (json!({}), Some(error)),
        (None, None, Some(refusal)) => (json!({}), Some(SbError::from(refusal))),
        (None, None, None) if status.is_client_error() || status.is_server_error() => {
            (json!({}), Some(SbError::for_status(status)))
        }
        (None, None, None) => return response,
    };
    let private = route.is_some_and(|r| r.private);
    let id = match (route, &template) {
        _ if private => Value::Null,
        (Some(route), Some(template)) => id_of(template, route.id, &path).into(),
        _ => id_of_unknown(&path).into(),
    };
    let op = route.map_or("", |r| r.op);
    let params = match &error {
        None => json!({
            "resmsgid": uuid::Uuid::new_v4().to_string(), "msgid": msgid,
            "err": null, "status": "success", "errmsg": null,
        }),
        Some(error) => {
            let err = match error.code {
                Code::Number(number) => format!("UOS_{op}{number}"),
                Code::Whole(code) => code.to_string(),
            };
            json!({
                "resmsgid": uuid::Uuid::new_v4().to_string(), "msgid": msgid,
                "err": err, "status": error.status_text.unwrap_or("failed"), "errmsg": error.message,
            })
        }
    };
    let status = error.as_ref().map_or(status, |e| e.status);
    // Built by moving `result` in: `json!` would copy the whole tree.
    let mut body = Map::new();
    body.insert("id".into(), id);
    body.insert("ver".into(), if private { "private".to_string() } else { version(&path) }.into());
    body.insert("ts".into(), chrono::Utc::now().format("%Y-%m-%d %H:%M:%S:%3f%z").to_string().into());
    body.insert("params".into(), params);
    let code = match (&error, coded) {
        (None, Some(ResponseCode(code))) => code,
        _ => response_code(status),
    };
    body.insert("responseCode".into(), code.into());
    body.insert("result".into(), result);
    let (mut parts, _) = response.into_parts();
    parts.status = status;
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(Value::Object(body).to_string()))
}

#[cfg(test)]
mod tests {
    use axum::middleware;

    use crate::http::tests::{answer, boom, huge, routes};

    use super::*;

    #[tokio::test]
    async fn panics_and_huge_bodies_come_out_in_the_envelope() {
        let sunbird = |panics| routes(panics).layer(middleware::from_fn(render));
        let (status, body) = answer(sunbird(true), boom()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["responseCode"], "SERVER_ERROR", "{body}");
        assert_eq!(body["params"]["err"], "UOS_0069", "{body}");
        let (status, body) = answer(sunbird(false), huge()).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["responseCode"], "CLIENT_ERROR", "{body}");
        assert_eq!(body["params"]["status"], "failed", "{body}");
    }

    #[test]
    fn ids_and_versions_come_from_the_path() {
        assert_eq!(version("/api/user/v3/create"), "v3");
        assert_eq!(version("/v2/user/read/x"), "v2");
        assert_eq!(id_of_unknown("/api/user/v1/no/such"), "api.user.no.such");
        assert_eq!(id_of_unknown("/v1/user/%00"), "api.user");
        let template = "/api/user/v1/exists/{idType}/{id}";
        assert_eq!(
            id_of(template, "api.user.exists.{idType}", "/api/user/v1/exists/email/a@b.c"),
            "api.user.exists.email"
        );
    }
}
