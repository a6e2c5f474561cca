//! Sunbird's errors: for each neutral code (`crate::error::ServiceError`) and
//! each refusal of the shared layers, the HTTP status, the error number that
//! `params.err` carries (`UOS_<op><number>`, the operation code added by the
//! envelope) and the message Sunbird's clients read, naming the field as
//! Sunbird names it. Numbers and messages are Sunbird UserOrg's own
//! (`ResponseMessage` of Sunbird-Lern/userorg-service).

use aggregates::validation::InvalidInput;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::{Entity, Invalid, Reason, ServiceError};
use crate::http::refusal::EdgeRefusal;

/// What `params.err` says: a number the envelope prefixes with `UOS_` and
/// the route's operation code, or a code written out whole (the few places
/// where Sunbird sends one without the operation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    Number(&'static str),
    Whole(&'static str),
}

#[derive(Debug, Clone)]
pub struct SbError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
    /// `params.status` when it is not "failed" (a Sunbird quirk kept for
    /// old clients, e.g. `USER_NOT_FOUND`).
    pub status_text: Option<&'static str>,
}

// Sunbird's error numbers (`ResponseMessage.Key`).
pub const PARAM_EXISTS: &str = "0002";
pub const DATA_TYPE: &str = "0003";
pub const USER_BLOCKED: &str = "0006";
pub const DATA_SIZE: &str = "0007";
pub const USER_STATUS: &str = "0008";
pub const DATA_FORMAT: &str = "0009";
pub const NOT_FOUND: &str = "0013";
pub const INVALID_PARAMETER_VALUE: &str = "0017";
pub const INVALID_VALUE: &str = "0018";
pub const INVALID_PARAMETER: &str = "0019";
pub const INVALID_REQUEST_PARAMETER: &str = "0021";
pub const INVALID_PASSWORD: &str = "0024";
pub const INVALID_OPERATION: &str = "0027";
pub const INVALID_REQUESTED_DATA: &str = "0028";
pub const MANDATORY_MISSING: &str = "0030";
pub const MANDATORY_EMPTY: &str = "0031";
pub const RATE_LIMIT: &str = "0059";
pub const SERVICE_UNAVAILABLE: &str = "0064";
pub const PARAMETER_MISMATCH: &str = "0045";
pub const MANDATORY_HEADER_MISSING: &str = "0061";
pub const FORBIDDEN: &str = "0071";
pub const INACTIVE_USER: &str = "0073";
pub const INVALID_PARAMETER_SIZE: &str = "0058";
pub const SERVER_ERROR: &str = "UOS_0069";
pub const UNAUTHORIZED: &str = "UOS_0070";

pub const MSG_INVALID_REQUESTED_DATA: &str = "Requested data for this operation is not valid.";
pub const MSG_UNAUTHORIZED: &str = "You are not authorized.";
pub const MSG_FORBIDDEN: &str = "You are forbidden from accessing specified resource.";
pub const MSG_SERVER_ERROR: &str = "server error";
pub const MSG_UNAVAILABLE: &str = "SERVICE UNAVAILABLE";
pub const MANAGED_USER_LIMIT_EXCEEDED: &str = "MANAGED_USER_LIMIT_EXCEEDED";
pub const MSG_MANAGED_USER_LIMIT: &str = "Managed user creation limit exceeded";
// Sunbird's migrate answered these old codes, written whole (its releases
// since dropped the route, so they never got a number).
pub const INVALID_USER_ID: &str = "INVALID_USER_ID";
pub const USER_MIGRATION_FAILED: &str = "USER_MIGRATION_FAILED";
pub const MSG_PASSWORD: &str = "Password must contain a minimum of 8 characters including numerals, lower and upper case alphabets and special characters";

