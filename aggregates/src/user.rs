//! The user account: registration, profile, login bookkeeping with lockout,
//! activation and erasure.

use crate::Aggregate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::declaration::{self, DeclarationChange, DeclarationSet};
use crate::{domain_event, Timestamp};

/// Profile fields Roster's own domain has no place for, kept as a client
/// wrote them (Sunbird's `dob`, `profileLocation`, `framework`, …): each
/// top-level key is one field. The dialect that takes them validates them.
pub type ProfileExtension = serde_json::Map<String, Value>;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    /// Loading an unknown aggregate yields this state: every command but
    /// `Register` is refused on it.
    #[default]
    NotRegistered,
    Active,
    Inactive,
    Deleted,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::NotRegistered => "NOT_REGISTERED",
            UserStatus::Active => "ACTIVE",
            UserStatus::Inactive => "INACTIVE",
            UserStatus::Deleted => "DELETED",
        }
    }
}

/// Fields a profile update may change; `None` leaves a field as it is.
/// Free-form fields (gender, location, languages) keep the client's JSON shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub languages: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_link: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_language: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_accepted_terms_and_conditions: Option<bool>,
    /// In a command, the extension fields to set (a `null` removes one; the
    /// others are kept). In the event, the whole extension after the change,
    /// so a read model stores it as it is without merging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<ProfileExtension>,
}

impl ProfileChanges {
    pub fn is_empty(&self) -> bool {
        *self == ProfileChanges::default()
    }
}

/// New contact values: each `Some` replaces the user's current one (and the
/// service moves its unique claim in the same commit). Values are
/// normalised already; one equal to the current value changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

impl ContactChanges {
    pub fn is_empty(&self) -> bool {
        *self == ContactChanges::default()
    }

    /// Only the values that differ from the user's current ones.
    pub fn against(self, user: &User) -> ContactChanges {
        let new = |value: Option<String>, current: &Option<String>| value.filter(|v| Some(v) != current.as_ref());
        ContactChanges {
            email: new(self.email, &user.email),
            phone: new(self.phone, &user.phone),
            username: new(self.username, &user.username),
        }
    }
}

/// How many failed logins in a row lock an account, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockoutPolicy {
    pub max_failed_attempts: u32,
    pub lock_seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub numeric_id: i64,
    /// `None` for a managed user, who signs in through their manager.
    pub email: Option<String>,
    pub name: String,
    pub phone: Option<String>,
    pub username: Option<String>,
    /// `None` for a managed user: no password logs them in.
    pub password_hash: Option<String>,
    pub organization_id: i64,
    pub role_ids: Vec<i64>,
    pub has_accepted_terms_and_conditions: bool,
    pub preferred_language: String,
    /// The user who manages this one (Sunbird's managed users); absent in
    /// the events written before managed users existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    /// The profile extension written with the registration, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<ProfileExtension>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserCommand {
    Register {
        registration: Registration,
        at: Timestamp,
    },
    UpdateProfile {
        changes: ProfileChanges,
        at: Timestamp,
    },
    AcceptTerms {
        at: Timestamp,
    },
    /// New email, phone or username; what equals the current value is
    /// dropped, and nothing left decides nothing.
    ChangeContact {
        changes: ContactChanges,
        at: Timestamp,
    },
    /// The password was verified outside (it needs a blocking hash); the
    /// aggregate still refuses if the account is locked or not active.
    RecordLoginSuccess {
        session_id: String,
        at: Timestamp,
    },
    RecordLoginFailure {
        policy: LockoutPolicy,
        at: Timestamp,
    },
    RecordLogout {
        session_id: String,
        at: Timestamp,
    },
    Deactivate {
        at: Timestamp,
    },
    Activate {
        at: Timestamp,
    },
    Delete {
        at: Timestamp,
    },
    /// Grants a role in an organisation; a user in another organisation moves there first,
    /// and loses the roles of `dropped_on_move` it holds (those that belong to the
    /// organisation it leaves: the service says which), bar the one granted.
    AssignRole {
        role_id: i64,
        organization_id: i64,
        dropped_on_move: Vec<i64>,
        at: Timestamp,
    },
    RevokeRole {
        role_id: i64,
        at: Timestamp,
    },
    /// On the manager: `user_id` (registered in the same commit) is one of
    /// the users they manage, refused past `limit` of them.
    AddManagedUser {
        user_id: String,
        limit: u32,
        at: Timestamp,
    },
    /// A new password (hashed outside), after a reset OTP or the old password
    /// was checked; it also lifts a lockout.
    ChangePassword {
        credentials: NewPassword,
        at: Timestamp,
    },
    /// Adds a user who owns this one (entity v5's owners: who looks after
    /// the user); already an owner decides nothing. Refused past `limit`.
    AddOwner {
        owner_id: String,
        limit: u32,
        at: Timestamp,
    },
    /// Removes an owner; not an owner decides nothing.
    RemoveOwner {
        owner_id: String,
        at: Timestamp,
    },
    /// Moves the user to a pool; the pool they are in decides nothing.
    SetPool {
        pool: UserPool,
        at: Timestamp,
    },
    /// Adds, edits and removes self-declarations (`declaration::apply`);
    /// a result equal to the current declarations decides nothing.
    Declare {
        changes: Vec<DeclarationChange>,
        at: Timestamp,
    },
    /// On the source of an account merge (Sunbird's mergee): it ends
    /// deleted; the service gives its identifiers back in the same commit.
    MergeInto {
        into: String,
        at: Timestamp,
    },
    /// On the target of an account merge: records the account merged into it.
    RecordMerge {
        from: String,
        at: Timestamp,
    },
    /// A migration prospect (Sunbird's `OrgMigrationAction` feed item): the
    /// user may move into `prospect.organization_id` by giving its external
    /// id. One pending prospect per channel.
    AddMigrationProspect {
        prospect: MigrationProspect,
        at: Timestamp,
    },
    /// The user's answer to the pending prospect of `channel`: the external
    /// id they say is theirs. A match migrates them (dropping the roles of
    /// `dropped_on_move` when the organisation changes, as `AssignRole`);
    /// a wrong one counts an attempt, and the last allowed one fails the prospect.
    AcceptMigration {
        channel: String,
        external_id: String,
        dropped_on_move: Vec<i64>,
        at: Timestamp,
    },
    /// The user declines every pending prospect.
    RejectMigration {
        at: Timestamp,
    },
}

