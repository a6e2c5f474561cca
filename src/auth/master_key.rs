//! The key that seals secrets Roster keeps in its database (the token
//! signing keys), so that a copy of the database alone signs no tokens.
//!
//! `ROSTER_MASTER_KEY` (32 bytes, base64 or hex) or `ROSTER_MASTER_KEY_FILE`
//! (the same, in a file; created when it does not exist yet). With neither,
//! an SQLite database gets a key file next to it (`<file>.master-key`); a
//! PostgreSQL one refuses to start, as every instance needs the same key.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::config::MasterKeySource;

/// Marks a sealed value: `sealed:v1:` + base64url(nonce ‖ ciphertext).
const SEALED_PREFIX: &str = "sealed:v1:";
const NONCE_LEN: usize = 24;

#[derive(Clone)]
pub struct MasterKey(chacha20poly1305::Key);

/// Never printed, not even in a panic.
impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the master key does not open this value (another ROSTER_MASTER_KEY sealed it, or it was altered)")]
pub struct Unopenable;

impl MasterKey {
    /// The key the settings name, created where a file is named but missing.
    pub fn resolve(source: &MasterKeySource, database_url: &str) -> anyhow::Result<MasterKey> {
        match source {
            MasterKeySource::Value(text) => MasterKey::parse(text.expose())
                .map_err(|reason| anyhow::anyhow!("ROSTER_MASTER_KEY {reason}: give 32 random bytes in base64 (`openssl rand -base64 32`)")),
            MasterKeySource::File(path) => MasterKey::from_file(path, "ROSTER_MASTER_KEY_FILE"),
            MasterKeySource::Unset => match sqlite_key_file(database_url) {
                Some(path) => MasterKey::from_file(&path, "the SQLite database's key file"),
                None => anyhow::bail!(
                    "ROSTER_MASTER_KEY is not set: the token signing keys in PostgreSQL are sealed with it; set \
                     ROSTER_MASTER_KEY (`openssl rand -base64 32`) or ROSTER_MASTER_KEY_FILE, the same on every instance"
                ),
            },
        }
    }

    /// 32 bytes as base64 (standard or URL-safe, padded or not) or 64 hex digits.
    pub fn parse(text: &str) -> Result<MasterKey, &'static str> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32).map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex digits")).collect()
        } else {
            let unpadded = text.trim_end_matches('=');
            URL_SAFE_NO_PAD
                .decode(unpadded.replace('+', "-").replace('/', "_"))
                .or_else(|_| STANDARD.decode(text))
                .map_err(|_| "is neither base64 nor hex")?
        };
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| "is not 32 bytes long")?;
        Ok(MasterKey(bytes.into()))
    }

    fn from_file(path: &Path, what: &str) -> anyhow::Result<MasterKey> {
        match std::fs::read_to_string(path) {
            Ok(text) => MasterKey::parse(&text).map_err(|reason| {
                anyhow::anyhow!("{what} {} {reason}: it must hold 32 random bytes in base64", path.display())
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => create_key_file(path, what),
            Err(error) => anyhow::bail!("{what} {} cannot be read: {error}", path.display()),
        }
    }

    /// Seals `plain` for the record named `context` (a value moved to another
    /// record does not open).
    pub fn seal(&self, context: &str, plain: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new(&self.0);
        let sealed = cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: plain, aad: context.as_bytes() })
            .expect("XChaCha20-Poly1305 encrypts any length this service stores");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(SEALED_PREFIX)
    }

    pub fn open(&self, context: &str, stored: &str) -> Result<Vec<u8>, Unopenable> {
        let bytes = stored.strip_prefix(SEALED_PREFIX).ok_or(Unopenable)?;
        let bytes = URL_SAFE_NO_PAD.decode(bytes).map_err(|_| Unopenable)?;
        if bytes.len() < NONCE_LEN {
            return Err(Unopenable);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = XNonce::from(<[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| Unopenable)?);
        XChaCha20Poly1305::new(&self.0)
            .decrypt(&nonce, Payload { msg: sealed, aad: context.as_bytes() })
            .map_err(|_| Unopenable)
    }
}

/// `<database file>.master-key` for an SQLite URL, `None` for PostgreSQL.
pub fn sqlite_key_file(database_url: &str) -> Option<PathBuf> {
    let path = database_url.strip_prefix("sqlite:")?.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(format!("{path}.master-key")))
}

/// A new random key, written only if no other process wrote one first, and
/// readable by its owner alone.
fn create_key_file(path: &Path, what: &str) -> anyhow::Result<MasterKey> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(format!("{}\n", STANDARD.encode(bytes)).as_bytes())?;
            file.sync_all()?;
            tracing::warn!(path = %path.display(), "created a new master key; back it up apart from the database");
            Ok(MasterKey(bytes.into()))
        }
        // Another process created it between our read and our create.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => MasterKey::from_file(path, what),
        Err(error) => anyhow::bail!("{what} {} cannot be created: {error}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey([byte; 32].into())
    }

    #[test]
    fn a_sealed_value_opens_with_its_key_and_context_only() {
        let sealed = key(1).seal("kid-1", b"seed bytes");
        assert!(MasterKey::is_sealed(&sealed));
        assert!(!sealed.contains("seed"));
        assert_eq!(key(1).open("kid-1", &sealed).unwrap(), b"seed bytes");
        assert!(key(2).open("kid-1", &sealed).is_err(), "another key");
        assert!(key(1).open("kid-2", &sealed).is_err(), "moved to another record");
        let mut altered = sealed.clone();
        altered.pop();
        altered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(key(1).open("kid-1", &altered).is_err(), "altered");
        assert!(key(1).open("kid-1", "c2VlZA").is_err(), "not sealed at all");
    }

    #[test]
    fn the_key_is_read_as_base64_of_either_alphabet_or_as_hex() {
        let bytes: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(37).wrapping_add(250)).collect();
        for text in [
            STANDARD.encode(&bytes),
            URL_SAFE_NO_PAD.encode(&bytes),
            format!(" {}\n", STANDARD.encode(&bytes)),
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        ] {
            let parsed = MasterKey::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parsed.0[..], bytes[..], "{text}");
        }
        assert_eq!(MasterKey::parse(&STANDARD.encode([1u8; 16])).unwrap_err(), "is not 32 bytes long");
        assert_eq!(MasterKey::parse("not a key!").unwrap_err(), "is neither base64 nor hex");
    }

    #[test]
    fn an_sqlite_database_keeps_its_key_file_beside_it() {
        assert_eq!(sqlite_key_file("sqlite://./data/roster.db"), Some(PathBuf::from("./data/roster.db.master-key")));
        assert_eq!(sqlite_key_file("sqlite:///tmp/r.db?mode=rwc"), Some(PathBuf::from("/tmp/r.db.master-key")));
        assert_eq!(sqlite_key_file("postgres://localhost/roster"), None);
        assert_eq!(sqlite_key_file("sqlite::memory:"), None);
    }

    #[test]
    fn a_missing_key_file_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/master.key");
        let first = MasterKey::from_file(&path, "test").unwrap();
        let again = MasterKey::from_file(&path, "test").unwrap();
        assert_eq!(first.0, again.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
