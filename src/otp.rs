//! One-time passwords: asked for by email (`registrationOtp` before a
//! sign-up, `generateOtp` before a password reset), mailed through the
//! outbox in the same commit as the OTP itself, and spent by the sign-up or
//! `resetPassword`. A signed-in user changes their password with the old one
//! (`changePassword`).
//!
//! - A code is 6 random digits (the OS's generator). Only a keyed hash of
//!   it is stored: HMAC-SHA-256 under a key kept outside the log
//!   (`personal_data_keys`, one per OTP), so neither the log nor a copy of
//!   it can be searched for the million possible codes. The code itself is
//!   in the mail only, sealed in the log until it is sent (`notifications`).
//! - The OTP state (current hash, expiry, wrong tries, recent issues) is the
//!   `Otp` aggregate of that purpose and address: parallel tries are
//!   serialised by its sequence, so at most `OTP_MAX_WRONG_TRIES` wrong ones
//!   count, and a code is used once.
//! - No enumeration: an address with no account (or, for a registration, one
//!   taken already) gets the same answer, the same OTP state and the same
//!   resend limit; only no mail goes out. `resetPassword` answers every
//!   failure (unknown address, wrong, expired, used or exhausted code) alike.

use aggregates::validation;
use aggregates::{ClaimKind, NewPassword, Otp, OtpCheck, OtpCommand, User, UserCommand, UserStatus};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde_json::json;
use sha2::Sha256;
use uuid::Uuid;

use crate::accounts::{Caller, Tokens};
use crate::auth::{password, sessions};
use crate::bootstrap::DEFAULT_ORGANIZATION_ID;
use crate::commands::{CommandError, Metadata};
use crate::error::{Reason, ServiceError};
use crate::notifications::templates;
use crate::read_models::{Profile, UserKey};
use crate::services::Services;
use crate::unit_of_work::UnitOfWork;

/// What an OTP is for; part of its aggregate's id, so a registration code
/// never resets a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpPurpose {
    Registration,
    PasswordReset,
}

impl OtpPurpose {
    fn as_str(self) -> &'static str {
        match self {
            OtpPurpose::Registration => "registration",
            OtpPurpose::PasswordReset => "password_reset",
        }
    }
}

/// The OTP aggregate of `purpose` for a normalised email: named like the
/// email's unique-value claim (a keyed hash, `storage::claim_ids`), so the
/// log never spells the address out and a dictionary cannot reverse it.
fn otp_id(claim_id: &str, purpose: OtpPurpose) -> String {
    let hash = claim_id.split_once(':').map_or(claim_id, |(_, hash)| hash);
    format!("otp_{}:{hash}", purpose.as_str())
}

/// An OTP the caller presents, ready to be checked in a unit of work.
pub(crate) struct OtpProof {
    id: String,
    hash: String,
}

/// Six digits, every value equally likely.
fn new_code() -> String {
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32))
}

/// The refusal for every OTP that does not work.
fn invalid_otp() -> ServiceError {
    ServiceError::Refused { refusal: "otp.invalid", reason: "the OTP is not valid".into() }
}

/// A code as clients send it: 6 digits, as a string or a number
/// (ELEVATE's seed sends `"otp": 123456`); anything else cannot be right.
pub fn normalize_code(raw: &str) -> Option<String> {
    let code = raw.trim();
    (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())).then(|| code.to_string())
}

