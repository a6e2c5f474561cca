//! Account use cases, shared by every API dialect: sign-up, login, token
//! refresh, logout and profile changes.

use aggregates::validation::{self, InvalidInput};
use aggregates::{
    ClaimCommand, ClaimError, ClaimKind, LockoutPolicy, ProfileChanges, Registration, RoleRequest, RoleRequestCommand,
    UniqueClaim, User, UserCommand, UserError, UserStatus,
};
use uuid::Uuid;

use crate::auth::password;
use crate::auth::sessions::{self, RefreshOutcome};
use crate::auth::tokens::{Claims, RoleClaim, TokenData, ACCESS, REFRESH};
use crate::bootstrap::{default_role_id, ADMIN_ROLE_ID, DEFAULT_ORGANIZATION_ID, ORG_ADMIN_ROLE_ID};
use crate::capabilities::{Capability, CapabilitySet};
use crate::commands::{CommandError, Committed, Metadata};
use crate::error::{Entity, ServiceError};
use crate::projector::Visibility;
use crate::read_models::{self, Profile, UserKey};
use crate::services::Services;
use crate::unit_of_work::UnitOfWork;

pub struct SignUp {
    pub name: String,
    pub email: String,
    pub password: String,
    pub phone: Option<String>,
    pub username: Option<String>,
    pub has_accepted_terms_and_conditions: bool,
    pub preferred_language: Option<String>,
    /// Role titles; empty means the configured default role.
    pub roles: Vec<String>,
}

pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
}

/// The authenticated caller, from a verified access token and a live session.
#[derive(Debug, Clone)]
pub struct Caller {
    pub claims: Claims,
    /// Current roles and organisation. Taken from the token at first; the
    /// authorisation middleware replaces them with the read model's, so a
    /// role granted or revoked counts on the very next request.
    pub role_ids: Vec<i64>,
    pub organization_id: i64,
    /// What the caller's roles (and the public role) may do; set by the
    /// authorisation middleware, empty until then.
    pub capabilities: CapabilitySet,
}

impl Caller {
    /// A caller without a token or session behind it, for the unit tests of
    /// rank and visibility.
    #[cfg(test)]
    pub(crate) fn for_tests(id: i64, role_ids: &[i64], organization_id: i64, capabilities: CapabilitySet) -> Caller {
        let data = TokenData {
            id,
            uuid: "u".into(),
            name: "n".into(),
            session_id: "s".into(),
            organization_id,
            organization_code: "c".into(),
            roles: vec![],
        };
        let claims = Claims { data, typ: "access".into(), jti: "j".into(), iat: 0, exp: 0 };
        Caller { claims, role_ids: role_ids.to_vec(), organization_id, capabilities }
    }

    fn from_claims(claims: Claims) -> Caller {
        let role_ids = claims.data.roles.iter().map(|r| r.id).collect();
        let organization_id = claims.data.organization_id;
        Caller { claims, role_ids, organization_id, capabilities: CapabilitySet::default() }
    }
    /// A caller whom another identity provider's token names (Keycloak's,
    /// `crate::user_tokens`): no Roster session behind it, roles and
    /// organisation as the read model has them now.
    pub(crate) fn without_session(profile: &Profile) -> Caller {
        let data = Services::token_data(profile, "");
        let claims = Claims { data, typ: ACCESS.into(), jti: String::new(), iat: 0, exp: 0 };
        let mut caller = Caller::from_claims(claims);
        caller.role_ids = profile.roles.iter().filter(|r| r.status == "ACTIVE").map(|r| r.id).collect();
        caller
    }

    pub fn can(&self, capability: Capability) -> bool {
        self.capabilities.contains(capability)
    }
    pub fn user_uuid(&self) -> &str {
        &self.claims.data.uuid
    }
    pub fn numeric_id(&self) -> i64 {
        self.claims.data.id
    }
    pub fn is_admin(&self) -> bool {
        self.role_ids.contains(&ADMIN_ROLE_ID)
    }
    /// System admins act on every organisation; org admins on their own.
    pub fn administers(&self, organization_id: i64) -> bool {
        self.is_admin() || (self.role_ids.contains(&ORG_ADMIN_ROLE_ID) && self.organization_id == organization_id)
    }
}

