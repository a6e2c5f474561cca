//! Role requests: a user asks for a role in their organisation, its admins
//! decide, and an approval grants the role in the same commit.

use aggregates::validation::{self};
use aggregates::{
    ClaimCommand, ClaimError, ClaimKind, RequestStatus, RoleRequest, RoleRequestCommand, RoleRequestDetails,
    RoleRequestError, UniqueClaim, User, UserCommand,
};
use serde_json::Value;
use uuid::Uuid;

use crate::accounts::Caller;
use crate::authorization::PUBLIC_ROLE_ID;
use crate::bootstrap::ADMIN_ROLE_ID;
use crate::commands::{CommandError, Metadata};
use crate::error::{Clash, Entity, Reason, ServiceError};
use crate::read_models::{self, RequestFilter, RoleRequestRow, UserKey};
use crate::services::Services;
use crate::storage::Count;

/// What the role-request queue of the caller's organisation is filtered
/// by; any value of a list matches, an empty list matches all.
#[derive(Debug, Clone, Default)]
pub struct RequestQuery {
    pub roles: Vec<i64>,
    pub statuses: Vec<String>,
    pub handled_by: Vec<i64>,
    pub page: i64,
    pub limit: i64,
}

/// A role request with its comments and whoever handled it.
#[derive(Debug, Clone)]
pub struct RequestDetails {
    pub request: RoleRequestRow,
    pub comments: Vec<String>,
    pub handler: Option<Handler>,
}

/// The admin who handled a request; `name` is `None` once they are deleted.
#[derive(Debug, Clone)]
pub struct Handler {
    pub id: i64,
    pub name: Option<String>,
}

impl Services {
    /// A user asks for a role in their organisation; one open request at a time.
    pub async fn request_role(
        &self,
        caller: &Caller,
        role_id: i64,
        form_data: Value,
        meta: &Metadata,
    ) -> Result<RoleRequestRow, ServiceError> {
        validation::json_object("form_data", &form_data)?;
        let role = read_models::role(&self.db, role_id)
            .await?
            .ok_or_else(|| ServiceError::invalid("role", Reason::NotFound { entity: Entity::Role, id: None }))?;
        if [ADMIN_ROLE_ID, PUBLIC_ROLE_ID].contains(&role.id) || role.status != "ACTIVE" {
            return Err(ServiceError::invalid("role", Reason::NotRequestable));
        }
        if caller.role_ids.contains(&role_id) {
            return Err(ServiceError::invalid("role", Reason::AlreadyAssigned));
        }
        let request_uuid = Uuid::new_v4().to_string();
        let at = chrono::Utc::now();
        let pending = self.bus.claim_id(ClaimKind::PendingRoleRequest, caller.user_uuid());
        // Taken once no other request is pending, so a refused one uses no id.
        let mut numeric_id = None;
        let mut unit = self.bus.unit(meta);
        let (committed, numeric_id) = loop {
            match unit.decide::<UniqueClaim>(&pending, ClaimCommand::Claim { owner: request_uuid.clone(), at }).await {
                Ok(_) => {}
                Err(CommandError::Domain(ClaimError::Taken)) => {
                    return Err(ServiceError::Conflict { what: Clash::PendingRoleRequest })
                }
                Err(other) => return Err(other.into()),
            }
            let numeric_id = match numeric_id {
                Some(id) => id,
                None => *numeric_id.insert(self.db.next_numeric_id("role_request").await?),
            };
            let details = RoleRequestDetails {
                numeric_id,
                requester_uuid: caller.user_uuid().to_string(),
                requester_id: caller.numeric_id(),
                role_id,
                organization_id: caller.organization_id,
                form_data: form_data.clone(),
            };
            unit.decide_new::<RoleRequest>(&request_uuid, RoleRequestCommand::Submit { details, at }).await?;
            if let Some(committed) = unit.commit().await? {
                break (committed, numeric_id);
            }
        };
        self.settle(committed).await?;
        self.role_request(numeric_id).await
    }

    pub async fn role_request(&self, id: i64) -> Result<RoleRequestRow, ServiceError> {
        read_models::role_request(&self.db, id).await?.ok_or_else(|| {
            ServiceError::invalid("request_id", Reason::NotFound { entity: Entity::RoleRequest, id: None })
        })
    }

