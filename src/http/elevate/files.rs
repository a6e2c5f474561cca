//! `/user/v1/cloud-services/file/...`: links to upload a file, to download
//! one, and to download the sample CSV of bulk invites (`crate::files`).

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use crate::http::authorize::guarded;
use crate::http::elevate::envelope::ApiOk;
use crate::http::elevate::errors::AppError;
use crate::http::extract::Authenticated;
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cloud-services/file/getSignedUrl", guarded(get(signed_url).post(signed_url)))
        .route("/cloud-services/file/getDownloadableUrl", guarded(get(downloadable_url).post(downloadable_url)))
        .route("/cloud-services/file/getSampleCSV", guarded(get(sample_csv).post(sample_csv)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FileQuery {
    /// The name of the file to upload (`getSignedUrl`).
    #[param(example = "image.jpg")]
    file_name: Option<String>,
    /// Where the file is (`getDownloadableUrl`), as `getSignedUrl` answered it.
    #[param(example = "users/0b9a…-1654149589875-image.jpg")]
    file_path: Option<String>,
}

/// The scheme and host the client reached Roster at (`PUBLIC_BASE_URL`, if
/// set, wins inside `files`).
fn request_base(headers: &HeaderMap) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let scheme = header("x-forwarded-proto").filter(|p| *p == "https").unwrap_or("http");
    let host = header("x-forwarded-host").or(header("host")).unwrap_or("localhost");
    format!("{scheme}://{host}")
}

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, AppError> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| AppError::invalid_field(name, format!("{name} is required")))
}

/// An upload link: PUT the file's bytes to `signedUrl` before it expires.
#[utoipa::path(method(get, post), path = "/user/v1/cloud-services/file/getSignedUrl", params(FileQuery),
    responses((status = 200, description = "`signedUrl`, `filePath`, `destFilePath` (also in snake case)", body = super::openapi::Answer)))]
async fn signed_url(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    Query(q): Query<FileQuery>,
) -> Result<ApiOk, AppError> {
    let file_name = required(&q.file_name, "file_name")?;
    let link = state.files.upload_link(caller.user_uuid(), file_name, &request_base(&headers)).await?;
    Ok(ApiOk::ok(
        "Signed Url Generated Successfully.",
        json!({
            "signedUrl": link.url, "filePath": link.file_path, "destFilePath": link.file_path,
            "signed_url": link.url, "file_path": link.file_path, "dest_file_path": link.file_path,
            "dest_file_ath": link.file_path,
        }),
    ))
}

/// A download link of a stored file: `result` is the URL.
#[utoipa::path(method(get, post), path = "/user/v1/cloud-services/file/getDownloadableUrl", params(FileQuery),
    responses((status = 200, description = "`result` is the link", body = super::openapi::Answer)))]
async fn downloadable_url(
    State(state): State<AppState>,
    Authenticated(_caller): Authenticated,
    headers: HeaderMap,
    Query(q): Query<FileQuery>,
) -> Result<ApiOk, AppError> {
    let file_path = required(&q.file_path, "file_path")?;
    let url = state.files.download_link(file_path, &request_base(&headers)).await?;
    Ok(ApiOk::ok("Download Url Generated Successfully.", json!(url)))
}

/// A download link of the sample CSV for `org-admin/bulkUserCreate`.
#[utoipa::path(method(get, post), path = "/user/v1/cloud-services/file/getSampleCSV",
    responses((status = 200, description = "`result` is the link", body = super::openapi::Answer)))]
async fn sample_csv(
    State(state): State<AppState>,
    Authenticated(_caller): Authenticated,
    headers: HeaderMap,
) -> Result<ApiOk, AppError> {
    let url = state.files.sample_csv_link(&request_base(&headers)).await?;
    Ok(ApiOk::ok("Download Url Generated Successfully.", json!(url)))
}