/// A sign-up's value that is claimed already.
fn claim_refused(error: CommandError<ClaimError>, field: &'static str) -> ServiceError {
    match error {
        CommandError::Domain(ClaimError::Taken) => ServiceError::Duplicate { entity: Entity::User, field },
        other => other.into(),
    }
}

struct ValidSignUp {
    name: String,
    email: String,
    phone: Option<String>,
    username: Option<String>,
    preferred_language: String,
}

fn validate_sign_up(input: &SignUp) -> Result<ValidSignUp, ServiceError> {
    let mut errors: Vec<InvalidInput> = Vec::new();
    let name = validation::normalize_name(&input.name).map_err(|e| errors.push(e)).ok();
    let email = validation::normalize_email(&input.email).map_err(|e| errors.push(e)).ok();
    if let Err(e) = validation::check_password_policy(&input.password) {
        errors.push(e);
    }
    let phone =
        input.phone.as_deref().map(validation::normalize_phone).transpose().map_err(|e| errors.push(e)).ok().flatten();
    let username = input
        .username
        .as_deref()
        .map(validation::normalize_username)
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let preferred_language = match input.preferred_language.as_deref() {
        Some(raw) => validation::language("preferred_language", raw).map_err(|e| errors.push(e)).ok(),
        None => Some("en".to_string()),
    };
    match (name, email, preferred_language) {
        (Some(name), Some(email), Some(preferred_language)) if errors.is_empty() => {
            Ok(ValidSignUp { name, email, phone, username, preferred_language })
        }
        _ => Err(ServiceError::invalid_input(errors)),
    }
}

impl Services {
    pub(crate) fn lockout_policy(&self) -> LockoutPolicy {
        LockoutPolicy {
            max_failed_attempts: self.settings.login_max_failed_attempts,
            lock_seconds: self.settings.login_lock_seconds,
        }
    }

    /// Read-your-writes: the caller's next read sees what this command wrote.
    /// A read model that skipped one of the write's events will never show
    /// it: that is said plainly rather than answered as "not found".
    pub async fn settle(&self, committed: Committed) -> Result<(), ServiceError> {
        let Some(point) = committed.point else { return Ok(()) };
        // Inline read models answer at once: applied in the write's commit, or skipped there.
        if !committed.skipped.is_empty() {
            return Err(ServiceError::NotProjected(committed.skipped.iter().map(|name| name.to_string()).collect()));
        }
        if committed.visible {
            return Ok(());
        }
        match self.projector.wait_for_write(point, committed.events, self.read_your_writes_timeout()).await? {
            Visibility::Skipped(projections) => Err(ServiceError::NotProjected(projections)),
            Visibility::Visible | Visibility::TimedOut => Ok(()),
        }
    }

    pub async fn sign_up(&self, input: SignUp, meta: &Metadata) -> Result<(Profile, Tokens), ServiceError> {
        self.sign_up_proven(input, None, meta).await
    }

    /// A self-service sign-up (ELEVATE's `account/create`): with
    /// `ENABLE_EMAIL_OTP_VERIFICATION` it needs the OTP `registrationOtp`
    /// mailed to the address, used up in the sign-up's own commit.
    pub async fn self_sign_up(
        &self,
        input: SignUp,
        otp: Option<String>,
        meta: &Metadata,
    ) -> Result<(Profile, Tokens), ServiceError> {
        if !self.settings.otp.email_verification {
            return self.sign_up(input, meta).await;
        }
        validate_sign_up(&input)?;
        let Some(code) = otp.filter(|c| !c.trim().is_empty()) else {
            return Err(ServiceError::invalid("otp", crate::error::Reason::Required { or: None }));
        };
        let proof = self.otp_proof(crate::otp::OtpPurpose::Registration, &input.email, &code).await?;
        self.sign_up_proven(input, Some(proof), meta).await
    }

