//! Old event versions, brought to the current shape on the way out of the log.
//!
//! A payload stays in the log as it was serialised when it was written, with
//! its schema version then (`events.event_version`, text). To change an
//! event's schema: change its Rust type, and register here an upcaster from
//! the version the old payloads have to the next. The bus writes every event
//! at one past its last upcaster (`current_version`), so the version an event
//! is written with can never disagree with the upcasters that read it.
//!
//! Every reader of the log passes payloads through `upcast` before they are
//! deserialised or shown: command-bus loads, the projection runners and
//! `roster replay`, the publisher (and the history it folds), the audit API,
//! `roster events tail/export` and the failed-events report. The one place
//! is `storage::log::bring_out`, which also opens personal fields first; so
//! an upcaster sees plaintext, and `privacy::PERSONAL_FIELDS` must keep
//! naming where personal values sit in every version still stored.
//!
//! An upcaster takes the whole stored payload (`{"Variant": {...}}`) and
//! returns it in the next version's shape, for the same event type. It is a
//! plain function of the JSON: it must not fail; a payload it cannot make
//! sense of is returned as it is and then fails to decode, which the readers
//! report as they report any undecodable event.

use serde_json::Value;

/// One step of one event type's schema history.
pub struct Upcaster {
    pub aggregate_type: &'static str,
    pub event_type: &'static str,
    /// The version this reads; it returns version `from_version + 1`.
    pub from_version: u32,
    pub upcast: fn(Value) -> Value,
}

/// Every schema change so far, oldest first per event type. None yet: every
/// event type is at version 1.
const UPCASTERS: &[Upcaster] = &[];

fn registry() -> impl Iterator<Item = &'static Upcaster> {
    #[cfg(test)]
    let test_only: &'static [Upcaster] = tests::PROBE_UPCASTERS;
    #[cfg(not(test))]
    let test_only: &'static [Upcaster] = &[];
    UPCASTERS.iter().chain(test_only)
}

fn chain_of<'a>(aggregate_type: &'a str, event_type: &'a str) -> impl Iterator<Item = &'static Upcaster> + 'a {
    registry().filter(move |u| u.aggregate_type == aggregate_type && u.event_type == event_type)
}

/// The version an event of this type is written with.
pub fn current_version(aggregate_type: &str, event_type: &str) -> u32 {
    1 + chain_of(aggregate_type, event_type).count() as u32
}

/// Brings `payload` from `version` to the current version of its event type,
/// one upcaster at a time, and updates `version`. A version that is not a
/// number, or has no upcaster, is left as it is.
pub fn upcast(aggregate_type: &str, event_type: &str, version: &mut String, payload: &mut Value) {
    let mut chain = chain_of(aggregate_type, event_type).peekable();
    if chain.peek().is_none() {
        return;
    }
    let Ok(mut at) = version.parse::<u32>() else { return };
    let steps: Vec<&Upcaster> = chain.collect();
    while let Some(step) = steps.iter().find(|u| u.from_version == at) {
        *payload = (step.upcast)(std::mem::take(payload));
        at += 1;
    }
    *version = at.to_string();
}

#[cfg(test)]
pub(crate) mod tests {
    use std::convert::Infallible;

    use aggregates::{Aggregate, DomainEvent};
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use super::*;
    use crate::commands::{CommandBus, Metadata};
    use crate::projector::Projector;
    use crate::storage::audit_log::LogQuery;
    use crate::storage::log::CommitPoint;
    use crate::storage::Db;

    /// A test-only aggregate whose one event changed shape: version 1 stored
    /// one `text` with its lines joined by newlines, version 2 stores `lines`.
    #[derive(Debug, Clone, Default)]
    struct Probe {
        lines: Vec<String>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum ProbeEvent {
        Noted { lines: Vec<String> },
    }

    impl DomainEvent for ProbeEvent {
        fn event_type(&self) -> &'static str {
            "Noted"
        }
    }

    impl Aggregate for Probe {
        const TYPE: &'static str = "upcast_probe";
        type Command = Vec<String>;
        type Event = ProbeEvent;
        type Error = Infallible;

        fn decide(&self, lines: Vec<String>) -> Result<Vec<ProbeEvent>, Infallible> {
            Ok(vec![ProbeEvent::Noted { lines }])
        }

        fn apply(&mut self, event: ProbeEvent) {
            let ProbeEvent::Noted { lines } = event;
            self.lines.extend(lines);
        }
    }

    fn noted_v1_to_v2(mut payload: Value) -> Value {
        let Some(text) = payload.pointer_mut("/Noted/text").map(Value::take) else { return payload };
        let lines: Vec<&str> = text.as_str().unwrap_or_default().split('\n').collect();
        json!({"Noted": {"lines": lines}})
    }

