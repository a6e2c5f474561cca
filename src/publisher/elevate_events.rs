//! Messages shaped like the ELEVATE user service's own Kafka events, for
//! consumers written against it: `{entity, eventType, entityId, ...}` with the
//! profile on create and `oldValues`/`newValues` on update.
//!
//! Each message is derived from one log event and the state before it (the
//! same aggregate's earlier events, folded), so a re-publish after a crash
//! produces the same message again.

use aggregates::organization::{Organization, OrganizationEvent};
use aggregates::user::UserEvent;
use aggregates::Aggregate;
use serde_json::{json, Map, Value};

use crate::storage::log::LogEntry;

/// What a log event means to an ELEVATE consumer, if anything.
pub fn message(entity: &str, history: &[LogEntry], entry: &LogEntry) -> Option<Value> {
    let (before, after) = match entity {
        "user" => (user_view(history), user_view(history.iter().chain(std::iter::once(entry)))),
        "organization" => (organization_view(history), organization_view(history.iter().chain(std::iter::once(entry)))),
        _ => return None,
    };
    let entity_id = after.get("id").cloned().unwrap_or(Value::Null);
    let actor = entry.event.metadata.get("actor_id").cloned().unwrap_or(Value::Null);
    let created = entry.event.sequence == 1;
    let deleted = matches!(entry.event.event_type.as_str(), "UserDeleted");
    if created {
        let mut message = json!({"entity": entity, "eventType": "create", "entityId": entity_id, "created_by": actor});
        if let (Some(object), Some(view)) = (message.as_object_mut(), after.as_object()) {
            object.extend(view.clone());
        }
        return Some(message);
    }
    if deleted {
        return Some(json!({"entity": entity, "eventType": "delete", "entityId": entity_id, "deleted_by": actor}));
    }
    let (old_values, new_values) = diff(&before, &after);
    if new_values.is_empty() {
        return None;
    }
    Some(json!({
        "entity": entity,
        "eventType": "update",
        "entityId": entity_id,
        "updated_by": actor,
        "oldValues": old_values,
        "newValues": new_values,
    }))
}

fn diff(before: &Value, after: &Value) -> (Map<String, Value>, Map<String, Value>) {
    let (mut old, mut new) = (Map::new(), Map::new());
    let empty = Map::new();
    let before = before.as_object().unwrap_or(&empty);
    for (key, value) in after.as_object().unwrap_or(&empty) {
        let previous = before.get(key).cloned().unwrap_or(Value::Null);
        if previous != *value {
            old.insert(key.clone(), previous);
            new.insert(key.clone(), value.clone());
        }
    }
    (old, new)
}

/// The user as ELEVATE's events describe one: profile, organisation and roles.
fn user_view<'a>(events: impl IntoIterator<Item = &'a LogEntry>) -> Value {
    let mut view = Map::new();
    let mut roles: Vec<i64> = Vec::new();
    for entry in events {
        let Ok(event) = entry.event.decode::<UserEvent>() else { continue };
        match event {
            UserEvent::UserRegistered { registration: r, .. } => {
                view.insert("id".into(), r.numeric_id.into());
                view.insert("email".into(), r.email.into());
                view.insert("name".into(), r.name.into());
                view.insert("phone".into(), r.phone.into());
                view.insert("username".into(), r.username.into());
                view.insert("organization_id".into(), r.organization_id.into());
                view.insert("status".into(), "ACTIVE".into());
                view.insert("preferred_language".into(), r.preferred_language.into());
                view.insert("has_accepted_terms_and_conditions".into(), r.has_accepted_terms_and_conditions.into());
                roles = r.role_ids;
            }
            UserEvent::ProfileUpdated { changes, .. } => {
                if let Ok(Value::Object(changes)) = serde_json::to_value(&changes) {
                    // The profile extension is Sunbird's, not a field of ELEVATE's user.
                    view.extend(changes.into_iter().filter(|(k, v)| !v.is_null() && k != "extension"));
                }
            }
            UserEvent::TermsAccepted { .. } => {
                view.insert("has_accepted_terms_and_conditions".into(), true.into());
            }
            UserEvent::ContactChanged { changes, .. } => {
                for (key, value) in [("email", changes.email), ("phone", changes.phone), ("username", changes.username)]
                {
                    if let Some(value) = value {
                        view.insert(key.into(), value.into());
                    }
                }
            }
            UserEvent::UserDeactivated { .. } => {
                view.insert("status".into(), "INACTIVE".into());
            }
            UserEvent::UserActivated { .. } => {
                view.insert("status".into(), "ACTIVE".into());
            }
            UserEvent::UserDeleted { .. } => {
                view.retain(|k, _| k == "id" || k == "organization_id");
                view.insert("status".into(), "DELETED".into());
                roles.clear();
            }
            UserEvent::OrganizationChanged { to, .. } => {
                view.insert("organization_id".into(), to.into());
            }
            UserEvent::RoleAssigned { role_id, .. } => {
                if !roles.contains(&role_id) {
                    roles.push(role_id);
                }
            }
            UserEvent::RoleRevoked { role_id, .. } => roles.retain(|r| *r != role_id),
            UserEvent::LoginSucceeded { .. }
            | UserEvent::LoginFailed { .. }
            | UserEvent::AccountLocked { .. }
            | UserEvent::LoggedOut { .. }
            | UserEvent::ManagedUserAdded { .. }
            | UserEvent::PasswordChanged { .. }
            // Entity v5's owners and pools are not fields of ELEVATE's user.
            | UserEvent::OwnerAdded { .. }
            | UserEvent::OwnerRemoved { .. }
            | UserEvent::PoolChanged { .. }
            // A merge's source is deleted by its `UserDeleted`; a migration
            // moves the user by its `OrganizationChanged`.
            | UserEvent::AccountMergedInto { .. }
            | UserEvent::AccountMerged { .. }
            | UserEvent::MigrationProspectAdded { .. }
            | UserEvent::MigrationAttemptFailed { .. }
            | UserEvent::MigrationFailed { .. }
            | UserEvent::MigrationRejected { .. }
            | UserEvent::UserMigrated { .. }
            // Nor are Sunbird's declarations.
            | UserEvent::DeclarationsChanged { .. } => {}
        }
    }
    if let Some(organization_id) = view.get("organization_id").cloned() {
        let role_list: Vec<Value> = roles.iter().map(|id| json!({"id": id})).collect();
        view.insert("roles".into(), Value::Array(role_list.clone()));
        view.insert("organizations".into(), json!([{"id": organization_id, "roles": role_list}]));
    }
    Value::Object(view)
}

