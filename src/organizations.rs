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
use crate::auth::sessions;
use crate::authorization::PUBLIC_ROLE_ID;
use crate::bootstrap::{claim_id, organization_uuid, ADMIN_ROLE_ID, ORG_ADMIN_ROLE_ID};
use crate::commands::{CommandError, Metadata};
use crate::error::{Clash, Entity, Reason, ServiceError};
use crate::read_models::{self, RequestFilter, UserKey, UserRow};
use crate::services::Services;
use crate::storage::Count;
use crate::users::{RoleRow, UserRef};

/// The rows these use cases return, and the key an organisation is read by.
pub use crate::read_models::{OrganizationDetails, OrganizationKey, RoleRequestRow};

/// Users deactivated in one commit with their organisation (see `deactivate_organization`).
pub const USERS_PER_COMMIT: usize = 1_000;

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

/// A role granted to a user, and the roles they hold now.
#[derive(Debug, Clone)]
pub struct RoleAssignment {
    pub user: UserRow,
    pub organization_id: i64,
    pub roles: Vec<RoleRow>,
}

/// Roles to grant and to revoke by title, in one organisation (`None`: the
/// user's own); `replace` revokes every other role the user holds.
#[derive(Debug, Clone, Default)]
pub struct RoleChanges {
    pub organization_id: Option<i64>,
    pub grant: Vec<String>,
    pub revoke: Vec<String>,
    pub replace: bool,
}

/// Organisation codes are compared without case: stored lower-cased.
pub fn normalize_org_code(raw: &str) -> Result<String, InvalidInput> {
    validation::code("code", &raw.to_lowercase())
}

fn org_error(error: CommandError<OrganizationError>) -> ServiceError {
    match error {
        CommandError::Domain(OrganizationError::NotFound) => ServiceError::not_found(Entity::Organization),
        CommandError::Domain(OrganizationError::AlreadyInactive) => {
            ServiceError::Conflict { what: Clash::OrganizationDeactivated }
        }
        other => other.into(),
    }
}

impl Services {
    pub async fn organization(&self, key: &OrganizationKey) -> Result<OrganizationDetails, ServiceError> {
        read_models::organization_details(&self.db, key)
            .await?
            .ok_or_else(|| ServiceError::not_found(Entity::Organization))
    }

    /// Organisations whose name or code holds `search`, by id.
    pub async fn list_organizations(
        &self,
        search: Option<&str>,
        page: i64,
        limit: i64,
    ) -> Result<(Vec<OrganizationDetails>, Count), ServiceError> {
        Ok(read_models::list_organizations(&self.reader, search, page, limit).await?)
    }

    pub async fn create_organization(
        &self,
        name: &str,
        code: &str,
        description: &str,
        meta: &Metadata,
    ) -> Result<OrganizationDetails, ServiceError> {
        let checked = (
            validation::normalize_name(name),
            normalize_org_code(code),
            validation::free_text("description", description, validation::limits::DESCRIPTION),
        );
        let (name, code, description) = match checked {
            (Ok(name), Ok(code), Ok(description)) => (name, code, description),
            (name, code, description) => {
                let errors = [name.err(), code.err(), description.err()].into_iter().flatten().collect();
                return Err(ServiceError::invalid_input(errors));
            }
        };
        let numeric_id = self.db.next_numeric_id("organization").await?;
        let org_uuid = organization_uuid(numeric_id);
        let at = chrono::Utc::now();
        let claim = claim_id(ClaimKind::OrganizationCode, &code);
        let create = OrganizationCommand::Create { numeric_id, name, code, description, at };
        // The code's claim and the organisation are one commit: a refused
        // creation leaves the code free.
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            match unit.decide::<UniqueClaim>(&claim, ClaimCommand::Claim { owner: org_uuid.clone(), at }).await {
                Ok(_) => {}
                Err(CommandError::Domain(ClaimError::Taken)) => {
                    return Err(ServiceError::Duplicate { entity: Entity::Organization, field: "code" })
                }
                Err(other) => return Err(other.into()),
            }
            unit.decide_new::<Organization>(&org_uuid, create.clone()).await.map_err(org_error)?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
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
    ) -> Result<OrganizationDetails, ServiceError> {
        if !caller.administers(id) {
            return Err(ServiceError::Forbidden);
        }
        if changes.related_orgs.is_some() && !caller.is_admin() {
            return Err(ServiceError::invalid("related_orgs", Reason::AdminOnly));
        }
        let changes = validation::organization_changes(changes).map_err(ServiceError::invalid_input)?;
        let org = self.organization(&OrganizationKey::Id(id)).await?;
        for related in changes.related_orgs.iter().flatten() {
            if *related == id {
                return Err(ServiceError::invalid("related_orgs", Reason::SelfReference));
            }
            if read_models::organization_details(&self.db, &OrganizationKey::Id(*related)).await?.is_none() {
                return Err(ServiceError::invalid(
                    "related_orgs",
                    Reason::NotFound { entity: Entity::Organization, id: Some(related.to_string()) },
                ));
            }
        }
        let update = OrganizationCommand::Update { changes, at: chrono::Utc::now() };
        let committed = self.bus.execute::<Organization>(&org.org_uuid, update, meta).await.map_err(|e| match e {
            CommandError::Domain(OrganizationError::NothingToUpdate) => ServiceError::NothingToUpdate,
            other => org_error(other),
        })?;
        self.settle(committed).await?;
        self.organization(&OrganizationKey::Id(id)).await
    }

