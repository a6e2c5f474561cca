//! User reads, shared by every dialect: lists and searches in the view the
//! caller may see of each user, one user by key, and the user an admin
//! action names. Typed in and out (the read models' rows), failing with
//! `ServiceError`; the queries themselves stay in `crate::read_models`, and
//! no dialect calls them but through here.

use crate::accounts::Caller;
use crate::error::{Entity, Reason, ServiceError};
use crate::read_models::{self, UserFilter};
use crate::services::Services;
use crate::storage::Count;
use crate::visibility::ContactScope;

/// The rows these reads return, and the key they take.
pub use crate::read_models::{json_column, ListedUser, Profile, RoleRow, UserKey, UserRow};

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
    pub page: i64,
    pub limit: i64,
}

/// The user an admin action names: by numeric id, or by email.
#[derive(Debug, Clone)]
pub enum UserRef {
    Id(i64),
    Email(String),
}

impl Services {
    /// Active users matching `query`, each with their roles; a search term
    /// and `include_emails` match only the emails the caller may see.
    pub async fn list_users(
        &self,
        caller: &Caller,
        query: UserQuery,
    ) -> Result<(Vec<ListedUser>, Count), ServiceError> {
        let filter = UserFilter {
            search: query.search,
            role: query.role,
            organization_id: query.organization_id,
            include_ids: query.include_ids,
            include_emails: query.include_emails,
            exclude_ids: query.exclude_ids,
            contacts: ContactScope::of(caller),
            page: query.page,
            limit: query.limit,
        };
        Ok(read_models::list_users(&self.reader, &filter).await?)
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
