//! One-time passwords of one identity and purpose (a registration, a
//! password reset), keyed by a hash of the purpose and the normalised email
//! so the log never spells the address out.
//!
//! Only a keyed hash of the code is kept (the service computes it); the
//! aggregate compares hashes, counts wrong tries and issues. Parallel tries
//! on one OTP are serialised by the aggregate's sequence (optimistic
//! concurrency), so however many arrive at once, at most `max_wrong_tries`
//! wrong ones are recorded and exactly one right one is used.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{domain_event, Aggregate, Timestamp};

/// How many issues this state remembers: more than any resend limit needs.
const REMEMBERED_ISSUES: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OtpCommand {
    /// A new code replaces the one before it; refused past `resend_limit`
    /// issues within `resend_window_seconds`.
    Issue { otp_hash: String, expires_at: Timestamp, resend_limit: u32, resend_window_seconds: i64, at: Timestamp },
    /// The right code, still valid: it is used up.
    Consume { otp_hash: String, max_wrong_tries: u32, at: Timestamp },
    /// A wrong code for a valid OTP: one more wrong try.
    RecordWrongTry { otp_hash: String, max_wrong_tries: u32, at: Timestamp },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OtpEvent {
    OtpIssued { otp_hash: String, expires_at: Timestamp, at: Timestamp },
    OtpRejected { wrong_tries: u32, at: Timestamp },
    OtpUsed { at: Timestamp },
}
domain_event!(OtpEvent, [OtpIssued, OtpRejected, OtpUsed]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum OtpError {
    /// No code is waiting (none issued, used, expired or tried too often),
    /// or the code is wrong: one refusal, so a client learns nothing more.
    #[error("the OTP is not valid")]
    Invalid,
    #[error("too many OTPs asked for; retry after {retry_at}")]
    ResendLimit { retry_at: Timestamp },
}

/// What a presented code is, against this state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpCheck {
    Valid,
    Wrong,
    /// Nothing to try it against: none issued, used, expired or exhausted.
    Unusable,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Otp {
    /// The current code's hash; `None` once used.
    pub otp_hash: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub wrong_tries: u32,
    /// When the last codes were issued, oldest first.
    pub issued: Vec<Timestamp>,
}

impl Otp {
    pub fn check(&self, otp_hash: &str, max_wrong_tries: u32, at: Timestamp) -> OtpCheck {
        let Some(current) = &self.otp_hash else { return OtpCheck::Unusable };
        if self.expires_at.is_none_or(|expires| expires <= at) || self.wrong_tries >= max_wrong_tries {
            return OtpCheck::Unusable;
        }
        if constant_time_eq(current.as_bytes(), otp_hash.as_bytes()) {
            OtpCheck::Valid
        } else {
            OtpCheck::Wrong
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Aggregate for Otp {
    const TYPE: &'static str = "otp";
    type Command = OtpCommand;
    type Event = OtpEvent;
    type Error = OtpError;

    fn decide(&self, command: OtpCommand) -> Result<Vec<OtpEvent>, OtpError> {
        match command {
            OtpCommand::Issue { otp_hash, expires_at, resend_limit, resend_window_seconds, at } => {
                let window_start = at - chrono::Duration::seconds(resend_window_seconds);
                let recent: Vec<&Timestamp> = self.issued.iter().filter(|t| **t > window_start).collect();
                if recent.len() >= resend_limit as usize {
                    // The oldest issue in the window leaves it first.
                    let oldest = recent.first().copied().copied().unwrap_or(at);
                    return Err(OtpError::ResendLimit {
                        retry_at: oldest + chrono::Duration::seconds(resend_window_seconds),
                    });
                }
                Ok(vec![OtpEvent::OtpIssued { otp_hash, expires_at, at }])
            }
            OtpCommand::Consume { otp_hash, max_wrong_tries, at } => match self.check(&otp_hash, max_wrong_tries, at) {
                OtpCheck::Valid => Ok(vec![OtpEvent::OtpUsed { at }]),
                _ => Err(OtpError::Invalid),
            },
            OtpCommand::RecordWrongTry { otp_hash, max_wrong_tries, at } => {
                match self.check(&otp_hash, max_wrong_tries, at) {
                    OtpCheck::Wrong => Ok(vec![OtpEvent::OtpRejected { wrong_tries: self.wrong_tries + 1, at }]),
                    // Nothing to count against; the caller answers "invalid" all the same.
                    _ => Ok(vec![]),
                }
            }
        }
    }

    fn apply(&mut self, event: OtpEvent) {
        match event {
            OtpEvent::OtpIssued { otp_hash, expires_at, at } => {
                self.otp_hash = Some(otp_hash);
                self.expires_at = Some(expires_at);
                self.wrong_tries = 0;
                self.issued.push(at);
                if self.issued.len() > REMEMBERED_ISSUES {
                    self.issued.remove(0);
                }
            }
            OtpEvent::OtpRejected { wrong_tries, .. } => self.wrong_tries = wrong_tries,
            OtpEvent::OtpUsed { .. } => {
                self.otp_hash = None;
                self.expires_at = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestFramework;

    type Test = TestFramework<Otp>;

    fn at(seconds: i64) -> Timestamp {
        chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc)
            + chrono::Duration::seconds(seconds)
    }

    fn issued(hash: &str, seconds: i64) -> OtpEvent {
        OtpEvent::OtpIssued { otp_hash: hash.into(), expires_at: at(seconds + 300), at: at(seconds) }
    }

    fn issue(hash: &str, seconds: i64) -> OtpCommand {
        OtpCommand::Issue {
            otp_hash: hash.into(),
            expires_at: at(seconds + 300),
            resend_limit: 3,
            resend_window_seconds: 3600,
            at: at(seconds),
        }
    }

    #[test]
    fn the_right_code_is_used_once() {
        Test::given(vec![issued("h", 0)])
            .when(OtpCommand::Consume { otp_hash: "h".into(), max_wrong_tries: 3, at: at(10) })
            .then_expect_events(vec![OtpEvent::OtpUsed { at: at(10) }]);
        Test::given(vec![issued("h", 0), OtpEvent::OtpUsed { at: at(10) }])
            .when(OtpCommand::Consume { otp_hash: "h".into(), max_wrong_tries: 3, at: at(11) })
            .then_expect_error(OtpError::Invalid);
    }

    #[test]
    fn an_expired_code_is_refused() {
        Test::given(vec![issued("h", 0)])
            .when(OtpCommand::Consume { otp_hash: "h".into(), max_wrong_tries: 3, at: at(300) })
            .then_expect_error(OtpError::Invalid);
    }

    #[test]
    fn three_wrong_tries_burn_the_code() {
        let wrong = |n: u32| OtpEvent::OtpRejected { wrong_tries: n, at: at(5) };
        Test::given(vec![issued("h", 0), wrong(1), wrong(2)])
            .when(OtpCommand::RecordWrongTry { otp_hash: "x".into(), max_wrong_tries: 3, at: at(6) })
            .then_expect_events(vec![OtpEvent::OtpRejected { wrong_tries: 3, at: at(6) }]);
        Test::given(vec![issued("h", 0), wrong(1), wrong(2), wrong(3)])
            .when(OtpCommand::Consume { otp_hash: "h".into(), max_wrong_tries: 3, at: at(7) })
            .then_expect_error(OtpError::Invalid);
        Test::given(vec![issued("h", 0), wrong(1), wrong(2), wrong(3)])
            .when(OtpCommand::RecordWrongTry { otp_hash: "x".into(), max_wrong_tries: 3, at: at(7) })
            .then_expect_events(vec![]);
        // A new code counts afresh.
        Test::given(vec![issued("h", 0), wrong(1), wrong(2), wrong(3), issued("k", 8)])
            .when(OtpCommand::Consume { otp_hash: "k".into(), max_wrong_tries: 3, at: at(9) })
            .then_expect_events(vec![OtpEvent::OtpUsed { at: at(9) }]);
    }

    #[test]
    fn a_new_code_replaces_the_old_one() {
        Test::given(vec![issued("h", 0), issued("k", 1)])
            .when(OtpCommand::Consume { otp_hash: "h".into(), max_wrong_tries: 3, at: at(2) })
            .then_expect_error(OtpError::Invalid);
    }

    #[test]
    fn issues_past_the_resend_limit_wait_for_the_window() {
        Test::given(vec![issued("a", 0), issued("b", 10), issued("c", 20)])
            .when(issue("d", 30))
            .then_expect_error(OtpError::ResendLimit { retry_at: at(3600) });
        Test::given(vec![issued("a", 0), issued("b", 10), issued("c", 20)])
            .when(issue("d", 3601))
            .then_expect_events(vec![issued("d", 3601)]);
    }
}
