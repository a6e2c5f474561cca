//! Client applications: the apps an admin registers, which entity v5's
//! requests name in `X-APP-ID`. Registering is an event on the app's own
//! aggregate (its id is the app id, so one id is registered once even under
//! parallel requests); checking an app reads that aggregate from the log
//! (through the bus's cache), so a registration counts on the next request.

use aggregates::validation::InvalidInput;
use aggregates::{ClientApp, ClientAppCommand, ClientAppError};

use crate::accounts::Caller;
use crate::commands::{CommandError, Metadata};
use crate::error::{Entity, ServiceError};
use crate::services::Services;

/// The longest app id and name.
const APP_ID_MAX: usize = 64;
const APP_NAME_MAX: usize = 256;

/// An app id as stored: trimmed, 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
pub fn normalize_app_id(raw: &str) -> Option<String> {
    let id = raw.trim();
    let valid = (1..=APP_ID_MAX).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    valid.then(|| id.to_string())
}

fn invalid_id() -> ServiceError {
    let rule = "must be 1 to 64 letters, digits, '.', '_' or '-'";
    ServiceError::from(InvalidInput::Format { field: "app_id", rule })
}

impl Services {
    /// Registers the app `app_id` (named `name`, else its id): admins only;
    /// an id registered already is `Duplicate`.
    pub async fn register_client_app(
        &self,
        caller: &Caller,
        app_id: &str,
        name: Option<&str>,
        meta: &Metadata,
    ) -> Result<String, ServiceError> {
        if !caller.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        self.register_client_app_by(caller.numeric_id(), app_id, name, meta).await
    }

    /// As `register_client_app`, for an operator (`roster app register`:
    /// `registered_by` 0) or an admin already checked.
    pub async fn register_client_app_by(
        &self,
        registered_by: i64,
        app_id: &str,
        name: Option<&str>,
        meta: &Metadata,
    ) -> Result<String, ServiceError> {
        let id = normalize_app_id(app_id).ok_or_else(invalid_id)?;
        let name = name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(&id);
        if name.chars().count() > APP_NAME_MAX || name.chars().any(char::is_control) {
            return Err(InvalidInput::TooLong { field: "name", max: APP_NAME_MAX }.into());
        }
        let register = ClientAppCommand::Register { name: name.to_string(), registered_by, at: chrono::Utc::now() };
        self.bus.execute::<ClientApp>(&id, register, meta).await.map_err(|e| match e {
            CommandError::Domain(ClientAppError::AlreadyRegistered) => {
                ServiceError::Duplicate { entity: Entity::ClientApp, field: "app_id" }
            }
            other => other.into(),
        })?;
        Ok(id)
    }

    /// `NotFound` unless `app_id` names a registered app.
    pub async fn require_client_app(&self, app_id: &str) -> Result<(), ServiceError> {
        let id = normalize_app_id(app_id).ok_or(ServiceError::not_found(Entity::ClientApp))?;
        let app = self.bus.load::<ClientApp>(&id).await?;
        match app.is_registered() {
            true => Ok(()),
            false => Err(ServiceError::not_found(Entity::ClientApp)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_ids_are_short_plain_words() {
        assert_eq!(normalize_app_id(" crm-app.v2 ").as_deref(), Some("crm-app.v2"));
        for bad in ["", " ", "a b", "a/b", "é", &"x".repeat(65), "a\u{0}"] {
            assert_eq!(normalize_app_id(bad), None, "{bad:?}");
        }
    }
}