impl SbError {
    pub fn new(status: StatusCode, number: &'static str, message: impl Into<String>) -> Self {
        SbError { status, code: Code::Number(number), message: message.into(), status_text: None }
    }
    pub fn client(number: &'static str, message: impl Into<String>) -> Self {
        SbError::new(StatusCode::BAD_REQUEST, number, message)
    }
    pub fn missing(field: &str) -> Self {
        SbError::client(MANDATORY_MISSING, format!("Mandatory parameter {field} is missing."))
    }
    pub fn invalid(field: &str) -> Self {
        SbError::client(INVALID_PARAMETER, format!("Please provide valid {field}."))
    }
    pub fn invalid_value(value: &str, field: &str) -> Self {
        SbError::client(
            INVALID_PARAMETER_VALUE,
            format!("Invalid value {value} for parameter {field}. Please provide a valid value."),
        )
    }
    pub fn unknown_parameter(field: &str) -> Self {
        SbError::client(INVALID_REQUEST_PARAMETER, format!("Invalid parameter {field} in request."))
    }
    pub fn data_type(field: &str, expected: &str) -> Self {
        SbError::client(DATA_TYPE, format!("Data type of {field} should be {expected}."))
    }
    pub fn bad_request_data() -> Self {
        SbError::client(INVALID_REQUESTED_DATA, MSG_INVALID_REQUESTED_DATA)
    }
    pub fn not_found(what: &str) -> Self {
        SbError::new(StatusCode::NOT_FOUND, NOT_FOUND, format!("Requested {what} resource not found"))
    }
    pub fn unauthorized() -> Self {
        SbError {
            status: StatusCode::UNAUTHORIZED,
            code: Code::Whole(UNAUTHORIZED),
            message: MSG_UNAUTHORIZED.into(),
            status_text: None,
        }
    }
    pub fn forbidden() -> Self {
        SbError::new(StatusCode::FORBIDDEN, FORBIDDEN, MSG_FORBIDDEN)
    }
    pub fn server_error() -> Self {
        SbError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: Code::Whole(SERVER_ERROR),
            message: MSG_SERVER_ERROR.into(),
            status_text: None,
        }
    }
    pub fn missing_header(name: &str) -> Self {
        SbError::client(MANDATORY_HEADER_MISSING, format!("Mandatory header parameter {name} is missing."))
    }
    pub fn whole(code: &'static str, message: &str) -> Self {
        SbError { status: StatusCode::BAD_REQUEST, code: Code::Whole(code), message: message.into(), status_text: None }
    }
    pub fn unavailable() -> Self {
        SbError::new(StatusCode::SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE, MSG_UNAVAILABLE)
    }

    /// The answer for a bare status that no handler worded (the shared
    /// layers' 404, 405, 408, 413, 415, 429, 500, 503).
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => SbError::new(status, NOT_FOUND, "Requested resource not found"),
            StatusCode::METHOD_NOT_ALLOWED => SbError::new(
                status,
                INVALID_OPERATION,
                "Operation name is invalid. Please provide a valid operation name",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => SbError::new(
                status,
                DATA_SIZE,
                format!("Maximum upload data size should be {}", crate::http::BODY_LIMIT_BYTES),
            ),
            StatusCode::TOO_MANY_REQUESTS => SbError::new(
                status,
                RATE_LIMIT,
                "Your per minute rate limit has exceeded. You can retry after some time.",
            ),
            StatusCode::UNAUTHORIZED => SbError::unauthorized(),
            StatusCode::FORBIDDEN => SbError::forbidden(),
            StatusCode::SERVICE_UNAVAILABLE => SbError::unavailable(),
            s if s.is_server_error() => SbError::server_error(),
            s => SbError::new(s, INVALID_REQUESTED_DATA, MSG_INVALID_REQUESTED_DATA),
        }
    }
}

impl IntoResponse for SbError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// A field as Sunbird names it.
pub fn sunbird_field(field: &str) -> &str {
    match field {
        "name" => "firstName",
        "username" => "userName",
        "organization_id" => "organisationId",
        "role_id" => "roles",
        "user_id" | "id" => "userId",
        "org_id" => "orgId",
        other => other,
    }
}

fn input_error(error: &InvalidInput) -> SbError {
    let field = sunbird_field(error.field());
    match error {
        InvalidInput::Password => SbError::client(INVALID_PASSWORD, MSG_PASSWORD),
        InvalidInput::Email | InvalidInput::Phone | InvalidInput::Username | InvalidInput::Format { .. } => {
            SbError::client(DATA_FORMAT, format!("Invalid format for given {field}."))
        }
        InvalidInput::Empty { .. } => {
            SbError::client(MANDATORY_EMPTY, format!("Mandatory parameter {field} is empty."))
        }
        InvalidInput::WrongType { expected, .. } => SbError::data_type(field, expected),
        _ => SbError::invalid(field),
    }
}

fn field_error(invalid: &Invalid) -> SbError {
    let field = sunbird_field(&invalid.field);
    match &invalid.reason {
        Reason::Input(error) => input_error(error),
        Reason::Required { .. } => SbError::missing(field),
        Reason::NotFound { entity: Entity::User, .. } => SbError::not_found("user"),
        Reason::NotFound { id: Some(id), .. } | Reason::NotActive { id: Some(id), .. } => {
            SbError::invalid_value(id, field)
        }
        _ => SbError::invalid(field),
    }
}

