//! API keys for client applications, and who a client credential is.
//!
//! A key reads `rk_<id>_<secret>`: the id (the key's UUID without hyphens)
//! finds its `api_key` aggregate, the secret (32 random bytes, hex) proves
//! it. Only the secret's SHA-256 is stored, in the `ApiKeyIssued` event: a
//! secret this random needs no slow hash, and exports, the audit API and
//! Kafka leave the hash out (`privacy::without_credentials`). The key is
//! given once, by `issue_api_key`.
//!
//! A presented key is checked against its aggregate (the cached fold and
//! whatever the log holds after it, one query), not the read model: a
//! revocation counts on the very next request on every instance, however
//! far the projections lag.

use aggregates::{ApiKey, ApiKeyCommand, ApiKeyDefinition, ApiKeyError};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::accounts::Caller;
use crate::commands::{CommandError, Metadata};
use crate::error::{Entity, ServiceError};
use crate::read_models;
pub use crate::read_models::ApiKeyRow;
use crate::services::Services;

/// What every key starts with; Roster's access tokens (JWTs) never do.
pub const KEY_PREFIX: &str = "rk_";
/// The longest name a key may have.
const NAME_MAX: usize = 100;

/// A key just issued: its row, and the key itself, which is never shown again.
pub struct IssuedApiKey {
    pub row: ApiKeyRow,
    pub key: String,
}

/// Who a client credential (`Authorization: Bearer`) is.
#[derive(Debug, Clone)]
pub enum Client {
    /// An active API key.
    ApiKey { id: String, name: String },
    /// A Roster access token with a live session.
    User(Box<Caller>),
}

fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time, so a hash cannot be found byte by byte.
fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The key's id and secret, if it has a key's shape.
fn parse(key: &str) -> Option<(String, &str)> {
    let (id, secret) = key.strip_prefix(KEY_PREFIX)?.split_once('_')?;
    let hex_of = |text: &str, len: usize| text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex_of(id, 32) || !hex_of(secret, 64) {
        return None;
    }
    Some((Uuid::parse_str(id).ok()?.to_string(), secret))
}

impl Services {
    /// Issues a key named `name` (what it is for; 1 to 100 characters).
    pub async fn issue_api_key(&self, name: &str, meta: &Metadata) -> Result<IssuedApiKey, ServiceError> {
        let name = aggregates::validation::single_line("name", name, true, NAME_MAX)?;
        let id = Uuid::new_v4();
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let secret = hex::encode(secret);
        let key = format!("{KEY_PREFIX}{}_{secret}", id.simple());
        let definition = ApiKeyDefinition { name, secret_hash: secret_hash(&secret) };
        let issue = ApiKeyCommand::Issue { key: definition, at: chrono::Utc::now() };
        let committed = self.bus.execute::<ApiKey>(&id.to_string(), issue, meta).await?;
        self.settle(committed).await?;
        Ok(IssuedApiKey { row: self.api_key(&id.to_string()).await?, key })
    }

    /// Every key, revoked ones too, oldest first; no secrets.
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRow>, ServiceError> {
        Ok(read_models::api_keys(&self.db).await?)
    }

    pub async fn api_key(&self, id: &str) -> Result<ApiKeyRow, ServiceError> {
        read_models::api_key(&self.db, id).await?.ok_or(ServiceError::not_found(Entity::ApiKey))
    }

    /// Revokes the key `id` (a UUID, as listed). Revoking a revoked key
    /// changes nothing and succeeds.
    pub async fn revoke_api_key(&self, id: &str, meta: &Metadata) -> Result<ApiKeyRow, ServiceError> {
        let id = Uuid::parse_str(id.trim()).map_err(|_| ServiceError::not_found(Entity::ApiKey))?.to_string();
        let revoke = ApiKeyCommand::Revoke { at: chrono::Utc::now() };
        let committed = self.bus.execute::<ApiKey>(&id, revoke, meta).await.map_err(|error| match error {
            CommandError::Domain(ApiKeyError::NotFound) => ServiceError::not_found(Entity::ApiKey),
            other => other.into(),
        })?;
        self.settle(committed).await?;
        self.api_key(&id).await
    }

    /// The client a bearer credential names: an active API key, or a Roster
    /// access token with a live session. Anything else is `Unauthenticated`.
    pub async fn authenticate_client(&self, bearer: &str) -> Result<Client, ServiceError> {
        if !bearer.starts_with(KEY_PREFIX) {
            return self.authenticate(bearer).await.map(|caller| Client::User(Box::new(caller)));
        }
        let (id, secret) = parse(bearer).ok_or(ServiceError::Unauthenticated)?;
        let key = self.bus.load::<ApiKey>(&id).await?;
        match key.definition {
            Some(definition)
                if key.revoked_at.is_none() && same_hash(&definition.secret_hash, &secret_hash(secret)) =>
            {
                Ok(Client::ApiKey { id, name: definition.name })
            }
            _ => Err(ServiceError::Unauthenticated),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_keys_parse() {
        let id = Uuid::new_v4();
        let secret = "0a".repeat(32);
        let key = format!("rk_{}_{secret}", id.simple());
        assert_eq!(parse(&key), Some((id.to_string(), secret.as_str())));
        assert_eq!(parse(&format!("rk_{}_{}", id.simple(), &secret[1..])), None, "short secret");
        assert_eq!(parse(&format!("rk_{id}_{secret}")), None, "hyphenated id");
        assert_eq!(parse(&format!("rk_{}_{}x", id.simple(), &secret[1..])), None, "not hex");
        assert_eq!(parse(&format!("xx_{}_{secret}", id.simple())), None);
        assert_eq!(parse("rk_"), None);
    }

    #[test]
    fn hashes_compare_whole() {
        let hash = secret_hash("s");
        assert!(same_hash(&hash, &secret_hash("s")));
        assert!(!same_hash(&hash, &secret_hash("t")));
        assert!(!same_hash(&hash, &hash[1..]));
    }
}
