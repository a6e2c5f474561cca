//! Contact changes, shared by every dialect: a user's email, phone or
//! username replaced by a new one. Each is a unique value held by a claim
//! (`UniqueClaim`), so a change claims the new value, gives the old one
//! back and records the change on the user, all in one commit: the new
//! value is never held by two users, and the old one is free for anyone the
//! moment the change is visible. Parallel changes to one value are decided
//! by the claim's sequence: exactly one wins, the others are `Duplicate`.

use aggregates::validation::{self, InvalidInput};
use aggregates::{
    ClaimCommand, ClaimError, ClaimKind, ContactChanges, ProfileChanges, UniqueClaim, User, UserCommand, UserError,
};

use crate::accounts::Caller;
use crate::commands::{CommandError, Metadata};
use crate::error::{Entity, ServiceError};
use crate::read_models::{Profile, UserKey};
use crate::services::Services;

/// New contact values as a client sends them (`None`: left as it is), and
/// profile fields changed in the same commit (Sunbird's update sends both).
#[derive(Debug, Clone, Default)]
pub struct ContactChange {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub username: Option<String>,
    pub profile: ProfileChanges,
}

impl ContactChange {
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.phone.is_none() && self.username.is_none()
    }

    /// The values normalised as claims are, every refused field named.
    fn validate(&self) -> Result<(ContactChanges, ProfileChanges), ServiceError> {
        let mut errors: Vec<InvalidInput> = Vec::new();
        let mut check = |raw: &Option<String>, normalize: fn(&str) -> Result<String, InvalidInput>| {
            raw.as_deref().map(normalize).transpose().map_err(|e| errors.push(e)).ok().flatten()
        };
        let contacts = ContactChanges {
            email: check(&self.email, validation::normalize_email),
            phone: check(&self.phone, validation::normalize_phone),
            username: check(&self.username, validation::normalize_username),
        };
        let profile = match self.profile.is_empty() {
            true => Ok(ProfileChanges::default()),
            false => validation::profile_changes(self.profile.clone()),
        };
        match profile {
            Ok(profile) if errors.is_empty() => Ok((contacts, profile)),
            Ok(_) => Err(ServiceError::invalid_input(errors)),
            Err(more) => Err(ServiceError::invalid_input(errors.into_iter().chain(more).collect())),
        }
    }
}

/// The claim a change moves: its kind, the field a refusal names, the old
/// and the new value.
struct Move {
    kind: ClaimKind,
    field: &'static str,
    old: Option<String>,
    new: String,
}

impl Services {
    /// Changes the contact values (and `profile`) of the user `key` names:
    /// the caller's own, or those of a user the caller administers and
    /// outranks. A value equal to the current one changes nothing; a value
    /// another user holds refuses the whole change (`Duplicate`), and
    /// nothing of it is stored.
    pub async fn change_contact(
        &self,
        caller: &Caller,
        key: &UserKey,
        change: ContactChange,
        meta: &Metadata,
    ) -> Result<Profile, ServiceError> {
        let (contacts, profile) = change.validate()?;
        let target = self.user(key).await?;
        if target.user_uuid != caller.user_uuid() {
            if !caller.administers(target.organization_id) {
                return Err(ServiceError::Forbidden);
            }
            self.require_outranks(caller, &target).await?;
        }
        let user_uuid = target.user_uuid;
        let at = chrono::Utc::now();
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            let user = unit.load::<User>(&user_uuid).await?;
            let changes = contacts.clone().against(user);
            let moves: Vec<Move> = [
                changes.email.clone().map(|new| Move {
                    kind: ClaimKind::Email,
                    field: "email",
                    old: user.email.clone(),
                    new,
                }),
                changes.phone.clone().map(|new| Move {
                    kind: ClaimKind::Phone,
                    field: "phone",
                    old: user.phone.clone(),
                    new,
                }),
                changes.username.clone().map(|new| Move {
                    kind: ClaimKind::Username,
                    field: "username",
                    old: user.username.clone(),
                    new,
                }),
            ]
            .into_iter()
            .flatten()
            .collect();
            for Move { kind, field, old, new } in &moves {
                let claim = ClaimCommand::Claim { owner: user_uuid.clone(), at };
                unit.decide::<UniqueClaim>(&self.bus.claim_id(*kind, new), claim).await.map_err(|e| match e {
                    CommandError::Domain(ClaimError::Taken) => ServiceError::Duplicate { entity: Entity::User, field },
                    other => other.into(),
                })?;
                if let Some(old) = old {
                    let release = ClaimCommand::Release { owner: user_uuid.clone(), at };
                    match unit.decide::<UniqueClaim>(&self.bus.claim_id(*kind, old), release).await {
                        Ok(_) => {}
                        // Left as it is: the value is someone else's, not the user's to give back.
                        Err(CommandError::Domain(ClaimError::NotOwner)) => {
                            tracing::warn!("a unique-value claim to give back is held by another owner")
                        }
                        Err(other) => return Err(other.into()),
                    }
                }
            }
            if !changes.is_empty() {
                unit.decide::<User>(&user_uuid, UserCommand::ChangeContact { changes, at }).await?;
            }
            if !profile.is_empty() {
                let update = UserCommand::UpdateProfile { changes: profile.clone(), at };
                unit.decide::<User>(&user_uuid, update).await.map_err(|e| match e {
                    CommandError::Domain(UserError::NothingToUpdate) => ServiceError::NothingToUpdate,
                    other => other.into(),
                })?;
            }
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        self.profile(&UserKey::Uuid(user_uuid)).await
    }
}
