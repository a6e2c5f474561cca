//! The outbox's sender: tails the log's `notification` events in commit
//! order from its checkpoint (`notifier:outbox`), delivers each message and
//! only then moves the checkpoint, so a crash or an outage sends the
//! unconfirmed tail again (at least once; the message id is stable, as the
//! `.eml` file name, the SMTP `Message-ID` and the Kafka key, so a receiver
//! can drop repeats). One instance sends at a time (`crate::leadership`).
//!
//! Where it delivers: SMTP (`SMTP_URL`, through lettre), else ELEVATE-shaped
//! `{type: "email", email: {to, subject, body}}` records on
//! `NOTIFICATION_KAFKA_TOPIC`, else `.eml` files in `NOTIFICATION_OUTBOX_DIR`.
//! Once a batch is delivered and checkpointed, the keys of its messages are
//! destroyed: what they carried (an OTP) reads as erased from then on.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aggregates::{Message, NotificationEvent};
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio_util::sync::CancellationToken;

use crate::config::{KafkaSettings, NotificationSettings};
use crate::leadership::{self, Leadership};
use crate::publisher::cloudevents::OutgoingRecord;
use crate::storage::Db;

/// Its row in `projection_checkpoints` (replays never reset it).
pub const CHECKPOINT: &str = "notifier:outbox";
const BATCH: i64 = 100;
const IDLE_POLL: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Kafka { settings: KafkaSettings, topic: String, producer: Option<rdkafka::producer::FutureProducer> },
    Files(PathBuf),
}

/// Why a batch stopped; it is retried from the checkpoint.
#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Transport(String),
}

#[derive(Clone)]
pub struct Sender {
    db: Db,
    settings: Arc<NotificationSettings>,
    kafka: Option<KafkaSettings>,
}