    /// Deactivates the organisation and every active user in it; returns how
    /// many users. The caller must outrank every one of them.
    ///
    /// Up to `USERS_PER_COMMIT` users are deactivated in the same commit as
    /// the organisation. A larger organisation's users go first, in commits
    /// of that many, and the organisation with the last of them: a failure
    /// midway leaves an active organisation some of whose users are inactive
    /// (what an admin deactivating them one by one would leave), never an
    /// inactive one with active users, and asking again finishes the job.
    /// Why a bound: a unit of work loads each user (one query each) and is
    /// decided again whenever any of them changes meanwhile (a login is a
    /// change), so its cost and its chance of a conflict grow with its size.
    pub async fn deactivate_organization(
        &self,
        caller: &Caller,
        id: i64,
        meta: &Metadata,
    ) -> Result<usize, ServiceError> {
        self.require_outranks_members(caller, id).await?;
        let org = self.organization(&OrganizationKey::Id(id)).await?;
        // Refused before any user is touched.
        let current = self.bus.load::<Organization>(&org.org_uuid).await.map_err(org_error)?;
        if !current.created {
            return Err(org_error(CommandError::Domain(OrganizationError::NotFound)));
        }
        if !current.active {
            return Err(org_error(CommandError::Domain(OrganizationError::AlreadyInactive)));
        }
        let members = read_models::active_users_of_organization(&self.db, id).await?;
        let batches: Vec<&[String]> =
            if members.is_empty() { vec![&[]] } else { members.chunks(USERS_PER_COMMIT).collect() };
        let last = batches.len() - 1;
        let mut deactivated = 0;
        for (n, batch) in batches.into_iter().enumerate() {
            let organization = (n == last).then_some((org.org_uuid.as_str(), id));
            deactivated += self.deactivate_together(batch, organization, meta).await?;
        }
        Ok(deactivated)
    }

    /// Deactivates `users` (those still active, and still in the
    /// organisation if one is given) and the `organization`, if given, in one
    /// commit; revokes their sessions. Returns how many users changed.
    async fn deactivate_together(
        &self,
        users: &[String],
        organization: Option<(&str, i64)>,
        meta: &Metadata,
    ) -> Result<usize, ServiceError> {
        let at = chrono::Utc::now();
        let mut unit = self.bus.unit(meta);
        let (committed, changed) = loop {
            let mut changed = Vec::new();
            for user_uuid in users {
                if let Some((_, organization_id)) = organization {
                    // Moved to another organisation since the list was read.
                    if unit.load::<User>(user_uuid).await?.organization_id != organization_id {
                        continue;
                    }
                }
                match unit.decide::<User>(user_uuid, UserCommand::Deactivate { at }).await {
                    Ok(_) => changed.push(user_uuid.as_str()),
                    Err(CommandError::Domain(UserError::AlreadyInactive)) => {}
                    Err(other) => return Err(other.into()),
                }
            }
            if let Some((org_uuid, _)) = organization {
                unit.decide::<Organization>(org_uuid, OrganizationCommand::Deactivate { at })
                    .await
                    .map_err(org_error)?;
            }
            if let Some(committed) = unit.commit().await? {
                break (committed, changed);
            }
        };
        for user_uuid in &changed {
            sessions::revoke_user(&self.db, user_uuid, "deactivated").await?;
        }
        self.settle(committed).await?;
        Ok(changed.len())
    }