    async fn sign_up_proven(
        &self,
        input: SignUp,
        otp: Option<crate::otp::OtpProof>,
        meta: &Metadata,
    ) -> Result<(Profile, Tokens), ServiceError> {
        validate_sign_up(&input)?;
        let password_hash = password::hash(input.password.clone()).await?;
        let (user_uuid, _) = self.register_account_proven(input, password_hash, otp.as_ref(), meta).await?;
        metrics::counter!("roster_sign_ups_total").increment(1);
        self.start_session(&user_uuid, meta).await
    }

    /// A system admin: `admin/create`, `roster admin create` and the
    /// bootstrap admin all come here. Like a sign-up it opens a session
    /// (unused outside HTTP), which also waits until the admin can log in.
    pub async fn create_admin(
        &self,
        name: String,
        email: String,
        password: String,
        meta: &Metadata,
    ) -> Result<Profile, ServiceError> {
        let input = SignUp {
            name,
            email,
            password,
            phone: None,
            username: None,
            has_accepted_terms_and_conditions: true,
            preferred_language: None,
            roles: vec!["admin".into()],
        };
        Ok(self.sign_up(input, meta).await?.0)
    }

    /// Registers a user whose password was hashed elsewhere, through the same
    /// commands as a sign-up but without a session. For `roster dev seed`
    /// only: seeded users share one precomputed hash.
    pub async fn seed_user(
        &self,
        input: SignUp,
        password_hash: String,
        meta: &Metadata,
    ) -> Result<String, ServiceError> {
        Ok(self.register_account(input, password_hash, meta).await?.0)
    }

    /// Registers many seeded users with one unit of work: each email claim
    /// and each registration is decided by its aggregate, taken to be new
    /// (nothing is read), and all their events enter the log in one
    /// transaction. If any of them exists already, the users go through
    /// `seed_user` one by one instead, which refuses the duplicates. Returns
    /// how many were registered.
    pub async fn seed_users(
        &self,
        inputs: Vec<SignUp>,
        password_hash: String,
        meta: &Metadata,
    ) -> Result<u64, ServiceError> {
        let first_id = self.db.reserve_numeric_ids("user", inputs.len() as i64).await?;
        let at = chrono::Utc::now();
        let mut batch = self.bus.unit(meta);
        for (offset, input) in inputs.iter().enumerate() {
            let valid = validate_sign_up(input)?;
            if valid.phone.is_some() || valid.username.is_some() {
                return Err(ServiceError::internal("seeded users are claimed by email only"));
            }
            let user_uuid = Uuid::new_v4().to_string();
            let claim = ClaimCommand::Claim { owner: user_uuid.clone(), at };
            batch.decide_new::<UniqueClaim>(&self.bus.claim_id(ClaimKind::Email, &valid.email), claim).await?;
            let registration = Registration {
                numeric_id: first_id + offset as i64,
                email: Some(valid.email),
                name: valid.name,
                phone: None,
                username: None,
                password_hash: Some(password_hash.clone()),
                organization_id: DEFAULT_ORGANIZATION_ID,
                role_ids: self.role_ids_for(&input.roles).await?,
                has_accepted_terms_and_conditions: input.has_accepted_terms_and_conditions,
                preferred_language: valid.preferred_language,
                managed_by: None,
                extension: None,
            };
            batch.decide_new::<User>(&user_uuid, UserCommand::Register { registration, at }).await?;
        }
        let count = inputs.len() as u64;
        if batch.commit().await?.is_some() {
            return Ok(count);
        }
        let mut registered = 0;
        for input in inputs {
            if self.seed_user(input, password_hash.clone(), meta).await.is_ok() {
                registered += 1;
            }
        }
        Ok(registered)
    }

