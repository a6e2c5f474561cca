//! Bulk invites (ELEVATE's `org-admin/bulkUserCreate` and
//! `getBulkInvitesFilesList`). An org admin uploads a CSV (columns as the
//! sample CSV: name, email, phone_code, phone, username, roles) through a
//! file link and names its path; the job (`BulkInvite` aggregate) is
//! recorded at once as `UPLOADED`. A background worker (`worker`, one across
//! instances) checks every row (`rows`), creates the users in batches
//! (`batch`: one commit per batch, the job's progress included), each with
//! an invitation to set a password, and writes an output CSV: the input's
//! columns, `status` (CREATED, EXISTS, INVALID) and `reason`.
//!
//! An email someone already holds is reported `EXISTS` and that user is
//! left as they are: a CSV does not move an account between organisations
//! or change its roles (the role and organisation routes do, with their
//! own checks of rank).

mod batch;
pub mod rows;
pub mod worker;

use aggregates::{BulkInvite, BulkInviteCommand, BulkInviteJob, BulkInviteStatus, RowCounts};
use uuid::Uuid;

use crate::accounts::Caller;
use crate::bootstrap::DEFAULT_ORGANIZATION_ID;
use crate::commands::Metadata;
use crate::error::{Entity, ServiceError};
use crate::notifications::templates::{self, TemplateText};
use crate::rank::{org_admin_may_grant, HeldRole};
pub use crate::read_models::BulkInviteRow;
use crate::read_models::{self, OrganizationKey};
use crate::services::Services;
use crate::storage::Count;
use rows::RoleBook;

/// What a worker needs while it runs one job.
pub(crate) struct JobRun {
    pub uuid: String,
    pub job: BulkInviteJob,
    pub meta: Metadata,
    pub template: TemplateText,
    pub organization_name: String,
}

/// How long a finished job waits for the read models to hold its users.
const USERS_VISIBLE_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// The statuses a list may ask for (ELEVATE's query is lower-case).
pub const STATUSES: &[&str] = &["UPLOADED", "PROCESSED", "FAILED"];

/// Where a job's output CSV is written.
pub fn output_path(job_uuid: &str) -> String {
    format!("bulk-invites/{job_uuid}/output.csv")
}

impl Services {
    /// Records a bulk invite of the CSV at `file_path` for the caller's
    /// organisation, and answers it as `UPLOADED`; the worker does the rest.
    /// The file must exist, and (for an org admin) be one the caller uploaded.
    pub async fn upload_bulk_invite(
        &self,
        caller: &Caller,
        file_path: &str,
        meta: &Metadata,
    ) -> Result<BulkInviteRow, ServiceError> {
        let file_path = file_path.trim().trim_start_matches('/').to_string();
        let own_prefix = format!("users/{}-", caller.user_uuid());
        if !caller.is_admin() && !file_path.starts_with(&own_prefix) {
            return Err(ServiceError::not_found(Entity::File));
        }
        // Read now, so a wrong path is the caller's error, not a failed job.
        self.files.read_file(&file_path).await?;
        let name = file_path.rsplit('/').next().unwrap_or(&file_path).to_string();
        let numeric_id = self.db.next_numeric_id("bulk_invite").await?;
        let uuid = Uuid::new_v4().to_string();
        let job = BulkInviteJob {
            numeric_id,
            organization_id: caller.organization_id,
            created_by: caller.numeric_id(),
            created_by_uuid: caller.user_uuid().to_string(),
            by_admin: caller.is_admin(),
            input_path: file_path,
            name,
        };
        let upload = BulkInviteCommand::Upload { job, at: chrono::Utc::now() };
        let committed = self.bus.execute::<BulkInvite>(&uuid, upload, meta).await?;
        self.settle(committed).await?;
        read_models::bulk_invite(&self.db, &uuid).await?.ok_or(ServiceError::not_found(Entity::File))
    }

    /// A page of the jobs of the caller's organisation, newest first.
    pub async fn bulk_invites(
        &self,
        caller: &Caller,
        status: Option<&str>,
        page: i64,
        limit: i64,
    ) -> Result<(Vec<BulkInviteRow>, Count), ServiceError> {
        let window = crate::storage::query::Window::page(page, limit);
        Ok(read_models::bulk_invites(&self.reader, caller.organization_id, status, window).await?)
    }

    /// The roles the job's rows may name: those the uploader may grant in
    /// the organisation, by title (the organisation's own before the
    /// default organisation's), and the default role for rows naming none.
    async fn role_book(&self, job: &BulkInviteJob) -> Result<RoleBook, ServiceError> {
        let roles = read_models::active_roles_of(&self.db, job.organization_id, DEFAULT_ORGANIZATION_ID).await?;
        let mut book = RoleBook::default();
        // The default organisation's first, so the organisation's own title replaces it.
        let (own, shared): (Vec<_>, Vec<_>) = roles.into_iter().partition(|r| r.organization_id == job.organization_id);
        for role in shared.into_iter().chain(own) {
            book.known.insert(role.title.clone());
            let held = HeldRole { role_id: role.id, defined_in: Some(role.organization_id) };
            if job.by_admin || org_admin_may_grant(&held, job.organization_id) {
                book.grantable.insert(role.title, role.id);
            } else {
                book.grantable.remove(&role.title);
            }
        }
        book.default = self.role_ids_for(&[]).await?;
        Ok(book)
    }