impl Services {
    async fn otp_hash(&self, id: &str, code: &str) -> Result<String, ServiceError> {
        let subject = format!("otp-key:{id}");
        let keys = self.db.personal_keys_for_writing(&[subject.as_str()]).await?;
        let key = keys.get(&subject).copied().flatten().ok_or_else(|| ServiceError::internal("no OTP key"))?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).map_err(ServiceError::internal)?;
        mac.update(id.as_bytes());
        mac.update(b":");
        mac.update(code.as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    /// The proof for `code` against the OTP of `purpose` and `email`.
    pub(crate) async fn otp_proof(
        &self,
        purpose: OtpPurpose,
        email: &str,
        code: &str,
    ) -> Result<OtpProof, ServiceError> {
        let email = validation::normalize_email(email).map_err(|_| invalid_otp())?;
        let code = normalize_code(code).ok_or_else(invalid_otp)?;
        let id = otp_id(&self.bus.claim_id(ClaimKind::Email, &email), purpose);
        let hash = self.otp_hash(&id, &code).await?;
        Ok(OtpProof { id, hash })
    }

    /// Spends `proof` in `unit`: `Ok(true)` if the code is right (used in
    /// the unit's commit), `Ok(false)` if wrong (one more wrong try in the
    /// unit: commit it, then refuse), an error if nothing can be tried.
    pub(crate) async fn spend_otp(&self, unit: &mut UnitOfWork, proof: &OtpProof) -> Result<bool, ServiceError> {
        let at = chrono::Utc::now();
        let max_wrong_tries = self.settings.otp.max_wrong_tries;
        let check = unit.load::<Otp>(&proof.id).await?.check(&proof.hash, max_wrong_tries, at);
        match check {
            OtpCheck::Valid => {
                unit.decide::<Otp>(
                    &proof.id,
                    OtpCommand::Consume { otp_hash: proof.hash.clone(), max_wrong_tries, at },
                )
                .await?;
                Ok(true)
            }
            OtpCheck::Wrong => {
                let wrong = OtpCommand::RecordWrongTry { otp_hash: proof.hash.clone(), max_wrong_tries, at };
                unit.decide::<Otp>(&proof.id, wrong).await?;
                metrics::counter!("roster_otp_wrong_tries_total").increment(1);
                Ok(false)
            }
            OtpCheck::Unusable => Err(invalid_otp()),
        }
    }

    /// Records a wrong try alone (the write it was for is refused), then refuses.
    pub(crate) async fn refuse_wrong_otp(&self, unit: &mut UnitOfWork) -> Result<bool, ServiceError> {
        // `None`: another try landed first; the caller decides again.
        Ok(unit.commit().await?.is_some())
    }

    /// `account/registrationOtp`: mails a code to `email` to sign up with.
    /// An address that has an account already gets no mail (and the same answer).
    pub async fn request_registration_otp(
        &self,
        email: &str,
        name: Option<&str>,
        meta: &Metadata,
    ) -> Result<(), ServiceError> {
        let email = validation::normalize_email(email)?;
        let taken = self.owner_of(&email).await?.is_some();
        let name = name.map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
        let recipient = (!taken).then(|| (DEFAULT_ORGANIZATION_ID, name.unwrap_or_else(|| email.clone())));
        self.issue_otp(OtpPurpose::Registration, &email, recipient, templates::REGISTRATION_OTP, meta).await
    }

    /// `account/generateOtp`: mails a reset code to an active account's
    /// address; any other address gets the same answer and no mail.
    pub async fn request_reset_otp(&self, email: &str, meta: &Metadata) -> Result<(), ServiceError> {
        let email = validation::normalize_email(email)?;
        let recipient = match self.owner_of(&email).await? {
            Some(owner) => {
                let user = self.bus.load::<User>(&owner).await.map_err(ServiceError::from)?;
                // An invited user (a bulk invite) has no password yet and
                // sets one here; a managed user signs in through their manager.
                let can_reset =
                    user.status == UserStatus::Active && (user.password_hash.is_some() || user.managed_by.is_none());
                can_reset.then(|| (user.organization_id, user.name.clone().unwrap_or_default()))
            }
            None => None,
        };
        self.issue_otp(OtpPurpose::PasswordReset, &email, recipient, templates::RESET_OTP, meta).await
    }

    /// A new code for `email`, and its mail to `recipient` (organisation,
    /// name) if there is one, in one commit.
    async fn issue_otp(
        &self,
        purpose: OtpPurpose,
        email: &str,
        recipient: Option<(i64, String)>,
        template: &str,
        meta: &Metadata,
    ) -> Result<(), ServiceError> {
        let id = otp_id(&self.bus.claim_id(ClaimKind::Email, email), purpose);
        let code = new_code();
        let otp_hash = self.otp_hash(&id, &code).await?;
        let settings = &self.settings.otp;
        let mut unit = self.bus.unit(meta);
        loop {
            let at = chrono::Utc::now();
            let issue = OtpCommand::Issue {
                otp_hash: otp_hash.clone(),
                expires_at: at + chrono::Duration::seconds(settings.expiry_seconds),
                resend_limit: settings.resend_limit,
                resend_window_seconds: settings.resend_window_seconds,
                at,
            };
            unit.decide::<Otp>(&id, issue).await.map_err(|e| match e {
                CommandError::Domain(aggregates::OtpError::ResendLimit { .. }) => ServiceError::Refused {
                    refusal: "otp.resend_limit",
                    reason: "too many OTPs asked for this address; retry later".into(),
                },
                other => other.into(),
            })?;
            if let Some((organization_id, name)) = &recipient {
                let minutes = (settings.expiry_seconds + 59) / 60;
                let variables = json!({"name": name, "otp": code, "minutes": minutes, "email": email});
                self.queue_message(&mut unit, *organization_id, template, email, &variables).await?;
            }
            if unit.commit().await?.is_some() {
                metrics::counter!("roster_otps_issued_total", "purpose" => purpose.as_str()).increment(1);
                return Ok(());
            }
        }
    }

    /// `account/resetPassword`: the reset code and a new password; every
    /// session of the user ends, and a new one starts (its tokens are the answer).
    pub async fn reset_password(
        &self,
        email: &str,
        code: &str,
        new_password: String,
        meta: &Metadata,
    ) -> Result<(Profile, Tokens), ServiceError> {
        validation::check_password_policy(&new_password)?;
        let proof = self.otp_proof(OtpPurpose::PasswordReset, email, code).await?;
        let owner = match validation::normalize_email(email) {
            Ok(email) => self.owner_of(&email).await?,
            Err(_) => None,
        };
        // Hashed only once the code proved right: a wrong code costs no argon2.
        let mut password_hash: Option<String> = None;
        let session_id = Uuid::new_v4().to_string();
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            let at = chrono::Utc::now();
            if !self.spend_otp(&mut unit, &proof).await? {
                if self.refuse_wrong_otp(&mut unit).await? {
                    return Err(invalid_otp());
                }
                continue;
            }
            // A right code for an address with no account cannot happen
            // (nobody was mailed it); it is used up all the same.
            let Some(user_uuid) = owner.as_deref() else {
                unit.commit().await?;
                return Err(invalid_otp());
            };
            let user = unit.load::<User>(user_uuid).await?;
            if user.status != UserStatus::Active {
                return Err(invalid_otp());
            }
            if password::verify(new_password.clone(), user.password_hash.clone()).await {
                return Err(ServiceError::Refused {
                    refusal: "user.same_password",
                    reason: "the new password is the old one".into(),
                });
            }
            let password_hash = match &password_hash {
                Some(hash) => hash.clone(),
                None => password_hash.insert(password::hash(new_password.clone()).await?).clone(),
            };
            let credentials = NewPassword { password_hash, how: "reset".into() };
            unit.decide::<User>(user_uuid, UserCommand::ChangePassword { credentials, at }).await?;
            unit.decide::<User>(user_uuid, UserCommand::RecordLoginSuccess { session_id: session_id.clone(), at })
                .await?;
            if let Some(committed) = unit.commit().await? {
                break (user_uuid.to_string(), committed);
            }
        };
        let (user_uuid, committed) = committed;
        // Every session opened with the old password ends; then the new one starts.
        let revoked = sessions::revoke_user(&self.db, &user_uuid, "password reset").await?;
        let refresh_jti = Uuid::new_v4().to_string();
        sessions::create(&self.db, &session_id, &user_uuid, &refresh_jti, self.tokens.refresh_ttl).await?;
        self.settle(committed).await?;
        metrics::counter!("roster_password_resets_total").increment(1);
        tracing::info!(revoked_sessions = revoked, "password reset");
        let profile = self.profile(&UserKey::Uuid(user_uuid)).await?;
        let tokens = self.sign_pair(&profile, &session_id, refresh_jti)?;
        Ok((profile, tokens))
    }

