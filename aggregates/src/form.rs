//! Forms: the UI form definitions clients fetch by type and sub-type (ELEVATE's
//! `form` API), one per type and organisation. Each change raises the form's
//! version, which clients compare (ELEVATE's `meta.formsVersion`) to know
//! when to fetch it again.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{domain_event, Aggregate, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormDefinition {
    pub numeric_id: i64,
    pub organization_id: i64,
    pub form_type: String,
    pub sub_type: String,
    /// The form itself, as the client sent it: Roster stores it, never reads it.
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FormCommand {
    Create { form: FormDefinition, at: Timestamp },
    Update { form: FormDefinition, at: Timestamp },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FormEvent {
    FormCreated {
        form: FormDefinition,
        at: Timestamp,
    },
    /// `version`: the form's version after this change (1 after the first).
    FormUpdated {
        form: FormDefinition,
        version: i64,
        at: Timestamp,
    },
}
domain_event!(FormEvent, [FormCreated, FormUpdated]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FormError {
    #[error("form already exists")]
    AlreadyExists,
    #[error("form not found")]
    NotFound,
    #[error("a form keeps its organisation")]
    OrganizationChanged,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Form {
    pub definition: Option<FormDefinition>,
    pub version: i64,
}

impl Aggregate for Form {
    const TYPE: &'static str = "form";
    type Command = FormCommand;
    type Event = FormEvent;
    type Error = FormError;

    fn decide(&self, command: FormCommand) -> Result<Vec<FormEvent>, FormError> {
        let event = match (command, &self.definition) {
            (FormCommand::Create { .. }, Some(_)) => return Err(FormError::AlreadyExists),
            (FormCommand::Create { form, at }, None) => FormEvent::FormCreated { form, at },
            (FormCommand::Update { .. }, None) => return Err(FormError::NotFound),
            (FormCommand::Update { form, .. }, Some(current)) if form.organization_id != current.organization_id => {
                return Err(FormError::OrganizationChanged)
            }
            (FormCommand::Update { form, at }, Some(_)) => {
                FormEvent::FormUpdated { form, version: self.version + 1, at }
            }
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: FormEvent) {
        match event {
            FormEvent::FormCreated { form, .. } => {
                self.definition = Some(form);
                self.version = 0;
            }
            FormEvent::FormUpdated { form, version, .. } => {
                self.definition = Some(form);
                self.version = version;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestFramework;

    const AT: Timestamp = chrono::DateTime::UNIX_EPOCH;

    fn form(organization_id: i64) -> FormDefinition {
        FormDefinition {
            numeric_id: 1,
            organization_id,
            form_type: "profile".into(),
            sub_type: "profileForm".into(),
            data: serde_json::json!({"template_name": "defaultTemplate"}),
        }
    }

    #[test]
    fn each_update_raises_the_version() {
        let created = FormEvent::FormCreated { form: form(1), at: AT };
        let first = FormEvent::FormUpdated { form: form(1), version: 1, at: AT };
        TestFramework::<Form>::given(vec![created.clone()])
            .when(FormCommand::Update { form: form(1), at: AT })
            .then_expect_events(vec![first.clone()]);
        TestFramework::<Form>::given(vec![created.clone(), first])
            .when(FormCommand::Update { form: form(1), at: AT })
            .then_expect_events(vec![FormEvent::FormUpdated { form: form(1), version: 2, at: AT }]);
    }

    #[test]
    fn refusals() {
        let created = FormEvent::FormCreated { form: form(1), at: AT };
        TestFramework::<Form>::given(vec![created.clone()])
            .when(FormCommand::Create { form: form(1), at: AT })
            .then_expect_error(FormError::AlreadyExists);
        TestFramework::<Form>::given_no_previous_events()
            .when(FormCommand::Update { form: form(1), at: AT })
            .then_expect_error(FormError::NotFound);
        TestFramework::<Form>::given(vec![created])
            .when(FormCommand::Update { form: form(2), at: AT })
            .then_expect_error(FormError::OrganizationChanged);
    }
}
