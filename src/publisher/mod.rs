//! The Kafka publisher: tails the log in commit order from its own checkpoint
//! and publishes every event as a CloudEvent, plus ELEVATE-shaped user and
//! organisation messages where configured.
//!
//! Commands never wait for it. The checkpoint advances only after the broker
//! has acknowledged a whole batch, so a crash or an outage re-publishes the
//! unacknowledged tail (duplicates possible, gaps not; `ce_id` is stable so
//! consumers can deduplicate).
//!
//! A failed delivery replaces the producer: librdkafka's idempotent producer
//! can be stuck for good (a broker that lost its state answers
//! `UnknownProducerId`, a fenced epoch, any fatal error) and never recovers by
//! itself, while a fresh one asks the broker for a new producer id. Topics are
//! re-created after any Kafka failure, since such a broker has none either.

pub mod cloudevents;
pub mod elevate_events;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::KafkaSettings;
use crate::leadership::{self, Leadership};
use crate::storage::log::{CommitPoint, LogEntry};
use crate::storage::Db;
use cloudevents::OutgoingRecord;

/// Its row in `projection_checkpoints` (replays reset projections, never this).
pub const CHECKPOINT: &str = "publisher:kafka";
const BATCH: i64 = 500;
const IDLE_POLL: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often an idle publisher measures its lag (see `measure_lag`).
const IDLE_LAG_CHECK: Duration = Duration::from_secs(1);

/// Every aggregate type in the domain; their topics are created at start.
pub const AGGREGATE_TYPES: &[&str] = &aggregates::AGGREGATE_TYPES;

/// What the health check and metrics report about the publisher.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublisherStatus {
    /// Whether the last attempt to reach the broker worked.
    pub broker_reachable: bool,
    pub last_error: Option<String>,
    /// The last position the broker acknowledged.
    pub published: CommitPoint,
    /// Whether this instance is the active publisher.
    pub active: bool,
}

#[derive(Clone)]
pub struct Publisher {
    db: Db,
    settings: Arc<KafkaSettings>,
    status: Arc<watch::Sender<PublisherStatus>>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum PublishError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("kafka: {0}")]
    Kafka(String),
    /// Records the broker did not acknowledge: the producer is replaced.
    #[error("kafka delivery: {0}")]
    Delivery(String),
    #[error("checkpoint moved underneath this publisher")]
    CheckpointMoved,
}

impl Publisher {
    pub fn new(db: Db, settings: KafkaSettings) -> anyhow::Result<Publisher> {
        // Built once here so a bad property fails the start, not the first batch.
        drop(new_producer(&settings).map_err(|e| anyhow::anyhow!(without_values(e)))?);
        Ok(Publisher {
            db,
            settings: Arc::new(settings),
            status: Arc::new(watch::channel(PublisherStatus::default()).0),
        })
    }

    pub fn status(&self) -> watch::Receiver<PublisherStatus> {
        self.status.subscribe()
    }

    /// Runs in the background until `stop` fires: waits for leadership, then publishes.
    pub fn start(&self, stop: CancellationToken) {
        let this = self.clone();
        tokio::spawn(async move { this.lead_or_follow(stop).await });
    }

    async fn lead_or_follow(&self, stop: CancellationToken) {
        loop {
            let leadership = match Leadership::try_acquire(&self.db, "publisher").await {
                Ok(Some(leadership)) => leadership,
                Ok(None) => {
                    self.set_active(false);
                    tokio::select! {
                        _ = tokio::time::sleep(leadership::RETRY) => continue,
                        _ = stop.cancelled() => return,
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "publisher cannot reach the database to take the lead");
                    tokio::select! {
                        _ = tokio::time::sleep(leadership::RETRY) => continue,
                        _ = stop.cancelled() => return,
                    }
                }
            };
            tracing::info!("this instance is the active Kafka publisher");
            self.set_active(true);
            let finished = self.publish_while_leading(leadership, &stop).await;
            self.set_active(false);
            if finished {
                return;
            }
        }
    }

    fn set_active(&self, active: bool) {
        self.status.send_modify(|s| s.active = active);
        metrics::gauge!("roster_publisher_active").set(if active { 1.0 } else { 0.0 });
        if !active {
            // The active instance reports the lag; a standby has none of its own.
            report_lag(0);
        }
    }

