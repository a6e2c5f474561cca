//! Keycloak's user tokens, verified offline as Sunbird's user service does
//! (`KeyManager`, `AccessTokenValidator`): RS256 JWTs signed with a key
//! chosen by the header's `kid` from a folder of public keys, one file per
//! key named as its `kid` (a PEM `PUBLIC KEY` or `RSA PUBLIC KEY`, or the
//! bare base64 of the former, which Sunbird also reads). A token counts
//! when its signature holds, it has not expired and its `iss` is the one
//! configured; the user is `sub` after its last `:` (`f:<realm>:<userId>`).
//! Sunbird compares the issuer ignoring case; Roster compares it exactly,
//! as the JWT specification says.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPublicKey;
use serde::Deserialize;

use crate::auth::tokens::LEEWAY_SECONDS;
use crate::config::KeycloakSettings;

/// What Roster reads of a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeycloakUser {
    /// `sub` after its last `:`.
    pub user_id: String,
    /// A managed user's token names their manager (Sunbird's `parentId`).
    pub parent_id: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default, rename = "parentId")]
    parent_id: Option<String>,
}

pub struct KeycloakKeys {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

fn public_key(text: &str) -> anyhow::Result<RsaPublicKey> {
    let text = text.trim();
    if text.contains("-----BEGIN RSA PUBLIC KEY-----") {
        return Ok(RsaPublicKey::from_pkcs1_pem(text)?);
    }
    if text.contains("-----BEGIN") {
        return Ok(RsaPublicKey::from_public_key_pem(text)?);
    }
    let bare: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    Ok(RsaPublicKey::from_public_key_der(&STANDARD.decode(bare)?)?)
}

fn decoding_key(key: &RsaPublicKey) -> anyhow::Result<DecodingKey> {
    let (n, e) = (URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()), URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()));
    Ok(DecodingKey::from_rsa_components(&n, &e)?)
}

/// Every regular file under `dir`, subfolders too (as Sunbird's `Files.walk`).
fn files(dir: &Path, found: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files(&path, found)?;
        } else if path.is_file() {
            found.push(path);
        }
    }
    Ok(())
}

impl KeycloakKeys {
    /// Reads the keys once, at start. A folder that cannot be read, holds
    /// no key, or holds a file that is not a key stops the start: a typo
    /// would otherwise refuse every Keycloak user in silence.
    pub fn load(settings: &KeycloakSettings) -> anyhow::Result<KeycloakKeys> {
        let dir = &settings.public_keys_dir;
        let mut paths = Vec::new();
        files(dir, &mut paths).with_context(|| format!("KEYCLOAK_PUBLIC_KEYS_DIR {} cannot be read", dir.display()))?;
        let mut keys = HashMap::new();
        for path in paths {
            let kid = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            let text = std::fs::read_to_string(&path).with_context(|| format!("{} cannot be read", path.display()))?;
            let key = public_key(&text)
                .and_then(|key| decoding_key(&key))
                .with_context(|| format!("{} is not an RSA public key (PEM)", path.display()))?;
            keys.insert(kid, key);
        }
        if keys.is_empty() {
            anyhow::bail!("KEYCLOAK_PUBLIC_KEYS_DIR {} holds no public key", dir.display());
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // Keycloak's audiences are its clients' ids; Sunbird checks none.
        validation.validate_aud = false;
        validation.leeway = LEEWAY_SECONDS as u64;
        tracing::info!(keys = keys.len(), issuer = %settings.issuer, "Keycloak public keys loaded");
        Ok(KeycloakKeys { keys, validation })
    }

    /// Whether `token` is meant for these keys (an RS256 JWT): any other
    /// token is Roster's own.
    pub fn claims_token(token: &str) -> bool {
        jsonwebtoken::decode_header(token).is_ok_and(|header| header.alg == Algorithm::RS256)
    }

    /// The user a valid token names; `None` for a bad signature, an unknown
    /// `kid`, another issuer, an expired token or a `sub` naming no one.
    pub fn verify(&self, token: &str) -> Option<KeycloakUser> {
        let kid = jsonwebtoken::decode_header(token).ok()?.kid?;
        let key = self.keys.get(&kid)?;
        let claims = jsonwebtoken::decode::<Claims>(token, key, &self.validation).ok()?.claims;
        let user_id = claims.sub.rsplit(':').next().unwrap_or_default().trim().to_string();
        (!user_id.is_empty()).then_some(KeycloakUser { user_id, parent_id: claims.parent_id })
    }
}
