//! Sunbird's user migration: `POST /api/user/v1/migrate` (`/v1/user/migrate`,
//! the route Sunbird served until 4.3) answers one's own migration
//! prospect, and the user feed shows the prospects
//! (`GET /api/user/v1/feed/{userId}`, items of category
//! `OrgMigrationAction`); an admin adds one with the feed's create
//! (`POST /api/user/v1/feed/create`) and the external id the organisation
//! knows the user by (`userExtId`, which no read shows).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::envelope::{SbOk, SbOkCoded};
use super::errors::{SbError, USER_MIGRATION_FAILED};
use super::extract::{Acting, SbBody, SbMeta};
use super::user::clip;
use crate::accounts::Caller;
use crate::http::AppState;
use crate::migration_prospects::{MigrationAnswer, MigrationOutcome, NewProspect, ORG_MIGRATION_ACTION};
use crate::users::UserKey;

fn user_key(raw: &str) -> Result<UserKey, SbError> {
    UserKey::parse(raw).ok_or_else(|| SbError::not_found("user"))
}

/// Text that must be there: blank is missing, as Sunbird's validator reads it.
fn mandatory(value: Option<String>, field: &str) -> Result<String, SbError> {
    value.filter(|v| !v.trim().is_empty()).ok_or_else(|| SbError::missing(field))
}

fn is_caller(caller: &Caller, user_id: &str) -> bool {
    let user_id = user_id.trim();
    user_id.eq_ignore_ascii_case(caller.user_uuid()) || user_id == caller.numeric_id().to_string()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MigrateBody {
    /// The acting user's id.
    #[serde(default, rename = "userId")]
    #[schema(format = Uuid)]
    user_id: Option<String>,
    /// `accept` or `reject`.
    #[schema(example = "accept")]
    action: String,
    /// The prospect's organisation code (mandatory to accept).
    #[serde(default)]
    channel: Option<String>,
    /// The feed item answered (accepted for Sunbird's clients; the channel decides).
    #[serde(default, rename = "feedId")]
    _feed_id: Option<String>,
    /// The external id the organisation knows the user by (mandatory to accept).
    #[serde(default, rename = "userExtId")]
    user_ext_id: Option<String>,
}

/// Answers the acting user's migration prospect: `accept` with the
/// organisation's external id moves them into it; `reject` drops every
/// prospect. A wrong external id answers 200 with `responseCode`
/// `SERVER_ERROR` and the attempts left (Sunbird's documented answer); the
/// last one is `USER_MIGRATION_FAILED`.
#[utoipa::path(post, path = "/api/user/v1/migrate", request_body = super::openapi::Request<MigrateBody>,
    responses((status = 200, description = "Migrated or rejected (`{success, userId}`), or a wrong external id (`{maxAttempt, remainingAttempt, err, message}`, `responseCode` `SERVER_ERROR`)", body = super::openapi::Migrated)))]
pub(super) async fn migrate(
    State(state): State<AppState>,
    Acting(caller): Acting,
    meta: SbMeta,
    SbBody(body): SbBody<MigrateBody>,
) -> Result<Response, SbError> {
    let accept = match body.action.trim() {
        "accept" => true,
        "reject" => false,
        other => return Err(SbError::invalid_value(&clip(other), "action")),
    };
    let user_id = mandatory(body.user_id, "userId")?;
    let answer = match accept {
        true => {
            let external_id = mandatory(body.user_ext_id, "userExtId")?;
            let channel = mandatory(body.channel, "channel")?;
            MigrationAnswer::Accept { channel, external_id }
        }
        false => MigrationAnswer::Reject,
    };
    // Sunbird: only one's own account migrates; another id is an invalid value.
    if !is_caller(&caller, &user_id) {
        return Err(SbError::invalid_value(&clip(&user_id), "userId"));
    }
    let wrong_id = match &answer {
        MigrationAnswer::Accept { external_id, .. } => clip(external_id),
        MigrationAnswer::Reject => String::new(),
    };
    let outcome = state.answer_migration(&caller, &user_key(&user_id)?, answer, &meta.by(&caller)).await?;
    let done = || SbOk(json!({"success": true, "userId": caller.user_uuid()})).into_response();
    Ok(match outcome {
        MigrationOutcome::Migrated | MigrationOutcome::Rejected => done(),
        MigrationOutcome::WrongExternalId { remaining } => SbOkCoded(
            SbOk(json!({
                "maxAttempt": MigrationOutcome::MAX_ATTEMPTS,
                "remainingAttempt": remaining,
                "err": true,
                "message": format!("provided ext user id {wrong_id} is incorrect"),
            })),
            "SERVER_ERROR",
        )
        .into_response(),
        MigrationOutcome::Failed => return Err(SbError::whole(USER_MIGRATION_FAILED, "user is failed to migrate")),
    })
}

