//! Hashes per second of two argon2id implementations with Roster's
//! parameters (m = 19,456 KiB, t = 2, p = 1), one hashing thread per core,
//! alternating windows so a noisy machine weighs on both alike. Before
//! measuring, each verifies the other's hashes (and refuses a wrong
//! password): a faster implementation that disagreed would be useless.

use std::ffi::CStr;
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;

fn rustcrypto() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(MEMORY_KIB, ITERATIONS, 1, None).unwrap())
}

fn rustcrypto_hash(password: &str) -> String {
    rustcrypto().hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng)).unwrap().to_string()
}

fn rustcrypto_verify(password: &str, hash: &str) -> bool {
    rustcrypto().verify_password(password.as_bytes(), &PasswordHash::new(hash).unwrap()).is_ok()
}

fn c_string(buffer: &[std::ffi::c_char]) -> String {
    unsafe { CStr::from_ptr(buffer.as_ptr()) }.to_str().unwrap().to_string()
}

#[cfg(feature = "sodium")]
mod other {
    pub const NAME: &str = "libsodium";

    pub fn init() {
        assert!(unsafe { libsodium_sys::sodium_init() } >= 0);
    }

    pub fn hash(password: &str) -> String {
        let mut out = [0; libsodium_sys::crypto_pwhash_STRBYTES as usize];
        let alg = libsodium_sys::crypto_pwhash_ALG_ARGON2ID13 as i32;
        let memory = super::MEMORY_KIB as usize * 1024;
        let ops = super::ITERATIONS as u64;
        let done = unsafe {
            libsodium_sys::crypto_pwhash_str_alg(
                out.as_mut_ptr(),
                password.as_ptr().cast(),
                password.len() as u64,
                ops,
                memory,
                alg,
            )
        };
        assert_eq!(done, 0);
        super::c_string(&out)
    }

    pub fn verify(password: &str, hash: &str) -> bool {
        let hash = std::ffi::CString::new(hash).unwrap();
        unsafe {
            libsodium_sys::crypto_pwhash_str_verify(hash.as_ptr(), password.as_ptr().cast(), password.len() as u64) == 0
        }
    }
}

#[cfg(feature = "reference")]
mod other {
    use argon2::password_hash::rand_core::{OsRng, RngCore};

    pub const NAME: &str = "reference C (opt.c, -march=native)";

    pub fn init() {}

    pub fn hash(password: &str) -> String {
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        let mut out = [0; 128];
        let done = unsafe {
            argon2_sys::argon2id_hash_encoded(
                super::ITERATIONS,
                super::MEMORY_KIB,
                1,
                password.as_ptr().cast(),
                password.len(),
                salt.as_ptr().cast(),
                salt.len(),
                32,
                out.as_mut_ptr(),
                out.len(),
            )
        };
        assert_eq!(done, 0);
        super::c_string(&out)
    }

    pub fn verify(password: &str, hash: &str) -> bool {
        let hash = std::ffi::CString::new(hash).unwrap();
        unsafe { argon2_sys::argon2id_verify(hash.as_ptr(), password.as_ptr().cast(), password.len()) == 0 }
    }
}

#[cfg(not(any(feature = "sodium", feature = "reference")))]
mod other {
    pub const NAME: &str = "RustCrypto argon2 (again)";
    pub fn init() {}
    pub fn hash(password: &str) -> String {
        super::rustcrypto_hash(password)
    }
    pub fn verify(password: &str, hash: &str) -> bool {
        super::rustcrypto_verify(password, hash)
    }
}

/// Hashes per second over `window`, one thread per core.
fn rate(hash: fn(&str) -> String, window: Duration) -> f64 {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let started = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            std::thread::spawn(move || {
                let mut hashes = 0u64;
                while started.elapsed() < window {
                    hash("Bench!pass1");
                    hashes += 1;
                }
                hashes
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

fn median(mut figures: Vec<f64>) -> f64 {
    figures.sort_by(f64::total_cmp);
    figures[figures.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(5);
    let window = Duration::from_secs(std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(5));
    other::init();
    let mut salt = [0u8; 4];
    OsRng.fill_bytes(&mut salt);
    let password = format!("Secr3t!{}", u32::from_le_bytes(salt));
    let (ours, theirs) = (rustcrypto_hash(&password), other::hash(&password));
    assert!(
        ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$") && theirs.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );
    assert!(other::verify(&password, &ours), "{} does not verify RustCrypto's hash", other::NAME);
    assert!(rustcrypto_verify(&password, &theirs), "RustCrypto does not verify {}'s hash", other::NAME);
    assert!(!other::verify("wrong", &ours) && !rustcrypto_verify("wrong", &theirs));
    println!("cross-verified: each accepts the other's hash and refuses a wrong password");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        a.push(rate(rustcrypto_hash, window));
        b.push(rate(other::hash, window));
        println!("round {round}: RustCrypto argon2 {:.1}/s, {} {:.1}/s", a[round - 1], other::NAME, b[round - 1]);
    }
    let (a, b) = (median(a), median(b));
    println!("median hashes/s (all cores): RustCrypto argon2 {a:.1}, {} {b:.1}, ratio {:.2}", other::NAME, b / a);
}