fn organization_view<'a>(events: impl IntoIterator<Item = &'a LogEntry>) -> Value {
    let mut organization = Organization::default();
    for entry in events {
        if let Ok(event) = entry.event.decode::<OrganizationEvent>() {
            organization.apply(event);
        }
    }
    if !organization.created {
        return json!({});
    }
    json!({
        "id": organization.numeric_id,
        "name": organization.name,
        "code": organization.code,
        "description": organization.description,
        "related_orgs": organization.related_orgs,
        "status": if organization.active { "ACTIVE" } else { "INACTIVE" },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::log::CommitPoint;
    use projections::StoredEvent;

    fn entry(sequence: i64, payload: Value) -> LogEntry {
        let event_type = payload.as_object().unwrap().keys().next().unwrap().clone();
        LogEntry {
            point: CommitPoint { txid: 0, position: sequence },
            event: StoredEvent {
                position: sequence,
                aggregate_type: "user".into(),
                aggregate_id: "u".into(),
                sequence,
                event_type,
                event_version: "1".into(),
                payload,
                metadata: json!({"actor_id": "admin-uuid"}),
                recorded_at: String::new(),
            },
        }
    }

    fn registered() -> LogEntry {
        entry(
            1,
            json!({"UserRegistered": {"registration": {
                "numeric_id": 5, "email": "a@b.c", "name": "Ann", "phone": null, "username": null,
                "password_hash": "h", "organization_id": 1, "role_ids": [3],
                "has_accepted_terms_and_conditions": false, "preferred_language": "en"
            }, "at": "2026-01-01T00:00:00Z"}}),
        )
    }

    #[test]
    fn create_carries_profile_organisation_and_roles_but_no_password() {
        let created = message("user", &[], &registered()).unwrap();
        assert_eq!(created["eventType"], "create");
        assert_eq!(created["entityId"], 5);
        assert_eq!(created["email"], "a@b.c");
        assert_eq!(created["organizations"], json!([{"id": 1, "roles": [{"id": 3}]}]));
        assert!(!created.to_string().contains("password"));
    }

    #[test]
    fn update_carries_only_what_changed() {
        let history = vec![registered()];
        let update = entry(2, json!({"ProfileUpdated": {"changes": {"name": "Anna"}, "at": "2026-01-02T00:00:00Z"}}));
        let message = message("user", &history, &update).unwrap();
        assert_eq!(message["eventType"], "update");
        assert_eq!(message["oldValues"], json!({"name": "Ann"}));
        assert_eq!(message["newValues"], json!({"name": "Anna"}));
        assert_eq!(message["updated_by"], "admin-uuid");
        let login = entry(2, json!({"LoginSucceeded": {"session_id": "s", "at": "2026-01-02T00:00:00Z"}}));
        assert_eq!(super::message("user", &history, &login), None);
    }

    #[test]
    fn a_contact_change_is_an_update_of_those_values() {
        let changed = entry(
            2,
            json!({"ContactChanged": {"changes": {"email": "new@b.c", "username": "ann"}, "at": "2026-01-02T00:00:00Z"}}),
        );
        let message = message("user", &[registered()], &changed).unwrap();
        assert_eq!(message["eventType"], "update");
        assert_eq!(message["oldValues"], json!({"email": "a@b.c", "username": null}));
        assert_eq!(message["newValues"], json!({"email": "new@b.c", "username": "ann"}));
    }

    #[test]
    fn delete_names_the_entity() {
        let deleted = entry(2, json!({"UserDeleted": {"at": "2026-01-02T00:00:00Z"}}));
        let message = message("user", &[registered()], &deleted).unwrap();
        assert_eq!(
            message,
            json!({"entity": "user", "eventType": "delete", "entityId": 5, "deleted_by": "admin-uuid"})
        );
    }

    #[test]
    fn organisations_get_create_and_update_with_old_and_new_values() {
        let mut created = entry(
            1,
            json!({"OrganizationCreated": {"numeric_id": 4, "name": "Acme", "code": "acme", "description": "",
                "at": "2026-01-01T00:00:00Z"}}),
        );
        created.event.aggregate_type = "organization".into();
        let mut deactivated = entry(2, json!({"OrganizationDeactivated": {"at": "2026-01-02T00:00:00Z"}}));
        deactivated.event.aggregate_type = "organization".into();
        let create = message("organization", &[], &created).unwrap();
        assert_eq!(create["eventType"], "create");
        assert_eq!(create["code"], "acme");
        let update = message("organization", &[created], &deactivated).unwrap();
        assert_eq!(update["eventType"], "update");
        assert_eq!(update["oldValues"], json!({"status": "ACTIVE"}));
        assert_eq!(update["newValues"], json!({"status": "INACTIVE"}));
    }
}
