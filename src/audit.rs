//! The audit use cases: search the log, the history of one user or
//! organisation, and a user as they were at an instant, rebuilt from the log
//! rather than read from the (current) read tables.
//!
//! One item shape for an event serves the audit API and the `events` CLI.

use aggregates::Aggregate;
use aggregates::{User, UserEvent, UserStatus};
use chrono::{DateTime, Utc};
use projections::StoredEvent;
use serde_json::{json, Value};

use crate::accounts::Caller;
use crate::error::{Entity, ServiceError};
use crate::event_id::event_id;
use crate::read_models::{self, UserKey};
use crate::services::Services;
use crate::storage::audit_log::{LogOrder, LogQuery};
use crate::storage::log::LogEntry;

/// An event as the audit API and the CLI show it. `actor` and `correlation`
/// are lifted out of the metadata, which is kept whole as well.
pub fn render_event(event: &StoredEvent) -> Value {
    json!({
        "event_id": event_id(&event.aggregate_type, &event.aggregate_id, event.sequence),
        "position": event.position,
        "aggregate_type": event.aggregate_type,
        "aggregate_id": event.aggregate_id,
        "sequence": event.sequence,
        "event_type": event.event_type,
        "event_version": event.event_version,
        "recorded_at": event.recorded_at,
        "actor": event.metadata.get("actor_id"),
        "correlation": event.metadata.get("correlation_id"),
        "metadata": event.metadata,
        "payload": crate::privacy::without_credentials(&event.payload),
    })
}

/// One page of events; `next_cursor` is where the next page starts, `None`
/// on the last page.
pub struct Page {
    pub events: Vec<LogEntry>,
    pub next_cursor: Option<i64>,
}

/// What a search of the log asks for; every given field must match.
#[derive(Debug, Clone, Default)]
pub struct EventSearch {
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub event_type: Option<String>,
    /// A user's UUID, numeric id, or "system".
    pub actor_id: Option<String>,
    /// Inclusive bounds on when the event was recorded.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The cursor: events after this position.
    pub after_position: Option<i64>,
    pub limit: i64,
}

/// A user as they were at `at`, rebuilt from the log up to `last`.
pub struct UserState {
    pub user_uuid: String,
    pub user: User,
    pub at: DateTime<Utc>,
    pub last: StoredEvent,
}

/// Events rebuilt into state are read in batches of this size.
const FOLD_BATCH: i64 = 1000;

impl Services {
    /// Asks for one event more than the page holds, to know whether another follows.
    async fn page(&self, mut query: LogQuery) -> Result<Page, ServiceError> {
        let limit = query.limit;
        query.limit = limit + 1;
        let mut events = self.reader.db().search_events(&query).await?;
        let more = events.len() as i64 > limit;
        events.truncate(limit as usize);
        let next_cursor = match (more, events.last()) {
            (true, Some(last)) if query.order == LogOrder::Sequence => Some(last.event.sequence),
            (true, Some(last)) => Some(last.event.position),
            _ => None,
        };
        Ok(Page { events, next_cursor })
    }

    /// The log, filtered, in position order. A numeric `actor_id` is taken
    /// as a user's numeric id; the log records actors by UUID.
    pub async fn audit_events(&self, search: EventSearch) -> Result<Page, ServiceError> {
        let mut actor_id = search.actor_id;
        if let Some(actor) = &actor_id {
            if let Ok(id) = actor.trim().parse::<i64>() {
                let uuid = read_models::user_uuid_of(&self.db, &UserKey::Numeric(id)).await?;
                actor_id = Some(uuid.unwrap_or_default());
            }
        }
        let query = LogQuery {
            aggregate_type: search.aggregate_type,
            aggregate_id: search.aggregate_id,
            event_type: search.event_type,
            actor_id,
            from: search.from,
            to: search.to,
            after_position: search.after_position,
            after_sequence: None,
            order: LogOrder::Position,
            limit: search.limit,
        };
        self.page(query).await
    }

