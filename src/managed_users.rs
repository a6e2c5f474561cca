//! Managed users (Sunbird's "MUA"): a user without email, phone or password
//! whom another user manages, for example a child on a parent's account.
//! The manager creates them, lists them, and acts for them with a token
//! this module issues; at most `MANAGED_USER_LIMIT` per manager.
//!
//! The limit is kept on the manager's aggregate: every managed user's
//! registration adds it to its manager in the same commit
//! (`AddManagedUser`), so parallel creates by one manager are serialised by
//! the manager's sequence and never pass the limit together.

use aggregates::validation;
use aggregates::{ProfileExtension, Registration, User, UserCommand};
use uuid::Uuid;

use crate::accounts::Caller;
use crate::auth::sessions;
use crate::bootstrap::DEFAULT_ORGANIZATION_ID;
use crate::commands::Metadata;
use crate::error::{Entity, ServiceError};
use crate::read_models::{self, Profile, UserKey};
use crate::services::Services;

/// How many users one user may manage (Sunbird's `managed_user_limit`).
pub const MANAGED_USER_LIMIT: u32 = 30;

/// A managed user to create: a name, and the user who manages them (who
/// must be the caller).
pub struct ManagedSignUp {
    pub name: String,
    pub managed_by: UserKey,
    /// Profile fields the domain does not model, kept as given.
    pub extension: Option<ProfileExtension>,
}

/// A managed user as a listing returns them, with an access token for them
/// when the manager asked for one.
pub struct ManagedUser {
    pub profile: Profile,
    pub access_token: Option<String>,
}

impl Services {
    /// Registers a user managed by the caller: no email, phone, username or
    /// password, in the default organisation with the default role. Refused
    /// (`Forbidden`) when `managed_by` is anyone but the caller, not found
    /// when the manager is a managed user themselves, and with
    /// `refused.user.managed_user_limit` past the limit.
    pub async fn create_managed_user(
        &self,
        caller: &Caller,
        input: ManagedSignUp,
        meta: &Metadata,
    ) -> Result<Profile, ServiceError> {
        let name = validation::normalize_name(&input.name).map_err(ServiceError::from)?;
        let manager = self.user(&input.managed_by).await?;
        if manager.user_uuid != caller.user_uuid() {
            return Err(ServiceError::Forbidden);
        }
        // A managed user manages no one: as a manager they do not exist.
        if manager.managed_by.is_some() {
            return Err(ServiceError::not_found(Entity::User));
        }
        let role_ids = self.role_ids_for(&[]).await?;
        let user_uuid = Uuid::new_v4().to_string();
        let at = chrono::Utc::now();
        let mut numeric_id = None;
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            let add = UserCommand::AddManagedUser { user_id: user_uuid.clone(), limit: MANAGED_USER_LIMIT, at };
            unit.decide::<User>(&manager.user_uuid, add).await?;
            let numeric_id = match numeric_id {
                Some(id) => id,
                None => *numeric_id.insert(self.db.next_numeric_id("user").await?),
            };
            let registration = Registration {
                numeric_id,
                email: None,
                name: name.clone(),
                phone: None,
                username: None,
                password_hash: None,
                organization_id: DEFAULT_ORGANIZATION_ID,
                role_ids: role_ids.clone(),
                has_accepted_terms_and_conditions: false,
                preferred_language: "en".to_string(),
                managed_by: Some(manager.user_uuid.clone()),
                extension: input.extension.clone().filter(|e| !e.is_empty()),
            };
            unit.decide_new::<User>(&user_uuid, UserCommand::Register { registration, at }).await?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.registered(committed, user_uuid).await
    }

    /// The users `manager` manages, oldest first: the manager's to read, or
    /// an admin's of the manager's organisation. `with_tokens` (the manager
    /// only) opens a session for each and gives its access token, as a
    /// login would, so the manager can act as them.
    pub async fn managed_users(
        &self,
        caller: &Caller,
        manager: &UserKey,
        with_tokens: bool,
    ) -> Result<Vec<ManagedUser>, ServiceError> {
        let manager = self.user(manager).await?;
        let own = manager.user_uuid == caller.user_uuid();
        if !own && (with_tokens || !caller.administers(manager.organization_id)) {
            return Err(ServiceError::Forbidden);
        }
        let mut listed = Vec::new();
        for uuid in read_models::managed_users(&self.db, &manager.user_uuid).await? {
            let profile = match self.profile(&UserKey::Uuid(uuid)).await {
                Ok(profile) => profile,
                Err(ServiceError::NotFound { .. }) => continue,
                Err(other) => return Err(other),
            };
            let active = profile.user.status == aggregates::UserStatus::Active.as_str();
            let access_token = match with_tokens && active {
                true => Some(self.managed_user_token(&profile).await?),
                false => None,
            };
            listed.push(ManagedUser { profile, access_token });
        }
        Ok(listed)
    }

    /// An access token for the user `profile` shows, if the caller manages
    /// them and they are active (Sunbird's read with `withTokens`); `None`
    /// for anyone else, whom no caller gets a token for.
    pub async fn managed_token_for(&self, caller: &Caller, profile: &Profile) -> Result<Option<String>, ServiceError> {
        let active = profile.user.status == aggregates::UserStatus::Active.as_str();
        if !active || profile.user.managed_by.as_deref() != Some(caller.user_uuid()) {
            return Ok(None);
        }
        Ok(Some(self.managed_user_token(profile).await?))
    }

    /// A session for a managed user and its access token.
    async fn managed_user_token(&self, profile: &Profile) -> Result<String, ServiceError> {
        let session_id = Uuid::new_v4().to_string();
        let refresh_jti = Uuid::new_v4().to_string();
        sessions::create(&self.db, &session_id, &profile.user.user_uuid, &refresh_jti, self.tokens.refresh_ttl).await?;
        Ok(self.sign_pair(profile, &session_id, refresh_jti)?.access_token)
    }

    /// Accepts the terms and conditions for the caller, or (`user` naming
    /// someone else) for a user the caller manages.
    pub async fn accept_terms_for(
        &self,
        caller: &Caller,
        user: Option<&UserKey>,
        meta: &Metadata,
    ) -> Result<(), ServiceError> {
        let target = match user {
            Some(key) => self.user(key).await?,
            None => return self.accept_terms(caller, meta).await,
        };
        if target.user_uuid == caller.user_uuid() {
            return self.accept_terms(caller, meta).await;
        }
        if target.managed_by.as_deref() != Some(caller.user_uuid()) {
            return Err(ServiceError::Forbidden);
        }
        let accept = UserCommand::AcceptTerms { at: chrono::Utc::now() };
        let committed = self.bus.execute::<User>(&target.user_uuid, accept, meta).await?;
        self.settle(committed).await?;
        Ok(())
    }
}
