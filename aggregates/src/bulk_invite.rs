//! Bulk invites (ELEVATE's `org-admin/bulkUserCreate`): a job that reads an
//! uploaded CSV and creates its users in batches. The job's progress is its
//! own events: each batch is recorded in the same commit as the users it
//! created, so a worker that dies between batches resumes at the next one
//! and never creates a user twice. A batch must name the next batch number,
//! so two workers racing on one job cannot both record it.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{domain_event, Aggregate, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkInviteJob {
    pub numeric_id: i64,
    /// The organisation the users are created in (the uploader's).
    pub organization_id: i64,
    /// The uploader: numeric id and UUID.
    pub created_by: i64,
    pub created_by_uuid: String,
    /// Whether the uploader was a system admin (may grant any role).
    pub by_admin: bool,
    /// The CSV in the file store, and its file name.
    pub input_path: String,
    pub name: String,
}

/// How the rows of a batch (or a whole job) ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowCounts {
    pub created: u64,
    pub existing: u64,
    pub invalid: u64,
}

impl RowCounts {
    pub fn rows(&self) -> u64 {
        self.created + self.existing + self.invalid
    }

    pub fn add(&mut self, other: &RowCounts) {
        self.created += other.created;
        self.existing += other.existing;
        self.invalid += other.invalid;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BulkInviteCommand {
    Upload {
        job: BulkInviteJob,
        at: Timestamp,
    },
    /// Batch `batch` (0-based) is done: `counts` are its rows.
    RecordBatch {
        batch: u64,
        counts: RowCounts,
        at: Timestamp,
    },
    Finish {
        output_path: String,
        at: Timestamp,
    },
    Fail {
        reason: String,
        at: Timestamp,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BulkInviteEvent {
    BulkInviteUploaded { job: BulkInviteJob, at: Timestamp },
    BulkInviteBatchProcessed { batch: u64, counts: RowCounts, at: Timestamp },
    BulkInviteFinished { output_path: String, counts: RowCounts, at: Timestamp },
    BulkInviteFailed { reason: String, at: Timestamp },
}
domain_event!(BulkInviteEvent, [BulkInviteUploaded, BulkInviteBatchProcessed, BulkInviteFinished, BulkInviteFailed]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum BulkInviteError {
    #[error("bulk invite already exists")]
    AlreadyExists,
    #[error("bulk invite not found")]
    NotFound,
    #[error("the bulk invite is finished")]
    Finished,
    #[error("batch {given} is not the next one ({expected})")]
    OutOfOrder { expected: u64, given: u64 },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum BulkInviteStatus {
    #[default]
    Uploaded,
    Processed,
    Failed,
}

impl BulkInviteStatus {
    /// ELEVATE's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkInviteStatus::Uploaded => "UPLOADED",
            BulkInviteStatus::Processed => "PROCESSED",
            BulkInviteStatus::Failed => "FAILED",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BulkInvite {
    pub job: Option<BulkInviteJob>,
    pub status: BulkInviteStatus,
    /// Batches recorded so far: the next one to process.
    pub batches_done: u64,
    pub counts: RowCounts,
    pub output_path: Option<String>,
}

impl Aggregate for BulkInvite {
    const TYPE: &'static str = "bulk_invite";
    type Command = BulkInviteCommand;
    type Event = BulkInviteEvent;
    type Error = BulkInviteError;

    fn decide(&self, command: BulkInviteCommand) -> Result<Vec<BulkInviteEvent>, BulkInviteError> {
        if let BulkInviteCommand::Upload { job, at } = command {
            return match self.job {
                Some(_) => Err(BulkInviteError::AlreadyExists),
                None => Ok(vec![BulkInviteEvent::BulkInviteUploaded { job, at }]),
            };
        }
        if self.job.is_none() {
            return Err(BulkInviteError::NotFound);
        }
        if self.status != BulkInviteStatus::Uploaded {
            return Err(BulkInviteError::Finished);
        }
        let event = match command {
            BulkInviteCommand::Upload { .. } => unreachable!("handled above"),
            BulkInviteCommand::RecordBatch { batch, .. } if batch != self.batches_done => {
                return Err(BulkInviteError::OutOfOrder { expected: self.batches_done, given: batch })
            }
            BulkInviteCommand::RecordBatch { batch, counts, at } => {
                BulkInviteEvent::BulkInviteBatchProcessed { batch, counts, at }
            }
            BulkInviteCommand::Finish { output_path, at } => {
                BulkInviteEvent::BulkInviteFinished { output_path, counts: self.counts, at }
            }
            BulkInviteCommand::Fail { reason, at } => BulkInviteEvent::BulkInviteFailed { reason, at },
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: BulkInviteEvent) {
        match event {
            BulkInviteEvent::BulkInviteUploaded { job, .. } => self.job = Some(job),
            BulkInviteEvent::BulkInviteBatchProcessed { counts, .. } => {
                self.batches_done += 1;
                self.counts.add(&counts);
            }
            BulkInviteEvent::BulkInviteFinished { output_path, .. } => {
                self.status = BulkInviteStatus::Processed;
                self.output_path = Some(output_path);
            }
            BulkInviteEvent::BulkInviteFailed { .. } => self.status = BulkInviteStatus::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestFramework;

    const AT: Timestamp = chrono::DateTime::UNIX_EPOCH;

    fn job() -> BulkInviteJob {
        BulkInviteJob {
            numeric_id: 1,
            organization_id: 2,
            created_by: 3,
            created_by_uuid: "u-3".into(),
            by_admin: false,
            input_path: "users/u-3-1-a.csv".into(),
            name: "a.csv".into(),
        }
    }

    fn counts(created: u64) -> RowCounts {
        RowCounts { created, existing: 1, invalid: 2 }
    }

    fn uploaded() -> BulkInviteEvent {
        BulkInviteEvent::BulkInviteUploaded { job: job(), at: AT }
    }

    #[test]
    fn batches_are_recorded_in_order_and_summed_at_the_end() {
        TestFramework::<BulkInvite>::given(vec![uploaded()])
            .when(BulkInviteCommand::RecordBatch { batch: 0, counts: counts(5), at: AT })
            .then_expect_events(vec![BulkInviteEvent::BulkInviteBatchProcessed {
                batch: 0,
                counts: counts(5),
                at: AT,
            }]);
        let two = vec![
            uploaded(),
            BulkInviteEvent::BulkInviteBatchProcessed { batch: 0, counts: counts(5), at: AT },
            BulkInviteEvent::BulkInviteBatchProcessed { batch: 1, counts: counts(7), at: AT },
        ];
        TestFramework::<BulkInvite>::given(two.clone())
            .when(BulkInviteCommand::Finish { output_path: "out.csv".into(), at: AT })
            .then_expect_events(vec![BulkInviteEvent::BulkInviteFinished {
                output_path: "out.csv".into(),
                counts: RowCounts { created: 12, existing: 2, invalid: 4 },
                at: AT,
            }]);
        // A batch recorded already (a second worker, a replayed decision) is refused.
        TestFramework::<BulkInvite>::given(two)
            .when(BulkInviteCommand::RecordBatch { batch: 1, counts: counts(7), at: AT })
            .then_expect_error(BulkInviteError::OutOfOrder { expected: 2, given: 1 });
    }

    #[test]
    fn refusals() {
        TestFramework::<BulkInvite>::given(vec![uploaded()])
            .when(BulkInviteCommand::Upload { job: job(), at: AT })
            .then_expect_error(BulkInviteError::AlreadyExists);
        TestFramework::<BulkInvite>::given_no_previous_events()
            .when(BulkInviteCommand::RecordBatch { batch: 0, counts: counts(1), at: AT })
            .then_expect_error(BulkInviteError::NotFound);
        let finished = vec![
            uploaded(),
            BulkInviteEvent::BulkInviteFinished { output_path: "o".into(), counts: RowCounts::default(), at: AT },
        ];
        TestFramework::<BulkInvite>::given(finished)
            .when(BulkInviteCommand::RecordBatch { batch: 0, counts: counts(1), at: AT })
            .then_expect_error(BulkInviteError::Finished);
        let failed = vec![uploaded(), BulkInviteEvent::BulkInviteFailed { reason: "no file".into(), at: AT }];
        TestFramework::<BulkInvite>::given(failed)
            .when(BulkInviteCommand::Finish { output_path: "o".into(), at: AT })
            .then_expect_error(BulkInviteError::Finished);
    }
}
