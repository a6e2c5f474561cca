use aggregates::RoleRequestEvent;

use crate::{format_time, Projection, ProjectionError, SqlValue, Statement, StoredEvent};

/// `role_requests` and their `role_request_comments`, for the org-admin queue.
pub struct RoleRequestsProjection;

impl Projection for RoleRequestsProjection {
    fn name(&self) -> &'static str {
        "role_requests"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["role_request_comments", "role_requests"]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["role_request"]
    }
    fn inline(&self) -> bool {
        true
    }

    fn handle(&self, event: &StoredEvent) -> Result<Vec<Statement>, ProjectionError> {
        if event.aggregate_type != "role_request" {
            return Ok(vec![]);
        }
        let id = SqlValue::Text(event.aggregate_id.clone());
        Ok(match event.decode::<RoleRequestEvent>()? {
            RoleRequestEvent::RoleRequested { details: d, at } => vec![Statement::new(
                "INSERT INTO role_requests (id, request_uuid, requester_uuid, requester_id, role_id, organization_id, status, \
                 form_data, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'REQUESTED', $7, $8, $8)",
                vec![
                    d.numeric_id.into(),
                    id,
                    d.requester_uuid.into(),
                    d.requester_id.into(),
                    d.role_id.into(),
                    d.organization_id.into(),
                    d.form_data.to_string().into(),
                    format_time(&at).into(),
                ],
            )],
            RoleRequestEvent::RoleRequestStatusChanged { status, handler_id, comments, at, .. } => {
                let at = format_time(&at);
                let mut statements = vec![Statement::new(
                    "UPDATE role_requests SET status = $2, handled_by = $3, updated_at = $4 WHERE request_uuid = $1",
                    vec![id.clone(), status.as_str().into(), handler_id.into(), at.clone().into()],
                )];
                for (position, comment) in comments.into_iter().enumerate() {
                    statements.push(Statement::new(
                        "INSERT INTO role_request_comments (request_uuid, sequence, position, comment, created_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                        vec![id.clone(), event.sequence.into(), (position as i64).into(), comment.into(), at.clone().into()],
                    ));
                }
                statements
            }
            RoleRequestEvent::RoleRequestFormErased { at } => vec![Statement::new(
                "UPDATE role_requests SET form_data = '{}', updated_at = $2 WHERE request_uuid = $1",
                vec![id, format_time(&at).into()],
            )],
        })
    }
}