    /// `account/changePassword`: the old password, then the new one; every
    /// session of the user ends (ELEVATE's answer asks to log in again). A
    /// wrong old password counts as a failed login (the lockout applies).
    pub async fn change_password(
        &self,
        caller: &Caller,
        old_password: String,
        new_password: String,
        meta: &Metadata,
    ) -> Result<(), ServiceError> {
        validation::check_password_policy(&new_password)
            .map_err(|e| ServiceError::invalid("newPassword", Reason::Input(e)))?;
        let user_uuid = caller.user_uuid();
        let user = self.bus.load::<User>(user_uuid).await.map_err(ServiceError::from)?;
        let at = chrono::Utc::now();
        let verified = password::verify(old_password, user.password_hash.clone()).await;
        if !verified || user.is_locked(at) {
            if !user.is_locked(at) {
                let failure = UserCommand::RecordLoginFailure { policy: self.lockout_policy(), at };
                if let Err(error) = self.bus.execute::<User>(user_uuid, failure, meta).await {
                    tracing::warn!(%error, "could not record a wrong old password");
                }
            }
            return Err(ServiceError::Refused {
                refusal: "user.incorrect_old_password",
                reason: "the old password is not right".into(),
            });
        }
        if password::verify(new_password.clone(), user.password_hash.clone()).await {
            return Err(ServiceError::Refused {
                refusal: "user.same_password",
                reason: "the new password is the old one".into(),
            });
        }
        let password_hash = password::hash(new_password).await?;
        let credentials = NewPassword { password_hash, how: "change".into() };
        let committed =
            self.bus.execute::<User>(user_uuid, UserCommand::ChangePassword { credentials, at }, meta).await?;
        sessions::revoke_user(&self.db, user_uuid, "password changed").await?;
        self.settle(committed).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..1000 {
            let code = new_code();
            assert_eq!(code.len(), 6);
            assert!(normalize_code(&code).is_some());
        }
        assert_eq!(normalize_code(" 012345 "), Some("012345".into()));
        assert_eq!(normalize_code("12345"), None);
        assert_eq!(normalize_code("12345a"), None);
    }

    #[test]
    fn purposes_have_their_own_otp_named_by_the_claim_hash() {
        let claim = "email:h:0123abcd";
        assert_eq!(otp_id(claim, OtpPurpose::PasswordReset), "otp_password_reset:h:0123abcd");
        assert_eq!(otp_id(claim, OtpPurpose::Registration), "otp_registration:h:0123abcd");
    }
}
