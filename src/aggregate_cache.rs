//! Aggregates already folded from the log, kept in memory with the sequence
//! they were folded up to.
//!
//! The cache never says what is current: every load still asks the log for
//! the events after the cached sequence (usually none) and folds them in. So
//! writes by other instances are seen, a command's cost no longer grows with
//! its aggregate's history, and a cached state is always a fold of events as
//! the log returned them. An erased user's state is reset by its
//! `UserDeleted` event, exactly as a fold from the start gives it.

use std::any::Any;
use std::sync::{Arc, Mutex};

use aggregates::Aggregate;
use hashlink::LruCache;

/// Entries kept; each is one aggregate's state (a user is well under 1 KiB).
pub const DEFAULT_CAPACITY: usize = 20_000;

type Key = (&'static str, String);

struct Folded<A> {
    aggregate: A,
    sequence: i64,
}

pub struct AggregateCache {
    entries: Mutex<LruCache<Key, Arc<dyn Any + Send + Sync>>>,
}

impl AggregateCache {
    pub fn new(capacity: usize) -> Self {
        AggregateCache { entries: Mutex::new(LruCache::new(capacity.max(1))) }
    }

    /// The cached state of `id` and its sequence, if any.
    pub fn get<A: Aggregate>(&self, id: &str) -> Option<(A, i64)> {
        let entry = self.lock().get(&(A::TYPE, id.to_string())).cloned()?;
        let folded = entry.downcast_ref::<Folded<A>>()?;
        Some((folded.aggregate.clone(), folded.sequence))
    }

    /// Keeps `aggregate` as folded up to `sequence`, unless a later fold is kept already.
    pub fn put<A: Aggregate>(&self, id: &str, aggregate: A, sequence: i64) {
        let key = (A::TYPE, id.to_string());
        let mut entries = self.lock();
        let newer_kept =
            entries.get(&key).and_then(|e| e.downcast_ref::<Folded<A>>()).is_some_and(|kept| kept.sequence >= sequence);
        if !newer_kept {
            entries.insert(key, Arc::new(Folded { aggregate, sequence }));
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<Key, Arc<dyn Any + Send + Sync>>> {
        // A panic while holding the lock cannot leave an entry half-written
        // (inserts are single calls), so a poisoned lock is still usable.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aggregates::{ClaimCommand, UniqueClaim};

    fn claimed(owner: &str) -> UniqueClaim {
        let mut claim = UniqueClaim::default();
        let command = ClaimCommand::Claim { owner: owner.into(), at: chrono::Utc::now() };
        for event in claim.decide(command).unwrap() {
            claim.apply(event);
        }
        claim
    }

    #[test]
    fn keeps_the_latest_fold_and_evicts_the_least_recently_used() {
        let cache = AggregateCache::new(2);
        assert!(cache.get::<UniqueClaim>("a").is_none());
        cache.put("a", claimed("u1"), 1);
        cache.put("a", UniqueClaim::default(), 0); // an older fold does not replace a newer one
        assert_eq!(cache.get::<UniqueClaim>("a").map(|(c, s)| (c.owner, s)), Some((Some("u1".into()), 1)));
        cache.put("b", claimed("u2"), 1);
        let _ = cache.get::<UniqueClaim>("a"); // "a" is now the most recently used
        cache.put("c", claimed("u3"), 1);
        assert!(cache.get::<UniqueClaim>("b").is_none());
        assert!(cache.get::<UniqueClaim>("a").is_some());
        assert_eq!(cache.len(), 2);
    }
}
