//! Notifications as an outbox. A message to send is a `Notification`
//! aggregate's `NotificationQueued` event, decided in the same unit of work
//! (one commit) as the change that causes it; the sender (`sender`) tails
//! the log from its checkpoint and delivers each message at least once.
//!
//! The message's recipient, subject and body are personal fields of the
//! log (`crate::privacy`), sealed under a key of the message's own; once the
//! message is delivered the sender destroys that key, so an OTP it carried
//! is unreadable from then on (crypto-shredding). Until then the body is
//! readable only by the sender: exports, the audit API and Kafka records drop
//! `mail_body` like every credential field.

pub mod sender;
pub mod store;
pub mod templates;

use aggregates::{Message, Notification, NotificationCommand};
use serde_json::Value;
use uuid::Uuid;

use crate::bootstrap::DEFAULT_ORGANIZATION_ID;
use crate::error::ServiceError;
use crate::services::Services;
use crate::unit_of_work::UnitOfWork;
use templates::TemplateText;

impl Services {
    /// The text of template `code` for organisation `organization_id`: its
    /// own, else the default organisation's, else the built-in one.
    pub async fn template_text(&self, organization_id: i64, code: &str) -> Result<TemplateText, ServiceError> {
        for organization in [organization_id, DEFAULT_ORGANIZATION_ID] {
            if let Some(text) = self.stored_template(organization, code).await? {
                return Ok(text);
            }
        }
        templates::default_template(code)
            .ok_or_else(|| ServiceError::internal(format!("no notification template {code}")))
    }

    /// Renders template `code` for `to` and queues the message in `unit`,
    /// so it is sent if and only if the unit commits.
    pub async fn queue_message(
        &self,
        unit: &mut UnitOfWork,
        organization_id: i64,
        code: &str,
        to: &str,
        variables: &Value,
    ) -> Result<(), ServiceError> {
        let template = self.template_text(organization_id, code).await?;
        let (subject, body) = templates::render(&template, variables).map_err(ServiceError::internal)?;
        let message =
            Message { template: code.to_string(), mail_to: to.to_string(), mail_subject: subject, mail_body: body };
        let id = Uuid::new_v4().to_string();
        unit.decide_new::<Notification>(&id, NotificationCommand::Queue { message, at: chrono::Utc::now() }).await?;
        Ok(())
    }
}
