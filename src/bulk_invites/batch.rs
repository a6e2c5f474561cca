//! One batch of a bulk invite job, in one commit: the claims of every new
//! user's email (and phone and user name), the users with their roles in
//! the job's organisation, an invitation message each, and the job's record
//! of the batch. The record names the batch's number, so the commit that
//! creates the users is the one that moves the job past them: a crash before
//! it leaves nothing, a crash after it resumes at the next batch.
//!
//! No password is hashed: an invited user has none until they set one with
//! the reset OTP the invitation points to (`account/generateOtp`), so a
//! batch costs a few statements whatever its size. The claims are read in
//! one query (`Db::existing_aggregates`); only values met before are loaded.

use std::ops::Range;

use aggregates::{
    Aggregate, BulkInvite, BulkInviteCommand, ClaimCommand, ClaimKind, Message, Notification, NotificationCommand,
    Registration, RowCounts, UniqueClaim, User, UserCommand,
};
use serde_json::json;
use uuid::Uuid;

use super::rows::{output_lines, Candidate, Checked, InputFile, RowStatus};
use super::JobRun;
use crate::commands::CommandError;
use crate::error::ServiceError;
use crate::notifications::templates;
use crate::services::Services;
use crate::unit_of_work::UnitOfWork;

/// Where the output lines of batch `batch` are kept until the job's output is written.
pub(super) fn part_path(job_uuid: &str, batch: u64) -> String {
    format!("bulk-invites/{job_uuid}/part-{batch:06}.csv")
}

/// The unique values of a candidate, each with the field it comes from.
fn values(candidate: &Candidate) -> Vec<(ClaimKind, &str, &'static str)> {
    let mut values = vec![(ClaimKind::Email, candidate.email.as_str(), "email")];
    if let Some(phone) = &candidate.phone {
        values.push((ClaimKind::Phone, phone.as_str(), "phone"));
    }
    if let Some(username) = &candidate.username {
        values.push((ClaimKind::Username, username.as_str(), "username"));
    }
    values
}

impl Services {
    /// Decides and commits batch `batch` (rows `range` of `file`) of `run`;
    /// returns its counts. The output lines are written to the store before
    /// the commit, under a name of the batch's own, so whichever attempt
    /// commits has written them.
    pub(super) async fn invite_batch(
        &self,
        run: &JobRun,
        batch: u64,
        file: &InputFile,
        checked: &[Checked],
        range: Range<usize>,
    ) -> Result<RowCounts, ServiceError> {
        let valid = checked[range.clone()].iter().filter(|c| matches!(c, Checked::Valid(_))).count();
        let first_id = match valid {
            0 => 0,
            n => self.db.reserve_numeric_ids("user", n as i64).await?,
        };
        let mut unit = self.bus.unit(&run.meta);
        loop {
            let outcomes = self.decide_rows(&mut unit, run, &checked[range.clone()], first_id).await?;
            let mut counts = RowCounts::default();
            for (status, _) in &outcomes {
                match status {
                    RowStatus::Created => counts.created += 1,
                    RowStatus::Exists => counts.existing += 1,
                    RowStatus::Invalid => counts.invalid += 1,
                }
            }
            let record = BulkInviteCommand::RecordBatch { batch, counts, at: chrono::Utc::now() };
            unit.decide::<BulkInvite>(&run.uuid, record).await?;
            let records: Vec<&Vec<String>> = file.records[range.clone()].iter().collect();
            let lines = output_lines(&records, &outcomes).map_err(ServiceError::internal)?;
            self.files.write_file(&part_path(&run.uuid, batch), lines.into(), "text/csv").await?;
            if unit.commit().await?.is_some() {
                return Ok(counts);
            }
        }
    }

    /// Each row's decision in `unit`: a new user (claims, user, invitation),
    /// an email someone holds (`Exists`, nothing written), or a refusal.
    async fn decide_rows(
        &self,
        unit: &mut UnitOfWork,
        run: &JobRun,
        rows: &[Checked],
        first_id: i64,
    ) -> Result<Vec<(RowStatus, String)>, ServiceError> {
        let mut claim_ids = Vec::new();
        for row in rows {
            if let Checked::Valid(candidate) = row {
                claim_ids.extend(values(candidate).into_iter().map(|(kind, value, _)| self.bus.claim_id(kind, value)));
            }
        }
        let existing = self.db.existing_aggregates(UniqueClaim::TYPE, &claim_ids).await?;
        let at = chrono::Utc::now();
        let mut next_id = first_id;
        let mut outcomes = Vec::with_capacity(rows.len());
        for row in rows {
            let candidate = match row {
                Checked::Invalid(reason) => {
                    outcomes.push((RowStatus::Invalid, reason.clone()));
                    continue;
                }
                Checked::Valid(candidate) => candidate,
            };
            let values: Vec<(String, &'static str)> = values(candidate)
                .into_iter()
                .map(|(kind, value, field)| (self.bus.claim_id(kind, value), field))
                .collect();
            // Every value is checked before any is claimed: a refused row claims nothing.
            let mut taken = None;
            for (id, field) in &values {
                if existing.contains(id) && unit.load::<UniqueClaim>(id).await?.owner.is_some() {
                    taken = Some(*field);
                    break;
                }
            }
            match taken {
                Some("email") => {
                    outcomes.push((RowStatus::Exists, "a user with this email exists; left unchanged".into()));
                    continue;
                }
                Some(field) => {
                    outcomes.push((RowStatus::Invalid, format!("{field} is taken by another user")));
                    continue;
                }
                None => {}
            }
            let user_uuid = Uuid::new_v4().to_string();
            for (id, _) in &values {
                let claim = ClaimCommand::Claim { owner: user_uuid.clone(), at };
                let decided = match existing.contains(id) {
                    true => unit.decide::<UniqueClaim>(id, claim).await,
                    false => unit.decide_new::<UniqueClaim>(id, claim).await,
                };
                decided.map_err(|e| match e {
                    CommandError::Domain(refused) => ServiceError::internal(format!("a free claim refused: {refused}")),
                    other => other.into(),
                })?;
            }
            let numeric_id = next_id;
            next_id += 1;
            let registration = Registration {
                numeric_id,
                email: Some(candidate.email.clone()),
                name: candidate.name.clone(),
                phone: candidate.phone.clone(),
                username: candidate.username.clone(),
                password_hash: None,
                organization_id: run.job.organization_id,
                role_ids: candidate.role_ids.clone(),
                has_accepted_terms_and_conditions: false,
                preferred_language: "en".to_string(),
                managed_by: None,
                extension: None,
            };
            unit.decide_new::<User>(&user_uuid, UserCommand::Register { registration, at }).await?;
            let variables =
                json!({"name": candidate.name, "email": candidate.email, "organization": run.organization_name});
            let (subject, body) = templates::render(&run.template, &variables).map_err(ServiceError::internal)?;
            let message = Message {
                template: templates::BULK_INVITE.to_string(),
                mail_to: candidate.email.clone(),
                mail_subject: subject,
                mail_body: body,
            };
            unit.decide_new::<Notification>(&Uuid::new_v4().to_string(), NotificationCommand::Queue { message, at })
                .await?;
            outcomes.push((RowStatus::Created, format!("invited; user id {numeric_id}")));
        }
        Ok(outcomes)
    }
}
