//! One error type for every use case; the HTTP layer renders it in the
//! calling dialect's envelope. Internals are logged, never shown to clients.

use aggregates::validation::InvalidInput;

use crate::commands::CommandError;

#[derive(Debug, Clone, serde::Serialize)]
pub struct FieldError {
    pub param: String,
    pub msg: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    BadRequest { message: String, errors: Vec<FieldError> },
    /// Wrong password, unknown user, locked account: one shape for all.
    #[error("Email id or password is invalid")]
    InvalidCredentials,
    #[error("Unauthorized request")]
    Unauthorized,
    #[error("Permission denied")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The status is the response's; the message alone is what clients read.
    #[error("{message}")]
    Http { status: u16, message: String },
    #[error("Service temporarily busy, please retry")]
    Busy,
    /// The change is recorded, but these read models refused it (see
    /// `roster projections failed`), so reads will not show it.
    #[error("The change was saved, but it cannot be shown: the {} read model could not apply it (operators: roster projections failed)", .0.join(", "))]
    NotProjected(Vec<String>),
    /// A list or search statement ran past `READ_STATEMENT_TIMEOUT_MS`.
    #[error("The search took too long; narrow it (a longer term, a role or a smaller page) and retry")]
    ReadTimeout,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        AppError::BadRequest { message: message.into(), errors: vec![] }
    }

    pub fn invalid_field(param: &str, msg: impl Into<String>) -> Self {
        let msg = msg.into();
        AppError::BadRequest { message: msg.clone(), errors: vec![FieldError { param: param.into(), msg }] }
    }

    /// A 400 naming every refused field; the message is the first one's.
    pub fn invalid_input(errors: Vec<InvalidInput>) -> Self {
        let errors: Vec<FieldError> =
            errors.iter().map(|e| FieldError { param: e.field().to_string(), msg: e.to_string() }).collect();
        let message = errors.first().map(|e| e.msg.clone()).unwrap_or_else(|| "Invalid request".into());
        AppError::BadRequest { message, errors }
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        AppError::Internal(anyhow::anyhow!("{error}"))
    }
}

impl From<InvalidInput> for AppError {
    fn from(error: InvalidInput) -> Self {
        AppError::invalid_input(vec![error])
    }
}

/// PostgreSQL's `query_canceled` (statement_timeout) and SQLite's
/// `SQLITE_INTERRUPT` (the read pool's progress handler): `storage::reader`.
fn cancelled(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if matches!(e.code().as_deref(), Some("57014") | Some("9")))
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        if cancelled(&error) {
            AppError::ReadTimeout
        } else if matches!(error, sqlx::Error::PoolTimedOut) {
            AppError::Busy
        } else {
            AppError::Internal(error.into())
        }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<CommandError<E>> for AppError {
    fn from(error: CommandError<E>) -> Self {
        match error {
            CommandError::Domain(e) => AppError::bad_request(e.to_string()),
            CommandError::Conflict => AppError::Busy,
            CommandError::Store(message) => AppError::Internal(anyhow::anyhow!(message)),
        }
    }
}
