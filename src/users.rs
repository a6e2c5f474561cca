//! User reads, shared by every dialect: lists and searches in the view the
//! caller may see of each user, one user by key, and the user an admin
//! action names. Typed in and out (the read models' rows), failing with
//! `ServiceError`; the queries themselves stay in `crate::read_models`, and
//! no dialect calls them but through here.

use aggregates::validation::{self, InvalidInput};
use aggregates::{ClaimKind, ProfileChanges, UniqueClaim};

use crate::accounts::Caller;
use crate::commands::CommandBus;
use crate::commands::Metadata;
use crate::error::{Entity, Reason, ServiceError};
use crate::read_models::{self, UserFilter};
use crate::services::Services;
use crate::storage::Count;
use crate::visibility::ContactScope;

/// The rows these reads return, and the key they take.
pub use crate::read_models::{
    json_column, Alternative, DateField, DateRange, FacetField, ListedStatus, ListedUser, Profile, RoleRow, Sort,
    SortField, UserKey, UserRow,
};
pub use crate::storage::query::GroupCount;

/// What a list or search of users asks for. Whose contact data the search
/// may match is not asked: it follows from the caller (`visibility`).
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// A search term: a name, or an email the caller may see.
    pub search: Option<String>,
    /// Role title, e.g. "mentor".
    pub role: Option<String>,
    pub organization_id: Option<i64>,
    pub include_ids: Vec<UserKey>,
    pub include_emails: Vec<String>,
    pub exclude_ids: Vec<UserKey>,
    /// The statuses listed; empty lists active users only.
    pub statuses: Vec<ListedStatus>,
    /// Date ranges a user must be in, all of them.
    pub ranges: Vec<DateRange>,
    /// Groups of alternatives: of each, at least one must hold.
    pub any_of: Vec<Vec<Alternative>>,
    /// The order; empty is by name.
    pub sort: Vec<Sort>,
    pub page: i64,
    pub limit: i64,
}

impl UserQuery {
    fn filter(self, caller: &Caller) -> UserFilter {
        UserFilter {
            search: self.search,
            role: self.role,
            organization_id: self.organization_id,
            include_ids: self.include_ids,
            include_emails: self.include_emails,
            exclude_ids: self.exclude_ids,
            contacts: ContactScope::of(caller),
            statuses: self.statuses,
            ranges: self.ranges,
            any_of: self.any_of,
            sort: self.sort,
            page: self.page,
            limit: self.limit,
        }
    }
}

/// The user an admin action names: by numeric id, or by email.
#[derive(Debug, Clone)]
pub enum UserRef {
    Id(i64),
    Email(String),
}

/// A unique value a user is found by.
#[derive(Debug, Clone)]
pub enum Identifier {
    Email(String),
    Phone(String),
    Username(String),
}

impl Identifier {
    /// The claim that holds the value, once it is normalised as claims are;
    /// a value that is not an email (a phone, a username) has none.
    fn claim(&self, bus: &CommandBus) -> Result<String, InvalidInput> {
        Ok(match self {
            Identifier::Email(raw) => bus.claim_id(ClaimKind::Email, &validation::normalize_email(raw)?),
            Identifier::Phone(raw) => bus.claim_id(ClaimKind::Phone, &validation::normalize_phone(raw)?),
            Identifier::Username(raw) => bus.claim_id(ClaimKind::Username, &validation::normalize_username(raw)?),
        })
    }
}

impl Services {
    /// The user who holds `identifier`, if anyone does; a malformed value
    /// belongs to no one. Who may learn the answer is the caller's to decide.
    pub async fn find_user(&self, identifier: &Identifier) -> Result<Option<Profile>, ServiceError> {
        let Ok(claim) = identifier.claim(&self.bus) else { return Ok(None) };
        let owner = self.bus.load::<UniqueClaim>(&claim).await.map_err(ServiceError::from)?.owner;
        match owner {
            Some(uuid) => match self.profile(&UserKey::Uuid(uuid)).await {
                Ok(profile) => Ok(Some(profile)),
                Err(ServiceError::NotFound { .. }) => Ok(None),
                Err(other) => Err(other),
            },
            None => Ok(None),
        }
    }

