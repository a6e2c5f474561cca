use aggregates::ApiKeyEvent;
use serde_json::Value;

use crate::{format_time, Projection, ProjectionError, SqlValue, Statement, StoredEvent};

/// `api_keys`: one row per issued key, for the admin list. It holds no
/// hash of the secret: a key is checked against its aggregate, so a
/// revocation counts at once, whatever the projections' lag.
pub struct ApiKeysProjection;

/// Who did it, as the event's metadata says (`system` for the CLI).
fn actor(event: &StoredEvent) -> SqlValue {
    match event.metadata.get("actor_id").and_then(Value::as_str) {
        Some(actor) => SqlValue::Text(actor.to_string()),
        None => SqlValue::Null,
    }
}

impl Projection for ApiKeysProjection {
    fn name(&self) -> &'static str {
        "api_keys"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["api_keys"]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["api_key"]
    }

    fn handle(&self, event: &StoredEvent) -> Result<Vec<Statement>, ProjectionError> {
        if event.aggregate_type != "api_key" {
            return Ok(vec![]);
        }
        let id = SqlValue::Text(event.aggregate_id.clone());
        Ok(match event.decode::<ApiKeyEvent>()? {
            ApiKeyEvent::ApiKeyIssued { key, at } => vec![Statement::new(
                "INSERT INTO api_keys (id, name, issued_by, issued_at) VALUES ($1, $2, $3, $4)",
                vec![id, key.name.into(), actor(event), format_time(&at).into()],
            )],
            ApiKeyEvent::ApiKeyRevoked { at } => vec![Statement::new(
                "UPDATE api_keys SET revoked_at = $2, revoked_by = $3 WHERE id = $1",
                vec![id, format_time(&at).into(), actor(event)],
            )],
        })
    }
}
