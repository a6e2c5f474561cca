//! The parts of `roster-bench` other code reuses: the HTTP client helpers
//! and the soak under SIGKILL (issue 16), which the API test suite runs in a
//! short form against the debug binary.

pub mod http;
pub mod soak;
