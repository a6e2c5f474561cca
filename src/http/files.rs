//! `/files/{path}`: the links of the local file store (`crate::files`),
//! outside any dialect. A PUT stores the body (its `Content-Type` kept), a
//! GET answers the file, each only with a valid, unexpired signature for
//! that method and path; errors are the neutral `{error, message}`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use crate::error::ServiceError;
use crate::files::LinkMethod;
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/files/{*path}", get(download).put(upload))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Signed {
    /// `PUT` on an upload link, `GET` on a download link.
    method: Option<String>,
    expires: Option<String>,
    signature: Option<String>,
}

fn refused(error: ServiceError) -> Response {
    let status = match error {
        ServiceError::Forbidden => StatusCode::FORBIDDEN,
        ServiceError::NotFound { .. } => StatusCode::NOT_FOUND,
        ServiceError::Invalid(_) => StatusCode::PAYLOAD_TOO_LARGE,
        ServiceError::Internal(e) => {
            tracing::error!(error = format!("{e:#}"), "a file link request failed inside");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    status.into_response()
}

fn checked(
    state: &AppState,
    method: LinkMethod,
    path: &str,
    q: &Signed,
) -> Result<object_store::path::Path, ServiceError> {
    let wanted = match method {
        LinkMethod::Put => "PUT",
        LinkMethod::Get => "GET",
    };
    if q.method.as_deref().map(str::trim) != Some(wanted) {
        return Err(ServiceError::Forbidden);
    }
    let (Some(expires), Some(signature)) = (&q.expires, &q.signature) else { return Err(ServiceError::Forbidden) };
    state.files.check_link(method, path, expires, signature)
}

/// Stores the body at `path` through an upload link
/// (`cloud-services/file/getSignedUrl`), its `Content-Type` kept.
#[utoipa::path(put, path = "/files/{path}", params(("path" = String, Path, description = "The file's path"), Signed),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "Stored"), (status = 403, description = "No valid, unexpired upload signature"),
        (status = 413, description = "Over `FILES_MAX_BYTES`")))]
async fn upload(
    State(state): State<AppState>,
    Path(path): Path<String>,
    Query(q): Query<Signed>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let path = checked(&state, LinkMethod::Put, &path, &q)?;
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        state.files.put(&path, body, content_type).await
    }
    .await;
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => refused(error),
    }
}

/// The file at `path`, through a download link (`getDownloadableUrl`).
#[utoipa::path(get, path = "/files/{path}", params(("path" = String, Path, description = "The file's path"), Signed),
    responses((status = 200, description = "The file, with its content type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 403, description = "No valid, unexpired download signature"), (status = 404, description = "No such file")))]
async fn download(State(state): State<AppState>, Path(path): Path<String>, Query(q): Query<Signed>) -> Response {
    let result = async {
        let path = checked(&state, LinkMethod::Get, &path, &q)?;
        state.files.get(&path).await
    }
    .await;
    match result {
        Ok(file) => {
            let content_type = file
                .content_type
                .and_then(|t| HeaderValue::from_str(&t).ok())
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            ([(header::CONTENT_TYPE, content_type)], file.bytes).into_response()
        }
        Err(error) => refused(error),
    }
}
