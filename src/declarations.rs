//! Self-declarations (Sunbird's `PATCH /api/user/v1/declarations`): what a
//! user declares to an organisation in a persona, kept as events on the
//! user (`DeclarationsChanged`, sealed as personal data) and shown by the
//! users read model. A user declares for themselves; an admin, or an org
//! admin of the user's organisation who outranks them, may too, and only
//! they set a declaration's status and error type (a review): the user's
//! own additions and edits are `SUBMITTED`.

use aggregates::declaration::SUBMITTED;
use aggregates::{DeclarationChange, User, UserCommand};

use crate::accounts::Caller;
use crate::commands::Metadata;
use crate::error::{Entity, Reason, ServiceError};
use crate::read_models::{self, UserKey};
use crate::services::Services;

impl Services {
    /// Applies `changes` to the declarations of the user `key` names, in one
    /// event. Each `org_id` must name an organisation (`orgId` refused
    /// otherwise); a blocked user's declarations stay as they are.
    pub async fn declare(
        &self,
        caller: &Caller,
        key: &UserKey,
        mut changes: Vec<DeclarationChange>,
        meta: &Metadata,
    ) -> Result<(), ServiceError> {
        let user = self.user(key).await?;
        let own = user.user_uuid == caller.user_uuid();
        if !own {
            self.administered_user(caller, key).await?;
        }
        for change in &mut changes {
            let org_id = &change.declaration.org_id;
            let unknown = || {
                ServiceError::invalid(
                    "org_id",
                    Reason::NotFound { entity: Entity::Organization, id: Some(org_id.clone()) },
                )
            };
            let id: i64 = org_id.trim().parse().map_err(|_| unknown())?;
            if read_models::organization(&self.db, id).await?.is_none() {
                return Err(unknown());
            }
            if own {
                change.declaration.status = SUBMITTED.to_string();
                change.declaration.error_type = None;
            }
        }
        let command = UserCommand::Declare { changes, at: chrono::Utc::now() };
        let committed = self.bus.execute::<User>(&user.user_uuid, command, meta).await?;
        self.settle(committed).await?;
        Ok(())
    }
}
