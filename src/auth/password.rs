//! argon2id with OWASP's parameters (m = 19 MiB, t = 2, p = 1), computed on a
//! blocking thread so hashing never stalls the async workers.

use std::sync::OnceLock;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// Verifies against `hash`, or against a dummy hash when there is no user, so
/// an unknown account costs the same time as a wrong password.
pub fn verify_blocking(password: &str, hash: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let (hash, real) = match hash {
        Some(hash) => (hash, true),
        None => (DUMMY.get_or_init(|| hash_blocking("dummy-Passw0rd!").unwrap_or_default()).as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    argon2().verify_password(password.as_bytes(), &parsed).is_ok() && real
}

/// At most one hash per core at a time: more would only share the cores
/// and 19 MiB of memory traffic each, making every login slower.
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOTS
        .get_or_init(|| tokio::sync::Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)))
}

pub async fn hash(password: String) -> anyhow::Result<String> {
    let _slot = hashing_slots().acquire().await?;
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await?
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

pub async fn verify(password: String, hash: Option<String>) -> bool {
    let Ok(_slot) = hashing_slots().acquire().await else { return false };
    tokio::task::spawn_blocking(move || verify_blocking(&password, hash.as_deref())).await.unwrap_or(false)
}

/// Computes the dummy hash up front so the first unknown-user login is not faster.
pub fn warm_up() {
    let _ = verify_blocking("warm-up", None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hash = hash_blocking("Secr3t!pass").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_blocking("Secr3t!pass", Some(&hash)));
        assert!(!verify_blocking("wrong", Some(&hash)));
        assert!(!verify_blocking("dummy-Passw0rd!", None));
        assert!(!verify_blocking("x", Some("not a hash")));
    }
}
