//! Authentication: password hashing, signed tokens and server-side sessions.

pub mod keycloak;
pub mod master_key;
pub mod password;
pub mod sessions;
pub mod signing_keys;
pub mod tokens;
