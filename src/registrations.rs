//! Accounts registered by any login identifier: an email, a phone or both,
//! and a user name that is generated when none is given (Sunbird's
//! creates). Like a sign-up (`accounts`), every value is claimed and the
//! user registered in one commit, with a password; unlike it, the email may
//! be absent, so such a user logs in with their phone or user name.

use aggregates::validation::{self, InvalidInput};
use aggregates::{ClaimCommand, ClaimError, ClaimKind, ProfileExtension, Registration, UniqueClaim, User, UserCommand};
use rand::Rng;
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

use crate::accounts::Caller;
use crate::auth::password;
use crate::bootstrap::DEFAULT_ORGANIZATION_ID;
use crate::commands::{CommandError, Committed, Metadata};
use crate::error::{Clash, Entity, Reason, ServiceError};
use crate::read_models::{self, OrganizationKey, Profile, UserKey};
use crate::services::Services;

/// A user to register: at least an email or a phone.
pub struct NewAccount {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// `None`: one is generated from the name (`generated_username`).
    pub username: Option<String>,
    pub password: String,
    /// Profile fields the domain does not model, kept as given (the dialect
    /// validated them).
    pub extension: Option<ProfileExtension>,
    /// Which organisation the user joins; `None`: the default organisation.
    pub organization: Option<OrganizationKey>,
}

/// How many generated user names are tried before giving up (each one is
/// taken only if four random characters collide, so one nearly always does).
const GENERATED_USERNAME_ATTEMPTS: usize = 10;
/// Random characters after the name (Sunbird's `sunbird_username_num_digits`).
const USERNAME_SUFFIX: usize = 4;
/// The longest user name (`validation::normalize_username`).
const USERNAME_MAX: usize = 64;

/// Sunbird's generated user name: the name's letters and digits (accents
/// folded, spaces and other characters dropped), lower-cased, then `_` and
/// four random lower-case letters or digits: "Ada Lovelace" gives
/// `adalovelace_k3x9`. A name with none of those gives `user_k3x9`.
pub fn generated_username(name: &str) -> String {
    let mut base: String = name
        .nfd()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'))
        .map(|c| c.to_ascii_lowercase())
        .take(USERNAME_MAX - USERNAME_SUFFIX - 1)
        .collect();
    if base.is_empty() {
        base.push_str("user");
    }
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let suffix: String = (0..USERNAME_SUFFIX).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("{base}_{suffix}")
}

struct Valid {
    name: String,
    email: Option<String>,
    phone: Option<String>,
    username: Option<String>,
}

fn validate(input: &NewAccount) -> Result<Valid, ServiceError> {
    if input.email.is_none() && input.phone.is_none() {
        return Err(ServiceError::invalid("email", Reason::Required { or: Some("phone") }));
    }
    let mut errors: Vec<InvalidInput> = Vec::new();
    let name = validation::normalize_name(&input.name).map_err(|e| errors.push(e)).ok();
    let mut optional = |raw: &Option<String>, normalize: fn(&str) -> Result<String, InvalidInput>| {
        raw.as_deref().map(normalize).transpose().map_err(|e| errors.push(e)).ok().flatten()
    };
    let email = optional(&input.email, validation::normalize_email);
    let phone = optional(&input.phone, validation::normalize_phone);
    let username = optional(&input.username, validation::normalize_username);
    if let Err(e) = validation::check_password_policy(&input.password) {
        errors.push(e);
    }
    match name {
        Some(name) if errors.is_empty() => Ok(Valid { name, email, phone, username }),
        _ => Err(ServiceError::invalid_input(errors)),
    }
}

impl Services {
    /// Where a new user belongs: the default organisation unless `key` names
    /// another, which must exist, be active and be administered by `by` (an
    /// admin, or an org admin of that organisation): a sign-up or a plain
    /// user cannot place anyone, themselves included, in an organisation
    /// whose users they would then list.
    async fn organization_to_join(
        &self,
        key: Option<&OrganizationKey>,
        by: Option<&Caller>,
    ) -> Result<i64, ServiceError> {
        let Some(key) = key else { return Ok(DEFAULT_ORGANIZATION_ID) };
        let organization = read_models::organization_details(&self.db, key).await?.ok_or_else(|| {
            let id = match key {
                OrganizationKey::Id(id) => id.to_string(),
                OrganizationKey::Code(code) => code.clone(),
            };
            ServiceError::invalid("organization", Reason::NotFound { entity: Entity::Organization, id: Some(id) })
        })?;
        if organization.id == DEFAULT_ORGANIZATION_ID {
            return Ok(organization.id);
        }
        if !by.is_some_and(|caller| caller.administers(organization.id)) {
            return Err(ServiceError::Forbidden);
        }
        if organization.status != "ACTIVE" {
            return Err(ServiceError::Conflict { what: Clash::OrganizationDeactivated });
        }
        Ok(organization.id)
    }

