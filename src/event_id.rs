//! The stable identity of one event: the same on every read of the log, in
//! the audit API and as the CloudEvents `ce_id` on every (re-)publish, so
//! consumers can deduplicate.

use uuid::Uuid;

/// Roster's namespace for name-based (v5) event ids.
const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_52e4_3d0b_4c55_9a57_0e3a_2f55_b1d1);

pub fn event_id(aggregate_type: &str, aggregate_id: &str, sequence: i64) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{aggregate_type}/{aggregate_id}/{sequence}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_event_always_gets_the_same_id_and_others_differ() {
        assert_eq!(event_id("user", "a", 1), event_id("user", "a", 1));
        assert_ne!(event_id("user", "a", 1), event_id("user", "a", 2));
        assert_ne!(event_id("user", "a", 1), event_id("role", "a", 1));
        assert_eq!(event_id("user", "a", 1).get_version_num(), 5);
    }
}