    async fn job_run(&self, uuid: &str, job: &BulkInviteJob) -> Result<JobRun, ServiceError> {
        let organization = read_models::organization_details(&self.db, &OrganizationKey::Id(job.organization_id))
            .await?
            .ok_or(ServiceError::not_found(Entity::Organization))?;
        Ok(JobRun {
            uuid: uuid.to_string(),
            job: job.clone(),
            meta: Metadata {
                actor_id: Some(job.created_by_uuid.clone()),
                correlation_id: format!("bulk_invite:{uuid}"),
                dialect: "system",
                client_addr: None,
            },
            template: self.template_text(job.organization_id, templates::BULK_INVITE).await?,
            organization_name: organization.name,
        })
    }

    /// Runs job `uuid` from where its log says it is, while `keep_going`
    /// answers true before each batch; returns whether it is finished.
    pub async fn run_bulk_invite<F, Fut>(&self, uuid: &str, mut keep_going: F) -> Result<bool, ServiceError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let state = self.bus.load::<BulkInvite>(uuid).await?;
        let Some(job) = state.job.clone() else { return Err(ServiceError::not_found(Entity::File)) };
        if state.status != BulkInviteStatus::Uploaded {
            return Ok(true);
        }
        let meta = Metadata::system("bulk_invite");
        let file = match self.files.read_file(&job.input_path).await {
            Ok(bytes) => rows::parse(&bytes),
            Err(ServiceError::NotFound { .. }) => Err(format!("the file {} is not in the store", job.input_path)),
            Err(other) => return Err(other),
        };
        let file = match file {
            Ok(file) => file,
            Err(reason) => {
                let fail = BulkInviteCommand::Fail { reason, at: chrono::Utc::now() };
                let committed = self.bus.execute::<BulkInvite>(uuid, fail, &meta).await?;
                self.settle(committed).await?;
                return Ok(true);
            }
        };
        let run = self.job_run(uuid, &job).await?;
        let checked = file.check(&self.role_book(&job).await?);
        let size = self.settings.bulk.batch_size;
        let batches = file.records.len().div_ceil(size) as u64;
        let mut counts = state.counts;
        for batch in state.batches_done..batches {
            if !keep_going().await {
                return Ok(false);
            }
            let first = batch as usize * size;
            let range = first..(first + size).min(file.records.len());
            let started = std::time::Instant::now();
            let done = self.invite_batch(&run, batch, &file, &checked, range.clone()).await?;
            counts.add(&done);
            record_batch(uuid, batch, range.len(), &done, started.elapsed());
            if self.settings.bulk.batch_pause_ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(self.settings.bulk.batch_pause_ms)).await;
            }
        }
        self.finish_bulk_invite(&run, &file, batches, counts).await?;
        Ok(true)
    }

    /// Joins the batches' lines under the header into the output CSV, then
    /// records the job finished; the parts are removed after.
    async fn finish_bulk_invite(
        &self,
        run: &JobRun,
        file: &rows::InputFile,
        batches: u64,
        counts: RowCounts,
    ) -> Result<(), ServiceError> {
        let mut output = rows::output_header(&file.headers).map_err(ServiceError::internal)?;
        for batch in 0..batches {
            output.extend_from_slice(&self.files.read_file(&batch::part_path(&run.uuid, batch)).await?);
        }
        let path = output_path(&run.uuid);
        self.files.write_file(&path, output.into(), "text/csv").await?;
        // A job reads as processed only once every read model holds its
        // users: a client that sees PROCESSED can read them at once.
        let written = self.db.last_committed_point().await?;
        if !self.projector.wait_for(written, USERS_VISIBLE_WITHIN).await {
            tracing::warn!(job = %run.uuid, "a read model lags behind the bulk invite; finishing it anyway");
        }
        let finish = BulkInviteCommand::Finish { output_path: path, at: chrono::Utc::now() };
        let committed = self.bus.execute::<BulkInvite>(&run.uuid, finish, &run.meta).await?;
        tracing::info!(
            job = %run.uuid,
            created = counts.created,
            existing = counts.existing,
            invalid = counts.invalid,
            "bulk invite processed"
        );
        for batch in 0..batches {
            if let Err(error) = self.files.remove_file(&batch::part_path(&run.uuid, batch)).await {
                tracing::warn!(job = %run.uuid, %error, "a bulk invite part file stays");
            }
        }
        self.settle(committed).await
    }
}

/// Metrics and a log line per batch (no personal data: counts only).
fn record_batch(uuid: &str, batch: u64, rows: usize, counts: &RowCounts, took: std::time::Duration) {
    metrics::histogram!("roster_bulk_invite_batch_seconds").record(took.as_secs_f64());
    for (status, n) in [("created", counts.created), ("exists", counts.existing), ("invalid", counts.invalid)] {
        metrics::counter!("roster_bulk_invite_rows_total", "status" => status).increment(n);
    }
    tracing::info!(job = %uuid, batch, rows, ms = took.as_millis() as u64, "bulk invite batch committed");
}
