//! Sunbird's account merge (`PATCH /api/user/v1/account/merge`, the
//! service's `/private/user/v1/account/merge`): the acting user
//! (`x-authenticated-user-token`) is the target `toAccountId`, and
//! `x-source-user-token` proves the source `fromAccountId`, as Sunbird's
//! `UserMergeController` reads both headers. Its answers carry `id: null`
//! and `ver: "private"` (the route table marks it private).

use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::envelope::SbOk;
use super::errors::SbError;
use super::extract::{token, Acting, SbBody, SbMeta};
use crate::http::AppState;
use crate::users::UserKey;

pub const SOURCE_TOKEN: &str = "x-source-user-token";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MergeBody {
    /// The account merged away (it ends deleted); the user `x-source-user-token` names.
    #[serde(rename = "fromAccountId")]
    #[schema(format = Uuid)]
    from_account_id: String,
    /// The account kept: the acting user.
    #[serde(rename = "toAccountId")]
    #[schema(format = Uuid)]
    to_account_id: String,
}

/// The account the path of a merge names: one no user has cannot be the
/// one a token proved, so it is 401 like a token for someone else.
fn account(raw: &str, field: &str) -> Result<UserKey, SbError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(SbError::missing(field));
    }
    UserKey::parse(raw).ok_or_else(SbError::unauthorized)
}

/// Merges the source account into the acting user's.
#[utoipa::path(patch, path = "/api/user/v1/account/merge", request_body = super::openapi::Request<MergeBody>,
    params(("x-source-user-token" = String, Header, description = "The source account's user token (a Roster access token, or a Keycloak token)")),
    responses((status = 200, description = "Merged", body = super::openapi::Merged)))]
pub(super) async fn merge(
    State(state): State<AppState>,
    Acting(caller): Acting,
    headers: HeaderMap,
    meta: SbMeta,
    SbBody(body): SbBody<MergeBody>,
) -> Result<SbOk, SbError> {
    let from = account(&body.from_account_id, "fromAccountId")?;
    let to = account(&body.to_account_id, "toAccountId")?;
    let source_token = token(&headers, SOURCE_TOKEN).ok_or_else(|| SbError::missing_header(SOURCE_TOKEN))?;
    let source = state.authenticate_user(&source_token).await?;
    state.merge_accounts(&caller, &source, &from, &to, &meta.by(&caller)).await?;
    Ok(SbOk::success(json!({})))
}