impl Sender {
    /// Checks the settings (a bad `SMTP_URL` or `SMTP_FROM` stops the start, not the first mail).
    pub fn new(db: Db, settings: NotificationSettings, kafka: Option<KafkaSettings>) -> anyhow::Result<Sender> {
        settings
            .from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| anyhow::anyhow!("SMTP_FROM is not a mail address (Name <user@host>): {e}"))?;
        let sender = Sender { db, settings: Arc::new(settings), kafka };
        drop(sender.transport()?);
        Ok(sender)
    }

    /// Where messages go, for the start-up log.
    pub fn describe(&self) -> String {
        if self.settings.smtp_url.is_some() {
            "SMTP".into()
        } else if let Some(topic) = &self.settings.kafka_topic {
            format!("Kafka topic {topic}")
        } else {
            format!(".eml files in {}", self.settings.outbox_dir.display())
        }
    }

    fn transport(&self) -> anyhow::Result<Transport> {
        if let Some(url) = &self.settings.smtp_url {
            let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                .map_err(|e| anyhow::anyhow!("SMTP_URL is not a usable SMTP URL (smtp://host:port): {e}"))?
                .timeout(Some(Duration::from_secs(30)))
                .build();
            return Ok(Transport::Smtp(transport));
        }
        if let Some(topic) = &self.settings.kafka_topic {
            let settings = self
                .kafka
                .clone()
                .ok_or_else(|| anyhow::anyhow!("NOTIFICATION_KAFKA_TOPIC is set without KAFKA_BROKERS"))?;
            return Ok(Transport::Kafka { settings, topic: topic.clone(), producer: None });
        }
        Ok(Transport::Files(self.settings.outbox_dir.clone()))
    }

    pub fn start(&self, stop: CancellationToken) {
        let this = self.clone();
        tokio::spawn(async move { this.lead_or_follow(stop).await });
    }

    async fn lead_or_follow(&self, stop: CancellationToken) {
        loop {
            match Leadership::try_acquire(&self.db, "notifier").await {
                Ok(Some(leadership)) => {
                    tracing::info!(to = %self.describe(), "this instance sends the notifications");
                    if self.send_while_leading(leadership, &stop).await {
                        return;
                    }
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "notification sender cannot reach the database to take the lead"),
            }
            tokio::select! {
                _ = tokio::time::sleep(leadership::RETRY) => {}
                _ = stop.cancelled() => return,
            }
        }
    }

    /// Returns true when stopped, false when leadership was lost.
    async fn send_while_leading(&self, mut leadership: Leadership, stop: &CancellationToken) -> bool {
        let mut transport = match self.transport() {
            Ok(transport) => transport,
            Err(error) => {
                tracing::error!(%error, "notifications cannot be sent");
                return true;
            }
        };
        let mut failures = 0u32;
        loop {
            if stop.is_cancelled() {
                leadership.release().await;
                return true;
            }
            if !leadership.still_held_lately().await {
                tracing::warn!("lost the notification sender lock; stepping down");
                return false;
            }
            let pause = match self.send_once(&mut transport).await {
                Ok(0) => {
                    failures = 0;
                    IDLE_POLL
                }
                Ok(_) => {
                    failures = 0;
                    continue;
                }
                Err(error) => {
                    failures += 1;
                    metrics::counter!("roster_notification_failures_total").increment(1);
                    tracing::warn!(%error, failures, "sending notifications failed; retrying with backoff");
                    if let Transport::Kafka { producer, .. } = &mut transport {
                        // A stuck idempotent producer never recovers: build a new one (GUIDE §11).
                        if let Some(old) = producer.take() {
                            tokio::task::spawn_blocking(move || drop(old));
                        }
                    }
                    (Duration::from_millis(200) * 2u32.pow(failures.min(6))).min(MAX_BACKOFF)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.cancelled() => {}
            }
        }
    }

    /// Delivers one batch and moves the checkpoint past it; returns how many messages it sent.
    async fn send_once(&self, transport: &mut Transport) -> Result<usize, SendError> {
        let from = self.db.checkpoint(CHECKPOINT).await?;
        let (entries, reached) = self.db.events_of_types_after(from, &["notification"], BATCH).await?;
        if reached == from {
            return Ok(0);
        }
        let mut sent = Vec::new();
        for entry in &entries {
            let Ok(NotificationEvent::NotificationQueued { message, .. }) = entry.event.decode::<NotificationEvent>()
            else {
                continue;
            };
            // Erased: delivered before (its key destroyed after a crash
            // between the checkpoint and the key), nothing left to send.
            if message.mail_to.is_empty() {
                continue;
            }
            let id = entry.event.aggregate_id.clone();
            match self.deliver(transport, &id, &message).await {
                Ok(()) => {}
                Err(Delivery::Permanent(reason)) => {
                    // A message no retry can deliver (a malformed address, a
                    // refusal for good) would stop every later one: report, skip.
                    metrics::counter!("roster_notifications_undeliverable_total").increment(1);
                    tracing::error!(notification = %id, template = %message.template, %reason, "notification undeliverable; skipped");
                }
                Err(Delivery::Retry(reason)) => return Err(SendError::Transport(reason)),
            }
            sent.push(id);
        }
        if !self.db.advance_checkpoint(CHECKPOINT, from, reached).await? {
            // Another sender moved it (a fail-over): its view wins.
            return Ok(0);
        }
        for id in &sent {
            self.db.destroy_personal_key(id).await?;
        }
        metrics::counter!("roster_notifications_sent_total").increment(sent.len() as u64);
        Ok(sent.len().max(1))
    }

    async fn deliver(&self, transport: &mut Transport, id: &str, message: &Message) -> Result<(), Delivery> {
        match transport {
            Transport::Smtp(smtp) => {
                let email = self.email(id, message)?;
                smtp.send(email).await.map(|_| ()).map_err(|e| {
                    if e.is_permanent() {
                        Delivery::Permanent(e.to_string())
                    } else {
                        Delivery::Retry(format!("SMTP: {e}"))
                    }
                })
            }
            Transport::Files(dir) => {
                let email = self.email(id, message)?;
                write_eml(dir, id, &email.formatted())
                    .await
                    .map_err(|e| Delivery::Retry(format!("outbox {}: {e}", dir.display())))
            }
            Transport::Kafka { settings, topic, producer } => {
                if producer.is_none() {
                    crate::publisher::create_topics(settings, std::slice::from_ref(topic))
                        .await
                        .map_err(Delivery::Retry)?;
                    *producer = Some(
                        crate::publisher::new_producer(settings)
                            .map_err(|e| Delivery::Retry(crate::publisher::without_values(e)))?,
                    );
                }
                let producer = producer.as_ref().expect("built above");
                let record = OutgoingRecord {
                    topic: topic.clone(),
                    key: id.to_string(),
                    payload: elevate_record(message).to_string().into_bytes(),
                    headers: vec![("content-type", "application/json".into()), ("notification_id", id.to_string())],
                };
                crate::publisher::send_all(producer, std::slice::from_ref(&record))
                    .await
                    .map_err(|e| Delivery::Retry(e.to_string()))
            }
        }
    }

    fn email(&self, id: &str, message: &Message) -> Result<lettre::Message, Delivery> {
        let from = self.settings.from.parse().map_err(|e| Delivery::Permanent(format!("SMTP_FROM: {e}")))?;
        let to = message.mail_to.parse().map_err(|e| Delivery::Permanent(format!("recipient: {e}")))?;
        lettre::Message::builder()
            .from(from)
            .to(to)
            .subject(message.mail_subject.clone())
            .message_id(Some(format!("<{id}@roster>")))
            .header(ContentType::TEXT_HTML)
            .body(message.mail_body.clone())
            .map_err(|e| Delivery::Permanent(e.to_string()))
    }
}

enum Delivery {
    Permanent(String),
    Retry(String),
}

/// ELEVATE's notification message (what its notification service consumes).
pub fn elevate_record(message: &Message) -> serde_json::Value {
    serde_json::json!({
        "type": "email",
        "email": {"to": message.mail_to, "subject": message.mail_subject, "body": message.mail_body},
    })
}

/// `<dir>/<id>.eml`, written whole (a temporary file renamed into place),
/// so a reader never sees half a message and a repeat overwrites it.
async fn write_eml(dir: &std::path::Path, id: &str, bytes: &[u8]) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let partial = dir.join(format!(".{id}.eml.partial"));
    tokio::fs::write(&partial, bytes).await?;
    tokio::fs::rename(&partial, dir.join(format!("{id}.eml"))).await
}
