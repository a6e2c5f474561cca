//! Access and refresh tokens. Claims are shaped like ELEVATE's
//! (`data: {id, name, session_id, organization_id, roles: [...]}`) so existing
//! consumers decode them. By default tokens are signed with Ed25519 keys kept
//! sealed in the database (`signing_keys`), named by `kid` and rotated with
//! `roster keys rotate` (public halves at `/.well-known/jwks.json`);
//! `ACCESS_TOKEN_SECRET` / `REFRESH_TOKEN_SECRET` switch to HS256 for drop-in
//! use with ELEVATE consumers.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use ed25519_dalek::Signer as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::auth::master_key::MasterKey;
use crate::auth::signing_keys::{self, StoredKey};
use crate::config::{Secret, Settings};
use crate::storage::Db;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RoleClaim {
    pub id: i64,
    pub title: String,
    pub user_type: i64,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenData {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub session_id: String,
    pub organization_id: i64,
    pub organization_code: String,
    pub roles: Vec<RoleClaim>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub data: TokenData,
    /// "access" or "refresh": a refresh token is never accepted as an access token.
    pub typ: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

pub const ACCESS: &str = "access";
pub const REFRESH: &str = "refresh";

/// How tokens are signed: HS256 with shared secrets (ELEVATE's way), or
/// Ed25519 keys Roster keeps, rotates and publishes.
enum Signing {
    Hs256 { access: Hs256Keys, refresh: Hs256Keys },
    Ed25519(KeyRing),
}

struct Hs256Keys {
    encoding: EncodingKey,
    /// The current secret first, then the previous one (tokens it signed
    /// stay valid until they expire).
    decoding: Vec<DecodingKey>,
}

impl Hs256Keys {
    fn new(current: &Secret, previous: Option<&Secret>) -> Hs256Keys {
        let decoding = std::iter::once(current)
            .chain(previous)
            .map(|secret| DecodingKey::from_secret(secret.expose().as_bytes()))
            .collect();
        Hs256Keys { encoding: EncodingKey::from_secret(current.expose().as_bytes()), decoding }
    }
}

/// The Ed25519 keys, read again from the database now and then and when a
/// token names a key this instance has not seen (another instance rotated).
struct KeyRing {
    db: Db,
    master: MasterKey,
    keys: RwLock<Arc<Keys>>,
    last_read: tokio::sync::Mutex<Instant>,
}

struct Keys {
    kid: String,
    signing: ed25519_dalek::SigningKey,
    verifying: HashMap<String, VerifyingKey>,
}

struct VerifyingKey {
    decoding: DecodingKey,
    public: [u8; 32],
    retires_at: Option<DateTime<Utc>>,
}

impl VerifyingKey {
    fn retired(&self, now: DateTime<Utc>) -> bool {
        self.retires_at.is_some_and(|at| at <= now)
    }
}

/// A token naming an unknown key reads the keys again at most this often,
/// so made-up key ids cannot turn into a query each.
const UNKNOWN_KEY_READ_INTERVAL: Duration = Duration::from_secs(1);
/// Clock skew tolerated on `exp`; a retired key outlives its tokens by it.
pub const LEEWAY_SECONDS: i64 = 5;

impl KeyRing {
    fn keys(&self) -> Arc<Keys> {
        self.keys.read().expect("the key lock is never poisoned").clone()
    }

    async fn read_again(&self) -> anyhow::Result<()> {
        let stored = signing_keys::load(&self.db, &self.master).await?;
        *self.keys.write().expect("the key lock is never poisoned") = Arc::new(Keys::from_stored(stored)?);
        *self.last_read.lock().await = Instant::now();
        Ok(())
    }

    async fn verifying_key(&self, kid: &str) -> Option<Arc<Keys>> {
        let keys = self.keys();
        if keys.verifying.contains_key(kid) {
            return Some(keys);
        }
        {
            let last = self.last_read.lock().await;
            if last.elapsed() < UNKNOWN_KEY_READ_INTERVAL {
                return None;
            }
        }
        if let Err(error) = self.read_again().await {
            tracing::warn!(error = %format!("{error:#}"), "could not read the signing keys again");
        }
        let keys = self.keys();
        keys.verifying.contains_key(kid).then_some(keys)
    }
}

impl Keys {
    fn from_stored(stored: Vec<StoredKey>) -> anyhow::Result<Keys> {
        let current = stored
            .iter()
            .find(|key| key.retires_at.is_none())
            .ok_or_else(|| anyhow::anyhow!("no current signing key in signing_keys"))?;
        let verifying = stored
            .iter()
            .map(|key| {
                let public = ed25519_dalek::SigningKey::from_bytes(&key.seed).verifying_key().to_bytes();
                let decoding = DecodingKey::from_ed_der(&public);
                (key.kid.clone(), VerifyingKey { decoding, public, retires_at: key.retires_at })
            })
            .collect();
        Ok(Keys { kid: current.kid.clone(), signing: ed25519_dalek::SigningKey::from_bytes(&current.seed), verifying })
    }
}

pub struct TokenService {
    signing: Signing,
    pub access_ttl: i64,
    pub refresh_ttl: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid token")]
    Invalid,
    #[error("signing failed")]
    Signing,
}

impl TokenService {
    pub async fn load(db: &Db, settings: &Settings) -> anyhow::Result<TokenService> {
        let signing = match (&settings.access_token_secret, &settings.refresh_token_secret) {
            (Some(access), Some(refresh)) => Signing::Hs256 {
                access: Hs256Keys::new(access, settings.access_token_previous_secret.as_ref()),
                refresh: Hs256Keys::new(refresh, settings.refresh_token_previous_secret.as_ref()),
            },
            (None, None) => {
                let master = MasterKey::resolve(&settings.master_key, &settings.database_url)?;
                let stored = signing_keys::prepare(db, &master).await?;
                Signing::Ed25519(KeyRing {
                    db: db.clone(),
                    master,
                    keys: RwLock::new(Arc::new(Keys::from_stored(stored)?)),
                    last_read: tokio::sync::Mutex::new(Instant::now()),
                })
            }
            _ => anyhow::bail!("set both ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET, or neither"),
        };
        Ok(TokenService {
            signing,
            access_ttl: settings.access_token_ttl_seconds,
            refresh_ttl: settings.refresh_token_ttl_seconds,
        })
    }

    /// Reads the signing keys again every `interval` until `stop`, so that a
    /// key `roster keys rotate` added signs here too.
    pub fn start_refresh(self: &Arc<Self>, interval: Duration, stop: CancellationToken) {
        if !matches!(self.signing, Signing::Ed25519(_)) || interval.is_zero() {
            return;
        }
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(interval) => {}
                }
                if let Signing::Ed25519(ring) = &service.signing {
                    if let Err(error) = ring.read_again().await {
                        tracing::warn!(error = %format!("{error:#}"), "could not read the signing keys again");
                    }
                }
            }
        });
    }

    /// The public keys that verify tokens now (none with HS256).
    pub fn jwks(&self) -> Value {
        let Signing::Ed25519(ring) = &self.signing else { return json!({"keys": []}) };
        let keys = ring.keys();
        let now = Utc::now();
        // The current key first: clients that take the first key find it.
        let mut published: Vec<(&String, &VerifyingKey)> =
            keys.verifying.iter().filter(|(_, key)| !key.retired(now)).collect();
        published.sort_by_key(|(kid, key)| (**kid != keys.kid, std::cmp::Reverse(key.retires_at)));
        let published: Vec<Value> = published
            .into_iter()
            .map(|(kid, key)| {
                json!({
                    "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                    "kid": kid, "x": URL_SAFE_NO_PAD.encode(key.public),
                })
            })
            .collect();
        json!({ "keys": published })
    }

    /// Signs a token of kind `typ` (ACCESS or REFRESH); returns it with its claims.
    pub fn issue(&self, typ: &str, data: TokenData, jti: String, now: i64) -> Result<String, TokenError> {
        let ttl = if typ == REFRESH { self.refresh_ttl } else { self.access_ttl };
        let claims = Claims { data, typ: typ.to_string(), jti, iat: now, exp: now + ttl };
        match &self.signing {
            Signing::Hs256 { access, refresh } => {
                let keys = if typ == REFRESH { refresh } else { access };
                jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
                    .map_err(|_| TokenError::Signing)
            }
            Signing::Ed25519(ring) => {
                let keys = ring.keys();
                let mut header = Header::new(Algorithm::EdDSA);
                header.kid = Some(keys.kid.clone());
                sign_ed25519(&header, &claims, &keys.signing)
            }
        }
    }

    /// Verifies signature, algorithm (never `none`), key, expiry and kind.
    pub async fn verify(&self, typ: &str, token: &str) -> Result<Claims, TokenError> {
        let claims = match &self.signing {
            Signing::Hs256 { access, refresh } => {
                let keys = if typ == REFRESH { refresh } else { access };
                let validation = validation(Algorithm::HS256);
                keys.decoding
                    .iter()
                    .find_map(|key| jsonwebtoken::decode::<Claims>(token, key, &validation).ok())
                    .ok_or(TokenError::Invalid)?
                    .claims
            }
            Signing::Ed25519(ring) => {
                let kid = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid).ok_or(TokenError::Invalid)?;
                let keys = ring.verifying_key(&kid).await.ok_or(TokenError::Invalid)?;
                let key = &keys.verifying[&kid];
                if key.retired(Utc::now()) {
                    return Err(TokenError::Invalid);
                }
                jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation(Algorithm::EdDSA))
                    .map_err(|_| TokenError::Invalid)?
                    .claims
            }
        };
        if claims.typ != typ {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }
}

