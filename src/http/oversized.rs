//! A body declared larger than the limit is read and discarded (up to a
//! bound) before the 413 goes out, so a client that writes its whole body
//! before reading (Python's `urllib`, many HTTP/1.1 clients) reads the
//! answer instead of a broken pipe or a reset, as nginx's lingering close
//! does. The connection is closed after the answer.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::BODY_LIMIT_BYTES;

/// At most this much of an oversized body is read; a larger one is cut off.
const DRAIN_LIMIT_BYTES: u64 = 16 * 1024 * 1024;
/// And for at most this long in all, and this long without a byte (as
/// nginx's `lingering_time` and `lingering_timeout`): a slow or lying
/// sender is not waited for.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
const DRAIN_IDLE: Duration = Duration::from_secs(1);

pub async fn drain_oversized(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > BODY_LIMIT_BYTES as u64 => {
            let body = request.into_body();
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, discard(body, length.min(DRAIN_LIMIT_BYTES))).await;
            let mut response = StatusCode::PAYLOAD_TOO_LARGE.into_response();
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
        _ => next.run(request).await,
    }
}

/// Reads and drops up to `limit` bytes of `body`.
async fn discard(mut body: Body, limit: u64) {
    let mut read = 0u64;
    while read < limit {
        match tokio::time::timeout(DRAIN_IDLE, body.frame()).await {
            Ok(Some(Ok(frame))) => read += frame.data_ref().map_or(0, |data| data.len() as u64),
            _ => return,
        }
    }
}
