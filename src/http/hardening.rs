//! What every response carries and every request is bounded by, whatever
//! the dialect: security headers, CORS for the origins an operator allows
//! (none by default), a whole-request timeout, and gzip where it pays.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use crate::config::Hardening;

/// `X-Content-Type-Options`, `Referrer-Policy`, `Cache-Control: no-store`
/// (responses carry tokens and personal data: no cache may keep them) and,
/// when configured, HSTS.
pub async fn security_headers(State(hsts): State<Option<HeaderValue>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    if let Some(hsts) = hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts);
    }
    response
}

pub fn hsts_header(settings: &Hardening) -> Option<HeaderValue> {
    settings.hsts_max_age_seconds.map(|age| {
        HeaderValue::from_str(&format!("max-age={age}; includeSubDomains")).expect("digits are a valid header")
    })
}

/// CORS for `CORS_ALLOWED_ORIGINS`; `None` (the default) sends no CORS
/// headers, so browsers keep other origins out.
pub fn cors(settings: &Hardening) -> Option<CorsLayer> {
    if settings.cors_allowed_origins.is_empty() {
        return None;
    }
    let origin = if settings.cors_allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(settings.cors_allowed_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::PUT, Method::DELETE])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                HeaderName::from_static("x-auth-token"),
                HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([HeaderName::from_static("x-request-id")])
            .max_age(Duration::from_secs(600)),
    )
}

/// A request that takes longer than `HTTP_REQUEST_TIMEOUT_MS` is answered
/// 503 (in its dialect's envelope) and its handler dropped.
pub fn request_timeout(settings: &Hardening) -> Option<TimeoutLayer> {
    (settings.request_timeout_ms > 0).then(|| {
        TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_millis(settings.request_timeout_ms),
        )
    })
}

/// gzip for clients that ask for it, on answers large enough to gain from it
/// (lists and searches; a profile or a token answer is sent as it is).
pub fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new().gzip(true).compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES)))
}

const COMPRESS_ABOVE_BYTES: u16 = 2048;
