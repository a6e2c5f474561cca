//! Entity v5's errors: for each neutral code (`crate::error::ServiceError`)
//! and each refusal of the shared layers, the HTTP status, the non-zero
//! `code` of the envelope and its `msg`, naming the field as entity v5
//! names it. The seed documents only success (`code: 0`); the numbers are
//! Roster's, the HTTP status times 100 plus a detail, so a client can
//! branch on either (the README's "Entity v5 dialect" lists them).

use aggregates::validation::InvalidInput;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::{Clash, Entity, Invalid, Reason, ServiceError};
use crate::http::refusal::EdgeRefusal;

/// Every non-zero code: (code, HTTP status, what it means), as the README's
/// table lists them (its test keeps each code's status).
#[cfg(test)]
pub const CODES: &[(i64, u16, &str)] = &[
    (BAD_REQUEST, 400, "The body or query is malformed (not JSON, not an object)."),
    (INVALID_FIELD, 400, "A field is missing, of the wrong type, unknown or refused; `msg` names it."),
    (UNAUTHENTICATED, 401, "No `Authorization: Bearer <token>`, or a token that is malformed, expired or revoked."),
    (UNKNOWN_APP, 401, "No `X-APP-ID`, or one no admin registered."),
    (FORBIDDEN, 403, "The caller may not manage users of the organisation (`corp_id`)."),
    (NOT_FOUND, 404, "No such user in the organisation, no such organisation, or no such route."),
    (METHOD_NOT_ALLOWED, 405, "The route takes another HTTP method."),
    (BODY_TIMEOUT, 408, "The body stalled (`HTTP_BODY_READ_TIMEOUT_MS`)."),
    (CONFLICT, 409, "The value is held by another user, the organisation is deactivated, or a limit is reached."),
    (TOO_LARGE, 413, "A body over 1 MiB."),
    (NOT_JSON, 415, "A body that is not `application/json`."),
    (RATE_LIMITED, 429, "Too many requests: retry after the seconds in `Retry-After`."),
    (INTERNAL, 500, "Roster failed; the request id (`x-request-id`) finds it in the logs."),
    (UNAVAILABLE, 503, "Busy, or the request took too long: retry."),
];

pub const BAD_REQUEST: i64 = 40000;
pub const INVALID_FIELD: i64 = 40001;
pub const UNAUTHENTICATED: i64 = 40100;
pub const UNKNOWN_APP: i64 = 40101;
pub const FORBIDDEN: i64 = 40300;
pub const NOT_FOUND: i64 = 40400;
pub const METHOD_NOT_ALLOWED: i64 = 40500;
pub const BODY_TIMEOUT: i64 = 40800;
pub const CONFLICT: i64 = 40900;
pub const TOO_LARGE: i64 = 41300;
pub const NOT_JSON: i64 = 41500;
pub const RATE_LIMITED: i64 = 42900;
pub const INTERNAL: i64 = 50000;
pub const UNAVAILABLE: i64 = 50300;

#[derive(Debug, Clone)]
pub struct V5Error {
    pub status: StatusCode,
    pub code: i64,
    pub msg: String,
}

impl V5Error {
    pub fn new(status: StatusCode, code: i64, msg: impl Into<String>) -> Self {
        V5Error { status, code, msg: msg.into() }
    }
    pub fn bad_request(msg: impl Into<String>) -> Self {
        V5Error::new(StatusCode::BAD_REQUEST, BAD_REQUEST, msg)
    }
    pub fn invalid(field: &str, why: impl std::fmt::Display) -> Self {
        V5Error::new(StatusCode::BAD_REQUEST, INVALID_FIELD, format!("invalid {field}: {why}."))
    }
    pub fn missing(field: &str) -> Self {
        V5Error::new(StatusCode::BAD_REQUEST, INVALID_FIELD, format!("{field} is required."))
    }
    pub fn unauthenticated() -> Self {
        V5Error::new(StatusCode::UNAUTHORIZED, UNAUTHENTICATED, "a valid access token is required.")
    }
    pub fn unknown_app() -> Self {
        V5Error::new(StatusCode::UNAUTHORIZED, UNKNOWN_APP, "X-APP-ID must name a registered app.")
    }
    pub fn forbidden() -> Self {
        V5Error::new(StatusCode::FORBIDDEN, FORBIDDEN, "access to users in the organization only.")
    }
    pub fn not_found(what: &str) -> Self {
        V5Error::new(StatusCode::NOT_FOUND, NOT_FOUND, format!("{what} not found."))
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        V5Error::new(StatusCode::CONFLICT, CONFLICT, msg)
    }
    pub fn internal() -> Self {
        V5Error::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            INTERNAL,
            "Roster failed inside; the request id finds it in the logs.",
        )
    }
    pub fn unavailable() -> Self {
        V5Error::new(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE, "service busy, retry.")
    }

    /// The answer for a bare status no handler worded (the shared layers'
    /// 404, 405, 408, 413, 415, 429, 500, 503).
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => V5Error::not_found("route"),
            StatusCode::METHOD_NOT_ALLOWED => {
                V5Error::new(status, METHOD_NOT_ALLOWED, "method not allowed on this route.")
            }
            StatusCode::PAYLOAD_TOO_LARGE => V5Error::new(
                status,
                TOO_LARGE,
                format!("the body is larger than {} bytes.", crate::http::BODY_LIMIT_BYTES),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => V5Error::new(status, NOT_JSON, "the body must be application/json."),
            StatusCode::TOO_MANY_REQUESTS => V5Error::new(status, RATE_LIMITED, "too many requests, retry later."),
            StatusCode::UNAUTHORIZED => V5Error::unauthenticated(),
            StatusCode::FORBIDDEN => V5Error::forbidden(),
            StatusCode::SERVICE_UNAVAILABLE => V5Error::unavailable(),
            s if s.is_server_error() => V5Error::internal(),
            s if s == StatusCode::REQUEST_TIMEOUT => V5Error::new(s, BODY_TIMEOUT, "the body stalled."),
            s => V5Error::new(s, i64::from(s.as_u16()) * 100, "bad request."),
        }
    }
}

