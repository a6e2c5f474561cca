//! `/health` and `/user/health` in the ELEVATE seed's shape.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::time::Duration;

use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/health", get(health)).route("/user/health", get(health))
}

async fn check(name: &str, result: Result<(), String>) -> serde_json::Value {
    match result {
        Ok(()) => json!({"name": name, "healthy": true, "err": "", "errMsg": ""}),
        Err(message) => {
            json!({"name": name, "healthy": false, "err": "UNHEALTHY", "errMsg": message})
        }
    }
}

/// The database's (and Kafka's, when configured) health; 503 when one fails.
/// Events skipped by a read model show as `degraded`, still 200.
#[utoipa::path(
    get,
    path = "/health",
    responses(
        (status = 200, description = "Healthy", body = crate::http::openapi::Health),
        (status = 503, description = "A check failed", body = crate::http::openapi::Health),
    )
)]
async fn health(State(state): State<AppState>) -> Response {
    let mut checks = Vec::new();
    let database = match tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err("database query failed".to_string()),
        Err(_) => Err("database did not answer in time".to_string()),
    };
    checks.push(check("database", database).await);
    if let Some(kafka) = &state.settings.kafka {
        let mut result = kafka_reachable(&kafka.brokers).await;
        if let (Ok(()), Some(publisher)) = (&result, &state.publisher) {
            let status = publisher.status().borrow().clone();
            if status.active && !status.broker_reachable {
                if let Some(error) = status.last_error {
                    result = Err(format!("publishing fails: {error}"));
                }
            }
        }
        checks.push(check("Kafka", result).await);
    }
    let healthy = checks.iter().all(|c| c["healthy"] == true);
    // Skipped events degrade the read models, not the service: the instance
    // still serves (a 503 would take every instance out of a load balancer
    // at once, since they share the database).
    let skipped = state.db.failed_event_counts().await.unwrap_or_default();
    let degraded = !skipped.is_empty();
    if degraded {
        let detail: Vec<String> = skipped.iter().map(|(name, count)| format!("{name}: {count}")).collect();
        checks.push(json!({
            "name": "projections",
            "healthy": false,
            "err": "DEGRADED",
            "errMsg": format!("events skipped by read models ({}); see `roster projections failed`", detail.join(", ")),
        }));
    }
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let body = json!({
        "id": "service.health.api",
        "ver": "1.0",
        "ts": now,
        "params": {
            "resmsgid": uuid::Uuid::new_v4(),
            "msgid": uuid::Uuid::new_v4(),
            "status": if healthy { "successful" } else { "failed" },
            "err": null,
            "errMsg": null,
        },
        "status": status.as_u16(),
        "result": {
            "name": "UserService",
            "version": env!("CARGO_PKG_VERSION"),
            "healthy": healthy,
            "degraded": degraded,
            "checks": checks,
        },
    });
    (status, Json(body)).into_response()
}

/// Whether any configured broker accepts a connection.
async fn kafka_reachable(brokers: &str) -> Result<(), String> {
    for broker in brokers.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(broker)).await {
            return Ok(());
        }
    }
    Err("no broker reachable".to_string())
}
