//! Users created by an organisation's administrator from one contact value
//! (entity v5's `user/create`): an email, or a phone number, in the
//! organisation named. Nothing is verified and nothing logs them in: like a
//! managed user they have no password (and no user name), so a login by
//! their email or phone is refused as any wrong password is, until a
//! password is set for them (a reset).
//!
//! Creating is idempotent on the contact value: the value is claimed in the
//! same commit as the registration (`UniqueClaim`), and a value someone
//! holds answers that user, `existed`, instead of a refusal. Parallel
//! creates of one value are decided by the claim's sequence: one registers,
//! the others lose the claim at commit, decide again, find it taken and
//! answer its holder. A holder in another organisation is `Duplicate` (the
//! value is taken; who holds it is not the caller's to see).

use aggregates::validation;
use aggregates::{ClaimCommand, ClaimError, ClaimKind, Registration, UniqueClaim, User, UserCommand};
use uuid::Uuid;

use crate::accounts::Caller;
use crate::commands::{CommandError, Metadata};
use crate::error::{Entity, ServiceError};
use crate::read_models::{OrganizationDetails, OrganizationKey, UserKey};
use crate::services::Services;

/// The one contact value a user is created from.
#[derive(Debug, Clone)]
pub enum Contact {
    Email(String),
    /// A phone number, in full (`+` and the country code first, as the
    /// dialect builds it).
    Phone(String),
}

pub struct UnverifiedUser {
    pub organization: OrganizationKey,
    pub contact: Contact,
}

/// The user a create answers: the one it registered, or (`existed`) the
/// one who held the contact value already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedUser {
    pub user_uuid: String,
    pub existed: bool,
}

impl Services {
    /// Registers a user holding only `input.contact`, in `input.organization`
    /// (one the caller administers, active), with the default role; or
    /// answers the user of that organisation who holds the value already.
    pub async fn create_unverified_user(
        &self,
        caller: &Caller,
        input: UnverifiedUser,
        meta: &Metadata,
    ) -> Result<CreatedUser, ServiceError> {
        let organization = self.active_organization_managed_by(caller, &input.organization).await?;
        let (kind, value, field) = match &input.contact {
            Contact::Email(raw) => (ClaimKind::Email, validation::normalize_email(raw)?, "email"),
            Contact::Phone(raw) => (ClaimKind::Phone, validation::normalize_phone(raw)?, "phone"),
        };
        let claim_id = self.bus.claim_id(kind, &value);
        let role_ids = self.role_ids_for(&[]).await?;
        let user_uuid = Uuid::new_v4().to_string();
        let at = chrono::Utc::now();
        let mut numeric_id = None;
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            let claim = ClaimCommand::Claim { owner: user_uuid.clone(), at };
            match unit.decide::<UniqueClaim>(&claim_id, claim).await {
                Ok(_) => {}
                Err(CommandError::Domain(ClaimError::Taken)) => {
                    return self.holder_of(&claim_id, &organization, field).await;
                }
                Err(other) => return Err(other.into()),
            }
            let numeric_id = match numeric_id {
                Some(id) => id,
                None => *numeric_id.insert(self.db.next_numeric_id("user").await?),
            };
            let (email, phone) = match kind {
                ClaimKind::Email => (Some(value.clone()), None),
                _ => (None, Some(value.clone())),
            };
            let registration = Registration {
                numeric_id,
                email,
                // The create names no one: the name stays empty until a profile update sets it.
                name: String::new(),
                phone,
                username: None,
                password_hash: None,
                organization_id: organization.id,
                role_ids: role_ids.clone(),
                has_accepted_terms_and_conditions: false,
                preferred_language: "en".to_string(),
                managed_by: None,
                extension: None,
            };
            unit.decide_new::<User>(&user_uuid, UserCommand::Register { registration, at }).await?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.registered(committed, user_uuid.clone()).await?;
        Ok(CreatedUser { user_uuid, existed: false })
    }

    /// The user holding the claim `claim_id`, read from the log (the read
    /// models may not show a parallel winner yet): theirs if they belong to
    /// `organization`, else the value is `Duplicate`.
    async fn holder_of(
        &self,
        claim_id: &str,
        organization: &OrganizationDetails,
        field: &'static str,
    ) -> Result<CreatedUser, ServiceError> {
        let taken = ServiceError::Duplicate { entity: Entity::User, field };
        let claim = self.bus.load::<UniqueClaim>(claim_id).await?;
        // Given back meanwhile (an erasure, a contact change): asking again creates.
        let Some(owner) = claim.owner else { return Err(ServiceError::Busy) };
        let holder = self.bus.load::<User>(&owner).await?;
        if holder.organization_id != organization.id {
            return Err(taken);
        }
        // The winner of a parallel create waits for its own write; so does this answer.
        self.wait_for_user(&owner).await;
        Ok(CreatedUser { user_uuid: owner, existed: true })
    }

    /// Until reads show the user (bounded by the read-your-writes timeout):
    /// the commit point of another request's write is not ours to wait for.
    async fn wait_for_user(&self, user_uuid: &str) {
        let deadline = tokio::time::Instant::now() + self.read_your_writes_timeout();
        let key = UserKey::Uuid(user_uuid.to_string());
        while self.user(&key).await.is_err() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