/// Wrong external ids a migration prospect takes before it fails (Sunbird's
/// `MAX_MIGRATION_ATTEMPT`).
pub const MAX_MIGRATION_ATTEMPTS: u32 = 2;

/// A prospective organisation for a user, and the external id that proves
/// the user is the one that organisation knows (Sunbird's shadow user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationProspect {
    /// The id of the feed item that shows it.
    pub feed_id: String,
    pub organization_id: i64,
    /// The organisation's code (Sunbird's channel).
    pub channel: String,
    /// The organisation's external id of the user, which the user must
    /// give: personal (sealed) and, like a password hash, never shown
    /// outside the service (`privacy::CREDENTIAL_FIELDS`).
    pub expected_external_id: String,
    pub priority: i64,
    /// Who added it.
    pub created_by: Option<String>,
}

/// A pending prospect with the wrong answers it has had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingProspect {
    pub prospect: MigrationProspect,
    pub attempts: u32,
    pub added_at: Timestamp,
}

/// A completed migration: the container of the external id, so it is sealed
/// like the registration's personal fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    pub feed_id: String,
    pub organization_id: i64,
    pub channel: String,
    pub external_id: String,
}

/// An external id the user holds (Sunbird's `externalIds`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalId {
    pub id: String,
    /// The channel that issued it (Sunbird's `provider` and `idType`).
    pub provider: String,
}

/// The pool a user is in (entity v5): `alive` (worked on), `dead` (given
/// up) or `public` (anyone's to take). Users start in none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserPool {
    Alive,
    Dead,
    Public,
}

impl UserPool {
    pub const ALL: [UserPool; 3] = [UserPool::Alive, UserPool::Dead, UserPool::Public];

    pub fn as_str(self) -> &'static str {
        match self {
            UserPool::Alive => "alive",
            UserPool::Dead => "dead",
            UserPool::Public => "public",
        }
    }
}