    /// Registers `input` with the default role in its organisation (the
    /// default one unless it names another, see `organization_to_join`), its
    /// email, phone and user name claimed in the same commit. A value
    /// someone holds refuses the whole registration (`Duplicate`), except a
    /// generated user name, for which another is generated. Returns the
    /// profile once reads show it.
    pub async fn register_by_identifiers(
        &self,
        input: NewAccount,
        by: Option<&Caller>,
        meta: &Metadata,
    ) -> Result<Profile, ServiceError> {
        let valid = validate(&input)?;
        let organization_id = self.organization_to_join(input.organization.as_ref(), by).await?;
        let password_hash = password::hash(input.password).await?;
        let role_ids = self.role_ids_for(&[]).await?;
        let user_uuid = Uuid::new_v4().to_string();
        let at = chrono::Utc::now();
        let claim = || ClaimCommand::Claim { owner: user_uuid.clone(), at };
        let mut numeric_id = None;
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            let given = [
                valid.email.clone().map(|v| (ClaimKind::Email, v, "email")),
                valid.phone.clone().map(|v| (ClaimKind::Phone, v, "phone")),
                valid.username.clone().map(|v| (ClaimKind::Username, v, "username")),
            ];
            for (kind, value, field) in given.into_iter().flatten() {
                unit.decide::<UniqueClaim>(&self.bus.claim_id(kind, &value), claim()).await.map_err(|e| match e {
                    CommandError::Domain(ClaimError::Taken) => ServiceError::Duplicate { entity: Entity::User, field },
                    other => other.into(),
                })?;
            }
            let username = match &valid.username {
                Some(username) => username.clone(),
                None => self.claim_generated_username(&mut unit, &valid.name, &user_uuid, at).await?,
            };
            let numeric_id = match numeric_id {
                Some(id) => id,
                None => *numeric_id.insert(self.db.next_numeric_id("user").await?),
            };
            let registration = Registration {
                numeric_id,
                email: valid.email.clone(),
                name: valid.name.clone(),
                phone: valid.phone.clone(),
                username: Some(username),
                password_hash: Some(password_hash.clone()),
                organization_id,
                role_ids: role_ids.clone(),
                has_accepted_terms_and_conditions: false,
                preferred_language: "en".to_string(),
                managed_by: None,
                extension: input.extension.clone().filter(|e| !e.is_empty()),
            };
            unit.decide_new::<User>(&user_uuid, UserCommand::Register { registration, at }).await?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.registered(committed, user_uuid).await
    }

    /// A registration just committed: counted, and its profile once reads
    /// show it (what every create without a session answers).
    pub(crate) async fn registered(&self, committed: Committed, user_uuid: String) -> Result<Profile, ServiceError> {
        metrics::counter!("roster_sign_ups_total").increment(1);
        self.settle(committed).await?;
        self.profile(&UserKey::Uuid(user_uuid)).await
    }

    /// Claims a user name generated from `name` in the unit: a refused
    /// claim changes nothing, so a taken one is simply followed by another.
    async fn claim_generated_username(
        &self,
        unit: &mut crate::unit_of_work::UnitOfWork,
        name: &str,
        owner: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, ServiceError> {
        for _ in 0..GENERATED_USERNAME_ATTEMPTS {
            let candidate = generated_username(name);
            let claim = ClaimCommand::Claim { owner: owner.to_string(), at };
            match unit.decide::<UniqueClaim>(&self.bus.claim_id(ClaimKind::Username, &candidate), claim).await {
                Ok(_) => return Ok(candidate),
                Err(CommandError::Domain(ClaimError::Taken)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(ServiceError::internal("no free generated user name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_user_names_are_sunbirds_form_and_valid() {
        let name = generated_username("Mary Somerville");
        let (base, suffix) = name.rsplit_once('_').unwrap();
        assert_eq!(base, "marysomerville");
        assert!(suffix.len() == 4 && suffix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{name}");
        assert!(generated_username("José Ñúñez").starts_with("josenunez_"));
        assert!(generated_username("  ").starts_with("user_"));
        assert!(generated_username("李雷").starts_with("user_"));
        let long = generated_username(&"x".repeat(300));
        assert_eq!(long.len(), 64);
        for name in [name, long, generated_username("o'Brien-Smith Jr.")] {
            assert_eq!(validation::normalize_username(&name).as_deref(), Ok(name.as_str()));
        }
    }
}
