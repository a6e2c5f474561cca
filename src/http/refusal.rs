//! What the layers every dialect shares refuse (text the stores cannot hold,
//! a stalled body), said neutrally. The layer answers with the status and
//! leaves the `EdgeRefusal` in the response's extensions; the dialect's
//! envelope middleware words it (ELEVATE: `http::elevate::errors`), and so
//! does the neutral one for routes outside any dialect (`http::neutral`).

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone)]
pub enum EdgeRefusal {
    /// A NUL in this field (a body path, a path parameter, a query key).
    Unstorable { field: String },
    /// An `x-request-id` longer than `max` characters.
    CorrelationTooLong { max: usize },
    /// The request body stopped arriving for longer than `after`.
    BodyTimeout { after: Duration },
}

impl EdgeRefusal {
    pub fn status(&self) -> StatusCode {
        match self {
            EdgeRefusal::Unstorable { .. } | EdgeRefusal::CorrelationTooLong { .. } => StatusCode::BAD_REQUEST,
            EdgeRefusal::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// A stable code, as for `crate::error::ServiceError::code`.
    pub fn code(&self) -> &'static str {
        match self {
            EdgeRefusal::Unstorable { .. } => "invalid.unstorable",
            EdgeRefusal::CorrelationTooLong { .. } => "invalid.correlation_too_long",
            EdgeRefusal::BodyTimeout { .. } => "body_timeout",
        }
    }
}

impl IntoResponse for EdgeRefusal {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}