    /// The ids of the role titles a sign-up asks for (none: the default role).
    pub(crate) async fn role_ids_for(&self, titles: &[String]) -> Result<Vec<i64>, ServiceError> {
        let default = [self.settings.default_role.clone()];
        let titles = if titles.is_empty() { &default[..] } else { titles };
        let mut role_ids = Vec::with_capacity(titles.len());
        for title in titles {
            let id = match default_role_id(title) {
                Some(id) => id,
                None => {
                    read_models::role_by_title(&self.db, title, DEFAULT_ORGANIZATION_ID)
                        .await?
                        .ok_or_else(|| ServiceError::internal(format!("role {title} is not defined")))?
                        .id
                }
            };
            role_ids.push(id);
        }
        Ok(role_ids)
    }

    /// Claims the unique values and registers the user, in one commit;
    /// returns its UUID and where the commit landed. A value already claimed
    /// refuses the whole sign-up, and nothing of it is stored.
    async fn register_account(
        &self,
        input: SignUp,
        password_hash: String,
        meta: &Metadata,
    ) -> Result<(String, Committed), ServiceError> {
        self.register_account_proven(input, password_hash, None, meta).await
    }

    /// As `register_account`, spending `otp` in the same commit: a wrong
    /// code is recorded (alone) and refuses the sign-up.
    async fn register_account_proven(
        &self,
        input: SignUp,
        password_hash: String,
        otp: Option<&crate::otp::OtpProof>,
        meta: &Metadata,
    ) -> Result<(String, Committed), ServiceError> {
        let valid = validate_sign_up(&input)?;
        let role_ids = self.role_ids_for(&input.roles).await?;
        let user_uuid = Uuid::new_v4().to_string();
        let at = chrono::Utc::now();
        let wanted = [
            Some((ClaimKind::Email, valid.email.clone(), "email")),
            valid.phone.clone().map(|p| (ClaimKind::Phone, p, "phone")),
            valid.username.clone().map(|u| (ClaimKind::Username, u, "username")),
        ];
        // Taken once the values are known to be free, so a refused sign-up uses no id.
        let mut numeric_id = None;
        let mut unit = self.bus.unit(meta);
        loop {
            if let Some(proof) = otp {
                if !self.spend_otp(&mut unit, proof).await? {
                    if self.refuse_wrong_otp(&mut unit).await? {
                        return Err(ServiceError::Refused {
                            refusal: "otp.invalid",
                            reason: "the OTP is not valid".into(),
                        });
                    }
                    continue;
                }
            }
            for (kind, value, param) in wanted.iter().flatten() {
                let claim = ClaimCommand::Claim { owner: user_uuid.clone(), at };
                unit.decide::<UniqueClaim>(&self.bus.claim_id(*kind, value), claim)
                    .await
                    .map_err(|e| claim_refused(e, param))?;
            }
            let numeric_id = match numeric_id {
                Some(id) => id,
                None => *numeric_id.insert(self.db.next_numeric_id("user").await?),
            };
            let registration = Registration {
                numeric_id,
                email: Some(valid.email.clone()),
                name: valid.name.clone(),
                phone: valid.phone.clone(),
                username: valid.username.clone(),
                password_hash: Some(password_hash.clone()),
                organization_id: DEFAULT_ORGANIZATION_ID,
                role_ids: role_ids.clone(),
                has_accepted_terms_and_conditions: input.has_accepted_terms_and_conditions,
                preferred_language: valid.preferred_language.clone(),
                managed_by: None,
                extension: None,
            };
            unit.decide_new::<User>(&user_uuid, UserCommand::Register { registration, at }).await?;
            if let Some(committed) = unit.commit().await? {
                return Ok((user_uuid, committed));
            }
        }
    }