    /// The user `key` names, if the caller may act on them as an
    /// administrator: a system admin on anyone, an org admin on the users of
    /// their organisation that they outrank (`rank`).
    pub(crate) async fn administered_user(&self, caller: &Caller, key: &UserKey) -> Result<UserRow, ServiceError> {
        let user = self.user(key).await?;
        if !caller.administers(user.organization_id) {
            return Err(ServiceError::Forbidden);
        }
        self.require_outranks(caller, &user).await?;
        Ok(user)
    }

    /// Blocks a user the caller administers: deactivated, every session revoked.
    pub async fn block_user(&self, caller: &Caller, key: &UserKey, meta: &Metadata) -> Result<UserRow, ServiceError> {
        let user = self.administered_user(caller, key).await?;
        self.deactivate(&user.user_uuid, meta).await?;
        Ok(user)
    }

    /// Lets a blocked user the caller administers log in again.
    pub async fn unblock_user(&self, caller: &Caller, key: &UserKey, meta: &Metadata) -> Result<UserRow, ServiceError> {
        let user = self.administered_user(caller, key).await?;
        self.activate(&user.user_uuid, meta).await?;
        Ok(user)
    }

    /// Changes the profile of the user `key` names: the caller's own, or
    /// that of a user the caller administers.
    pub async fn update_user(
        &self,
        caller: &Caller,
        key: &UserKey,
        changes: ProfileChanges,
        meta: &Metadata,
    ) -> Result<Profile, ServiceError> {
        let user = self.user(key).await?;
        if user.user_uuid != caller.user_uuid() {
            self.administered_user(caller, key).await?;
        }
        self.update_profile_of(&user.user_uuid, changes, meta).await
    }

    /// Users matching `query` (active ones unless it asks for others),
    /// each with their roles; a search term and `include_emails` match only
    /// the emails the caller may see.
    pub async fn list_users(
        &self,
        caller: &Caller,
        query: UserQuery,
    ) -> Result<(Vec<ListedUser>, Count), ServiceError> {
        Ok(read_models::list_users(&self.reader, &query.filter(caller)).await?)
    }

    /// For each of `fields`, how many users matching `query` hold each
    /// value (paging aside), most first.
    pub async fn user_facets(
        &self,
        caller: &Caller,
        query: UserQuery,
        fields: &[FacetField],
    ) -> Result<Vec<(FacetField, Vec<GroupCount>)>, ServiceError> {
        let filter = query.filter(caller);
        let mut facets = Vec::new();
        for field in fields {
            facets.push((*field, read_models::user_facet(&self.reader, &filter, *field).await?));
        }
        Ok(facets)
    }

    /// A user who is not deleted.
    pub async fn user(&self, key: &UserKey) -> Result<UserRow, ServiceError> {
        read_models::user(&self.db, key).await?.ok_or_else(|| ServiceError::not_found(Entity::User))
    }

    /// The user an admin action names; one that does not exist is a refused `user_id`.
    pub async fn named_user(&self, who: &UserRef) -> Result<UserRow, ServiceError> {
        let user = match who {
            UserRef::Id(id) => read_models::user(&self.db, &UserKey::Numeric(*id)).await?,
            UserRef::Email(email) => read_models::user_by_email(&self.db, email).await?,
        };
        user.ok_or_else(|| ServiceError::invalid("user_id", Reason::NotFound { entity: Entity::User, id: None }))
    }

    /// A user's roles, by id.
    pub async fn roles_of(&self, user: &UserRow) -> Result<Vec<RoleRow>, ServiceError> {
        Ok(read_models::roles_of(&self.db, &user.user_uuid).await?)
    }
}
