//! The HTTP surface: one router per dialect (its envelope around the shared
//! limits), the neutral routes (health, metrics, JWKS), and the layers every
//! request shares (request id, tracing, security headers, CORS).

pub mod authorize;
mod elevate;
mod entity_v5;
pub(crate) mod files;
/// ELEVATE's extractors (its JSON rejections, `X-auth-token`, paging), kept
/// at their old path for the handlers and `authorize`.
pub use elevate::extract;
pub mod hardening;
mod health;
mod neutral;
pub mod openapi;
mod oversized;
pub mod rate_limit;
pub mod refusal;
pub mod server;
mod sunbird;
pub mod text_hygiene;

use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Settings;

/// The state every handler receives: the services, defined below HTTP.
pub type AppState = crate::services::Services;

/// Which capability each ELEVATE route asks for; also how ELEVATE's
/// permission data is read (`authorization::granted_by`).
pub use elevate::capabilities::ROUTES as ELEVATE_ROUTES;

/// Which capability each Sunbird route asks for (both of its forms).
pub fn sunbird_routes() -> &'static [crate::capabilities::RouteCapability] {
    sunbird::capabilities::route_capabilities()
}

/// Which capability each entity v5 route asks for.
pub fn entity_v5_routes() -> &'static [crate::capabilities::RouteCapability] {
    entity_v5::capabilities::ROUTES
}

pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

pub fn router(state: AppState) -> Router {
    // Each dialect wraps its routes (and its unknown paths) in its own
    // envelope, outside the shared limits so what they refuse is worded by it.
    // One set of limiters for every dialect's doors: a client gets one quota.
    let doors = elevate::doors::DOORS.iter().chain(sunbird::doors::DOORS).copied();
    let doors = rate_limit::Doors::new(&state.settings.rate_limits, doors.collect());
    let elevate_routes =
        elevate::routes().route_layer(middleware::from_fn_with_state(doors.clone(), rate_limit::limit));
    let elevate = shared_layers(elevate_routes.fallback(route_not_found), &state.settings)
        .layer(middleware::from_fn_with_state(state.clone(), elevate::envelope::render_with_forms));
    // Sunbird's routes sit at their full paths (two forms, several
    // prefixes), each prefix with a catch-all that its envelope words.
    let sunbird_routes = sunbird::routes().route_layer(middleware::from_fn_with_state(doors, rate_limit::limit));
    let sunbird = shared_layers(sunbird_routes, &state.settings).layer(middleware::from_fn(sunbird::envelope::render));
    // Entity v5's routes sit at their full paths under one prefix, with a catch-all its envelope words.
    let entity_v5 =
        shared_layers(entity_v5::routes(), &state.settings).layer(middleware::from_fn(entity_v5::envelope::render));
    let neutral = Router::new()
        .merge(health::routes())
        .route("/.well-known/jwks.json", get(jwks))
        .route("/metrics", get(metrics_text))
        .merge(openapi::routes())
        .fallback(route_not_found);
    let neutral = shared_layers(neutral, &state.settings).layer(middleware::from_fn(neutral::render));
    // The local file store's links take bodies up to FILES_MAX_BYTES.
    let files = files_layers(files::routes(), &state.settings, state.files.max_bytes())
        .layer(middleware::from_fn(neutral::render));
    let hardening = state.settings.hardening.clone();
    let mut routes = Router::new()
        .nest("/user/v1", elevate.clone())
        // `/user/v1/` is neither a nested route nor under the nest's
        // `/{*rest}` fallback: the ELEVATE router answers it (404) whole.
        .route_service("/user/v1/", elevate.with_state::<()>(state.clone()))
        .merge(sunbird)
        .merge(entity_v5)
        .merge(neutral)
        .merge(files)
        .route_layer(middleware::from_fn(track_metrics))
        .layer(axum::Extension(state.clone()))
        .with_state(state);
    // Outside the envelopes: errors get the CORS headers too, and preflights are answered here.
    if let Some(cors) = hardening::cors(&hardening) {
        routes = routes.layer(cors);
    }
    let routes = routes.layer(hardening::compression());
    routes.layer(
        ServiceBuilder::new()
            .layer(middleware::from_fn_with_state(hardening::hsts_header(&hardening), hardening::security_headers))
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                // Paths only: query strings may carry search terms (PII).
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
            }))
            .layer(PropagateRequestIdLayer::x_request_id()),
    )
}

