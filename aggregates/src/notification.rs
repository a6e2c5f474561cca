//! A message to send (the outbox): queued in the same commit as the change
//! that causes it (an OTP issued, a user invited), and delivered at least
//! once by the service's sender, which tails the log from its checkpoint.
//!
//! The recipient, subject and body are personal fields, sealed in the log
//! under a key of the message's own (the service destroys it once the
//! message is delivered); the body, which may carry an OTP, never leaves the
//! service in any export, audit read or Kafka record.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{domain_event, Aggregate, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Which template made it (`registration_otp`, `reset_otp`, `bulk_invite`, …).
    pub template: String,
    pub mail_to: String,
    pub mail_subject: String,
    pub mail_body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotificationCommand {
    Queue { message: Message, at: Timestamp },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NotificationEvent {
    NotificationQueued { message: Message, at: Timestamp },
}
domain_event!(NotificationEvent, [NotificationQueued]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NotificationError {
    #[error("notification already queued")]
    AlreadyQueued,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub queued: bool,
}

impl Aggregate for Notification {
    const TYPE: &'static str = "notification";
    type Command = NotificationCommand;
    type Event = NotificationEvent;
    type Error = NotificationError;

    fn decide(&self, command: NotificationCommand) -> Result<Vec<NotificationEvent>, NotificationError> {
        match command {
            NotificationCommand::Queue { message, at } => {
                if self.queued {
                    return Err(NotificationError::AlreadyQueued);
                }
                Ok(vec![NotificationEvent::NotificationQueued { message, at }])
            }
        }
    }

    fn apply(&mut self, event: NotificationEvent) {
        match event {
            NotificationEvent::NotificationQueued { .. } => self.queued = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestFramework;

    #[test]
    fn a_message_is_queued_once() {
        let at = chrono::Utc::now();
        let message = Message {
            template: "reset_otp".into(),
            mail_to: "a@b.co".into(),
            mail_subject: "s".into(),
            mail_body: "b".into(),
        };
        TestFramework::<Notification>::given_no_previous_events()
            .when(NotificationCommand::Queue { message: message.clone(), at })
            .then_expect_events(vec![NotificationEvent::NotificationQueued { message: message.clone(), at }]);
        TestFramework::<Notification>::given(vec![NotificationEvent::NotificationQueued {
            message: message.clone(),
            at,
        }])
        .when(NotificationCommand::Queue { message, at })
        .then_expect_error(NotificationError::AlreadyQueued);
    }
}
