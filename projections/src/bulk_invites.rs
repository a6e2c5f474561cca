use aggregates::BulkInviteEvent;

use crate::{format_time, Projection, ProjectionError, SqlValue, Statement, StoredEvent};

/// `bulk_invites`: one row per bulk invite job (`org-admin/bulkUserCreate`),
/// with its status, its row counts so far and its output, for
/// `org-admin/getBulkInvitesFilesList` and for the worker's queue.
pub struct BulkInvitesProjection;

impl Projection for BulkInvitesProjection {
    fn name(&self) -> &'static str {
        "bulk_invites"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["bulk_invites"]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["bulk_invite"]
    }

    fn handle(&self, event: &StoredEvent) -> Result<Vec<Statement>, ProjectionError> {
        if event.aggregate_type != "bulk_invite" {
            return Ok(vec![]);
        }
        let uuid = SqlValue::Text(event.aggregate_id.clone());
        Ok(match event.decode::<BulkInviteEvent>()? {
            BulkInviteEvent::BulkInviteUploaded { job, at } => vec![Statement::new(
                "INSERT INTO bulk_invites (id, job_uuid, organization_id, name, input_path, status, created_by, \
                 created_count, existing_count, invalid_count, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'UPLOADED', $6, 0, 0, 0, $7, $7)",
                vec![
                    job.numeric_id.into(),
                    uuid,
                    job.organization_id.into(),
                    job.name.into(),
                    job.input_path.into(),
                    job.created_by.into(),
                    format_time(&at).into(),
                ],
            )],
            BulkInviteEvent::BulkInviteBatchProcessed { counts, at, .. } => vec![Statement::new(
                "UPDATE bulk_invites SET created_count = created_count + $2, existing_count = existing_count + $3, \
                 invalid_count = invalid_count + $4, updated_at = $5 WHERE job_uuid = $1",
                vec![
                    uuid,
                    (counts.created as i64).into(),
                    (counts.existing as i64).into(),
                    (counts.invalid as i64).into(),
                    format_time(&at).into(),
                ],
            )],
            BulkInviteEvent::BulkInviteFinished { output_path, at, .. } => vec![Statement::new(
                "UPDATE bulk_invites SET status = 'PROCESSED', output_path = $2, updated_at = $3 WHERE job_uuid = $1",
                vec![uuid, output_path.into(), format_time(&at).into()],
            )],
            BulkInviteEvent::BulkInviteFailed { reason, at } => vec![Statement::new(
                "UPDATE bulk_invites SET status = 'FAILED', failure = $2, updated_at = $3 WHERE job_uuid = $1",
                vec![uuid, reason.into(), format_time(&at).into()],
            )],
        })
    }
}