/// The limits every route has, whatever its dialect (innermost first): text
/// the stores cannot hold, a stalled body (408), the whole-request timeout
/// (503), the body size (413) and panics (500). Each answers with a status
/// (and an `EdgeRefusal`) that the dialect's envelope, applied around these,
/// words. `routes` must hold all its routes: the text check is a route layer.
fn shared_layers<S: Clone + Send + Sync + 'static>(routes: Router<S>, settings: &Settings) -> Router<S> {
    let mut routes = routes;
    if routes.has_routes() {
        routes = routes.route_layer(middleware::from_fn(text_hygiene::refuse_unstorable_uri));
    }
    if let Some(timeout) = server::body_timeout(&settings.connections) {
        routes = routes.layer(middleware::from_fn_with_state(timeout, server::body_read_timeout));
    }
    if let Some(timeout) = hardening::request_timeout(&settings.hardening) {
        routes = routes.layer(timeout);
    }
    routes.layer(
        ServiceBuilder::new()
            .layer(CatchPanicLayer::new())
            .layer(middleware::from_fn(oversized::drain_oversized))
            .layer(RequestBodyLimitLayer::new(BODY_LIMIT_BYTES))
            .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES)),
    )
}

/// The shared limits for the file links, with their own body size.
fn files_layers<S: Clone + Send + Sync + 'static>(
    routes: Router<S>,
    settings: &Settings,
    max_bytes: usize,
) -> Router<S> {
    let mut routes = routes.route_layer(middleware::from_fn(text_hygiene::refuse_unstorable_uri));
    if let Some(timeout) = server::body_timeout(&settings.connections) {
        routes = routes.layer(middleware::from_fn_with_state(timeout, server::body_read_timeout));
    }
    if let Some(timeout) = hardening::request_timeout(&settings.hardening) {
        routes = routes.layer(timeout);
    }
    routes.layer(
        ServiceBuilder::new()
            .layer(CatchPanicLayer::new())
            .layer(RequestBodyLimitLayer::new(max_bytes))
            .layer(DefaultBodyLimit::max(max_bytes)),
    )
}

/// An unknown path; its dialect's envelope (or the neutral one) words it.
async fn route_not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}

/// The public keys that verify Roster's tokens (RFC 7517), the current key first.
#[utoipa::path(get, path = "/.well-known/jwks.json", responses((status = 200, description = "JSON Web Key Set", body = openapi::Jwks)))]
async fn jwks(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    axum::Json(state.tokens.jwks()).into_response()
}

/// Prometheus metrics (text exposition format); docs/operations.md lists them.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Metrics", content_type = "text/plain", body = String)))]
async fn metrics_text() -> String {
    crate::telemetry::metrics().render()
}

async fn track_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let elapsed: Duration = started.elapsed();
    metrics::counter!("roster_http_requests_total", "method" => method.clone(), "path" => path.clone(), "status" => status).increment(1);
    metrics::histogram!(crate::telemetry::HTTP_REQUEST_DURATION, "method" => method, "path" => path)
        .record(elapsed.as_secs_f64());
    response
}

#[cfg(test)]
pub(crate) mod tests {
    use axum::body::{to_bytes, Body};
    use tower::ServiceExt;

    use super::*;

    /// A panic and a too-large body: answered by the shared layers, worded
    /// by the envelope around them (the neutral one here).
    pub(crate) async fn answer(envelope: Router, request: Request) -> (StatusCode, serde_json::Value) {
        let response = envelope.oneshot(request).await.unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    /// Any path panics, or echoes its body (fallbacks, so the fuzz test's
    /// route scan does not take them for real routes).
    pub(crate) fn routes(panics: bool) -> Router {
        let settings = crate::config::Settings::from_env().unwrap();
        let routes = if panics {
            Router::new().fallback(|| async { panic!("a handler bug") as &'static str })
        } else {
            Router::new().fallback(|body: String| async move { body })
        };
        shared_layers(routes, &settings)
    }

    pub(crate) fn boom() -> Request {
        Request::builder().uri("/boom").body(Body::empty()).unwrap()
    }

    pub(crate) fn huge() -> Request {
        let body = vec![b'x'; BODY_LIMIT_BYTES + 1];
        let request = Request::builder().method("POST").uri("/echo").header("content-length", body.len());
        request.body(Body::from(body)).unwrap()
    }

    /// ELEVATE's side: `elevate::envelope`'s tests.
    #[tokio::test]
    async fn panics_and_huge_bodies_come_out_in_the_neutral_body() {
        let neutral = |panics| routes(panics).layer(middleware::from_fn(neutral::render));
        let (status, body) = answer(neutral(true), boom()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"], "internal", "{body}");
        let (status, body) = answer(neutral(false), huge()).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["error"], "body_too_large", "{body}");
    }
}
