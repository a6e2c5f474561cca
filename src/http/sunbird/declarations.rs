//! Sunbird's self-declarations: `PATCH /api/user/v1/declarations` (and
//! `/v1/user/declarations`) adds, edits and removes what a user declares to
//! an organisation in a persona (`crate::declarations`). Sunbird's read
//! shows them with `fields=declarations` (`profile::render_declarations`).

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use aggregates::declaration::SUBMITTED;
use aggregates::{Declaration, DeclarationChange, DeclarationOp};

use super::envelope::SbOk;
use super::errors::{SbError, INVALID_OPERATION, INVALID_PARAMETER_SIZE};
use super::extract::{ActingFor, SbBody, SbMeta};
use super::user::{clip, OrgId};
use crate::http::AppState;
use crate::users::UserKey;

/// The most declarations one request may carry, and keys one `info` may have.
const MAX_DECLARATIONS: usize = 32;
/// The largest `info` may be, as JSON.
const MAX_INFO_BYTES: usize = 4096;
/// Sunbird's persona when none is given (`JsonKey.DEFAULT_PERSONA`).
const DEFAULT_PERSONA: &str = "default";

#[derive(Deserialize, ToSchema)]
#[schema(as = sunbird::DeclarationsBody)]
#[serde(deny_unknown_fields)]
pub(super) struct DeclarationsBody {
    #[serde(default)]
    declarations: Option<Vec<Entry>>,
}

/// One operation: `add` (replaces the one of the same organisation and
/// persona), `edit` (moves as Sunbird moves: see the README), `remove`.
#[derive(Deserialize, ToSchema)]
#[schema(as = sunbird::Declaration)]
#[serde(deny_unknown_fields)]
pub(super) struct Entry {
    #[serde(default)]
    #[schema(pattern = "^(add|edit|remove)$", example = "add")]
    operation: Option<String>,
    /// The user declaring (the same in every entry).
    #[serde(default, rename = "userId")]
    #[schema(format = Uuid)]
    user_id: Option<String>,
    /// Where the declaration goes: an organisation id, as text or a number.
    #[serde(default, rename = "orgId")]
    org_id: Option<OrgId>,
    /// Default `default`.
    #[serde(default)]
    #[schema(example = "teacher")]
    persona: Option<String>,
    /// The declared fields, e.g. `declared-email`, `declared-school-name`.
    #[serde(default)]
    #[schema(value_type = Option<Object>, example = json!({"declared-school-name": "mgm21"}))]
    info: Option<Map<String, Value>>,
    /// Kept only from a reviewer (an admin or org admin of the user's
    /// organisation) on `edit`; the user's own are `SUBMITTED`.
    #[serde(default)]
    status: Option<String>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The entry as a change, and the user it is about.
fn change(entry: Entry) -> Result<(String, DeclarationChange), SbError> {
    let missing = || SbError::missing("userId or orgId");
    let user_id = non_blank(entry.user_id).ok_or_else(missing)?;
    let org_id = match entry.org_id {
        Some(OrgId::Text(text)) => non_blank(Some(text)).ok_or_else(missing)?,
        Some(OrgId::Number(n)) => n.to_string(),
        None => return Err(missing()),
    };
    let op = match non_blank(entry.operation).as_deref() {
        Some("add") => DeclarationOp::Add,
        Some("edit") => DeclarationOp::Edit,
        Some("remove") => DeclarationOp::Remove,
        _ => {
            return Err(SbError::client(
                INVALID_OPERATION,
                "Operation name is invalid. Please provide a valid operation name",
            ))
        }
    };
    let info = entry.info.unwrap_or_default();
    let size = Value::Object(info.clone()).to_string().len();
    if size > MAX_INFO_BYTES || info.len() > MAX_DECLARATIONS {
        return Err(SbError::client(
            INVALID_PARAMETER_SIZE,
            format!("Parameter info is of invalid size (expected: at most {MAX_INFO_BYTES} bytes of JSON and {MAX_DECLARATIONS} keys, actual: {size} bytes, {} keys).", info.len()),
        ));
    }
    let declaration = Declaration {
        org_id,
        persona: non_blank(entry.persona).unwrap_or_else(|| DEFAULT_PERSONA.to_string()),
        info,
        status: non_blank(entry.status).unwrap_or_else(|| SUBMITTED.to_string()),
        error_type: non_blank(entry.error_type),
    };
    Ok((user_id, DeclarationChange { op, declaration }))
}

/// Adds, edits or removes the user's declarations, in one event.
#[utoipa::path(patch, path = "/api/user/v1/declarations", request_body = super::openapi::Request<DeclarationsBody>,
    responses((status = 200, description = "Declared", body = super::openapi::Done)))]
pub(super) async fn declare(
    State(state): State<AppState>,
    acting: ActingFor,
    meta: SbMeta,
    SbBody(body): SbBody<DeclarationsBody>,
) -> Result<SbOk, SbError> {
    let entries = body.declarations.filter(|d| !d.is_empty()).ok_or_else(|| SbError::missing("declarations"))?;
    if entries.len() > MAX_DECLARATIONS {
        let message = format!(
            "Parameter declarations is of invalid size (expected: at most {MAX_DECLARATIONS}, actual: {}).",
            entries.len()
        );
        return Err(SbError::client(INVALID_PARAMETER_SIZE, message));
    }
    let mut user = None;
    let mut changes = Vec::with_capacity(entries.len());
    for entry in entries {
        let (user_id, change) = change(entry)?;
        // One request declares for one user, as Sunbird reads it (the first entry's).
        if *user.get_or_insert_with(|| user_id.clone()) != user_id {
            return Err(SbError::invalid_value(&clip(&user_id), "userId"));
        }
        changes.push(change);
    }
    let user = user.unwrap_or_default();
    let key = UserKey::parse(&user).ok_or_else(|| SbError::not_found("user"))?;
    let target = state.user(&key).await?;
    let caller = acting.on(&target.user_uuid)?;
    state.declare(&caller, &key, changes, &meta.by(&caller)).await?;
    Ok(SbOk::success(json!({})))
}
