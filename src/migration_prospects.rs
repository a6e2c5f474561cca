//! Migration prospects (Sunbird's user migration): an admin says that a
//! user may belong to an organisation, which knows them by an external id
//! (Sunbird's shadow user, loaded by a state's bulk upload); the user sees
//! it as a feed item (category `OrgMigrationAction`) and answers: accept
//! with the external id moves them into that organisation, reject drops
//! every prospect. A wrong external id spends one of
//! `MAX_MIGRATION_ATTEMPTS`; the last one fails the prospect.
//!
//! The prospects and their attempt counts live on the user's aggregate, so
//! parallel answers are serialised by its sequence and never spend more
//! attempts than allowed; the external id is sealed with the user's key.

use aggregates::validation::{self, InvalidInput};
use aggregates::{Aggregate, MigrationProspect, User, UserCommand, UserError, UserEvent, MAX_MIGRATION_ATTEMPTS};

use crate::accounts::Caller;
use crate::commands::{CommandError, Metadata};
use crate::error::{Entity, Reason, ServiceError};
use crate::read_models::{self, OrganizationKey, UserKey};
use crate::services::Services;

/// The feed category of a migration prospect (Sunbird's `FeedAction`).
pub const ORG_MIGRATION_ACTION: &str = "OrgMigrationAction";
/// Longest external id taken.
const EXTERNAL_ID_MAX: usize = 256;

/// A prospect an admin adds.
pub struct NewProspect {
    pub user: UserKey,
    /// An organisation code (Sunbird's channel).
    pub channel: String,
    pub external_id: String,
    pub priority: i64,
}

/// A pending prospect as the user's feed shows it (no external id).
pub struct FeedItem {
    pub feed_id: String,
    pub user_uuid: String,
    pub priority: i64,
    pub channel: String,
    pub organization_id: i64,
    pub created_by: Option<String>,
    pub created_at: aggregates::Timestamp,
}

/// The user's answer to their prospects.
pub enum MigrationAnswer {
    Accept { channel: String, external_id: String },
    Reject,
}

/// What an answer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationOutcome {
    Migrated,
    Rejected,
    /// A wrong external id; `remaining` attempts are left.
    WrongExternalId {
        remaining: u32,
    },
    /// A wrong external id on the last attempt: the prospect is gone.
    Failed,
}

impl MigrationOutcome {
    pub const MAX_ATTEMPTS: u32 = MAX_MIGRATION_ATTEMPTS;
}

fn refused(error: CommandError<UserError>) -> ServiceError {
    error.into()
}

impl Services {
    /// Adds a prospect for a user of the default organisation (Sunbird
    /// migrates only its custodian's users); `channel` must name an active
    /// organisation other than the user's. Returns the feed item's id.
    pub async fn add_migration_prospect(
        &self,
        caller: &Caller,
        input: NewProspect,
        meta: &Metadata,
    ) -> Result<String, ServiceError> {
        let channel = validation::code("channel", &input.channel)?.to_lowercase();
        let external_id = validation::single_line("userExtId", &input.external_id, true, EXTERNAL_ID_MAX)?;
        if input.priority <= 0 {
            return Err(InvalidInput::Empty { field: "priority" }.into());
        }
        let user = self.user(&input.user).await?;
        let organization = read_models::organization_details(&self.db, &OrganizationKey::Code(channel.clone()))
            .await?
            .filter(|o| o.status == "ACTIVE")
            .ok_or_else(|| {
                ServiceError::invalid(
                    "channel",
                    Reason::NotFound { entity: Entity::Organization, id: Some(channel.clone()) },
                )
            })?;
        if organization.id == user.organization_id {
            return Err(ServiceError::invalid(
                "channel",
                Reason::NotActive { entity: Entity::Organization, id: Some(channel.clone()) },
            ));
        }
        let prospect = MigrationProspect {
            feed_id: uuid::Uuid::new_v4().to_string(),
            organization_id: organization.id,
            channel,
            expected_external_id: external_id,
            priority: input.priority,
            created_by: Some(caller.user_uuid().to_string()),
        };
        let feed_id = prospect.feed_id.clone();
        let add = UserCommand::AddMigrationProspect { prospect, at: chrono::Utc::now() };
        let committed = self.bus.execute::<User>(&user.user_uuid, add, meta).await.map_err(refused)?;
        self.settle(committed).await?;
        Ok(feed_id)
    }

    /// The user's pending prospects, oldest first: the user's own to read.
    pub async fn migration_feed(&self, caller: &Caller, user: &UserKey) -> Result<Vec<FeedItem>, ServiceError> {
        let user = self.user(user).await?;
        if user.user_uuid != caller.user_uuid() {
            return Err(ServiceError::Unauthenticated);
        }
        let state = self.bus.load::<User>(&user.user_uuid).await?;
        Ok(state
            .migration_prospects
            .into_iter()
            .map(|p| FeedItem {
                feed_id: p.prospect.feed_id,
                user_uuid: user.user_uuid.clone(),
                priority: p.prospect.priority,
                channel: p.prospect.channel,
                organization_id: p.prospect.organization_id,
                created_by: p.prospect.created_by,
                created_at: p.added_at,
            })
            .collect())
    }

    /// The caller's answer to their own prospects (`user` must be the
    /// caller: `Forbidden` otherwise). No pending prospect (of `channel`,
    /// for an accept) is `refused.user.no_migration_prospect`.
    pub async fn answer_migration(
        &self,
        caller: &Caller,
        user: &UserKey,
        answer: MigrationAnswer,
        meta: &Metadata,
    ) -> Result<MigrationOutcome, ServiceError> {
        let user = self.user(user).await?;
        if user.user_uuid != caller.user_uuid() {
            return Err(ServiceError::Forbidden);
        }
        let at = chrono::Utc::now();
        let command = match answer {
            MigrationAnswer::Reject => UserCommand::RejectMigration { at },
            MigrationAnswer::Accept { channel, external_id } => {
                // Only a move drops roles, those of the organisation left.
                let dropped_on_move = self.roles_of_organization(user.organization_id).await?;
                UserCommand::AcceptMigration { channel, external_id, dropped_on_move, at }
            }
        };
        let mut unit = self.bus.unit(meta);
        let (outcome, committed) = loop {
            // The aggregate decides purely: what it decides here is what the
            // unit stores, so the outcome is read off the same events.
            let state = unit.load::<User>(&user.user_uuid).await?;
            let decided = state.decide(command.clone()).map_err(|e| refused(CommandError::Domain(e)))?;
            let outcome = match decided.last() {
                Some(UserEvent::UserMigrated { .. }) => MigrationOutcome::Migrated,
                Some(UserEvent::MigrationRejected { .. }) => MigrationOutcome::Rejected,
                Some(UserEvent::MigrationAttemptFailed { attempts, .. }) => {
                    MigrationOutcome::WrongExternalId { remaining: MAX_MIGRATION_ATTEMPTS.saturating_sub(*attempts) }
                }
                Some(UserEvent::MigrationFailed { .. }) => MigrationOutcome::Failed,
                other => return Err(ServiceError::internal(format!("a migration answer decided {other:?}"))),
            };
            unit.decide::<User>(&user.user_uuid, command.clone()).await.map_err(refused)?;
            if let Some(committed) = unit.commit().await? {
                break (outcome, committed);
            }
        };
        self.settle(committed).await?;
        Ok(outcome)
    }
}