    /// Gives back claims `owner` holds, in the unit; one it no longer holds is skipped.
    pub(crate) async fn release_claims(
        unit: &mut UnitOfWork,
        claims: &[String],
        owner: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ServiceError> {
        for id in claims {
            let release = ClaimCommand::Release { owner: owner.to_string(), at };
            match unit.decide::<UniqueClaim>(id, release).await {
                Ok(_) => {}
                Err(CommandError::Domain(ClaimError::NotOwner)) => {
                    tracing::warn!("a unique-value claim to give back is held by another owner; left as it is")
                }
                Err(other) => return Err(other.into()),
            }
        }
        Ok(())
    }

    /// Finds the account an identifier (email, phone or username) belongs to.
    pub(crate) async fn owner_of(&self, identifier: &str) -> Result<Option<String>, ServiceError> {
        let candidates = [
            validation::normalize_email(identifier).ok().map(|v| self.bus.claim_id(ClaimKind::Email, &v)),
            validation::normalize_phone(identifier).ok().map(|v| self.bus.claim_id(ClaimKind::Phone, &v)),
            validation::normalize_username(identifier).ok().map(|v| self.bus.claim_id(ClaimKind::Username, &v)),
        ];
        for id in candidates.into_iter().flatten() {
            let claim = self.bus.load::<UniqueClaim>(&id).await.map_err(ServiceError::from)?;
            if let Some(owner) = claim.owner {
                return Ok(Some(owner));
            }
        }
        Ok(None)
    }

    /// Every failure (unknown account, wrong password, locked, inactive, not
    /// an admin where one is needed) answers the same, after the same work.
    pub async fn login(
        &self,
        identifier: &str,
        password: String,
        require_admin: bool,
        meta: &Metadata,
    ) -> Result<(Profile, Tokens), ServiceError> {
        let owner = self.owner_of(identifier).await?;
        let user = match &owner {
            Some(id) => Some(self.bus.load::<User>(id).await.map_err(ServiceError::from)?),
            None => None,
        };
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let verified = password::verify(password, hash).await;
        let (Some(user_uuid), Some(user)) = (owner, user) else {
            return Err(ServiceError::InvalidCredentials);
        };
        if !verified {
            metrics::counter!("roster_login_failures_total").increment(1);
            let failure = UserCommand::RecordLoginFailure { policy: self.lockout_policy(), at: chrono::Utc::now() };
            match self.bus.execute::<User>(&user_uuid, failure, meta).await {
                Ok(_) | Err(CommandError::Domain(_)) => {}
                Err(error) => tracing::error!(%error, "could not record a failed login"),
            }
            return Err(ServiceError::InvalidCredentials);
        }
        if require_admin && !user.role_ids.contains(&ADMIN_ROLE_ID) {
            return Err(ServiceError::InvalidCredentials);
        }
        match self.start_session(&user_uuid, meta).await {
            Err(ServiceError::Invalid(_) | ServiceError::Refused { .. }) => Err(ServiceError::InvalidCredentials),
            other => other,
        }
    }

    /// Records the login on the user (refused if locked or inactive), opens a
    /// session and signs its first pair of tokens.
    async fn start_session(&self, user_uuid: &str, meta: &Metadata) -> Result<(Profile, Tokens), ServiceError> {
        let session_id = Uuid::new_v4().to_string();
        let at = chrono::Utc::now();
        let recorded = self
            .bus
            .execute::<User>(user_uuid, UserCommand::RecordLoginSuccess { session_id: session_id.clone(), at }, meta)
            .await;
        let committed = match recorded {
            Ok(c) => c,
            Err(CommandError::Domain(UserError::Locked | UserError::NotActive | UserError::NotFound)) => {
                return Err(ServiceError::InvalidCredentials)
            }
            Err(other) => return Err(other.into()),
        };
        let refresh_jti = Uuid::new_v4().to_string();
        sessions::create(&self.db, &session_id, user_uuid, &refresh_jti, self.tokens.refresh_ttl).await?;
        self.settle(committed).await?;
        let profile = self.profile(&UserKey::Uuid(user_uuid.to_string())).await?;
        let tokens = self.sign_pair(&profile, &session_id, refresh_jti)?;
        Ok((profile, tokens))
    }

    fn token_data(profile: &Profile, session_id: &str) -> TokenData {
        TokenData {
            id: profile.user.id,
            uuid: profile.user.user_uuid.clone(),
            name: profile.user.name.clone().unwrap_or_default(),
            session_id: session_id.to_string(),
            organization_id: profile.user.organization_id,
            organization_code: profile.organization.as_ref().map(|o| o.code.clone()).unwrap_or_default(),
            roles: profile
                .roles
                .iter()
                .map(|r| RoleClaim {
                    id: r.id,
                    title: r.title.clone(),
                    user_type: r.user_type,
                    status: r.status.clone(),
                })
                .collect(),
        }
    }

    pub(crate) fn sign_pair(
        &self,
        profile: &Profile,
        session_id: &str,
        refresh_jti: String,
    ) -> Result<Tokens, ServiceError> {
        let now = chrono::Utc::now().timestamp();
        let data = Self::token_data(profile, session_id);
        let access_token =
            self.tokens.issue(ACCESS, data.clone(), Uuid::new_v4().to_string(), now).map_err(ServiceError::internal)?;
        let refresh_token = self.tokens.issue(REFRESH, data, refresh_jti, now).map_err(ServiceError::internal)?;
        Ok(Tokens { access_token, refresh_token })
    }

    /// The profile, its typed fields labelled (`profile_fields`).
    pub async fn profile(&self, key: &UserKey) -> Result<Profile, ServiceError> {
        let profile =
            read_models::profile(&self.db, key).await?.ok_or_else(|| ServiceError::not_found(Entity::User))?;
        self.with_typed_fields(profile).await
    }

    /// Rotates the refresh token: the presented one is spent; presenting it
    /// again revokes the whole session.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, ServiceError> {
        let claims = self.tokens.verify(REFRESH, refresh_token).await.map_err(|_| ServiceError::Unauthenticated)?;
        let next_jti = Uuid::new_v4().to_string();
        let session_id = &claims.data.session_id;
        let profile =
            match sessions::rotate_reading_profile(&self.db, session_id, &claims.data.uuid, &claims.jti, &next_jti)
                .await?
            {
                RefreshOutcome::Refused => return Err(ServiceError::Unauthenticated),
                RefreshOutcome::Rotated(Some(p)) if p.user.status == UserStatus::Active.as_str() => p,
                RefreshOutcome::Rotated(_) => {
                    sessions::revoke(&self.db, &claims.data.session_id, "user not active").await?;
                    return Err(ServiceError::Unauthenticated);
                }
            };
        self.sign_pair(&profile, &claims.data.session_id, next_jti)
    }