    /// Measures what is not yet published, against the last committed
    /// event (not the readable end: a transaction open elsewhere in the
    /// cluster holds the reader back, and that should show). Run when the
    /// publisher takes the lead, after each batch, after a failure (at most
    /// once per backoff) and at most once a second while idle; never per event.
    async fn measure_lag(&self, published: Option<CommitPoint>) {
        let published = match published {
            Some(point) => Ok(point),
            None => self.db.checkpoint(CHECKPOINT).await,
        };
        if let (Ok(published), Ok(last)) = (published, self.db.last_committed_point().await) {
            report_lag(published.events_until(last.position));
        }
    }

    /// Returns true when stopped, false when leadership was lost.
    async fn publish_while_leading(&self, mut leadership: Leadership, stop: &CancellationToken) -> bool {
        let mut topics: HashSet<String> = HashSet::new();
        let mut failures = 0u32;
        // A new lead starts with a fresh producer (the last one may be stuck).
        let mut producer: Option<FutureProducer> = None;
        self.measure_lag(None).await;
        let mut last_lag_check = tokio::time::Instant::now();
        loop {
            if stop.is_cancelled() {
                leadership.release().await;
                return true;
            }
            if !leadership.still_held_lately().await {
                tracing::warn!("lost the publisher lock; stepping down");
                return false;
            }
            let result = match &producer {
                Some(producer) => match self.ensure_topics(producer, &mut topics).await {
                    Ok(()) => self.publish_once(producer, &mut topics).await,
                    Err(error) => Err(error),
                },
                None => match new_producer(&self.settings) {
                    Ok(fresh) => {
                        producer = Some(fresh);
                        continue;
                    }
                    Err(error) => {
                        Err(PublishError::Kafka(format!("cannot build a producer: {}", without_values(error))))
                    }
                },
            };
            let pause = match result {
                Ok(published) => {
                    failures = 0;
                    // The broker answered (topics are re-checked after any failure).
                    self.status.send_modify(|s| {
                        s.broker_reachable = true;
                        s.last_error = None;
                    });
                    if published > 0 {
                        continue;
                    }
                    if last_lag_check.elapsed() >= IDLE_LAG_CHECK {
                        self.measure_lag(None).await;
                        last_lag_check = tokio::time::Instant::now();
                    }
                    IDLE_POLL
                }
                Err(PublishError::CheckpointMoved) => Duration::ZERO,
                Err(error) => {
                    failures += 1;
                    let kafka = matches!(error, PublishError::Kafka(_) | PublishError::Delivery(_));
                    if kafka {
                        // A broker that came back empty needs its topics again.
                        topics.clear();
                    }
                    let fatal = producer.as_ref().and_then(|p| p.client().fatal_error());
                    if matches!(error, PublishError::Delivery(_)) || fatal.is_some() {
                        let fatal = fatal.map(|(code, reason)| format!("{code}: {reason}"));
                        tracing::warn!(error = %error, fatal, "replacing the Kafka producer");
                        metrics::counter!("roster_publisher_producer_replacements_total").increment(1);
                        if let Some(old) = producer.take() {
                            // Dropping purges and flushes for up to 500 ms: not on a runtime thread.
                            tokio::task::spawn_blocking(move || drop(old));
                        }
                    }
                    let message = error.to_string();
                    tracing::warn!(error = %message, failures, "publishing failed; retrying with backoff");
                    self.status.send_modify(|s| {
                        s.broker_reachable = !kafka;
                        s.last_error = Some(message);
                    });
                    metrics::counter!("roster_publisher_failures_total").increment(1);
                    self.measure_lag(None).await;
                    (Duration::from_millis(100) * 2u32.pow(failures.min(6))).min(MAX_BACKOFF)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.cancelled() => {}
            }
        }
    }

    /// Creates the topics this deployment publishes to; an existing topic is fine.
    async fn ensure_topics(&self, producer: &FutureProducer, known: &mut HashSet<String>) -> Result<(), PublishError> {
        let mut wanted: Vec<String> =
            AGGREGATE_TYPES.iter().map(|t| cloudevents::topic_for(&self.settings.topic_prefix, t)).collect();
        wanted.extend(self.settings.user_events_topic.iter().cloned());
        wanted.extend(self.settings.organization_events_topic.iter().cloned());
        wanted.retain(|t| !known.contains(t));
        if wanted.is_empty() {
            return Ok(());
        }
        let existing = existing_topics(producer).await?;
        let missing: Vec<String> = wanted.iter().filter(|t| !existing.contains(*t)).cloned().collect();
        if !missing.is_empty() {
            self.create_topics(&missing).await?;
        }
        known.extend(wanted);
        Ok(())
    }

    async fn create_topics(&self, names: &[String]) -> Result<(), PublishError> {
        create_topics(&self.settings, names).await.map_err(PublishError::Kafka)
    }

    /// Publishes one batch and advances the checkpoint; returns how many events it covered.
    async fn publish_once(
        &self,
        producer: &FutureProducer,
        topics: &mut HashSet<String>,
    ) -> Result<usize, PublishError> {
        let from = self.db.checkpoint(CHECKPOINT).await?;
        self.status.send_modify(|s| s.published = from);
        let entries = self.db.events_after(from, BATCH).await?;
        let Some(last) = entries.last().map(|e| e.point) else {
            return Ok(0);
        };
        let mut records = Vec::with_capacity(entries.len());
        for entry in &entries {
            let record = cloudevents::record(&self.settings.topic_prefix, entry);
            if !topics.contains(&record.topic) {
                // An aggregate type added after start.
                self.create_topics(std::slice::from_ref(&record.topic)).await?;
                topics.insert(record.topic.clone());
            }
            records.push(record);
            records.extend(self.elevate_message(entry).await?);
        }
        send_all(producer, &records).await?;
        if !self.db.advance_checkpoint(CHECKPOINT, from, last).await? {
            return Err(PublishError::CheckpointMoved);
        }
        self.status.send_modify(|s| s.published = last);
        metrics::counter!("roster_published_events_total").increment(entries.len() as u64);
        self.measure_lag(Some(last)).await;
        Ok(entries.len())
    }

    /// The ELEVATE-shaped message for a user or organisation event, if its topic is configured.
    async fn elevate_message(&self, entry: &LogEntry) -> Result<Option<OutgoingRecord>, PublishError> {
        let event = &entry.event;
        let topic = match event.aggregate_type.as_str() {
            "user" => self.settings.user_events_topic.as_ref(),
            "organization" => self.settings.organization_events_topic.as_ref(),
            _ => None,
        };
        let Some(topic) = topic else { return Ok(None) };
        let history =
            self.db.aggregate_events_before(&event.aggregate_type, &event.aggregate_id, event.sequence).await?;
        let Some(message) = elevate_events::message(&event.aggregate_type, &history, entry) else {
            return Ok(None);
        };
        let key = message.get("entityId").map(|id| id.to_string()).unwrap_or_else(|| event.aggregate_id.clone());
        Ok(Some(OutgoingRecord {
            topic: topic.clone(),
            key,
            payload: message.to_string().into_bytes(),
            headers: vec![("content-type", "application/json".to_string())],
        }))
    }
}

/// Creates `names` with the configured partitions and replication; an
/// existing topic is fine (the notification sender's topic too).
pub(crate) async fn create_topics(settings: &KafkaSettings, names: &[String]) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = client_config(settings, &[]).create().map_err(without_values)?;
    let topics: Vec<NewTopic> = names
        .iter()
        .map(|name| NewTopic::new(name, settings.topic_partitions, TopicReplication::Fixed(settings.replication)))
        .collect();
    let options = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(10)))
        .request_timeout(Some(Duration::from_secs(10)));
    let results = admin.create_topics(&topics, &options).await.map_err(|e| e.to_string())?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(format!("cannot create topic {topic}: {code}")),
        }
    }
    Ok(())
}

