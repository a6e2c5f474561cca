//! Role requests and their comments.

use projections::Statement;

use crate::storage::query::{Conditions, Window};
use crate::storage::{Count, Db, Reader};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoleRequestRow {
    pub id: i64,
    pub request_uuid: String,
    pub requester_uuid: String,
    pub requester_id: i64,
    pub role_id: i64,
    pub organization_id: i64,
    pub status: String,
    pub handled_by: Option<i64>,
    pub form_data: String,
    pub created_at: String,
    pub updated_at: String,
    pub requester_name: Option<String>,
    pub requester_email: Option<String>,
    pub requester_organization_id: Option<i64>,
    pub role_title: Option<String>,
}

const REQUEST_SELECT: &str = "SELECT q.id, q.request_uuid, q.requester_uuid, q.requester_id, q.role_id, q.organization_id, \
    q.status, q.handled_by, q.form_data, q.created_at, q.updated_at, u.name AS requester_name, u.email AS requester_email, \
    u.organization_id AS requester_organization_id, r.title AS role_title FROM role_requests q LEFT JOIN users u ON u.user_uuid = q.requester_uuid \
    LEFT JOIN roles r ON r.id = q.role_id";

pub async fn role_request(db: &Db, id: i64) -> Result<Option<RoleRequestRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new(format!("{REQUEST_SELECT} WHERE q.id = $1"), vec![id.into()])).await
}

pub async fn role_request_comments(db: &Db, request_uuid: &str) -> Result<Vec<String>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Comment {
        comment: String,
    }
    let rows: Vec<Comment> = db
        .fetch_all(&Statement::new(
            "SELECT comment FROM role_request_comments WHERE request_uuid = $1 ORDER BY sequence, position",
            vec![request_uuid.into()],
        ))
        .await?;
    Ok(rows.into_iter().map(|c| c.comment).collect())
}

#[derive(Debug, Default)]
pub struct RequestFilter {
    pub organization_id: i64,
    pub roles: Vec<i64>,
    pub statuses: Vec<String>,
    pub handled_by: Vec<i64>,
    pub page: i64,
    pub limit: i64,
}

/// A page of an organisation's role requests, newest first.
pub async fn role_requests(
    reader: &Reader,
    filter: &RequestFilter,
) -> Result<(Vec<RoleRequestRow>, Count), sqlx::Error> {
    let mut conditions = Conditions::new();
    conditions.with("q.organization_id = $?", filter.organization_id);
    conditions.any_of("q.role_id", filter.roles.iter().copied());
    conditions.any_of("q.status", filter.statuses.iter().map(|s| s.to_uppercase()));
    conditions.any_of("q.handled_by", filter.handled_by.iter().copied());
    let window = Window::page(filter.page, filter.limit);
    conditions.page(reader, REQUEST_SELECT, "role_requests q", "q.id DESC", window).await
}

/// The ids of the role requests `requester_uuid` made, oldest first.
pub async fn role_requests_of(db: &Db, requester_uuid: &str) -> Result<Vec<String>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Id {
        request_uuid: String,
    }
    let rows: Vec<Id> = db
        .fetch_all(&Statement::new(
            "SELECT request_uuid FROM role_requests WHERE requester_uuid = $1 ORDER BY id",
            vec![requester_uuid.into()],
        ))
        .await?;
    Ok(rows.into_iter().map(|r| r.request_uuid).collect())
}
