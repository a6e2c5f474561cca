//! Bulk invite jobs as the read table holds them, and the roles a job's
//! rows may name.

use projections::Statement;

use crate::storage::query::{Conditions, Window};
use crate::storage::{Count, Db, Reader};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BulkInviteRow {
    pub id: i64,
    pub job_uuid: String,
    pub organization_id: i64,
    pub name: String,
    pub input_path: String,
    pub output_path: Option<String>,
    pub status: String,
    pub failure: Option<String>,
    pub created_by: i64,
    pub created_count: i64,
    pub existing_count: i64,
    pub invalid_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "id, job_uuid, organization_id, name, input_path, output_path, status, failure, created_by, \
    created_count, existing_count, invalid_count, created_at, updated_at";

/// A page of an organisation's jobs, newest first, optionally of one status.
pub async fn bulk_invites(
    reader: &Reader,
    organization_id: i64,
    status: Option<&str>,
    window: Window,
) -> Result<(Vec<BulkInviteRow>, Count), sqlx::Error> {
    let mut c = Conditions::new();
    c.with("organization_id = $?", organization_id);
    if let Some(status) = status {
        c.with("status = $?", status);
    }
    c.page(reader, &format!("SELECT {COLUMNS} FROM bulk_invites"), "bulk_invites", "id DESC", window).await
}

/// A job by its aggregate id.
pub async fn bulk_invite(db: &Db, job_uuid: &str) -> Result<Option<BulkInviteRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new(
        format!("SELECT {COLUMNS} FROM bulk_invites WHERE job_uuid = $1"),
        vec![job_uuid.into()],
    ))
    .await
}

/// The oldest job still waiting or running (the worker's queue), after `after_id`.
pub async fn next_unfinished_bulk_invite(db: &Db, after_id: i64) -> Result<Option<BulkInviteRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new(
        format!("SELECT {COLUMNS} FROM bulk_invites WHERE status = 'UPLOADED' AND id > $1 ORDER BY id LIMIT 1"),
        vec![after_id.into()],
    ))
    .await
}

/// An active role a bulk invite may name: its id, title and organisation.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoleTitle {
    pub id: i64,
    pub title: String,
    pub organization_id: i64,
}

/// The active roles of `organization_id` and of the default organisation.
pub async fn active_roles_of(db: &Db, organization_id: i64, default_id: i64) -> Result<Vec<RoleTitle>, sqlx::Error> {
    db.fetch_all(&Statement::new(
        "SELECT id, title, organization_id FROM roles WHERE status = 'ACTIVE' AND organization_id IN ($1, $2) \
         ORDER BY id",
        vec![organization_id.into(), default_id.into()],
    ))
    .await
}