    /// Resolves numeric ids and emails to users the caller outranks (see `rank`).
    pub async fn users_for_admin(
        &self,
        caller: &Caller,
        ids: &[i64],
        emails: &[String],
    ) -> Result<Vec<UserRow>, ServiceError> {
        let mut users = Vec::new();
        for id in ids {
            let user = read_models::user(&self.db, &UserKey::Numeric(*id)).await?.ok_or_else(|| {
                ServiceError::invalid("id", Reason::NotFound { entity: Entity::User, id: Some(id.to_string()) })
            })?;
            users.push(user);
        }
        for email in emails {
            let user = read_models::user_by_email(&self.db, email)
                .await?
                .ok_or_else(|| ServiceError::invalid("email", Reason::NotFound { entity: Entity::User, id: None }))?;
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
    ) -> Result<usize, ServiceError> {
        if ids.is_empty() && emails.is_empty() {
            return Err(ServiceError::invalid("id", Reason::Required { or: Some("email") }));
        }
        let users = self.users_for_admin(caller, ids, emails).await?;
        let uuids: Vec<String> = users.into_iter().map(|u| u.user_uuid).collect();
        self.deactivate_together(&uuids, None, meta).await
    }

    /// Erases a user the caller outranks; returns them as they were.
    pub async fn erase_user(&self, caller: &Caller, key: &UserKey, meta: &Metadata) -> Result<UserRow, ServiceError> {
        let user = self.user(key).await?;
        self.require_outranks(caller, &user).await?;
        self.delete_user(&user.user_uuid, meta).await?;
        Ok(user)
    }

    /// Grants a role to the user `who` names, in `organization_id` (or the
    /// user's own organisation); returns the roles the user holds now.
    pub async fn assign_role(
        &self,
        caller: &Caller,
        who: &UserRef,
        role_id: i64,
        organization_id: Option<i64>,
        meta: &Metadata,
    ) -> Result<RoleAssignment, ServiceError> {
        let user = self.named_user(who).await?;
        let organization_id = organization_id.unwrap_or(user.organization_id);
        self.grant_role(caller, &user, role_id, organization_id, meta).await?;
        let roles = self.roles_of(&user).await?;
        Ok(RoleAssignment { user, organization_id, roles })
    }

    /// The roles a user who leaves `organization_id` gives up: `org_admin`
    /// (power over the organisation left) and the roles that organisation
    /// defined. The default roles other than `org_admin` (user, mentor,
    /// mentee, ...) and system roles travel with the user.
    async fn roles_of_organization(&self, organization_id: i64) -> Result<Vec<i64>, ServiceError> {
        #[derive(sqlx::FromRow)]
        struct Id {
            id: i64,
        }
        let defined: Vec<Id> = self
            .db
            .fetch_all(&projections::Statement::new(
                "SELECT id FROM roles WHERE organization_id = $1",
                vec![organization_id.into()],
            ))
            .await?;
        let default_ids: Vec<i64> = crate::bootstrap::DEFAULT_ROLES.iter().map(|r| r.0).collect();
        let mut dropped: Vec<i64> = defined.into_iter().map(|r| r.id).filter(|id| !default_ids.contains(id)).collect();
        dropped.push(ORG_ADMIN_ROLE_ID);
        Ok(dropped)
    }

    /// Grants a role to a user the caller outranks; the caller must be able to
    /// grant that role in that organisation.
    async fn grant_role(
        &self,
        caller: &Caller,
        user: &UserRow,
        role_id: i64,
        organization_id: i64,
        meta: &Metadata,
    ) -> Result<(), ServiceError> {
        let role = read_models::role(&self.db, role_id)
            .await?
            .filter(|r| r.status != "DELETED")
            .ok_or_else(|| ServiceError::invalid("role_id", Reason::NotFound { entity: Entity::Role, id: None }))?;
        if role.status != "ACTIVE" {
            return Err(ServiceError::invalid("role_id", Reason::NotActive { entity: Entity::Role, id: None }));
        }
        self.require_outranks(caller, user).await?;
        self.require_may_grant(caller, role_id, organization_id).await?;
        self.require_active_organization(organization_id).await?;
        let dropped_on_move = self.roles_of_organization(user.organization_id).await?;
        let assign = UserCommand::AssignRole { role_id, organization_id, dropped_on_move, at: chrono::Utc::now() };
        let committed = self.bus.execute::<User>(&user.user_uuid, assign, meta).await?;
        self.settle(committed).await?;
        Ok(())
    }

    /// 400 naming `organization_id` unless that organisation exists and is active.
    async fn require_active_organization(&self, organization_id: i64) -> Result<(), ServiceError> {
        let org = read_models::organization_details(&self.db, &OrganizationKey::Id(organization_id))
            .await?
            .ok_or_else(|| {
                ServiceError::invalid("organization_id", Reason::NotFound { entity: Entity::Organization, id: None })
            })?;
        if org.status != "ACTIVE" {
            return Err(ServiceError::invalid(
                "organization_id",
                Reason::NotActive { entity: Entity::Organization, id: None },
            ));
        }
        Ok(())
    }

    /// Grants and revokes roles of the user `key` names, by title, in one
    /// commit. `replace`: the user ends up holding exactly the granted roles
    /// (every other one is revoked). Each role must exist and be active, the
    /// organisation too, the caller must outrank the user and may grant (or
    /// take away) each role in that organisation. Returns the roles held now.
    pub async fn change_roles(
        &self,
        caller: &Caller,
        key: &UserKey,
        changes: &RoleChanges,
        meta: &Metadata,
    ) -> Result<RoleAssignment, ServiceError> {
        let user = self.user(key).await?;
        self.require_outranks(caller, &user).await?;
        let organization_id = changes.organization_id.unwrap_or(user.organization_id);
        self.require_active_organization(organization_id).await?;
        let mut grant = Vec::new();
        for title in &changes.grant {
            grant.push(self.changeable_role(caller, title, organization_id).await?);
        }
        let mut revoke = Vec::new();
        for title in &changes.revoke {
            revoke.push(self.changeable_role(caller, title, organization_id).await?);
        }
        if changes.replace {
            for held in self.roles_of(&user).await? {
                if !grant.contains(&held.id) && !revoke.contains(&held.id) {
                    self.require_may_grant(caller, held.id, organization_id).await?;
                    revoke.push(held.id);
                }
            }
        }
        let dropped_on_move = self.roles_of_organization(user.organization_id).await?;
        let at = chrono::Utc::now();
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            for role_id in &revoke {
                unit.decide::<User>(&user.user_uuid, UserCommand::RevokeRole { role_id: *role_id, at }).await?;
            }
            for role_id in &grant {
                let dropped_on_move = dropped_on_move.clone();
                let assign = UserCommand::AssignRole { role_id: *role_id, organization_id, dropped_on_move, at };
                unit.decide::<User>(&user.user_uuid, assign).await?;
            }
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        let roles = self.roles_of(&user).await?;
        Ok(RoleAssignment { user, organization_id, roles })
    }

    /// The id of an active role, by title (compared without case), that the
    /// caller may grant in `organization_id`.
    async fn changeable_role(&self, caller: &Caller, title: &str, organization_id: i64) -> Result<i64, ServiceError> {
        let refused = |reason| ServiceError::invalid("roles", reason);
        let role = read_models::role_by_title(&self.db, &title.trim().to_lowercase(), organization_id)
            .await?
            .filter(|r| r.status != "DELETED")
            .ok_or_else(|| refused(Reason::NotFound { entity: Entity::Role, id: Some(title.to_string()) }))?;
        if role.status != "ACTIVE" {
            return Err(refused(Reason::NotActive { entity: Entity::Role, id: Some(title.to_string()) }));
        }
        self.require_may_grant(caller, role.id, organization_id).await?;
        Ok(role.id)
    }

    /// Makes the user `who` names an org admin of `organization_id`.
    pub async fn add_org_admin(
        &self,
        caller: &Caller,
        who: &UserRef,
        organization_id: i64,
        meta: &Metadata,
    ) -> Result<RoleAssignment, ServiceError> {
        self.assign_role(caller, who, ORG_ADMIN_ROLE_ID, Some(organization_id), meta).await
    }

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
        let pending = claim_id(ClaimKind::PendingRoleRequest, caller.user_uuid());
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
        let pending = claim_id(ClaimKind::PendingRoleRequest, &request.requester_uuid);
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
