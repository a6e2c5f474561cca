//! A notification template of one organisation (ELEVATE's
//! `notification/template`): the subject and body a message of its `code`
//! is rendered from. Its id derives from the organisation and code, so two
//! creates of one code collide in the event store and one wins.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{domain_event, Aggregate, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateDefinition {
    pub numeric_id: i64,
    pub organization_id: i64,
    pub code: String,
    /// ELEVATE's `type`: `email`.
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub email_header: Option<String>,
    pub email_footer: Option<String>,
    /// `ACTIVE` or `INACTIVE`; an inactive template leaves the default in force.
    pub status: String,
    /// The numeric id of the admin who wrote this version.
    pub written_by: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TemplateCommand {
    Create { template: TemplateDefinition, at: Timestamp },
    Update { template: TemplateDefinition, at: Timestamp },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TemplateEvent {
    TemplateCreated { template: TemplateDefinition, at: Timestamp },
    TemplateUpdated { template: TemplateDefinition, at: Timestamp },
}
domain_event!(TemplateEvent, [TemplateCreated, TemplateUpdated]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("notification template already exists")]
    AlreadyExists,
    #[error("notification template not found")]
    NotFound,
    #[error("a notification template keeps its organisation and code")]
    Moved,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NotificationTemplate {
    pub definition: Option<TemplateDefinition>,
}

impl Aggregate for NotificationTemplate {
    const TYPE: &'static str = "notification_template";
    type Command = TemplateCommand;
    type Event = TemplateEvent;
    type Error = TemplateError;

    fn decide(&self, command: TemplateCommand) -> Result<Vec<TemplateEvent>, TemplateError> {
        match command {
            TemplateCommand::Create { template, at } => match self.definition {
                Some(_) => Err(TemplateError::AlreadyExists),
                None => Ok(vec![TemplateEvent::TemplateCreated { template, at }]),
            },
            TemplateCommand::Update { template, at } => {
                let current = self.definition.as_ref().ok_or(TemplateError::NotFound)?;
                if current.organization_id != template.organization_id
                    || current.code != template.code
                    || current.numeric_id != template.numeric_id
                {
                    return Err(TemplateError::Moved);
                }
                if *current == template {
                    return Ok(vec![]);
                }
                Ok(vec![TemplateEvent::TemplateUpdated { template, at }])
            }
        }
    }

    fn apply(&mut self, event: TemplateEvent) {
        match event {
            TemplateEvent::TemplateCreated { template, .. } | TemplateEvent::TemplateUpdated { template, .. } => {
                self.definition = Some(template)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestFramework;

    fn template(subject: &str) -> TemplateDefinition {
        TemplateDefinition {
            numeric_id: 1,
            organization_id: 1,
            code: "emailotp".into(),
            kind: "email".into(),
            subject: subject.into(),
            body: "{{ otp }}".into(),
            email_header: None,
            email_footer: None,
            status: "ACTIVE".into(),
            written_by: 9,
        }
    }

    #[test]
    fn created_once_then_updated_in_place() {
        let at = chrono::Utc::now();
        TestFramework::<NotificationTemplate>::given(vec![TemplateEvent::TemplateCreated {
            template: template("a"),
            at,
        }])
        .when(TemplateCommand::Create { template: template("b"), at })
        .then_expect_error(TemplateError::AlreadyExists);
        TestFramework::<NotificationTemplate>::given(vec![TemplateEvent::TemplateCreated {
            template: template("a"),
            at,
        }])
        .when(TemplateCommand::Update { template: template("b"), at })
        .then_expect_events(vec![TemplateEvent::TemplateUpdated { template: template("b"), at }]);
        let mut moved = template("b");
        moved.code = "other".into();
        TestFramework::<NotificationTemplate>::given(vec![TemplateEvent::TemplateCreated {
            template: template("a"),
            at,
        }])
        .when(TemplateCommand::Update { template: moved, at })
        .then_expect_error(TemplateError::Moved);
        TestFramework::<NotificationTemplate>::given_no_previous_events()
            .when(TemplateCommand::Update { template: template("b"), at })
            .then_expect_error(TemplateError::NotFound);
    }
}
