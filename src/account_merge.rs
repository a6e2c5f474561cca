//! Account merge (Sunbird's `account/merge`): a user who signed up on their
//! own (in the default organisation, Sunbird's custodian) and later got an
//! account from their organisation merges the first into the second.
//!
//! Both users prove themselves: the target with the acting user's token,
//! the source with its own. As in Sunbird (`UserMergeActor`), nothing of
//! the source's profile, roles or organisation moves: the source ends
//! deleted, its email, phone and username released for anyone's use, its
//! sessions revoked, and the target records which account was merged into
//! it (`AccountMerged`), which is what consumers of the log (Sunbird's
//! course and certificate jobs read a merge event) act on. Both users'
//! events are one commit.

use aggregates::{ClaimKind, User, UserCommand};

use crate::accounts::Caller;
use crate::auth::sessions;
use crate::bootstrap::DEFAULT_ORGANIZATION_ID;
use crate::commands::Metadata;
use crate::error::ServiceError;
use crate::read_models::UserKey;
use crate::services::Services;

/// Why a merge is refused although both users proved themselves.
pub const MERGE_ORGANIZATION_MISMATCH: &str = "merge.organization_mismatch";

impl Services {
    /// Merges the account `from` into `to`. `target` is the acting user and
    /// must be `to`; `source` proved itself with its own token and must be
    /// `from` (else `Unauthenticated`, as Sunbird answers). The source must
    /// be in the default organisation and the target in another one
    /// (`refused.merge.organization_mismatch`), so one account cannot be
    /// merged into itself.
    pub async fn merge_accounts(
        &self,
        target: &Caller,
        source: &Caller,
        from: &UserKey,
        to: &UserKey,
        meta: &Metadata,
    ) -> Result<(), ServiceError> {
        let (from, to) = match (self.user(from).await, self.user(to).await) {
            (Ok(from), Ok(to)) => (from, to),
            // An account that is not there cannot have proved itself.
            (Err(ServiceError::NotFound { .. }), _) | (_, Err(ServiceError::NotFound { .. })) => {
                return Err(ServiceError::Unauthenticated)
            }
            (Err(error), _) | (_, Err(error)) => return Err(error),
        };
        if from.user_uuid != source.user_uuid() || to.user_uuid != target.user_uuid() {
            return Err(ServiceError::Unauthenticated);
        }
        let at = chrono::Utc::now();
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            let state = unit.load::<User>(&from.user_uuid).await?.clone();
            let target_organization = unit.load::<User>(&to.user_uuid).await?.organization_id;
            if state.organization_id != DEFAULT_ORGANIZATION_ID || target_organization == DEFAULT_ORGANIZATION_ID {
                return Err(ServiceError::Refused {
                    refusal: MERGE_ORGANIZATION_MISMATCH,
                    reason: "the source must be in the default organisation and the target in another".into(),
                });
            }
            let held: Vec<String> = [
                state.email.as_ref().map(|v| self.bus.claim_id(ClaimKind::Email, v)),
                state.phone.as_ref().map(|v| self.bus.claim_id(ClaimKind::Phone, v)),
                state.username.as_ref().map(|v| self.bus.claim_id(ClaimKind::Username, v)),
            ]
            .into_iter()
            .flatten()
            .collect();
            unit.decide::<User>(&from.user_uuid, UserCommand::MergeInto { into: to.user_uuid.clone(), at }).await?;
            Self::release_claims(&mut unit, &held, &from.user_uuid, at).await?;
            unit.decide::<User>(&to.user_uuid, UserCommand::RecordMerge { from: from.user_uuid.clone(), at }).await?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        // After the commit: a failed merge leaves the source signed in.
        sessions::revoke_user(&self.db, &from.user_uuid, "merged").await?;
        self.settle(committed).await?;
        Ok(())
    }
}
