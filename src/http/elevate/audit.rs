//! `/user/v1/audit/...`: search the event log, the history of a user or an
//! organisation, and a user's state at an instant.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::audit::EventSearch;
use crate::http::authorize::guarded;
use crate::http::elevate::envelope::ApiOk;
use crate::http::elevate::errors::AppError;
use crate::http::elevate::render::ToElevateJson;
use crate::http::extract::{paging, Authenticated};
use crate::http::AppState;
use crate::users::UserKey;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/audit/events", guarded(get(events)))
        .route("/audit/users/{id}/history", guarded(get(user_history)))
        .route("/audit/users/{id}/state", guarded(get(user_state)))
        .route("/audit/organizations/{id}/history", guarded(get(organization_history)))
}

/// Query values arrive as text so a bad one is a 400 in the envelope that
/// names the parameter, not the extractor's plain rejection.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    aggregate_type: Option<String>,
    aggregate_id: Option<String>,
    event_type: Option<String>,
    actor_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    after_position: Option<String>,
    limit: Option<String>,
}

fn present(raw: Option<String>) -> Option<String> {
    raw.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn instant(name: &str, raw: Option<String>) -> Result<Option<DateTime<Utc>>, AppError> {
    present(raw)
        .map(|s| {
            DateTime::parse_from_rfc3339(&s).map(|t| t.with_timezone(&Utc)).map_err(|_| {
                AppError::invalid_field(name, format!("{name} must be an RFC 3339 instant, e.g. 2026-01-31T12:00:00Z"))
            })
        })
        .transpose()
}

fn cursor(name: &str, raw: Option<String>) -> Result<Option<i64>, AppError> {
    present(raw)
        .map(|s| match s.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(n),
            _ => Err(AppError::invalid_field(name, format!("{name} must be a whole number from 0"))),
        })
        .transpose()
}

fn aggregate_type(raw: Option<String>) -> Result<Option<String>, AppError> {
    match present(raw) {
        Some(t) if !aggregates::AGGREGATE_TYPES.contains(&t.as_str()) => Err(AppError::invalid_field(
            "aggregate_type",
            format!("aggregate_type must be one of {}", aggregates::AGGREGATE_TYPES.join(", ")),
        )),
        t => Ok(t),
    }
}

fn limit(raw: Option<String>) -> Result<i64, AppError> {
    Ok(paging(None, raw.as_deref())?.1)
}

/// Searches the event log (README, "Audit API").
#[utoipa::path(get, path = "/user/v1/audit/events", params(EventsQuery),
    responses((status = 200, description = "A page of events and the cursor of the next", body = super::openapi::Events)))]
async fn events(State(state): State<AppState>, Query(q): Query<EventsQuery>) -> Result<ApiOk, AppError> {
    let search = EventSearch {
        aggregate_type: aggregate_type(q.aggregate_type)?,
        aggregate_id: present(q.aggregate_id),
        event_type: present(q.event_type),
        actor_id: present(q.actor_id),
        from: instant("from", q.from)?,
        to: instant("to", q.to)?,
        after_position: cursor("after_position", q.after_position)?,
        limit: limit(q.limit)?,
    };
    let page = state.audit_events(search).await?;
    Ok(ApiOk::ok("Events fetched successfully.", page.to_elevate_json()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    after_sequence: Option<String>,
    limit: Option<String>,
}

fn user_key(raw: &str) -> Result<UserKey, AppError> {
    UserKey::parse(raw).ok_or_else(|| AppError::NotFound("User not found".into()))
}

#[utoipa::path(get, path = "/user/v1/audit/users/{id}/history", params(("id" = crate::http::openapi::UserKey, Path, description = "The user's numeric id or uuid"), HistoryQuery),
    responses((status = 200, description = "A page of the user's events", body = super::openapi::Events)))]
async fn user_history(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<ApiOk, AppError> {
    let (after, limit) = (cursor("after_sequence", q.after_sequence)?, limit(q.limit)?);
    let page = state.user_history(&caller, &user_key(&id)?, after, limit).await?;
    Ok(ApiOk::ok("User history fetched successfully.", page.to_elevate_json()))
}

#[utoipa::path(get, path = "/user/v1/audit/organizations/{id}/history",
    params(("id" = String, Path, description = "The organisation's id"), HistoryQuery),
    responses((status = 200, description = "A page of the organisation's events", body = super::openapi::Events)))]
async fn organization_history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<ApiOk, AppError> {
    let (after, limit) = (cursor("after_sequence", q.after_sequence)?, limit(q.limit)?);
    let page = state.organization_history(&id, after, limit).await?;
    Ok(ApiOk::ok("Organization history fetched successfully.", page.to_elevate_json()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StateQuery {
    at: Option<String>,
}

/// The user as they were at an instant, rebuilt from the log.
#[utoipa::path(get, path = "/user/v1/audit/users/{id}/state",
    params(("id" = crate::http::openapi::UserKey, Path, description = "The user's numeric id or uuid"), StateQuery),
    responses((status = 200, description = "The user's state then", body = super::openapi::Answer)))]
async fn user_state(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Query(q): Query<StateQuery>,
) -> Result<ApiOk, AppError> {
    let at = instant("at", q.at)?.ok_or_else(|| AppError::invalid_field("at", "at is required"))?;
    let user = state.user_state_at(&caller, &user_key(&id)?, at).await?;
    Ok(ApiOk::ok("User state fetched successfully.", user.to_elevate_json()))
}
