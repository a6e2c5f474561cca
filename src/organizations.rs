//! Organisation, role-request and administration use cases, shared by every
//! dialect. Organisation scoping is checked here: an org admin acts only on
//! their own organisation, a system admin on every one; and on a user only if
//! the caller outranks them (`rank`).

use aggregates::validation::{self, InvalidInput};
use aggregates::{
    ClaimCommand, ClaimError, ClaimKind, Organization, OrganizationChanges, OrganizationCommand, OrganizationError,
    RequestStatus, RoleRequest, RoleRequestCommand, RoleRequestDetails, RoleRequestError, UniqueClaim, User,
    UserCommand, UserError,
};
use serde_json::Value;
use uuid::Uuid;

use crate::accounts::Caller;
use crate::app::AppState;
use crate::auth::sessions;
use crate::authorization::PUBLIC_ROLE_ID;
use crate::bootstrap::{claim_id, organization_uuid, ADMIN_ROLE_ID, ORG_ADMIN_ROLE_ID};
use crate::commands::{CommandError, Metadata};
use crate::error::AppError;
use crate::read_models::{self, OrganizationDetails, OrganizationKey, RoleRequestRow, UserKey, UserRow};

/// Organisation codes are compared without case: stored lower-cased.
pub fn normalize_org_code(raw: &str) -> Result<String, InvalidInput> {
    validation::code("code", &raw.to_lowercase())
}

fn org_error(error: CommandError<OrganizationError>) -> AppError {
    match error {
        CommandError::Domain(OrganizationError::NotFound) => AppError::NotFound("Organization not found".into()),
        CommandError::Domain(OrganizationError::AlreadyInactive) => {
            AppError::bad_request("Organization is already deactivated")
        }
        other => other.into(),
    }
}

impl AppState {
    pub async fn organization(&self, key: &OrganizationKey) -> Result<OrganizationDetails, AppError> {
        read_models::organization_details(&self.db, key)
            .await?
            .ok_or_else(|| AppError::NotFound("Organization not found".into()))
    }

    pub async fn create_organization(
        &self,
        name: &str,
        code: &str,
        description: &str,
        meta: &Metadata,
    ) -> Result<OrganizationDetails, AppError> {
        let checked = (
            validation::normalize_name(name),
            normalize_org_code(code),
            validation::free_text("description", description, validation::limits::DESCRIPTION),
        );
        let (name, code, description) = match checked {
            (Ok(name), Ok(code), Ok(description)) => (name, code, description),
            (name, code, description) => {
                let errors = [name.err(), code.err(), description.err()].into_iter().flatten().collect();
                return Err(AppError::invalid_input(errors));
            }
        };
        let numeric_id = self.db.next_numeric_id("organization").await?;
        let org_uuid = organization_uuid(numeric_id);
        let at = chrono::Utc::now();
        let claim = claim_id(ClaimKind::OrganizationCode, &code);
        match self.bus.execute::<UniqueClaim>(&claim, ClaimCommand::Claim { owner: org_uuid.clone(), at }, meta).await {
            Ok(_) => {}
            Err(CommandError::Domain(ClaimError::Taken)) => {
                return Err(AppError::invalid_field("code", "Organization code already exists"))
            }
            Err(other) => return Err(other.into()),
        }
        let create = OrganizationCommand::Create { numeric_id, name, code, description, at };
        let committed = self.bus.execute::<Organization>(&org_uuid, create, meta).await.map_err(org_error)?;
        self.settle(committed).await?;
        self.organization(&OrganizationKey::Id(numeric_id)).await
    }

    /// Org admins may update their own organisation; only system admins may
    /// change `related_orgs`.
    pub async fn update_organization(
        &self,
        caller: &Caller,
        id: i64,
        changes: OrganizationChanges,
        meta: &Metadata,
    ) -> Result<OrganizationDetails, AppError> {
        if !caller.administers(id) {
            return Err(AppError::Forbidden);
        }
        if changes.related_orgs.is_some() && !caller.is_admin() {
            return Err(AppError::invalid_field("related_orgs", "only a system admin can change related_orgs"));
        }
        let changes = validation::organization_changes(changes).map_err(AppError::invalid_input)?;
        let org = self.organization(&OrganizationKey::Id(id)).await?;
        for related in changes.related_orgs.iter().flatten() {
            if *related == id {
                return Err(AppError::invalid_field("related_orgs", "an organisation cannot be related to itself"));
            }
            if read_models::organization_details(&self.db, &OrganizationKey::Id(*related)).await?.is_none() {
                return Err(AppError::invalid_field("related_orgs", format!("organisation {related} does not exist")));
            }
        }
        let update = OrganizationCommand::Update { changes, at: chrono::Utc::now() };
        let committed = self.bus.execute::<Organization>(&org.org_uuid, update, meta).await.map_err(|e| match e {
            CommandError::Domain(OrganizationError::NothingToUpdate) => AppError::bad_request("Nothing to update"),
            other => org_error(other),
        })?;
        self.settle(committed).await?;
        self.organization(&OrganizationKey::Id(id)).await
    }

