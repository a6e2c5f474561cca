//! Entity v5's envelope, for successes and errors alike:
//! `{code, msg, data}` with `code: 0` and `msg: "success."` on success, a
//! non-zero code (`errors::CODES`) and `data: null` on an error, the HTTP
//! status matching the code.
//!
//! Handlers return `V5Ok` or `V5Error`; both leave a pending body in the
//! response extensions, and `render`, which every route under the prefix
//! (unknown paths included) runs under, writes it. What the shared layers
//! refuse (`EdgeRefusal`) and bare statuses (unknown path, wrong method,
//! body too large, rate limit, timeout, panic) are worded here too.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::errors::V5Error;
use crate::http::refusal::EdgeRefusal;

pub const SUCCESS: &str = "success.";

/// A success: `data` as the route answers it.
#[derive(Clone)]
pub struct V5Ok(pub Value);

impl IntoResponse for V5Ok {
    fn into_response(self) -> Response {
        let mut response = StatusCode::OK.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

pub async fn render(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let status = response.status();
    let ok = response.extensions_mut().remove::<V5Ok>();
    let error = response.extensions_mut().remove::<V5Error>();
    let refusal = response.extensions_mut().remove::<EdgeRefusal>();
    let (status, code, msg, data) = match (ok, error, refusal) {
        (Some(V5Ok(data)), _, _) => (status, 0, SUCCESS.to_string(), data),
        (None, error, refusal) => {
            let error = match (error, refusal) {
                (Some(error), _) => error,
                (None, Some(refusal)) => V5Error::from(refusal),
                (None, None) if status.is_client_error() || status.is_server_error() => V5Error::for_status(status),
                (None, None) => return response,
            };
            (error.status, error.code, error.msg, Value::Null)
        }
    };
    let mut body = Map::new();
    body.insert("code".into(), code.into());
    body.insert("msg".into(), msg.into());
    body.insert("data".into(), data);
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
        let v5 = |panics| routes(panics).layer(middleware::from_fn(render));
        let (status, body) = answer(v5(true), boom()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!((body["code"].as_i64(), body["data"].is_null()), (Some(50000), true), "{body}");
        let (status, body) = answer(v5(false), huge()).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["code"], 41300, "{body}");
    }

    #[test]
    fn bare_statuses_get_a_code_of_their_status() {
        for status in [400u16, 401, 403, 404, 405, 408, 413, 415, 429, 500, 503, 418] {
            let status = StatusCode::from_u16(status).unwrap();
            let error = V5Error::for_status(status);
            assert_eq!((error.status, error.code / 100), (status, i64::from(status.as_u16())), "{status}");
        }
    }
}
