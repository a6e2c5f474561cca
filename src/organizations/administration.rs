//! What admins do to users of the organisations they administer:
//! find them, deactivate them, erase them.

use crate::accounts::Caller;
use crate::commands::Metadata;
use crate::error::{Clash, Entity, Reason, ServiceError};
use crate::read_models::{self, UserKey, UserRow};
use crate::services::Services;

impl Services {
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
        if users.iter().any(|u| u.user_uuid == caller.user_uuid()) {
            return Err(ServiceError::Conflict { what: Clash::SelfDeactivation });
        }
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
}