/// The container of a password change, so the hash is sealed as a personal
/// field like the registration's (`privacy::PERSONAL_FIELDS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPassword {
    pub password_hash: String,
    /// `reset` (an OTP) or `change` (the old password).
    pub how: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserEvent {
    UserRegistered {
        registration: Registration,
        at: Timestamp,
    },
    ProfileUpdated {
        changes: ProfileChanges,
        at: Timestamp,
    },
    TermsAccepted {
        at: Timestamp,
    },
    /// Only the values that changed; the old ones are not repeated.
    ContactChanged {
        changes: ContactChanges,
        at: Timestamp,
    },
    LoginSucceeded {
        session_id: String,
        at: Timestamp,
    },
    LoginFailed {
        consecutive_failures: u32,
        at: Timestamp,
    },
    AccountLocked {
        until: Timestamp,
        at: Timestamp,
    },
    LoggedOut {
        session_id: String,
        at: Timestamp,
    },
    UserDeactivated {
        at: Timestamp,
    },
    UserActivated {
        at: Timestamp,
    },
    /// Personal data is gone from the state from here on.
    UserDeleted {
        at: Timestamp,
    },
    OrganizationChanged {
        from: i64,
        to: i64,
        at: Timestamp,
    },
    RoleAssigned {
        role_id: i64,
        organization_id: i64,
        at: Timestamp,
    },
    RoleRevoked {
        role_id: i64,
        at: Timestamp,
    },
    /// On the manager: one more user they manage.
    ManagedUserAdded {
        user_id: String,
        at: Timestamp,
    },
    PasswordChanged {
        credentials: NewPassword,
        at: Timestamp,
    },
    OwnerAdded {
        owner_id: String,
        at: Timestamp,
    },
    OwnerRemoved {
        owner_id: String,
        at: Timestamp,
    },
    PoolChanged {
        pool: UserPool,
        at: Timestamp,
    },
    /// The user's declarations as they are now (all of them).
    DeclarationsChanged {
        declarations: DeclarationSet,
        at: Timestamp,
    },
    /// On the source of a merge, just before its `UserDeleted`.
    AccountMergedInto {
        into: String,
        at: Timestamp,
    },
    /// On the target of a merge: `from` was merged into this account.
    AccountMerged {
        from: String,
        at: Timestamp,
    },
    MigrationProspectAdded {
        prospect: MigrationProspect,
        at: Timestamp,
    },
    /// A wrong external id for the prospect; `attempts` so far.
    MigrationAttemptFailed {
        feed_id: String,
        attempts: u32,
        at: Timestamp,
    },
    /// The prospect's last attempt was wrong: it is gone.
    MigrationFailed {
        feed_id: String,
        at: Timestamp,
    },
    /// The user declined these prospects: they are gone.
    MigrationRejected {
        feed_ids: Vec<String>,
        at: Timestamp,
    },
    /// The user proved the external id and belongs to the prospect's
    /// organisation now (an `OrganizationChanged` precedes it when that
    /// differs); every pending prospect is gone.
    UserMigrated {
        migration: Migration,
        at: Timestamp,
    },
}
domain_event!(
    UserEvent,
    [
        UserRegistered,
        ProfileUpdated,
        TermsAccepted,
        LoginSucceeded,
        LoginFailed,
        AccountLocked,
        LoggedOut,
        UserDeactivated,
        UserActivated,
        UserDeleted,
        OrganizationChanged,
        RoleAssigned,
        RoleRevoked,
        ManagedUserAdded,
        ContactChanged,
        PasswordChanged,
        OwnerAdded,
        OwnerRemoved,
        PoolChanged,
        AccountMergedInto,
        AccountMerged,
        MigrationProspectAdded,
        MigrationAttemptFailed,
        MigrationFailed,
        MigrationRejected,
        UserMigrated,
        DeclarationsChanged
    ]
);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum UserError {
    #[error("user not found")]
    NotFound,
    #[error("user already registered")]
    AlreadyRegistered,
    #[error("user is not active")]
    NotActive,
    #[error("user is already active")]
    AlreadyActive,
    #[error("user is already inactive")]
    AlreadyInactive,
    #[error("account is locked")]
    Locked,
    #[error("nothing to update")]
    NothingToUpdate,
    #[error("the manager manages as many users as they may")]
    ManagedUserLimit,
    #[error("the user has as many owners as they may")]
    OwnerLimit,
    #[error("the user has no pending migration prospect there")]
    NoMigrationProspect,
    #[error("the user has a pending migration prospect of that channel already")]
    ProspectExists,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub status: UserStatus,
    pub numeric_id: i64,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub username: Option<String>,
    pub name: Option<String>,
    pub password_hash: Option<String>,
    pub organization_id: i64,
    pub role_ids: Vec<i64>,
    pub has_accepted_terms_and_conditions: bool,
    pub consecutive_failures: u32,
    pub locked_until: Option<Timestamp>,
    pub last_logged_in_at: Option<Timestamp>,
    #[serde(default)]
    pub managed_by: Option<String>,
    /// The users this one manages.
    #[serde(default)]
    pub managed_users: Vec<String>,
    /// The users who own this one (entity v5), in the order they were added.
    #[serde(default)]
    pub owners: Vec<String>,
    #[serde(default)]
    pub pool: Option<UserPool>,
    /// The accounts merged into this one.
    #[serde(default)]
    pub merged_from: Vec<String>,
    #[serde(default)]
    pub migration_prospects: Vec<PendingProspect>,
    #[serde(default)]
    pub external_ids: Vec<ExternalId>,
    #[serde(default)]
    pub extension: ProfileExtension,
    #[serde(default)]
    pub declarations: Vec<declaration::Declaration>,
}

impl User {
    pub fn is_locked(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }

    fn require_registered(&self) -> Result<(), UserError> {
        match self.status {
            UserStatus::NotRegistered | UserStatus::Deleted => Err(UserError::NotFound),
            _ => Ok(()),
        }
    }

    /// `AcceptMigration`: the pending prospect of `channel` migrates the
    /// user on its external id (any case, as Sunbird compares it); a wrong
    /// one counts, and once `MAX_MIGRATION_ATTEMPTS` are spent the prospect
    /// fails. Parallel answers are serialised by the user's sequence, so
    /// they never spend more attempts than that.
    fn accept_migration(
        &self,
        channel: &str,
        external_id: &str,
        dropped_on_move: Vec<i64>,
        at: Timestamp,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.require_active()?;
        let pending = self
            .migration_prospects
            .iter()
            .find(|p| p.prospect.channel.eq_ignore_ascii_case(channel.trim()))
            .ok_or(UserError::NoMigrationProspect)?;
        let prospect = &pending.prospect;
        if !prospect.expected_external_id.trim().eq_ignore_ascii_case(external_id.trim()) {
            let attempts = pending.attempts + 1;
            let feed_id = prospect.feed_id.clone();
            return Ok(vec![if attempts >= MAX_MIGRATION_ATTEMPTS {
                UserEvent::MigrationFailed { feed_id, at }
            } else {
                UserEvent::MigrationAttemptFailed { feed_id, attempts, at }
            }]);
        }
        let mut events = Vec::new();
        let to = prospect.organization_id;
        if self.organization_id != to {
            for dropped in dropped_on_move.into_iter().filter(|r| self.role_ids.contains(r)) {
                events.push(UserEvent::RoleRevoked { role_id: dropped, at });
            }
            events.push(UserEvent::OrganizationChanged { from: self.organization_id, to, at });
        }
        let migration = Migration {
            feed_id: prospect.feed_id.clone(),
            organization_id: to,
            channel: prospect.channel.clone(),
            external_id: prospect.expected_external_id.clone(),
        };
        events.push(UserEvent::UserMigrated { migration, at });
        Ok(events)
    }

