//! Read models. A projection turns one stored event into SQL statements; the
//! runner (in the service crate) reads the log in commit order and executes
//! those statements together with the projection's checkpoint in one
//! transaction, so each event is applied exactly once.
//!
//! Statements use the SQL subset that PostgreSQL and SQLite share (`$n`
//! placeholders, `ON CONFLICT`), so a projection is written once for both.

mod api_keys;
mod batching;
mod bulk_invites;
mod bulk_rows;
mod entity_types;
mod forms;
mod notification_templates;
mod organizations;
mod permissions;
mod role_requests;
mod roles;
mod users;

use serde_json::Value;
use thiserror::Error;

pub use api_keys::ApiKeysProjection;
pub use batching::merge_inserts;
pub use bulk_invites::BulkInvitesProjection;
pub use bulk_rows::{bulk_steps, Cell, RowBatch, Step};
pub use entity_types::EntityTypesProjection;
pub use forms::FormsProjection;
pub use notification_templates::NotificationTemplatesProjection;
pub use organizations::OrganizationsProjection;
pub use permissions::PermissionsProjection;
pub use role_requests::RoleRequestsProjection;
pub use roles::RolesProjection;
pub use users::UsersProjection;

/// One row of the `events` table as the runner reads it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: String,
}

impl StoredEvent {
    /// Events are stored in serde's externally tagged form: `{"Variant": {...}}`.
    pub fn decode<E: serde::de::DeserializeOwned>(&self) -> Result<E, ProjectionError> {
        serde_json::from_value(self.payload.clone()).map_err(|source| ProjectionError::Decode {
            position: self.position,
            event_type: self.event_type.clone(),
            source,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
    /// A `LIKE` pattern, bound as text. How many rows it matches depends
    /// on the pattern itself, so PostgreSQL plans a statement holding one
    /// for each call (`storage::Db` runs it unprepared).
    Pattern(String),
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Int(v)
    }
}
impl From<i32> for SqlValue {
    fn from(v: i32) -> Self {
        SqlValue::Int(v.into())
    }
}
impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        SqlValue::Bool(v)
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}
impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_string())
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub args: Vec<SqlValue>,
}

impl Statement {
    pub fn new(sql: impl Into<String>, args: Vec<SqlValue>) -> Self {
        Statement { sql: sql.into(), args }
    }
}

#[derive(Debug, Error)]
pub enum ProjectionError {
    #[error("cannot decode event {event_type} at position {position}: {source}")]
    Decode { position: i64, event_type: String, source: serde_json::Error },
}

pub trait Projection: Send + Sync {
    /// Checkpoint name; also the name `roster replay` reports.
    fn name(&self) -> &'static str;
    /// Tables this projection owns, emptied before a rebuild (children first).
    fn tables(&self) -> &'static [&'static str];
    /// The aggregate types whose events this projection reads; the runner
    /// skips every other event in SQL, so a projection never pays for the
    /// rest of the log.
    fn aggregate_types(&self) -> &'static [&'static str];
    fn handle(&self, event: &StoredEvent) -> Result<Vec<Statement>, ProjectionError>;
    /// Whether the read model is applied inline: in the transaction that
    /// appends its events, so a write is one commit and visible when it
    /// returns. The runner then only passes over those events (it applies
    /// what was written without it, and rebuilds). Inline read models'
    /// statements may touch only rows of the event's own aggregate, or
    /// move counters, so writers in parallel cannot change what they mean.
    fn inline(&self) -> bool {
        false
    }
}

/// Every read model Roster maintains. New projections are added here and
/// automatically get a runner, a checkpoint and a place in `roster replay`.
pub fn registry() -> Vec<Box<dyn Projection>> {
    vec![
        Box::new(UsersProjection),
        Box::new(OrganizationsProjection),
        Box::new(RolesProjection),
        Box::new(PermissionsProjection),
        Box::new(RoleRequestsProjection),
        Box::new(FormsProjection),
        Box::new(NotificationTemplatesProjection),
        Box::new(EntityTypesProjection),
        Box::new(ApiKeysProjection),
        Box::new(BulkInvitesProjection),
    ]
}

/// Timestamps in read tables are RFC 3339 UTC text with milliseconds: portable
/// across both backends and ordered correctly as text.
pub fn format_time(at: &aggregates::Timestamp) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