    /// The aggregate id of a user the caller may audit: admins any user,
    /// everyone else only themselves. Refused before the lookup, so the
    /// answer does not tell others which ids exist.
    async fn auditable_user(&self, caller: &Caller, key: &UserKey) -> Result<String, ServiceError> {
        let own = match key {
            UserKey::Numeric(id) => *id == caller.numeric_id(),
            UserKey::Uuid(uuid) => uuid == caller.user_uuid(),
        };
        if !own && !caller.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        read_models::user_uuid_of(&self.db, key).await?.ok_or_else(|| ServiceError::not_found(Entity::User))
    }

    pub async fn user_history(
        &self,
        caller: &Caller,
        key: &UserKey,
        after_sequence: Option<i64>,
        limit: i64,
    ) -> Result<Page, ServiceError> {
        let user_uuid = self.auditable_user(caller, key).await?;
        self.page(history_query(User::TYPE, user_uuid, after_sequence, limit)).await
    }

    pub async fn organization_history(
        &self,
        raw_id: &str,
        after_sequence: Option<i64>,
        limit: i64,
    ) -> Result<Page, ServiceError> {
        let org_uuid = read_models::organization_uuid_of(&self.db, raw_id)
            .await?
            .ok_or_else(|| ServiceError::not_found(Entity::Organization))?;
        self.page(history_query(aggregates::Organization::TYPE, org_uuid, after_sequence, limit)).await
    }

    /// The user as they were at `at`: their events recorded up to then,
    /// folded onto an empty aggregate exactly as a command load does.
    pub async fn user_state_at(
        &self,
        caller: &Caller,
        key: &UserKey,
        at: DateTime<Utc>,
    ) -> Result<UserState, ServiceError> {
        let user_uuid = self.auditable_user(caller, key).await?;
        let mut user = User::default();
        let mut last: Option<StoredEvent> = None;
        loop {
            let query = LogQuery {
                to: Some(at),
                after_sequence: last.as_ref().map(|e| e.sequence),
                ..history_query(User::TYPE, user_uuid.clone(), None, FOLD_BATCH)
            };
            let batch = self.reader.db().search_events(&query).await?;
            let done = (batch.len() as i64) < FOLD_BATCH;
            for entry in batch {
                let event: UserEvent = entry.event.decode().map_err(ServiceError::internal)?;
                user.apply(event);
                last = Some(entry.event);
            }
            if done {
                break;
            }
        }
        match last {
            Some(last) if user.status != UserStatus::NotRegistered => Ok(UserState { user_uuid, user, at, last }),
            _ => Err(ServiceError::not_found(Entity::UserState)),
        }
    }
}

fn history_query(aggregate_type: &str, aggregate_id: String, after_sequence: Option<i64>, limit: i64) -> LogQuery {
    LogQuery {
        aggregate_type: Some(aggregate_type.to_string()),
        aggregate_id: Some(aggregate_id),
        after_sequence,
        order: LogOrder::Sequence,
        limit,
        ..LogQuery::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(sequence: i64, metadata: Value) -> StoredEvent {
        StoredEvent {
            position: 42,
            aggregate_type: "user".into(),
            aggregate_id: "u-1".into(),
            sequence,
            event_type: "TermsAccepted".into(),
            event_version: "1".into(),
            payload: json!({"TermsAccepted": {"at": "2026-01-01T00:00:00Z"}}),
            metadata,
            recorded_at: "2026-01-01T00:00:00.000Z".into(),
        }
    }

    #[test]
    fn items_carry_the_event_id_actor_and_correlation() {
        let item = render_event(&stored(3, json!({"actor_id": "a-1", "correlation_id": "c-1", "dialect": "elevate"})));
        assert_eq!(item["event_id"], json!(event_id("user", "u-1", 3)));
        assert_eq!(item["actor"], "a-1");
        assert_eq!(item["correlation"], "c-1");
        assert_eq!(item["position"], 42);
        assert_eq!(item["payload"]["TermsAccepted"]["at"], "2026-01-01T00:00:00Z");
        // A sign-up has no actor yet.
        assert!(render_event(&stored(1, json!({"correlation_id": "c"})))["actor"].is_null());
    }
}