/// The acting user's feed: their pending migration prospects.
#[utoipa::path(get, path = "/api/user/v1/feed/{userId}", params(("userId" = crate::http::openapi::UserKey, Path, description = "The acting user's id")),
    responses((status = 200, description = "The feed", body = super::openapi::Feed)))]
pub(super) async fn feed(
    State(state): State<AppState>,
    Acting(caller): Acting,
    Path(user_id): Path<String>,
) -> Result<SbOk, SbError> {
    // Sunbird: someone else's feed is not the caller's to read.
    if !is_caller(&caller, &user_id) {
        return Err(SbError::unauthorized());
    }
    let items = state.migration_feed(&caller, &user_key(&user_id)?).await?;
    let feed: Vec<Value> = items
        .into_iter()
        .map(|item| {
            json!({
                "id": item.feed_id,
                "userId": item.user_uuid,
                "category": ORG_MIGRATION_ACTION,
                "priority": item.priority,
                "status": "unread",
                "createdBy": item.created_by,
                "createdOn": item.created_at.format("%Y-%m-%d %H:%M:%S:%3f%z").to_string(),
                "data": {
                    "prospectChannels": [item.channel],
                    "prospectChannelsIds": [{"id": item.organization_id.to_string(), "name": item.channel}],
                },
            })
        })
        .collect();
    Ok(SbOk(json!({"response": {"userFeed": feed}})))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct FeedData {
    /// Exactly one organisation code (Sunbird's channel): where the user may move.
    #[serde(rename = "prospectChannels")]
    #[schema(min_items = 1, max_items = 1)]
    prospect_channels: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct FeedBody {
    #[serde(default, rename = "userId")]
    #[schema(format = Uuid)]
    user_id: Option<String>,
    /// `OrgMigrationAction` (the only feed items Roster keeps).
    #[serde(default)]
    #[schema(example = "OrgMigrationAction")]
    category: Option<String>,
    /// Above 0.
    #[serde(default)]
    #[schema(minimum = 1)]
    priority: Option<i64>,
    data: FeedData,
    /// The external id the organisation knows the user by: what `migrate` checks.
    #[serde(rename = "userExtId")]
    user_ext_id: String,
}

/// Adds a migration prospect for a user (an admin's).
#[utoipa::path(post, path = "/api/user/v1/feed/create", request_body = super::openapi::Request<FeedBody>,
    responses((status = 200, description = "Added: `{response: \"SUCCESS\", id}`", body = super::openapi::FeedCreated)))]
pub(super) async fn create_feed(
    State(state): State<AppState>,
    Acting(caller): Acting,
    meta: SbMeta,
    SbBody(body): SbBody<FeedBody>,
) -> Result<SbOk, SbError> {
    let user_id = mandatory(body.user_id, "userId")?;
    let category = mandatory(body.category, "category")?;
    let priority = body.priority.filter(|p| *p > 0).ok_or_else(|| SbError::missing("priority"))?;
    if category.trim() != ORG_MIGRATION_ACTION {
        return Err(SbError::invalid_value(&clip(&category), "category"));
    }
    let [channel] =
        <[String; 1]>::try_from(body.data.prospect_channels).map_err(|_| SbError::invalid("data.prospectChannels"))?;
    let input = NewProspect { user: user_key(&user_id)?, channel, external_id: body.user_ext_id, priority };
    let feed_id = state.add_migration_prospect(&caller, input, &meta.by(&caller)).await?;
    Ok(SbOk::success(json!({"id": feed_id})))
}