fn validation(algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = LEEWAY_SECONDS as u64;
    validation.set_required_spec_claims(&["exp"]);
    validation
}

/// The compact JWS that `jsonwebtoken::encode` makes, signed with a key built
/// once. jsonwebtoken 11 rebuilds an Ed25519 key from PKCS#8 on every call,
/// its public half included: a scalar multiplication as dear as the signature
/// itself, and together a sixth of the CPU of a token refresh (perf).
fn sign_ed25519(header: &Header, claims: &Claims, key: &ed25519_dalek::SigningKey) -> Result<String, TokenError> {
    let header = serde_json::to_vec(header).map_err(|_| TokenError::Signing)?;
    let claims = serde_json::to_vec(claims).map_err(|_| TokenError::Signing)?;
    let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let signature = key.sign(message.as_bytes());
    Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::pkcs8::EncodePrivateKey;

    #[test]
    fn ed25519_tokens_are_byte_for_byte_what_jsonwebtoken_signs() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let data = TokenData {
            id: 42,
            uuid: "0b5e6f9a-3c1d-4f7e-9a2b-1c3d5e7f9a0b".into(),
            name: "Ada".into(),
            session_id: "s-1".into(),
            organization_id: 1,
            organization_code: "default".into(),
            roles: vec![RoleClaim { id: 3, title: "mentee".into(), user_type: 0, status: "ACTIVE".into() }],
        };
        let claims = Claims { data, typ: ACCESS.into(), jti: "j-1".into(), iat: 1, exp: 4_000_000_000 };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("kid-1".into());

        let ours = sign_ed25519(&header, &claims, &key).unwrap();
        let der = key.to_pkcs8_der().unwrap();
        let theirs = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(der.as_bytes())).unwrap();
        assert_eq!(ours, theirs, "Ed25519 signatures are deterministic: the tokens must be identical");

        let public = DecodingKey::from_ed_der(&key.verifying_key().to_bytes());
        let decoded = jsonwebtoken::decode::<Claims>(&ours, &public, &Validation::new(Algorithm::EdDSA)).unwrap();
        assert_eq!(decoded.claims.data, claims.data);
    }
}