impl From<ServiceError> for SbError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(fields) => fields.first().map(field_error).unwrap_or_else(SbError::bad_request_data),
            ServiceError::NothingToUpdate | ServiceError::Conflict { .. } | ServiceError::AlreadyDecided => {
                SbError::bad_request_data()
            }
            ServiceError::InvalidCredentials | ServiceError::Unauthenticated => SbError::unauthorized(),
            ServiceError::Forbidden => SbError::forbidden(),
            ServiceError::NotFound { entity } => SbError::not_found(match entity {
                Entity::User | Entity::UserState | Entity::Requester => "user",
                Entity::Organization => "organisation",
                Entity::Role => "role",
                other => other.as_str(),
            }),
            ServiceError::Duplicate { field, .. } => {
                SbError::client(PARAM_EXISTS, format!("{} already exists", sunbird_field(field)))
            }
            ServiceError::Refused { refusal, .. } => match refusal {
                "user.already_inactive" => SbError::client(USER_STATUS, "User is already inactive."),
                "user.already_active" => SbError::client(USER_STATUS, "User is already active."),
                "user.locked" => SbError::client(USER_BLOCKED, "User account has been blocked ."),
                "user.not_active" => {
                    SbError::client(INACTIVE_USER, "User is Inactive. Please make it active to proceed.")
                }
                "user.not_found" => SbError::not_found("user"),
                "user.no_migration_prospect" => {
                    SbError::whole(INVALID_USER_ID, "User Id does not exists in our records")
                }
                "user.migration_prospect_exists" => SbError::client(PARAM_EXISTS, "channel already exists"),
                crate::account_merge::MERGE_ORGANIZATION_MISMATCH => {
                    SbError::client(PARAMETER_MISMATCH, "Mismatch of given parameters: merger and mergee rootOrgId.")
                }
                // Sunbird's managed-user creates answer its old code, in `err` and `status`.
                "user.managed_user_limit" => SbError {
                    status: StatusCode::BAD_REQUEST,
                    code: Code::Whole(MANAGED_USER_LIMIT_EXCEEDED),
                    message: MSG_MANAGED_USER_LIMIT.into(),
                    status_text: Some(MANAGED_USER_LIMIT_EXCEEDED),
                },
                _ => SbError::bad_request_data(),
            },
            ServiceError::Busy | ServiceError::ReadTimeout => SbError::unavailable(),
            ServiceError::NotProjected(projections) => {
                tracing::error!(?projections, "a Sunbird write was stored but not projected");
                SbError::server_error()
            }
            ServiceError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "a Sunbird request failed inside");
                SbError::server_error()
            }
        }
    }
}

impl From<EdgeRefusal> for SbError {
    fn from(refusal: EdgeRefusal) -> Self {
        match refusal {
            EdgeRefusal::Unstorable { field } => SbError::invalid(&field),
            EdgeRefusal::CorrelationTooLong { .. } => SbError::invalid("x-request-id"),
            EdgeRefusal::BodyTimeout { after } => SbError::new(
                StatusCode::REQUEST_TIMEOUT,
                INVALID_REQUESTED_DATA,
                format!("Request body stalled for more than {} ms.", after.as_millis()),
            ),
        }
    }
}

impl From<InvalidInput> for SbError {
    fn from(error: InvalidInput) -> Self {
        input_error(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutral_codes_map_to_sunbird_numbers_and_statuses() {
        let taken: SbError = ServiceError::Duplicate { entity: Entity::User, field: "email" }.into();
        assert_eq!(
            (taken.status, taken.code, taken.message.as_str()),
            (StatusCode::BAD_REQUEST, Code::Number("0002"), "email already exists")
        );
        let missing: SbError = ServiceError::invalid("name", Reason::Required { or: None }).into();
        assert_eq!(missing.message, "Mandatory parameter firstName is missing.");
        let unknown: SbError = ServiceError::not_found(Entity::User).into();
        assert_eq!((unknown.status, unknown.code), (StatusCode::NOT_FOUND, Code::Number("0013")));
        let anonymous: SbError = ServiceError::Unauthenticated.into();
        assert_eq!(anonymous.code, Code::Whole("UOS_0070"));
        let password: SbError = InvalidInput::Password.into();
        assert_eq!(password.code, Code::Number("0024"));
    }
}