    pub(super) const PROBE_UPCASTERS: &[Upcaster] =
        &[Upcaster { aggregate_type: Probe::TYPE, event_type: "Noted", from_version: 1, upcast: noted_v1_to_v2 }];

    #[test]
    fn every_chain_starts_at_one_and_has_no_gaps() {
        let mut chains: Vec<(&str, &str, Vec<u32>)> = Vec::new();
        for u in registry() {
            match chains.iter_mut().find(|(t, e, _)| *t == u.aggregate_type && *e == u.event_type) {
                Some((_, _, versions)) => versions.push(u.from_version),
                None => chains.push((u.aggregate_type, u.event_type, vec![u.from_version])),
            }
        }
        for (aggregate_type, event_type, mut versions) in chains {
            versions.sort_unstable();
            let expected: Vec<u32> = (1..=versions.len() as u32).collect();
            assert_eq!(versions, expected, "upcasters of {aggregate_type}/{event_type}");
        }
        assert_eq!(current_version("user", "UserRegistered"), 1);
        assert_eq!(current_version(Probe::TYPE, "Noted"), 2);
    }

    #[test]
    fn versions_without_an_upcaster_are_left_alone() {
        let mut payload = json!({"Noted": {"lines": ["a"]}});
        let mut version = "2".to_string();
        upcast(Probe::TYPE, "Noted", &mut version, &mut payload);
        assert_eq!((version.as_str(), &payload), ("2", &json!({"Noted": {"lines": ["a"]}})));
        let mut other = "1".to_string();
        upcast("user", "UserRegistered", &mut other, &mut payload);
        assert_eq!(other, "1");
    }

    /// A payload stored at version 1, as an older build wrote it, reads as
    /// version 2 through every reader of the log, while the row itself stays
    /// as it was written; a new event is written at version 2.
    #[tokio::test]
    async fn a_v1_payload_reads_as_v2_on_every_read_path() {
        let db = Db::in_memory().await;
        crate::on_pool!(&db, pool => {
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
                 VALUES ('upcast_probe', 'p-1', 1, 'Noted', '1', $1, '{}')",
            )
            .bind(json!({"Noted": {"text": "first\nsecond"}}).to_string())
            .execute(pool)
            .await
            .unwrap();
        });
        let bus = CommandBus::new(
            db.clone(),
            Projector::new(db.clone()),
            crate::storage::claim_ids::ClaimIds::load(&db).await.unwrap(),
        );
        let v2 = json!({"Noted": {"lines": ["first", "second"]}});

        // The command bus folds it.
        assert_eq!(bus.load::<Probe>("p-1").await.unwrap().lines, ["first", "second"]);
        bus.execute::<Probe>("p-1", vec!["third".into()], &Metadata::system("test")).await.unwrap();
        let fresh = CommandBus::new(
            db.clone(),
            Projector::new(db.clone()),
            crate::storage::claim_ids::ClaimIds::load(&db).await.unwrap(),
        );
        assert_eq!(fresh.load::<Probe>("p-1").await.unwrap().lines, ["first", "second", "third"]);

        // The tailing readers: projections, publisher, `events tail/export`.
        let tailed = db.events_after(CommitPoint::default(), 10).await.unwrap();
        let probe: Vec<_> = tailed.iter().filter(|e| e.event.aggregate_type == Probe::TYPE).collect();
        assert_eq!(probe.len(), 2);
        assert_eq!((probe[0].event.event_version.as_str(), &probe[0].event.payload), ("2", &v2));
        assert_eq!(probe[1].event.event_version, "2", "written at the current version");
        let (by_type, _) = db.events_of_types_after(CommitPoint::default(), &[Probe::TYPE], 10).await.unwrap();
        assert_eq!(by_type[0].event.payload, v2);
        // The publisher's history of an aggregate, and the audit API.
        let history = db.aggregate_events_before(Probe::TYPE, "p-1", 2).await.unwrap();
        assert_eq!(history[0].event.payload, v2);
        let query = LogQuery { aggregate_id: Some("p-1".into()), limit: 10, ..LogQuery::default() };
        let audited = db.search_events(&query).await.unwrap();
        assert_eq!((audited[0].event.event_version.as_str(), &audited[0].event.payload), ("2", &v2));

        // The log itself is never rewritten.
        let stored: (String, String) = crate::on_pool!(&db, pool => {
            sqlx::query_as("SELECT event_version, payload FROM events WHERE aggregate_id = 'p-1' AND sequence = 1")
                .fetch_one(pool)
                .await
                .unwrap()
        });
        assert_eq!(stored.0, "1");
        assert!(stored.1.contains("first\\nsecond"), "{}", stored.1);
    }
}