    /// Verifies an access token and its session, and takes the caller's
    /// organisation and active roles from the read model (so a role granted
    /// or revoked counts on the very next request): one query.
    pub async fn authenticate(&self, access_token: &str) -> Result<Caller, ServiceError> {
        let claims = self.tokens.verify(ACCESS, access_token).await.map_err(|_| ServiceError::Unauthenticated)?;
        let holder = sessions::live_holder(&self.db, &claims.data.session_id)
            .await?
            .filter(|holder| holder.user_uuid == claims.data.uuid)
            .ok_or(ServiceError::Unauthenticated)?;
        let mut caller = Caller::from_claims(claims);
        caller.role_ids = holder.active_role_ids;
        caller.organization_id = holder.organization_id;
        Ok(caller)
    }

    pub async fn logout(
        &self,
        caller: &Caller,
        refresh_token: Option<&str>,
        meta: &Metadata,
    ) -> Result<(), ServiceError> {
        sessions::revoke(&self.db, &caller.claims.data.session_id, "logout").await?;
        if let Some(token) = refresh_token {
            if let Ok(claims) = self.tokens.verify(REFRESH, token).await {
                if claims.data.uuid == caller.claims.data.uuid {
                    sessions::revoke(&self.db, &claims.data.session_id, "logout").await?;
                }
            }
        }
        let logout =
            UserCommand::RecordLogout { session_id: caller.claims.data.session_id.clone(), at: chrono::Utc::now() };
        let committed = self.bus.execute::<User>(caller.user_uuid(), logout, meta).await?;
        self.settle(committed).await?;
        Ok(())
    }

    pub async fn update_profile(
        &self,
        caller: &Caller,
        changes: ProfileChanges,
        meta: &Metadata,
    ) -> Result<Profile, ServiceError> {
        self.update_profile_of(caller.user_uuid(), changes, meta).await
    }