    /// The extension after `patch` (its keys replace, a `null` removes), or
    /// `None` when that changes nothing.
    fn extended(&self, patch: ProfileExtension) -> Option<ProfileExtension> {
        let mut extension = self.extension.clone();
        for (key, value) in patch {
            match value {
                Value::Null => extension.remove(&key),
                value => extension.insert(key, value),
            };
        }
        (extension != self.extension).then_some(extension)
    }

    fn require_active(&self) -> Result<(), UserError> {
        self.require_registered()?;
        if self.status == UserStatus::Active {
            Ok(())
        } else {
            Err(UserError::NotActive)
        }
    }
}

impl Aggregate for User {
    const TYPE: &'static str = "user";
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;

    fn decide(&self, command: UserCommand) -> Result<Vec<UserEvent>, UserError> {
        let event = match command {
            UserCommand::Register { registration, at } => {
                if self.status != UserStatus::NotRegistered {
                    return Err(UserError::AlreadyRegistered);
                }
                UserEvent::UserRegistered { registration, at }
            }
            UserCommand::UpdateProfile { mut changes, at } => {
                self.require_active()?;
                changes.extension = changes.extension.and_then(|patch| self.extended(patch));
                if changes.is_empty() {
                    return Err(UserError::NothingToUpdate);
                }
                UserEvent::ProfileUpdated { changes, at }
            }
            UserCommand::AcceptTerms { at } => {
                self.require_active()?;
                if self.has_accepted_terms_and_conditions {
                    return Ok(vec![]);
                }
                UserEvent::TermsAccepted { at }
            }
            UserCommand::ChangeContact { changes, at } => {
                self.require_active()?;
                let changes = changes.against(self);
                if changes.is_empty() {
                    return Ok(vec![]);
                }
                UserEvent::ContactChanged { changes, at }
            }
            UserCommand::RecordLoginSuccess { session_id, at } => {
                self.require_active()?;
                if self.is_locked(at) {
                    return Err(UserError::Locked);
                }
                UserEvent::LoginSucceeded { session_id, at }
            }
            UserCommand::RecordLoginFailure { policy, at } => {
                self.require_registered()?;
                if self.is_locked(at) {
                    return Err(UserError::Locked);
                }
                let consecutive_failures = self.consecutive_failures + 1;
                let mut events = vec![UserEvent::LoginFailed { consecutive_failures, at }];
                if policy.max_failed_attempts > 0 && consecutive_failures >= policy.max_failed_attempts {
                    let until = at + chrono::Duration::seconds(policy.lock_seconds);
                    events.push(UserEvent::AccountLocked { until, at });
                }
                return Ok(events);
            }
            UserCommand::RecordLogout { session_id, at } => {
                self.require_registered()?;
                UserEvent::LoggedOut { session_id, at }
            }
            UserCommand::Deactivate { at } => {
                self.require_registered()?;
                if self.status == UserStatus::Inactive {
                    return Err(UserError::AlreadyInactive);
                }
                UserEvent::UserDeactivated { at }
            }
            UserCommand::Activate { at } => {
                self.require_registered()?;
                if self.status == UserStatus::Active {
                    return Err(UserError::AlreadyActive);
                }
                UserEvent::UserActivated { at }
            }
            UserCommand::Delete { at } => {
                self.require_registered()?;
                UserEvent::UserDeleted { at }
            }
            UserCommand::AssignRole { role_id, organization_id, dropped_on_move, at } => {
                self.require_registered()?;
                let mut events = Vec::new();
                let mut kept = self.role_ids.clone();
                if self.organization_id != organization_id {
                    for dropped in dropped_on_move.into_iter().filter(|r| *r != role_id && self.role_ids.contains(r)) {
                        kept.retain(|r| *r != dropped);
                        events.push(UserEvent::RoleRevoked { role_id: dropped, at });
                    }
                    let from = self.organization_id;
                    events.push(UserEvent::OrganizationChanged { from, to: organization_id, at });
                }
                if !kept.contains(&role_id) {
                    events.push(UserEvent::RoleAssigned { role_id, organization_id, at });
                }
                return Ok(events);
            }
            UserCommand::RevokeRole { role_id, at } => {
                self.require_registered()?;
                if !self.role_ids.contains(&role_id) {
                    return Ok(vec![]);
                }
                UserEvent::RoleRevoked { role_id, at }
            }
            UserCommand::AddManagedUser { user_id, limit, at } => {
                self.require_active()?;
                if self.managed_users.contains(&user_id) {
                    return Ok(vec![]);
                }
                if self.managed_users.len() >= limit as usize {
                    return Err(UserError::ManagedUserLimit);
                }
                UserEvent::ManagedUserAdded { user_id, at }
            }
            UserCommand::ChangePassword { credentials, at } => {
                self.require_active()?;
                UserEvent::PasswordChanged { credentials, at }
            }
            UserCommand::AddOwner { owner_id, limit, at } => {
                self.require_registered()?;
                if self.owners.contains(&owner_id) {
                    return Ok(vec![]);
                }
                if self.owners.len() >= limit as usize {
                    return Err(UserError::OwnerLimit);
                }
                UserEvent::OwnerAdded { owner_id, at }
            }
            UserCommand::RemoveOwner { owner_id, at } => {
                self.require_registered()?;
                if !self.owners.contains(&owner_id) {
                    return Ok(vec![]);
                }
                UserEvent::OwnerRemoved { owner_id, at }
            }
            UserCommand::SetPool { pool, at } => {
                self.require_registered()?;
                if self.pool == Some(pool) {
                    return Ok(vec![]);
                }
                UserEvent::PoolChanged { pool, at }
            }
            UserCommand::MergeInto { into, at } => {
                self.require_registered()?;
                return Ok(vec![UserEvent::AccountMergedInto { into, at }, UserEvent::UserDeleted { at }]);
            }
            UserCommand::RecordMerge { from, at } => {
                self.require_active()?;
                UserEvent::AccountMerged { from, at }
            }
            UserCommand::AddMigrationProspect { prospect, at } => {
                self.require_active()?;
                if self.migration_prospects.iter().any(|p| p.prospect.channel == prospect.channel) {
                    return Err(UserError::ProspectExists);
                }
                UserEvent::MigrationProspectAdded { prospect, at }
            }
            UserCommand::AcceptMigration { channel, external_id, dropped_on_move, at } => {
                return self.accept_migration(&channel, &external_id, dropped_on_move, at);
            }
            UserCommand::RejectMigration { at } => {
                self.require_registered()?;
                if self.migration_prospects.is_empty() {
                    return Err(UserError::NoMigrationProspect);
                }
                let feed_ids = self.migration_prospects.iter().map(|p| p.prospect.feed_id.clone()).collect();
                UserEvent::MigrationRejected { feed_ids, at }
            }
            UserCommand::Declare { changes, at } => {
                self.require_active()?;
                let entries = declaration::apply(&self.declarations, changes);
                if entries == self.declarations {
                    return Ok(vec![]);
                }
                UserEvent::DeclarationsChanged { declarations: DeclarationSet { entries }, at }
            }
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: UserEvent) {
        match event {
            UserEvent::UserRegistered { registration: r, .. } => {
                self.status = UserStatus::Active;
                self.numeric_id = r.numeric_id;
                self.email = r.email;
                self.phone = r.phone;
                self.username = r.username;
                self.name = Some(r.name);
                self.password_hash = r.password_hash;
                self.organization_id = r.organization_id;
                self.role_ids = r.role_ids;
                self.has_accepted_terms_and_conditions = r.has_accepted_terms_and_conditions;
                self.managed_by = r.managed_by;
                self.extension = r.extension.unwrap_or_default();
            }
            UserEvent::ProfileUpdated { changes, .. } => {
                if let Some(extension) = changes.extension {
                    self.extension = extension;
                }
                if let Some(name) = changes.name {
                    self.name = Some(name);
                }
                if let Some(accepted) = changes.has_accepted_terms_and_conditions {
                    self.has_accepted_terms_and_conditions = accepted;
                }
            }
            UserEvent::TermsAccepted { .. } => self.has_accepted_terms_and_conditions = true,
            UserEvent::ContactChanged { changes, .. } => {
                if let Some(email) = changes.email {
                    self.email = Some(email);
                }
                if let Some(phone) = changes.phone {
                    self.phone = Some(phone);
                }
                if let Some(username) = changes.username {
                    self.username = Some(username);
                }
            }
            UserEvent::LoginSucceeded { at, .. } => {
                self.consecutive_failures = 0;
                self.locked_until = None;
                self.last_logged_in_at = Some(at);
            }
            UserEvent::LoginFailed { consecutive_failures, .. } => {
                self.consecutive_failures = consecutive_failures;
            }
            UserEvent::AccountLocked { until, .. } => {
                self.locked_until = Some(until);
                // The next window starts counting afresh once the lock expires.
                self.consecutive_failures = 0;
            }
            UserEvent::LoggedOut { .. } => {}
            UserEvent::UserDeactivated { .. } => self.status = UserStatus::Inactive,
            UserEvent::UserActivated { .. } => self.status = UserStatus::Active,
            UserEvent::OrganizationChanged { to, .. } => self.organization_id = to,
            UserEvent::RoleAssigned { role_id, .. } => self.role_ids.push(role_id),
            UserEvent::RoleRevoked { role_id, .. } => self.role_ids.retain(|r| *r != role_id),
            UserEvent::ManagedUserAdded { user_id, .. } => {
                if !self.managed_users.contains(&user_id) {
                    self.managed_users.push(user_id);
                }
            }
            UserEvent::PasswordChanged { credentials, .. } => {
                self.password_hash = Some(credentials.password_hash);
                self.consecutive_failures = 0;
                self.locked_until = None;
            }
            UserEvent::OwnerAdded { owner_id, .. } => {
                if !self.owners.contains(&owner_id) {
                    self.owners.push(owner_id);
                }
            }
            UserEvent::OwnerRemoved { owner_id, .. } => self.owners.retain(|o| *o != owner_id),
            UserEvent::PoolChanged { pool, .. } => self.pool = Some(pool),
            // The `UserDeleted` that follows clears the state.
            UserEvent::AccountMergedInto { .. } => {}
            UserEvent::AccountMerged { from, .. } => {
                if !self.merged_from.contains(&from) {
                    self.merged_from.push(from);
                }
            }
            UserEvent::MigrationProspectAdded { prospect, at } => {
                self.migration_prospects.push(PendingProspect { prospect, attempts: 0, added_at: at });
            }
            UserEvent::MigrationAttemptFailed { feed_id, attempts, .. } => {
                if let Some(p) = self.migration_prospects.iter_mut().find(|p| p.prospect.feed_id == feed_id) {
                    p.attempts = attempts;
                }
            }
            UserEvent::MigrationFailed { feed_id, .. } => {
                self.migration_prospects.retain(|p| p.prospect.feed_id != feed_id);
            }
            UserEvent::MigrationRejected { feed_ids, .. } => {
                self.migration_prospects.retain(|p| !feed_ids.contains(&p.prospect.feed_id));
            }
            UserEvent::UserMigrated { migration, .. } => {
                self.migration_prospects.clear();
                self.organization_id = migration.organization_id;
                self.external_ids.retain(|e| e.provider != migration.channel);
                self.external_ids.push(ExternalId { id: migration.external_id, provider: migration.channel });
            }
            UserEvent::DeclarationsChanged { declarations, .. } => self.declarations = declarations.entries,
            UserEvent::UserDeleted { .. } => {
                let numeric_id = self.numeric_id;
                *self = User { status: UserStatus::Deleted, numeric_id, ..User::default() };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestFramework;

    type Test = TestFramework<User>;

    fn at() -> Timestamp {
        chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().into()
    }

    fn registration() -> Registration {
        Registration {
            numeric_id: 7,
            email: Some("a@b.co".into()),
            name: "A".into(),
            phone: None,
            username: None,
            password_hash: Some("$argon2id$x".into()),
            organization_id: 1,
            role_ids: vec![3],
            has_accepted_terms_and_conditions: false,
            preferred_language: "en".into(),
            managed_by: None,
            extension: None,
        }
    }

    fn registered() -> UserEvent {
        UserEvent::UserRegistered { registration: registration(), at: at() }
    }

    const POLICY: LockoutPolicy = LockoutPolicy { max_failed_attempts: 3, lock_seconds: 60 };

    #[test]
    fn registers_once() {
        Test::given_no_previous_events()
            .when(UserCommand::Register { registration: registration(), at: at() })
            .then_expect_events(vec![registered()]);
        Test::given(vec![registered()])
            .when(UserCommand::Register { registration: registration(), at: at() })
            .then_expect_error(UserError::AlreadyRegistered);
    }

    #[test]
    fn owners_are_added_once_removed_once_and_bounded() {
        let add = |owner: &str| UserCommand::AddOwner { owner_id: owner.into(), limit: 2, at: at() };
        let added = |owner: &str| UserEvent::OwnerAdded { owner_id: owner.into(), at: at() };
        Test::given(vec![registered()]).when(add("o1")).then_expect_events(vec![added("o1")]);
        Test::given(vec![registered(), added("o1")]).when(add("o1")).then_expect_events(vec![]);
        Test::given(vec![registered(), added("o1"), added("o2")])
            .when(add("o3"))
            .then_expect_error(UserError::OwnerLimit);
        let remove = |owner: &str| UserCommand::RemoveOwner { owner_id: owner.into(), at: at() };
        Test::given(vec![registered(), added("o1")])
            .when(remove("o1"))
            .then_expect_events(vec![UserEvent::OwnerRemoved { owner_id: "o1".into(), at: at() }]);
        Test::given(vec![registered()]).when(remove("o1")).then_expect_events(vec![]);
        Test::given_no_previous_events().when(add("o1")).then_expect_error(UserError::NotFound);
    }

    #[test]
    fn a_pool_change_to_the_current_pool_decides_nothing() {
        let set = |pool| UserCommand::SetPool { pool, at: at() };
        let changed = UserEvent::PoolChanged { pool: UserPool::Dead, at: at() };
        Test::given(vec![registered()]).when(set(UserPool::Dead)).then_expect_events(vec![changed.clone()]);
        Test::given(vec![registered(), changed]).when(set(UserPool::Dead)).then_expect_events(vec![]);
        Test::given_no_previous_events().when(set(UserPool::Alive)).then_expect_error(UserError::NotFound);
    }

    #[test]
    fn commands_on_unknown_user_are_refused() {
        for command in [
            UserCommand::AcceptTerms { at: at() },
            UserCommand::Deactivate { at: at() },
            UserCommand::Delete { at: at() },
            UserCommand::RecordLoginSuccess { session_id: "s".into(), at: at() },
            UserCommand::RecordLoginFailure { policy: POLICY, at: at() },
        ] {
            Test::given_no_previous_events().when(command).then_expect_error(UserError::NotFound);
        }
    }

    #[test]
    fn empty_profile_update_is_refused() {
        Test::given(vec![registered()])
            .when(UserCommand::UpdateProfile { changes: ProfileChanges::default(), at: at() })
            .then_expect_error(UserError::NothingToUpdate);
    }

    #[test]
    fn third_failure_locks_and_lock_refuses_even_a_right_password() {
        let failed = |n| UserEvent::LoginFailed { consecutive_failures: n, at: at() };
        let until = at() + chrono::Duration::seconds(60);
        Test::given(vec![registered(), failed(1), failed(2)])
            .when(UserCommand::RecordLoginFailure { policy: POLICY, at: at() })
            .then_expect_events(vec![failed(3), UserEvent::AccountLocked { until, at: at() }]);
        let locked = vec![registered(), failed(1), failed(2), failed(3), UserEvent::AccountLocked { until, at: at() }];
        Test::given(locked.clone())
            .when(UserCommand::RecordLoginSuccess { session_id: "s".into(), at: at() })
            .then_expect_error(UserError::Locked);
        // After the lock expires, a login works again.
        let later = until + chrono::Duration::seconds(1);
        Test::given(locked)
            .when(UserCommand::RecordLoginSuccess { session_id: "s".into(), at: later })
            .then_expect_events(vec![UserEvent::LoginSucceeded { session_id: "s".into(), at: later }]);
    }

    #[test]
    fn success_resets_the_failure_count() {
        let mut user = User::default();
        user.apply(registered());
        user.apply(UserEvent::LoginFailed { consecutive_failures: 2, at: at() });
        user.apply(UserEvent::LoginSucceeded { session_id: "s".into(), at: at() });
        assert_eq!(user.consecutive_failures, 0);
        assert_eq!(user.last_logged_in_at, Some(at()));
    }

    #[test]
    fn inactive_users_cannot_log_in_and_activation_is_checked() {
        let deactivated = vec![registered(), UserEvent::UserDeactivated { at: at() }];
        Test::given(deactivated.clone())
            .when(UserCommand::RecordLoginSuccess { session_id: "s".into(), at: at() })
            .then_expect_error(UserError::NotActive);
        Test::given(deactivated.clone())
            .when(UserCommand::Deactivate { at: at() })
            .then_expect_error(UserError::AlreadyInactive);
        Test::given(deactivated)
            .when(UserCommand::Activate { at: at() })
            .then_expect_events(vec![UserEvent::UserActivated { at: at() }]);
        Test::given(vec![registered()])
            .when(UserCommand::Activate { at: at() })
            .then_expect_error(UserError::AlreadyActive);
    }

    #[test]
    fn deletion_erases_personal_data_and_refuses_later_commands() {
        let mut user = User::default();
        user.apply(registered());
        user.apply(UserEvent::UserDeleted { at: at() });
        assert_eq!(user.status, UserStatus::Deleted);
        assert_eq!(user.email, None);
        assert_eq!(user.password_hash, None);
        assert_eq!(user.numeric_id, 7);
        Test::given(vec![registered(), UserEvent::UserDeleted { at: at() }])
            .when(UserCommand::UpdateProfile {
                changes: ProfileChanges { name: Some("x".into()), ..Default::default() },
                at: at(),
            })
            .then_expect_error(UserError::NotFound);
    }

    #[test]
    fn assigning_a_role_is_idempotent_and_moves_organisation_when_needed() {
        Test::given(vec![registered()])
            .when(UserCommand::AssignRole { role_id: 2, organization_id: 1, dropped_on_move: vec![5], at: at() })
            .then_expect_events(vec![UserEvent::RoleAssigned { role_id: 2, organization_id: 1, at: at() }]);
        Test::given(vec![registered()])
            .when(UserCommand::AssignRole { role_id: 3, organization_id: 1, dropped_on_move: vec![3], at: at() })
            .then_expect_events(vec![]);
        Test::given(vec![registered()])
            .when(UserCommand::AssignRole { role_id: 5, organization_id: 9, dropped_on_move: vec![5], at: at() })
            .then_expect_events(vec![
                UserEvent::OrganizationChanged { from: 1, to: 9, at: at() },
                UserEvent::RoleAssigned { role_id: 5, organization_id: 9, at: at() },
            ]);
        // A move drops the roles the service names (held ones only), then grants.
        let org_admin_of_1 = UserEvent::RoleAssigned { role_id: 5, organization_id: 1, at: at() };
        Test::given(vec![registered(), org_admin_of_1.clone()])
            .when(UserCommand::AssignRole { role_id: 2, organization_id: 9, dropped_on_move: vec![5, 8], at: at() })
            .then_expect_events(vec![
                UserEvent::RoleRevoked { role_id: 5, at: at() },
                UserEvent::OrganizationChanged { from: 1, to: 9, at: at() },
                UserEvent::RoleAssigned { role_id: 2, organization_id: 9, at: at() },
            ]);
        // Dropped and granted again in the new organisation: revoked, then assigned there.
        Test::given(vec![registered()])
            .when(UserCommand::AssignRole { role_id: 2, organization_id: 9, dropped_on_move: vec![3], at: at() })
            .then_expect_events(vec![
                UserEvent::RoleRevoked { role_id: 3, at: at() },
                UserEvent::OrganizationChanged { from: 1, to: 9, at: at() },
                UserEvent::RoleAssigned { role_id: 2, organization_id: 9, at: at() },
            ]);
        // Without a move nothing is dropped.
        Test::given(vec![registered(), org_admin_of_1])
            .when(UserCommand::AssignRole { role_id: 2, organization_id: 1, dropped_on_move: vec![5], at: at() })
            .then_expect_events(vec![UserEvent::RoleAssigned { role_id: 2, organization_id: 1, at: at() }]);
        Test::given(vec![registered()])
            .when(UserCommand::RevokeRole { role_id: 3, at: at() })
            .then_expect_events(vec![UserEvent::RoleRevoked { role_id: 3, at: at() }]);
        Test::given(vec![registered()])
            .when(UserCommand::RevokeRole { role_id: 2, at: at() })
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_extension_update_carries_the_merged_extension_and_nothing_new_decides_nothing() {
        let ext = |v: serde_json::Value| v.as_object().cloned().unwrap();
        let mut with_dob = registration();
        with_dob.extension = Some(ext(serde_json::json!({"dob": "2000-12-31", "framework": {"id": ["f"]}})));
        let given = vec![UserEvent::UserRegistered { registration: with_dob, at: at() }];
        let update = |patch: serde_json::Value| UserCommand::UpdateProfile {
            changes: ProfileChanges { extension: Some(ext(patch)), ..Default::default() },
            at: at(),
        };
        // A key replaces, a null removes, the others stay.
        Test::given(given.clone())
            .when(update(serde_json::json!({"dob": "1999-12-31", "framework": null})))
            .then_expect_events(vec![UserEvent::ProfileUpdated {
                changes: ProfileChanges {
                    extension: Some(ext(serde_json::json!({"dob": "1999-12-31"}))),
                    ..Default::default()
                },
                at: at(),
            }]);
        Test::given(given.clone())
            .when(update(serde_json::json!({"dob": "2000-12-31"})))
            .then_expect_error(UserError::NothingToUpdate);
        let mut user = User::default();
        given.into_iter().for_each(|e| user.apply(e));
        user.apply(UserEvent::UserDeleted { at: at() });
        assert!(user.extension.is_empty() && user.declarations.is_empty(), "erased with the rest");
    }

    #[test]
    fn declarations_change_only_when_the_result_differs() {
        use crate::declaration::{Declaration, DeclarationChange, DeclarationOp, SUBMITTED};
        let declaration = Declaration {
            org_id: "9".into(),
            persona: "teacher".into(),
            info: Default::default(),
            status: SUBMITTED.into(),
            error_type: None,
        };
        let add = UserCommand::Declare {
            changes: vec![DeclarationChange { op: DeclarationOp::Add, declaration: declaration.clone() }],
            at: at(),
        };
        let changed = UserEvent::DeclarationsChanged {
            declarations: DeclarationSet { entries: vec![declaration.clone()] },
            at: at(),
        };
        Test::given(vec![registered()]).when(add.clone()).then_expect_events(vec![changed.clone()]);
        Test::given(vec![registered(), changed]).when(add.clone()).then_expect_events(vec![]);
        Test::given(vec![registered(), UserEvent::UserDeactivated { at: at() }])
            .when(add)
            .then_expect_error(UserError::NotActive);
    }

    #[test]
    fn registrations_written_before_managed_users_still_read() {
        let old = serde_json::json!({
            "numeric_id": 7, "email": "a@b.co", "name": "A", "phone": null, "username": null,
            "password_hash": "$argon2id$x", "organization_id": 1, "role_ids": [3],
            "has_accepted_terms_and_conditions": false, "preferred_language": "en"
        });
        let read: Registration = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(read, registration());
        assert_eq!(serde_json::to_value(&read).unwrap(), old, "written as before");
    }

    #[test]
    fn a_manager_adds_managed_users_up_to_the_limit() {
        let added = |n: usize| UserEvent::ManagedUserAdded { user_id: format!("m{n}"), at: at() };
        let add = |n: usize| UserCommand::AddManagedUser { user_id: format!("m{n}"), limit: 2, at: at() };
        Test::given(vec![registered()]).when(add(1)).then_expect_events(vec![added(1)]);
        Test::given(vec![registered(), added(1)]).when(add(1)).then_expect_events(vec![]);
        Test::given(vec![registered(), added(1)]).when(add(2)).then_expect_events(vec![added(2)]);
        Test::given(vec![registered(), added(1), added(2)]).when(add(3)).then_expect_error(UserError::ManagedUserLimit);
        Test::given(vec![registered(), UserEvent::UserDeactivated { at: at() }])
            .when(add(1))
            .then_expect_error(UserError::NotActive);
        Test::given(vec![]).when(add(1)).then_expect_error(UserError::NotFound);
    }

    #[test]
    fn a_contact_change_keeps_only_new_values_and_needs_an_active_user() {
        let change = |email: &str, username: &str| UserCommand::ChangeContact {
            changes: ContactChanges { email: Some(email.into()), phone: None, username: Some(username.into()) },
            at: at(),
        };
        let changed = UserEvent::ContactChanged {
            changes: ContactChanges { email: Some("new@b.co".into()), ..Default::default() },
            at: at(),
        };
        // The user had no username: it is new, as the email is.
        Test::given(vec![registered()]).when(change("new@b.co", "ann")).then_expect_events(vec![
            UserEvent::ContactChanged {
                changes: ContactChanges { email: Some("new@b.co".into()), phone: None, username: Some("ann".into()) },
                at: at(),
            },
        ]);
        Test::given(vec![registered()])
            .when(UserCommand::ChangeContact {
                changes: ContactChanges { email: Some("new@b.co".into()), phone: None, username: None },
                at: at(),
            })
            .then_expect_events(vec![changed.clone()]);
        Test::given(vec![registered(), changed.clone()])
            .when(UserCommand::ChangeContact {
                changes: ContactChanges { email: Some("new@b.co".into()), ..Default::default() },
                at: at(),
            })
            .then_expect_events(vec![]);
        Test::given(vec![registered(), UserEvent::UserDeactivated { at: at() }])
            .when(change("x@b.co", "x"))
            .then_expect_error(UserError::NotActive);
        Test::given(vec![]).when(change("x@b.co", "x")).then_expect_error(UserError::NotFound);
        let mut user = User::default();
        user.apply(registered());
        user.apply(changed);
        assert_eq!((user.email.as_deref(), user.phone.as_deref()), (Some("new@b.co"), None));
    }
}

// Account merge and migration, in a file of their own.
#[cfg(test)]
#[path = "user_merge_tests.rs"]
mod merge_tests;
