//! A user's request for a role in their organisation (ELEVATE's
//! "ApproveOrgRequest"): REQUESTED, then UNDER_REVIEW, then APPROVED or
//! REJECTED. A decided request is final.

use crate::Aggregate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::{domain_event, Timestamp};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RequestStatus {
    #[default]
    NotRequested,
    Requested,
    UnderReview,
    Approved,
    Rejected,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::NotRequested => "NOT_REQUESTED",
            RequestStatus::Requested => "REQUESTED",
            RequestStatus::UnderReview => "UNDER_REVIEW",
            RequestStatus::Approved => "APPROVED",
            RequestStatus::Rejected => "REJECTED",
        }
    }

    /// The statuses a handler may set.
    pub fn parse_decision(raw: &str) -> Option<RequestStatus> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "APPROVED" => Some(RequestStatus::Approved),
            "REJECTED" => Some(RequestStatus::Rejected),
            "UNDER_REVIEW" => Some(RequestStatus::UnderReview),
            _ => None,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, RequestStatus::Approved | RequestStatus::Rejected)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleRequestDetails {
    pub numeric_id: i64,
    pub requester_uuid: String,
    pub requester_id: i64,
    pub role_id: i64,
    pub organization_id: i64,
    pub form_data: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoleRequestCommand {
    Submit {
        details: RoleRequestDetails,
        at: Timestamp,
    },
    SetStatus {
        status: RequestStatus,
        handler_uuid: String,
        handler_id: i64,
        comments: Vec<String>,
        at: Timestamp,
    },
    /// The requester is erased: what they wrote in the form goes with them.
    EraseForm {
        at: Timestamp,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoleRequestEvent {
    RoleRequested {
        details: RoleRequestDetails,
        at: Timestamp,
    },
    RoleRequestStatusChanged {
        status: RequestStatus,
        handler_uuid: String,
        handler_id: i64,
        comments: Vec<String>,
        at: Timestamp,
    },
    RoleRequestFormErased {
        at: Timestamp,
    },
}
domain_event!(RoleRequestEvent, [RoleRequested, RoleRequestStatusChanged, RoleRequestFormErased]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RoleRequestError {
    #[error("request already submitted")]
    AlreadySubmitted,
    #[error("request not found")]
    NotFound,
    #[error("request has already been decided")]
    AlreadyDecided,
    #[error("status must be APPROVED, REJECTED or UNDER_REVIEW")]
    InvalidStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoleRequest {
    pub status: RequestStatus,
    pub details: Option<RoleRequestDetails>,
    pub handler_id: Option<i64>,
    pub comments: Vec<String>,
}

impl Aggregate for RoleRequest {
    const TYPE: &'static str = "role_request";
    type Command = RoleRequestCommand;
    type Event = RoleRequestEvent;
    type Error = RoleRequestError;

    fn decide(&self, command: RoleRequestCommand) -> Result<Vec<RoleRequestEvent>, RoleRequestError> {
        let event = match command {
            RoleRequestCommand::Submit { details, at } => {
                if self.status != RequestStatus::NotRequested {
                    return Err(RoleRequestError::AlreadySubmitted);
                }
                RoleRequestEvent::RoleRequested { details, at }
            }
            RoleRequestCommand::SetStatus { status, handler_uuid, handler_id, comments, at } => {
                match self.status {
                    RequestStatus::NotRequested => return Err(RoleRequestError::NotFound),
                    s if s.is_final() => return Err(RoleRequestError::AlreadyDecided),
                    _ => {}
                }
                if matches!(status, RequestStatus::NotRequested | RequestStatus::Requested) {
                    return Err(RoleRequestError::InvalidStatus);
                }
                RoleRequestEvent::RoleRequestStatusChanged { status, handler_uuid, handler_id, comments, at }
            }
            RoleRequestCommand::EraseForm { at } => match &self.details {
                None => return Err(RoleRequestError::NotFound),
                Some(d) if d.form_data == serde_json::json!({}) => return Ok(vec![]),
                Some(_) => RoleRequestEvent::RoleRequestFormErased { at },
            },
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: RoleRequestEvent) {
        match event {
            RoleRequestEvent::RoleRequested { details, .. } => {
                self.status = RequestStatus::Requested;
                self.details = Some(details);
            }
            RoleRequestEvent::RoleRequestStatusChanged { status, handler_id, comments, .. } => {
                self.status = status;
                self.handler_id = Some(handler_id);
                self.comments.extend(comments);
            }
            RoleRequestEvent::RoleRequestFormErased { .. } => {
                if let Some(details) = &mut self.details {
                    details.form_data = serde_json::json!({});
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestFramework;

    type Test = TestFramework<RoleRequest>;
    const AT: Timestamp = chrono::DateTime::UNIX_EPOCH;

    fn details() -> RoleRequestDetails {
        RoleRequestDetails {
            numeric_id: 1,
            requester_uuid: "u".into(),
            requester_id: 7,
            role_id: 2,
            organization_id: 1,
            form_data: serde_json::json!({}),
        }
    }

    fn requested() -> RoleRequestEvent {
        RoleRequestEvent::RoleRequested { details: details(), at: AT }
    }

    fn set(status: RequestStatus) -> RoleRequestCommand {
        RoleRequestCommand::SetStatus {
            status,
            handler_uuid: "h".into(),
            handler_id: 9,
            comments: vec!["ok".into()],
            at: AT,
        }
    }

    fn changed(status: RequestStatus) -> RoleRequestEvent {
        RoleRequestEvent::RoleRequestStatusChanged {
            status,
            handler_uuid: "h".into(),
            handler_id: 9,
            comments: vec!["ok".into()],
            at: AT,
        }
    }

    #[test]
    fn submitted_once() {
        Test::given_no_previous_events()
            .when(RoleRequestCommand::Submit { details: details(), at: AT })
            .then_expect_events(vec![requested()]);
        Test::given(vec![requested()])
            .when(RoleRequestCommand::Submit { details: details(), at: AT })
            .then_expect_error(RoleRequestError::AlreadySubmitted);
    }

    #[test]
    fn decisions_follow_the_lifecycle() {
        for status in [RequestStatus::Approved, RequestStatus::Rejected, RequestStatus::UnderReview] {
            Test::given(vec![requested()]).when(set(status)).then_expect_events(vec![changed(status)]);
        }
        Test::given(vec![requested(), changed(RequestStatus::UnderReview)])
            .when(set(RequestStatus::Approved))
            .then_expect_events(vec![changed(RequestStatus::Approved)]);
        for decided in [RequestStatus::Approved, RequestStatus::Rejected] {
            Test::given(vec![requested(), changed(decided)])
                .when(set(RequestStatus::Approved))
                .then_expect_error(RoleRequestError::AlreadyDecided);
        }
        Test::given_no_previous_events()
            .when(set(RequestStatus::Approved))
            .then_expect_error(RoleRequestError::NotFound);
        Test::given(vec![requested()])
            .when(set(RequestStatus::Requested))
            .then_expect_error(RoleRequestError::InvalidStatus);
    }

    #[test]
    fn an_erased_requesters_form_is_emptied_once() {
        let mut with_form = details();
        with_form.form_data = serde_json::json!({"about": "me"});
        let requested_with_form = RoleRequestEvent::RoleRequested { details: with_form, at: AT };
        let erased = RoleRequestEvent::RoleRequestFormErased { at: AT };
        Test::given(vec![requested_with_form.clone()])
            .when(RoleRequestCommand::EraseForm { at: AT })
            .then_expect_events(vec![erased.clone()]);
        Test::given(vec![requested_with_form, erased])
            .when(RoleRequestCommand::EraseForm { at: AT })
            .then_expect_events(vec![]);
        Test::given_no_previous_events()
            .when(RoleRequestCommand::EraseForm { at: AT })
            .then_expect_error(RoleRequestError::NotFound);
    }

    #[test]
    fn decisions_parse_case_insensitively() {
        assert_eq!(RequestStatus::parse_decision("approved"), Some(RequestStatus::Approved));
        assert_eq!(RequestStatus::parse_decision("UNDER_REVIEW"), Some(RequestStatus::UnderReview));
        assert_eq!(RequestStatus::parse_decision("REQUESTED"), None);
    }
}