fn report_lag(events: i64) {
    metrics::gauge!(crate::telemetry::PUBLISHER_LAG).set(events as f64);
}

/// The broker's topics (metadata requests are blocking in librdkafka).
async fn existing_topics(producer: &FutureProducer) -> Result<HashSet<String>, PublishError> {
    let producer = producer.clone();
    tokio::task::spawn_blocking(move || {
        let metadata = producer.client().fetch_metadata(None, Duration::from_secs(10))?;
        Ok(metadata.topics().iter().map(|t| t.name().to_string()).collect())
    })
    .await
    .map_err(|e| PublishError::Kafka(e.to_string()))?
    .map_err(|e: rdkafka::error::KafkaError| PublishError::Kafka(e.to_string()))
}

/// Hands every record to the producer in order, then waits for all acknowledgements.
pub(crate) async fn send_all(producer: &FutureProducer, records: &[OutgoingRecord]) -> Result<(), PublishError> {
    let mut deliveries = Vec::with_capacity(records.len());
    for record in records {
        let headers = record
            .headers
            .iter()
            .fold(OwnedHeaders::new_with_capacity(record.headers.len()), |headers, (key, value)| {
                headers.insert(Header { key, value: Some(value.as_bytes()) })
            });
        let mut future_record =
            FutureRecord::to(&record.topic).key(record.key.as_bytes()).payload(&record.payload).headers(headers);
        // A full local queue is back-pressure, not failure: wait for room.
        loop {
            match producer.send_result(future_record) {
                Ok(delivery) => {
                    deliveries.push(delivery);
                    break;
                }
                Err((rdkafka::error::KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    future_record = returned;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err((error, _)) => return Err(PublishError::Delivery(error.to_string())),
            }
        }
    }
    for delivery in join_all(deliveries).await {
        match delivery {
            Ok(Ok(_)) => {}
            Ok(Err((error, _))) => return Err(PublishError::Delivery(error.to_string())),
            Err(_) => return Err(PublishError::Delivery("the producer dropped a delivery".into())),
        }
    }
    Ok(())
}

/// The idempotent producer; operator properties may tune its defaults
/// (compression, linger) but not its guarantees (`config::ClientProperties`).
pub(crate) fn new_producer(settings: &KafkaSettings) -> rdkafka::error::KafkaResult<FutureProducer> {
    let timeout = settings.delivery_timeout_ms.to_string();
    client_config(settings, &[("compression.type", "lz4"), ("linger.ms", "5")])
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", timeout)
        .create()
}

/// A client error fit for logs: rdkafka's own message ends with the
/// property's value, which may be a password.
pub(crate) fn without_values(error: rdkafka::error::KafkaError) -> String {
    match error {
        rdkafka::error::KafkaError::ClientConfig(_, _, key, _) if crate::config::is_secret(&key) => {
            format!("Kafka client configuration refused the value of {key}")
        }
        rdkafka::error::KafkaError::ClientConfig(_, description, key, _) => {
            format!("Kafka client configuration refused {key}: {description}")
        }
        other => other.to_string(),
    }
}

/// Every client Roster builds: `defaults`, then the operator's properties.
fn client_config(settings: &KafkaSettings, defaults: &[(&str, &str)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &settings.brokers).set("client.id", "roster");
    for (key, value) in defaults {
        config.set(*key, *value);
    }
    for (key, value) in &settings.client_properties.0 {
        config.set(key, value);
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientProperties;

    fn settings(properties: &[(&str, &str)]) -> KafkaSettings {
        KafkaSettings {
            brokers: "127.0.0.1:9".into(),
            topic_prefix: "roster.".into(),
            topic_partitions: 1,
            replication: 1,
            user_events_topic: None,
            organization_events_topic: None,
            delivery_timeout_ms: 1_000,
            client_properties: ClientProperties(
                properties.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ),
        }
    }

    #[test]
    fn operator_properties_reach_the_client_after_roster_defaults() {
        let config =
            client_config(&settings(&[("linger.ms", "50"), ("security.protocol", "SASL_SSL")]), &[("linger.ms", "5")]);
        assert_eq!(config.get("linger.ms"), Some("50"));
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(config.get("bootstrap.servers"), Some("127.0.0.1:9"));
    }

    #[test]
    fn a_refused_property_is_named_but_a_secret_value_is_never_shown() {
        let error = new_producer(&settings(&[("sasl.password.typo", "hunter2")])).err().map(without_values);
        let error = error.expect("librdkafka refuses an unknown property");
        assert!(error.contains("sasl.password.typo") && !error.contains("hunter2"), "{error}");
        let error = new_producer(&settings(&[("security.protocol", "carrier-pigeon")])).err().map(without_values);
        assert!(error.is_some_and(|e| e.contains("security.protocol")));
    }
}