    /// Only admins of the request's organisation (or system admins) may see or decide it.
    pub async fn role_request_for(&self, caller: &Caller, id: i64) -> Result<RoleRequestRow, ServiceError> {
        let request = self.role_request(id).await?;
        if !caller.administers(request.organization_id) {
            return Err(ServiceError::Forbidden);
        }
        Ok(request)
    }

    /// The requests to the caller's organisation matching `query`, newest first.
    pub async fn role_requests(
        &self,
        caller: &Caller,
        query: RequestQuery,
    ) -> Result<(Vec<RoleRequestRow>, Count), ServiceError> {
        let filter = RequestFilter {
            organization_id: caller.organization_id,
            roles: query.roles,
            statuses: query.statuses,
            handled_by: query.handled_by,
            page: query.page,
            limit: query.limit,
        };
        Ok(read_models::role_requests(&self.reader, &filter).await?)
    }

    /// A request the caller may see (`role_request_for`), with its comments
    /// and its handler.
    pub async fn role_request_details(&self, caller: &Caller, id: i64) -> Result<RequestDetails, ServiceError> {
        let request = self.role_request_for(caller, id).await?;
        let comments = read_models::role_request_comments(&self.db, &request.request_uuid).await?;
        let handler = match request.handled_by {
            Some(id) => {
                let name = read_models::user(&self.db, &UserKey::Numeric(id)).await?.and_then(|u| u.name);
                Some(Handler { id, name })
            }
            None => None,
        };
        Ok(RequestDetails { request, comments, handler })
    }

    /// Decides a request. Two admins deciding at once are serialised on the
    /// request: exactly one decision stands, the other is told it was decided.
    /// Approving grants the role, so the caller must outrank the requester and
    /// be able to grant the role.
    pub async fn decide_role_request(
        &self,
        caller: &Caller,
        id: i64,
        status: RequestStatus,
        comments: Vec<String>,
        meta: &Metadata,
    ) -> Result<RoleRequestRow, ServiceError> {
        let request = self.role_request_for(caller, id).await?;
        let comments = validation::comments(comments)?;
        if status == RequestStatus::Approved {
            let requester =
                read_models::user(&self.db, &UserKey::Uuid(request.requester_uuid.clone())).await?.ok_or_else(
                    || ServiceError::invalid("request_id", Reason::NotFound { entity: Entity::Requester, id: None }),
                )?;
            self.require_outranks(caller, &requester).await?;
            self.require_may_grant(caller, request.role_id, request.organization_id).await?;
        }
        let decide = RoleRequestCommand::SetStatus {
            status,
            handler_uuid: caller.user_uuid().to_string(),
            handler_id: caller.numeric_id(),
            comments,
            at: chrono::Utc::now(),
        };
        let at = chrono::Utc::now();
        let pending = self.bus.claim_id(ClaimKind::PendingRoleRequest, &request.requester_uuid);
        // The decision, the role it grants and the pending claim it gives
        // back are one commit: no approved request without its role.
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            unit.decide::<RoleRequest>(&request.request_uuid, decide.clone()).await.map_err(|e| match e {
                CommandError::Domain(RoleRequestError::AlreadyDecided) => ServiceError::AlreadyDecided,
                other => other.into(),
            })?;
            if status == RequestStatus::Approved {
                // Approving a request from an organisation the user has left
                // would move them back (the request names the old one).
                if unit.load::<User>(&request.requester_uuid).await?.organization_id != request.organization_id {
                    return Err(ServiceError::invalid("request_id", Reason::RequesterMoved));
                }
                // Same organisation (checked above): nothing is dropped.
                let assign = UserCommand::AssignRole {
                    role_id: request.role_id,
                    organization_id: request.organization_id,
                    dropped_on_move: vec![],
                    at,
                };
                unit.decide::<User>(&request.requester_uuid, assign).await?;
            }
            if status.is_final() {
                let release = ClaimCommand::Release { owner: request.request_uuid.clone(), at };
                match unit.decide::<UniqueClaim>(&pending, release).await {
                    Ok(_) => {}
                    Err(CommandError::Domain(ClaimError::NotOwner)) => {
                        tracing::warn!("the pending role request claim is held by another request; left as it is")
                    }
                    Err(other) => return Err(other.into()),
                }
            }
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        self.role_request(id).await
    }
}
