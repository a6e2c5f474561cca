//! The HTTP surface: one router per dialect merged here, wrapped in the
//! layers every request shares (request id, tracing, envelope, limits).

pub mod authorize;
mod elevate;
pub mod envelope;
pub mod extract;
pub mod hardening;
mod health;
mod oversized;
pub mod rate_limit;
pub mod server;
pub mod text_hygiene;

use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::AppState;

/// Which capability each ELEVATE route asks for; also how ELEVATE's
/// permission data is read (`authorization::granted_by`).
pub use elevate::capabilities::ROUTES as ELEVATE_ROUTES;

pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .nest("/user/v1", elevate::routes())
        .merge(health::routes())
        .route("/.well-known/jwks.json", get(jwks))
        .route("/metrics", get(metrics_text))
        .route_layer(middleware::from_fn(text_hygiene::refuse_unstorable_uri))
        .route_layer(middleware::from_fn_with_state(
            rate_limit::Doors::new(&state.settings.rate_limits, elevate::doors::DOORS),
            rate_limit::limit,
        ))
        .route_layer(middleware::from_fn(track_metrics))
        .layer(axum::Extension(state.clone()));
    // Inside `render`, so its 408 comes in the envelope.
    let routes = match server::body_timeout(&state.settings.connections) {
        Some(timeout) => routes.layer(middleware::from_fn_with_state(timeout, server::body_read_timeout)),
        None => routes,
    };
    let hardening = state.settings.hardening.clone();
    let mut routes = routes.with_state(state);
    // Inside `render`, so its 503 comes in the envelope.
    if let Some(timeout) = hardening::request_timeout(&hardening) {
        routes = routes.layer(timeout);
    }
    let mut routes = routes.layer(
        ServiceBuilder::new()
            .layer(middleware::from_fn(envelope::render))
            .layer(CatchPanicLayer::new())
            .layer(middleware::from_fn(oversized::drain_oversized))
            .layer(RequestBodyLimitLayer::new(BODY_LIMIT_BYTES))
            .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES)),
    );
    // Outside `render`: errors get the CORS headers too, and preflights are answered here.
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

async fn jwks(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    axum::Json(state.tokens.jwks()).into_response()
}

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
