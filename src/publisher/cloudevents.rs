//! CloudEvents 1.0 in Kafka's binary mode: the record value is the event's
//! JSON, the attributes travel as `ce_*` headers.

use crate::event_id::event_id;
use crate::storage::log::LogEntry;

/// One record ready to hand to the producer.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingRecord {
    pub topic: String,
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

pub const SOURCE: &str = "/roster";

/// The topic of an aggregate type: `{prefix}{aggregate_type}`.
pub fn topic_for(prefix: &str, aggregate_type: &str) -> String {
    format!("{prefix}{aggregate_type}")
}

pub fn record(prefix: &str, entry: &LogEntry) -> OutgoingRecord {
    let event = &entry.event;
    let meta = |key: &str| event.metadata.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let mut headers = vec![
        ("ce_specversion", "1.0".to_string()),
        ("ce_id", event_id(&event.aggregate_type, &event.aggregate_id, event.sequence).to_string()),
        ("ce_type", format!("roster.{}.{}.v{}", event.aggregate_type, event.event_type, event.event_version)),
        ("ce_source", SOURCE.to_string()),
        ("ce_subject", event.aggregate_id.clone()),
        ("ce_time", event.recorded_at.clone()),
        ("content-type", "application/json".to_string()),
        // Extension attributes (lower-case alphanumerics, as the spec requires).
        ("ce_sequence", event.sequence.to_string()),
        ("ce_position", event.position.to_string()),
        ("ce_correlationid", meta("correlation_id")),
    ];
    let actor = meta("actor_id");
    if !actor.is_empty() {
        headers.push(("ce_actor", actor));
    }
    OutgoingRecord {
        topic: topic_for(prefix, &event.aggregate_type),
        key: event.aggregate_id.clone(),
        payload: crate::privacy::without_credentials(&event.payload).to_string().into_bytes(),
        headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::log::CommitPoint;
    use projections::StoredEvent;
    use serde_json::json;

    #[test]
    fn binary_mode_headers_and_key() {
        let entry = LogEntry {
            point: CommitPoint { txid: 0, position: 9 },
            event: StoredEvent {
                position: 9,
                aggregate_type: "user".into(),
                aggregate_id: "u-1".into(),
                sequence: 3,
                event_type: "ProfileUpdated".into(),
                event_version: "1".into(),
                payload: json!({"ProfileUpdated": {}}),
                metadata: json!({"actor_id": "a-1", "correlation_id": "req-1"}),
                recorded_at: "2026-01-01T00:00:00.000Z".into(),
            },
        };
        let record = record("roster.", &entry);
        assert_eq!(record.topic, "roster.user");
        assert_eq!(record.key, "u-1");
        let header = |name: &str| record.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str());
        assert_eq!(header("ce_specversion"), Some("1.0"));
        assert_eq!(header("ce_type"), Some("roster.user.ProfileUpdated.v1"));
        assert_eq!(header("ce_subject"), Some("u-1"));
        assert_eq!(header("ce_time"), Some("2026-01-01T00:00:00.000Z"));
        assert_eq!(header("ce_actor"), Some("a-1"));
        assert_eq!(header("ce_correlationid"), Some("req-1"));
        assert_eq!(header("ce_id"), Some(event_id("user", "u-1", 3).to_string().as_str()));
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&record.payload).unwrap(), entry.event.payload);
    }
}