impl IntoResponse for V5Error {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// A field as entity v5 names it.
pub fn v5_field(field: &str) -> &str {
    match field {
        "phone" => "mobile",
        "organization_id" | "organization" => "corp_id",
        other => other,
    }
}

fn what(entity: Entity) -> &'static str {
    match entity {
        Entity::User | Entity::UserState | Entity::Requester => "user",
        Entity::Organization => "corp",
        Entity::ClientApp => "app",
        other => other.as_str(),
    }
}

fn input_error(error: &InvalidInput) -> V5Error {
    V5Error::invalid(v5_field(error.field()), error)
}

fn field_error(invalid: &Invalid) -> V5Error {
    let field = v5_field(&invalid.field);
    match &invalid.reason {
        Reason::Input(error) => input_error(error),
        Reason::Required { .. } => V5Error::missing(field),
        Reason::NotFound { entity, .. } => V5Error::invalid(field, format_args!("no such {}", what(*entity))),
        _ => V5Error::invalid(field, "refused"),
    }
}

impl From<ServiceError> for V5Error {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(fields) => {
                fields.first().map(field_error).unwrap_or_else(|| V5Error::bad_request("bad request."))
            }
            ServiceError::NothingToUpdate => V5Error::bad_request("nothing to update."),
            ServiceError::InvalidCredentials | ServiceError::Unauthenticated => V5Error::unauthenticated(),
            ServiceError::Forbidden => V5Error::forbidden(),
            ServiceError::NotFound { entity: Entity::ClientApp } => V5Error::unknown_app(),
            ServiceError::NotFound { entity } => V5Error::not_found(what(entity)),
            ServiceError::Duplicate { field, .. } => {
                V5Error::conflict(format!("{} is held by another user.", v5_field(field)))
            }
            ServiceError::Conflict { what: Clash::OrganizationDeactivated } => {
                V5Error::conflict("the corp is deactivated.")
            }
            ServiceError::Conflict { .. } | ServiceError::AlreadyDecided => V5Error::conflict("conflicting change."),
            ServiceError::Refused { refusal, .. } => match refusal {
                "user.not_found" => V5Error::not_found("user"),
                "user.not_active" => V5Error::conflict("the user is not active."),
                "user.owner_limit" => V5Error::conflict(format!(
                    "the user has {} owners, as many as a user may.",
                    crate::ownership::OWNER_LIMIT
                )),
                _ => V5Error::conflict("the change is refused."),
            },
            ServiceError::Busy | ServiceError::ReadTimeout => V5Error::unavailable(),
            ServiceError::NotProjected(projections) => {
                tracing::error!(?projections, "an entity v5 write was stored but not projected");
                V5Error::internal()
            }
            ServiceError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "an entity v5 request failed inside");
                V5Error::internal()
            }
        }
    }
}

impl From<InvalidInput> for V5Error {
    fn from(error: InvalidInput) -> Self {
        input_error(&error)
    }
}

impl From<EdgeRefusal> for V5Error {
    fn from(refusal: EdgeRefusal) -> Self {
        match refusal {
            EdgeRefusal::Unstorable { field } => V5Error::invalid(&field, "text with a NUL character"),
            EdgeRefusal::CorrelationTooLong { .. } => V5Error::invalid("x-request-id", "too long"),
            EdgeRefusal::BodyTimeout { after } => V5Error::new(
                StatusCode::REQUEST_TIMEOUT,
                BODY_TIMEOUT,
                format!("the body stalled for more than {} ms.", after.as_millis()),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_matches_its_status() {
        for (code, status, _) in CODES {
            assert_eq!(code / 100, *status as i64, "{code}");
        }
        let taken: V5Error = ServiceError::Duplicate { entity: Entity::User, field: "phone" }.into();
        assert_eq!(
            (taken.status, taken.code, taken.msg.as_str()),
            (StatusCode::CONFLICT, CONFLICT, "mobile is held by another user.")
        );
        let app: V5Error = ServiceError::not_found(Entity::ClientApp).into();
        assert_eq!((app.status, app.code), (StatusCode::UNAUTHORIZED, UNKNOWN_APP));
        let missing: V5Error = ServiceError::invalid("organization_id", Reason::Required { or: None }).into();
        assert_eq!(missing.msg, "corp_id is required.");
    }
}
