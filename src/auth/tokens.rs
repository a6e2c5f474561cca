//! Access and refresh tokens. Claims are shaped like ELEVATE's
//! (`data: {id, name, session_id, organization_id, roles: [...]}`) so existing
//! consumers decode them. By default tokens are signed with an Ed25519 key
//! created once and kept in the database (public half at
//! `/.well-known/jwks.json`); `ACCESS_TOKEN_SECRET` / `REFRESH_TOKEN_SECRET`
//! switch to HS256 for drop-in use with ELEVATE consumers.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::Signer as _;
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
    signing: SigningKey,
    decoding: DecodingKey,
}

enum SigningKey {
    Hmac(EncodingKey),
    Ed25519(ed25519_dalek::SigningKey),
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
                        signing: SigningKey::Hmac(EncodingKey::from_secret(access.as_bytes())),
                        decoding: DecodingKey::from_secret(access.as_bytes()),
                    },
                    KeyPair {
                        signing: SigningKey::Hmac(EncodingKey::from_secret(refresh.as_bytes())),
                        decoding: DecodingKey::from_secret(refresh.as_bytes()),
                    },
                    json!({"keys": []}),
                ),
                (None, None) => {
                    let (kid, seed) = signing_seed(db).await?;
                    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
                    let public = signing.verifying_key().to_bytes();
                    let pair = || KeyPair {
                        signing: SigningKey::Ed25519(signing.clone()),
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
        match &keys.signing {
            SigningKey::Hmac(key) => jsonwebtoken::encode(&header, &claims, key).map_err(|_| TokenError::Signing),
            SigningKey::Ed25519(key) => sign_ed25519(&header, &claims, key),
        }
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
