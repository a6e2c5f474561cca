//! What the use cases work with, and what every dialect's handlers receive:
//! storage, the command bus, the projections, the token keys, the grant
//! cache and the publisher. The use cases (`crate::accounts`,
//! `crate::users`, `crate::organizations`, `crate::catalogue`,
//! `crate::audit`, `crate::rank`, `crate::first_admin`, `crate::api_keys`,
//! `crate::user_tokens`) are methods on it,
//! typed in and out, failing with `crate::error::ServiceError`; every read a
//! dialect needs is one of them, so no handler queries the read models or
//! the stores. It sits below the HTTP layer and knows nothing of it; the
//! composition root (`crate::app`) builds it and hands it to the router.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::tokens::TokenService;
use crate::authorization::GrantCache;
use crate::commands::CommandBus;
use crate::config::Settings;
use crate::projector::Projector;
use crate::publisher::Publisher;
use crate::storage::{Db, Reader};

#[derive(Clone)]
pub struct Services {
    pub settings: Arc<Settings>,
    pub db: Db,
    /// Lists, searches and the audit log: time-limited, counts bounded.
    pub reader: Reader,
    pub bus: CommandBus,
    pub projector: Projector,
    pub tokens: Arc<TokenService>,
    pub grants: Arc<GrantCache>,
    /// `None` when Kafka is not configured.
    pub publisher: Option<Publisher>,
    pub form_versions: Arc<crate::forms::FormVersionCache>,
    /// The entity types of profile fields (`profile_fields`).
    pub profile_field_types: Arc<crate::profile_fields::CatalogueCache>,
    /// Uploads and downloads through expiring links (`files`).
    pub files: Arc<crate::files::FileStore>,
    /// Keycloak's public keys, when Sunbird's user tokens are accepted.
    pub keycloak: Option<Arc<crate::auth::keycloak::KeycloakKeys>>,
}

impl Services {
    pub fn read_your_writes_timeout(&self) -> Duration {
        Duration::from_millis(self.settings.read_your_writes_timeout_ms)
    }
}
