//! Access and refresh tokens. Claims are shaped like ELEVATE's
//! (`data: {id, name, session_id, organization_id, roles: [...]}`) so existing
//! consumers decode them. By default tokens are signed with an Ed25519 key
//! created once and kept in the database (public half at
//! `/.well-known/jwks.json`); `ACCESS_TOKEN_SECRET` / `REFRESH_TOKEN_SECRET`
//! switch to HS256 for drop-in use with ELEVATE consumers.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::Settings;
use crate::on_pool;
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

struct KeyPair {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

pub struct TokenService {
    algorithm: Algorithm,
    kid: Option<String>,
    access: KeyPair,
    refresh: KeyPair,
    jwks: Value,
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
        let (algorithm, kid, access, refresh, jwks) =
            match (&settings.access_token_secret, &settings.refresh_token_secret) {
                (Some(access), Some(refresh)) => (
                    Algorithm::HS256,
                    None,
                    KeyPair {
                        encoding: EncodingKey::from_secret(access.as_bytes()),
                        decoding: DecodingKey::from_secret(access.as_bytes()),
                    },
                    KeyPair {
                        encoding: EncodingKey::from_secret(refresh.as_bytes()),
                        decoding: DecodingKey::from_secret(refresh.as_bytes()),
                    },
                    json!({"keys": []}),
                ),
                (None, None) => {
                    let (kid, seed) = signing_seed(db).await?;
                    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
                    let der =
                        signing.to_pkcs8_der().map_err(|e| anyhow::anyhow!("cannot encode the signing key: {e}"))?;
                    let public = signing.verifying_key().to_bytes();
                    let pair = || KeyPair {
                        encoding: EncodingKey::from_ed_der(der.as_bytes()),
                        decoding: DecodingKey::from_ed_der(&public),
                    };
                    let jwks = json!({"keys": [{
                        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                        "kid": kid, "x": URL_SAFE_NO_PAD.encode(public),
                    }]});
                    (Algorithm::EdDSA, Some(kid), pair(), pair(), jwks)
                }
                _ => anyhow::bail!("set both ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET, or neither"),
            };
        Ok(TokenService {
            algorithm,
            kid,
            access,
            refresh,
            jwks,
            access_ttl: settings.access_token_ttl_seconds,
            refresh_ttl: settings.refresh_token_ttl_seconds,
        })
    }

    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// Signs a token of kind `typ` (ACCESS or REFRESH); returns it with its claims.
    pub fn issue(&self, typ: &str, data: TokenData, jti: String, now: i64) -> Result<String, TokenError> {
        let (keys, ttl) =
            if typ == REFRESH { (&self.refresh, self.refresh_ttl) } else { (&self.access, self.access_ttl) };
        let claims = Claims { data, typ: typ.to_string(), jti, iat: now, exp: now + ttl };
        let mut header = Header::new(self.algorithm);
        header.kid = self.kid.clone();
        jsonwebtoken::encode(&header, &claims, &keys.encoding).map_err(|_| TokenError::Signing)
    }

    /// Verifies signature, algorithm (never `none`), expiry and kind.
    pub fn verify(&self, typ: &str, token: &str) -> Result<Claims, TokenError> {
        let keys = if typ == REFRESH { &self.refresh } else { &self.access };
        let mut validation = Validation::new(self.algorithm);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp"]);
        let claims =
            jsonwebtoken::decode::<Claims>(token, &keys.decoding, &validation).map_err(|_| TokenError::Invalid)?.claims;
        if claims.typ != typ {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }
}

/// The Ed25519 seed, created once. Concurrent first starts race on the
/// primary key; everyone then reads the winner's key.
async fn signing_seed(db: &Db) -> anyhow::Result<(String, [u8; 32])> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let kid = uuid::Uuid::new_v4().to_string();
    let (kid, secret): (String, String) = on_pool!(db, pool => {
        sqlx::query("INSERT INTO signing_keys (id, kid, secret, created_at) VALUES ('primary', $1, $2, $3) ON CONFLICT (id) DO NOTHING")
            .bind(&kid)
            .bind(URL_SAFE_NO_PAD.encode(seed))
            .bind(chrono::Utc::now().to_rfc3339())
            .execute(pool)
            .await?;
        sqlx::query_as("SELECT kid, secret FROM signing_keys WHERE id = 'primary'").fetch_one(pool).await?
    });
    let bytes = URL_SAFE_NO_PAD.decode(secret)?;
    let seed: [u8; 32] = bytes.try_into().map_err(|_| anyhow::anyhow!("stored signing key has the wrong length"))?;
    Ok((kid, seed))
}