    /// Changes the profile of `user_uuid`; who may is the caller's to check.
    pub(crate) async fn update_profile_of(
        &self,
        user_uuid: &str,
        changes: ProfileChanges,
        meta: &Metadata,
    ) -> Result<Profile, ServiceError> {
        let changes = validation::profile_changes(changes).map_err(ServiceError::invalid_input)?;
        let typed = [&changes.gender, &changes.location, &changes.languages, &changes.preferred_language];
        if typed.iter().any(|field| field.is_some()) {
            let user = read_models::profile(&self.db, &UserKey::Uuid(user_uuid.to_string()))
                .await?
                .ok_or_else(|| ServiceError::not_found(Entity::User))?;
            self.check_typed_fields(user.user.organization_id, &changes).await?;
        }
        let committed = self
            .bus
            .execute::<User>(user_uuid, UserCommand::UpdateProfile { changes, at: chrono::Utc::now() }, meta)
            .await
            .map_err(|e| match e {
                CommandError::Domain(UserError::NothingToUpdate) => ServiceError::NothingToUpdate,
                other => other.into(),
            })?;
        self.settle(committed).await?;
        self.profile(&UserKey::Uuid(user_uuid.to_string())).await
    }

    pub async fn accept_terms(&self, caller: &Caller, meta: &Metadata) -> Result<(), ServiceError> {
        let committed = self
            .bus
            .execute::<User>(caller.user_uuid(), UserCommand::AcceptTerms { at: chrono::Utc::now() }, meta)
            .await?;
        self.settle(committed).await?;
        Ok(())
    }

    /// Deactivation takes effect at once: every live session is revoked.
    pub async fn deactivate(&self, user_uuid: &str, meta: &Metadata) -> Result<(), ServiceError> {
        let committed =
            self.bus.execute::<User>(user_uuid, UserCommand::Deactivate { at: chrono::Utc::now() }, meta).await?;
        sessions::revoke_user(&self.db, user_uuid, "deactivated").await?;
        self.settle(committed).await?;
        Ok(())
    }

    /// Lets a deactivated user log in again.
    pub async fn activate(&self, user_uuid: &str, meta: &Metadata) -> Result<(), ServiceError> {
        let committed =
            self.bus.execute::<User>(user_uuid, UserCommand::Activate { at: chrono::Utc::now() }, meta).await?;
        self.settle(committed).await?;
        Ok(())
    }

    /// Erases a user: personal data leaves the state and read model, every
    /// session is revoked, and the email, phone and username become free,
    /// in the same commit as the deletion.
    pub async fn delete_user(&self, user_uuid: &str, meta: &Metadata) -> Result<(), ServiceError> {
        let at = chrono::Utc::now();
        // The forms of their role requests go with them (the log's copy is
        // sealed with their key; this empties the org admins' queue too).
        let requests = read_models::role_requests_of(&self.db, user_uuid).await?;
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            let user = unit.load::<User>(user_uuid).await?;
            let held: Vec<String> = [
                user.email.as_ref().map(|v| self.bus.claim_id(ClaimKind::Email, v)),
                user.phone.as_ref().map(|v| self.bus.claim_id(ClaimKind::Phone, v)),
                user.username.as_ref().map(|v| self.bus.claim_id(ClaimKind::Username, v)),
            ]
            .into_iter()
            .flatten()
            .collect();
            unit.decide::<User>(user_uuid, UserCommand::Delete { at }).await?;
            Self::release_claims(&mut unit, &held, user_uuid, at).await?;
            for request in &requests {
                unit.decide::<RoleRequest>(request, RoleRequestCommand::EraseForm { at }).await?;
            }
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        sessions::revoke_user(&self.db, user_uuid, "deleted").await?;
        // Last, so the claims above could still be read: from here on the
        // user's personal values in the log are unreadable.
        self.db.destroy_personal_key(user_uuid).await?;
        self.settle(committed).await?;
        Ok(())
    }
}
