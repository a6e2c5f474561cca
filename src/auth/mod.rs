//! Authentication: password hashing, signed tokens and server-side sessions.

pub mod password;
pub mod sessions;
pub mod tokens;