    /// Deactivates the organisation and every active user in it; returns how
    /// many users. The caller must outrank every one of them.
    pub async fn deactivate_organization(&self, caller: &Caller, id: i64, meta: &Metadata) -> Result<usize, AppError> {
        self.require_outranks_members(caller, id).await?;
        let org = self.organization(&OrganizationKey::Id(id)).await?;
        let committed = self
            .bus
            .execute::<Organization>(&org.org_uuid, OrganizationCommand::Deactivate { at: chrono::Utc::now() }, meta)
            .await
            .map_err(org_error)?;
        self.settle(committed).await?;
        let users = read_models::active_users_of_organization(&self.db, id).await?;
        let mut deactivated = 0;
        for user in &users {
            if self.deactivate_quietly(user, meta).await? {
                deactivated += 1;
            }
        }
        Ok(deactivated)
    }

    /// Deactivates a user; an already inactive one is not an error. True if it changed.
    async fn deactivate_quietly(&self, user_uuid: &str, meta: &Metadata) -> Result<bool, AppError> {
        match self.bus.execute::<User>(user_uuid, UserCommand::Deactivate { at: chrono::Utc::now() }, meta).await {
            Ok(committed) => {
                sessions::revoke_user(&self.db, user_uuid, "deactivated").await?;
                self.settle(committed).await?;
                Ok(true)
            }
            Err(CommandError::Domain(UserError::AlreadyInactive)) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    /// Resolves numeric ids and emails to users the caller outranks (see `rank`).
    pub async fn users_for_admin(
        &self,
        caller: &Caller,
        ids: &[i64],
        emails: &[String],
    ) -> Result<Vec<UserRow>, AppError> {
        let mut users = Vec::new();
        for id in ids {
            let user = read_models::user(&self.db, &UserKey::Numeric(*id))
                .await?
                .ok_or_else(|| AppError::invalid_field("id", format!("User {id} not found")))?;
            users.push(user);
        }
        for email in emails {
            let user = read_models::user_by_email(&self.db, email)
                .await?
                .ok_or_else(|| AppError::invalid_field("email", "User not found"))?;
            users.push(user);
        }
        for user in &users {
            self.require_outranks(caller, user).await?;
        }
        Ok(users)
    }

    pub async fn deactivate_users(
        &self,
        caller: &Caller,
        ids: &[i64],
        emails: &[String],
        meta: &Metadata,
    ) -> Result<usize, AppError> {
        if ids.is_empty() && emails.is_empty() {
            return Err(AppError::invalid_field("id", "id or email is required"));
        }
        let users = self.users_for_admin(caller, ids, emails).await?;
        let mut deactivated = 0;
        for user in users {
            if self.deactivate_quietly(&user.user_uuid, meta).await? {
                deactivated += 1;
            }
        }
        Ok(deactivated)
    }

    /// Erases a user the caller outranks.
    pub async fn erase_user(&self, caller: &Caller, user: &UserRow, meta: &Metadata) -> Result<(), AppError> {
        self.require_outranks(caller, user).await?;
        self.delete_user(&user.user_uuid, meta).await
    }

    /// Grants a role to a user the caller outranks; the caller must be able to
    /// grant that role in that organisation.
    pub async fn assign_role(
        &self,
        caller: &Caller,
        user: &UserRow,
        role_id: i64,
        organization_id: i64,
        meta: &Metadata,
    ) -> Result<(), AppError> {
        let role = read_models::role(&self.db, role_id)
            .await?
            .filter(|r| r.status != "DELETED")
            .ok_or_else(|| AppError::invalid_field("role_id", "Role not found"))?;
        if role.status != "ACTIVE" {
            return Err(AppError::invalid_field("role_id", "Role is not active"));
        }
        self.require_outranks(caller, user).await?;
        self.require_may_grant(caller, role_id, organization_id).await?;
        let org = read_models::organization_details(&self.db, &OrganizationKey::Id(organization_id))
            .await?
            .ok_or_else(|| AppError::invalid_field("organization_id", "Organization not found"))?;
        if org.status != "ACTIVE" {
            return Err(AppError::invalid_field("organization_id", "Organization is not active"));
        }
        let assign = UserCommand::AssignRole { role_id, organization_id, at: chrono::Utc::now() };
        let committed = self.bus.execute::<User>(&user.user_uuid, assign, meta).await?;
        self.settle(committed).await?;
        Ok(())
    }

    pub async fn add_org_admin(
        &self,
        caller: &Caller,
        user: &UserRow,
        organization_id: i64,
        meta: &Metadata,
    ) -> Result<(), AppError> {
        self.assign_role(caller, user, ORG_ADMIN_ROLE_ID, organization_id, meta).await
    }

    /// A user asks for a role in their organisation; one open request at a time.
    pub async fn request_role(
        &self,
        caller: &Caller,
        role_id: i64,
        form_data: Value,
        meta: &Metadata,
    ) -> Result<RoleRequestRow, AppError> {
        validation::json_object("form_data", &form_data)?;
        let role = read_models::role(&self.db, role_id)
            .await?
            .ok_or_else(|| AppError::invalid_field("role", "Role not found"))?;
        if [ADMIN_ROLE_ID, PUBLIC_ROLE_ID].contains(&role.id) || role.status != "ACTIVE" {
            return Err(AppError::invalid_field("role", "This role cannot be requested"));
        }
        if caller.role_ids.contains(&role_id) {
            return Err(AppError::invalid_field("role", "Role already assigned"));
        }
        let request_uuid = Uuid::new_v4().to_string();
        let at = chrono::Utc::now();
        let pending = claim_id(ClaimKind::PendingRoleRequest, caller.user_uuid());
        match self
            .bus
            .execute::<UniqueClaim>(&pending, ClaimCommand::Claim { owner: request_uuid.clone(), at }, meta)
            .await
        {
            Ok(_) => {}
            Err(CommandError::Domain(ClaimError::Taken)) => {
                return Err(AppError::Http { status: 406, message: "Role change request is already pending".into() })
            }
            Err(other) => return Err(other.into()),
        }
        let submitted = async {
            let details = RoleRequestDetails {
                numeric_id: self.db.next_numeric_id("role_request").await?,
                requester_uuid: caller.user_uuid().to_string(),
                requester_id: caller.numeric_id(),
                role_id,
                organization_id: caller.organization_id,
                form_data,
            };
            let numeric_id = details.numeric_id;
            let committed = self
                .bus
                .execute::<RoleRequest>(&request_uuid, RoleRequestCommand::Submit { details, at }, meta)
                .await?;
            self.settle(committed).await?;
            Ok::<_, AppError>(numeric_id)
        }
        .await;
        match submitted {
            Ok(id) => self.role_request(id).await,
            Err(error) => {
                self.release_pending(caller.user_uuid(), &request_uuid, meta).await;
                Err(error)
            }
        }
    }

    async fn release_pending(&self, requester_uuid: &str, request_uuid: &str, meta: &Metadata) {
        let release = ClaimCommand::Release { owner: request_uuid.to_string(), at: chrono::Utc::now() };
        let claim = claim_id(ClaimKind::PendingRoleRequest, requester_uuid);
        if let Err(error) = self.bus.execute::<UniqueClaim>(&claim, release, meta).await {
            tracing::error!(%error, "could not release a pending role request claim");
        }
    }

    pub async fn role_request(&self, id: i64) -> Result<RoleRequestRow, AppError> {
        read_models::role_request(&self.db, id)
            .await?
            .ok_or_else(|| AppError::invalid_field("request_id", "Request not found"))
    }

    /// Only admins of the request's organisation (or system admins) may see or decide it.
    pub async fn role_request_for(&self, caller: &Caller, id: i64) -> Result<RoleRequestRow, AppError> {
        let request = self.role_request(id).await?;
        if !caller.administers(request.organization_id) {
            return Err(AppError::Forbidden);
        }
        Ok(request)
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
    ) -> Result<RoleRequestRow, AppError> {
        let request = self.role_request_for(caller, id).await?;
        let comments = validation::comments(comments)?;
        if status == RequestStatus::Approved {
            let requester = read_models::user(&self.db, &UserKey::Uuid(request.requester_uuid.clone()))
                .await?
                .ok_or_else(|| AppError::invalid_field("request_id", "The requester no longer exists"))?;
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
        let committed =
            self.bus.execute::<RoleRequest>(&request.request_uuid, decide, meta).await.map_err(|e| match e {
                CommandError::Domain(RoleRequestError::AlreadyDecided) => {
                    AppError::bad_request("Request has already been decided")
                }
                other => other.into(),
            })?;
        let mut shown = Ok(());
        if status == RequestStatus::Approved {
            let assign = UserCommand::AssignRole {
                role_id: request.role_id,
                organization_id: request.organization_id,
                at: chrono::Utc::now(),
            };
            let granted = self.bus.execute::<User>(&request.requester_uuid, assign, meta).await?;
            shown = self.settle(granted).await;
        }
        if status.is_final() {
            self.release_pending(&request.requester_uuid, &request.request_uuid, meta).await;
        }
        shown?;
        self.settle(committed).await?;
        self.role_request(id).await
    }
}
