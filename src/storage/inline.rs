//! Read models applied in the appending transaction (issue 17): what the
//! append needs to know of them, without knowing the projections.
//!
//! On PostgreSQL every such append holds a shared advisory lock per read
//! model it applies until it commits; a rebuild of that read model takes
//! the lock exclusively. So a rebuild waits for the inline writes in flight
//! and then reads all of them. A write that finds the lock taken (or
//! awaited) does not wait: its events go to the log for the runner, as
//! before inline read models, and so do later writes until the runner has
//! applied them (an aggregate's events must apply in order). SQLite has one
//! writer at a time, and a rebuild holds it.

use projections::{Statement, StoredEvent};

/// A read model that applies events of some aggregate types inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InlineTarget {
    pub name: &'static str,
    /// The advisory lock its writers share and its rebuild takes alone.
    pub lock_key: i64,
    /// The aggregate types it reads.
    pub aggregate_types: &'static [&'static str],
}

pub trait InlineReadModels: Send + Sync {
    /// The read model that applies events of `aggregate_type` inline, if any.
    fn target_of(&self, aggregate_type: &str) -> Option<InlineTarget>;
    /// The statements that apply `events` (all of `target`'s types) to
    /// `target`, or why they cannot be made (the stored description).
    fn statements(&self, target: &'static str, events: &[StoredEvent]) -> Result<Vec<Statement>, String>;
    /// If a statement's failure is the event's fault (skip and record it,
    /// as the runner would), what to record; `None` if it is the
    /// database's (the write fails or is decided again).
    fn refusal(&self, error: &sqlx::Error) -> Option<String>;
}

/// The advisory-lock key of read model `name`'s inline writes.
pub fn lock_key(name: &str) -> i64 {
    super::advisory_lock_key(&format!("inline:{name}"))
}

/// How an append's inline read models came out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InlineOutcome {
    /// Read models that applied the write's events in its transaction.
    pub applied: Vec<&'static str>,
    /// Read models that refused one of them: recorded in
    /// `failed_projection_events`, in the same transaction.
    pub skipped: Vec<&'static str>,
    /// The events were left to the runner (a rebuild, or older events of
    /// the read model, came first).
    pub deferred: bool,
}
