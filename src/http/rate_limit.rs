//! Rate limits on the doors an attacker knocks on first: login, sign-up,
//! token refresh and the OTP routes, per client address and, where the body names one, per
//! identity (email, phone, username). They protect the CPU (every login
//! and sign-up hashes a password) and the OTP channels (each OTP is a mail); the lockout
//! (`LOGIN_MAX_FAILED_ATTEMPTS`) stays the authority on password guessing.
//!
//! Each instance counts on its own (GCRA, `governor`): with N instances
//! behind a balancer a client gets up to N times the quota. A refused
//! request gets 429 with `Retry-After`, in the dialect's envelope.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, OriginalUri, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::config::RateLimits;

/// What a route is, as far as its limits go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    Login,
    SignUp,
    Refresh,
    /// Asking for OTPs, spending them and changing passwords.
    Otp,
}

type Keyed = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// The limiters of every door; `None` when rate limiting is off.
pub struct Doors {
    routes: Vec<(&'static str, Door)>,
    login_by_address: Keyed,
    login_by_identity: Keyed,
    sign_up_by_address: Keyed,
    sign_up_by_identity: Keyed,
    refresh_by_address: Keyed,
    otp_by_address: Keyed,
    otp_by_identity: Keyed,
}

/// Body fields that name who a request is for, in the order they are looked
/// up: at the top of the body, or inside a Sunbird body's `request` wrapper.
const IDENTITY_FIELDS: &[&str] = &["email", "identifier", "phone", "username", "userName"];

impl Doors {
    /// `routes`: each door's path, as the dialects define them.
    pub fn new(limits: &RateLimits, routes: Vec<(&'static str, Door)>) -> Option<Arc<Doors>> {
        if !limits.enabled {
            return None;
        }
        let keyed =
            |per_minute: u32| RateLimiter::keyed(Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap()));
        let doors = Arc::new(Doors {
            routes,
            login_by_address: keyed(limits.login_per_address_per_minute),
            login_by_identity: keyed(limits.login_per_identity_per_minute),
            sign_up_by_address: keyed(limits.sign_up_per_address_per_minute),
            sign_up_by_identity: keyed(limits.sign_up_per_identity_per_minute),
            refresh_by_address: keyed(limits.refresh_per_address_per_minute),
            otp_by_address: keyed(limits.otp_per_address_per_minute),
            otp_by_identity: keyed(limits.otp_per_identity_per_minute),
        });
        doors.start_pruning();
        Some(doors)
    }

    fn door(&self, path: &str) -> Option<Door> {
        self.routes.iter().find(|(route, _)| *route == path).map(|(_, door)| *door)
    }

    fn limiters(&self, door: Door) -> (&Keyed, Option<&Keyed>) {
        match door {
            Door::Login => (&self.login_by_address, Some(&self.login_by_identity)),
            Door::SignUp => (&self.sign_up_by_address, Some(&self.sign_up_by_identity)),
            Door::Refresh => (&self.refresh_by_address, None),
            Door::Otp => (&self.otp_by_address, Some(&self.otp_by_identity)),
        }
    }

    /// Forgets keys idle long enough to be back at a full quota, every
    /// minute while the router lives, so the maps stay as small as the set
    /// of recent clients.
    fn start_pruning(self: &Arc<Self>) {
        let doors = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                let Some(doors) = doors.upgrade() else { return };
                for limiter in [
                    &doors.login_by_address,
                    &doors.login_by_identity,
                    &doors.sign_up_by_address,
                    &doors.sign_up_by_identity,
                    &doors.refresh_by_address,
                    &doors.otp_by_address,
                    &doors.otp_by_identity,
                ] {
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                }
            }
        });
    }
}

pub async fn limit(State(doors): State<Option<Arc<Doors>>>, request: Request, next: Next) -> Response {
    let Some(doors) = doors else { return next.run(request).await };
    // Inside a dialect's nest the URI has lost its prefix; the doors are full paths.
    let path = request.extensions().get::<OriginalUri>().map_or_else(|| request.uri().path(), |uri| uri.path());
    let Some(door) = doors.door(path) else { return next.run(request).await };
    let (by_address, by_identity) = doors.limiters(door);
    let address = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    if let Some(address) = address {
        if let Err(not_until) = by_address.check_key(&address) {
            return too_many(door, "address", not_until.wait_time_from(DefaultClock::default().now()));
        }
    }
    let Some(by_identity) = by_identity else { return next.run(request).await };
    // The body is read here (within the body limit) to find the identity,
    // and handed on unchanged.
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, super::BODY_LIMIT_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    if let Some(identity) = identity(&bytes) {
        if let Err(not_until) = by_identity.check_key(&identity) {
            return too_many(door, "identity", not_until.wait_time_from(DefaultClock::default().now()));
        }
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// The first identity field of a JSON body, normalised as claims are.
fn identity(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let found = [Some(&value), value.get("request")].into_iter().flatten().find_map(|fields| {
        IDENTITY_FIELDS
            .iter()
            .find_map(|field| fields.get(*field)?.as_str().map(|v| v.trim().to_lowercase()))
            .filter(|v| !v.is_empty())
    });
    found
}

/// 429 with the seconds to wait; the dialect's envelope gives it its body.
fn too_many(door: Door, by: &'static str, wait: Duration) -> Response {
    metrics::counter!("roster_rate_limited_total", "door" => format!("{door:?}").to_lowercase(), "by" => by)
        .increment(1);
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = StatusCode::TOO_MANY_REQUESTS.into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_is_the_first_identity_field_normalised() {
        assert_eq!(identity(br#"{"email": " Ada@Example.com ", "password": "x"}"#), Some("ada@example.com".into()));
        assert_eq!(identity(br#"{"identifier": "+4912345"}"#), Some("+4912345".into()));
        assert_eq!(identity(br#"{"refresh_token": "t"}"#), None);
        assert_eq!(identity(br#"{"email": 7}"#), None);
        assert_eq!(identity(b"not json"), None);
        assert_eq!(identity(br#"{"request": {"email": "Ada@Example.com"}}"#), Some("ada@example.com".into()));
    }
}
