//! The projector's side of inline read models (`storage::inline`): which
//! read models apply their events in the appending transaction, and the
//! statements that do it, the same the runner would execute.

use std::collections::HashMap;

use projections::{Projection, Statement, StoredEvent};

use super::{isolation, statements_of, Projector};
use crate::storage::inline::{lock_key, InlineReadModels, InlineTarget};

/// The inline read model of each aggregate type it reads.
pub(super) fn targets(projections: &[std::sync::Arc<dyn Projection>]) -> HashMap<&'static str, InlineTarget> {
    let mut targets = HashMap::new();
    for projection in projections.iter().filter(|p| p.inline()) {
        let target = InlineTarget {
            name: projection.name(),
            lock_key: lock_key(projection.name()),
            aggregate_types: projection.aggregate_types(),
        };
        for aggregate_type in projection.aggregate_types() {
            targets.insert(*aggregate_type, target);
        }
    }
    targets
}

impl InlineReadModels for Projector {
    fn target_of(&self, aggregate_type: &str) -> Option<InlineTarget> {
        self.inline.get(aggregate_type).copied()
    }

    fn statements(&self, target: &'static str, events: &[StoredEvent]) -> Result<Vec<Statement>, String> {
        let Some(projection) = self.projections.iter().find(|p| p.name() == target) else {
            return Err(format!("no read model {target}"));
        };
        statements_of(projection.as_ref(), events.iter()).map_err(|error| isolation::describe(&error))
    }

    fn refusal(&self, error: &sqlx::Error) -> Option<String> {
        isolation::database_blames_the_event(error).then(|| isolation::describe_database_error(error))
    }
}

impl Projector {
    /// Whether a write of events of these aggregate types is visible in
    /// every read model once it commits: each type is applied inline, or
    /// read by no read model at all.
    pub fn visible_on_commit<'a>(&self, aggregate_types: impl IntoIterator<Item = &'a str>) -> bool {
        aggregate_types.into_iter().all(|aggregate_type| {
            self.inline.contains_key(aggregate_type)
                || !self.projections.iter().any(|p| p.aggregate_types().contains(&aggregate_type))
        })
    }

    /// Called after a write committed with these read models applied
    /// inline: caches of their tables on this instance reload.
    pub fn applied_inline(&self, names: &[&'static str]) {
        for name in names {
            self.mark_changed(name);
        }
    }

    /// Held by a write to inline read models around its append, on SQLite
    /// (`None` on PostgreSQL, where a write never waits for a rebuild): a
    /// rebuild holds SQLite's one writer for its whole run and takes the
    /// other side, so writers wait for it here instead of each holding a
    /// pooled connection while blocked, which would leave the rebuild's own
    /// reader without one.
    pub async fn pause_rebuilds(&self) -> Option<tokio::sync::RwLockReadGuard<'_, ()>> {
        match self.db {
            crate::storage::Db::Sqlite(_) => Some(self.rebuilding.read().await),
            crate::storage::Db::Postgres(_) => None,
        }
    }
}
