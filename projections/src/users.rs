use aggregates::{ContactChanges, ProfileChanges, UserEvent};
use serde_json::Value;

use crate::{format_time, Projection, ProjectionError, SqlValue, Statement, StoredEvent};

/// `users`, `user_roles` and `user_owners` (entity v5's owners of a user):
/// the profile as the APIs show it, plus a lower-cased `search_text` (name
/// and email) for substring search.
pub struct UsersProjection;

fn json_text(value: &Value) -> SqlValue {
    match value {
        Value::Null => SqlValue::Null,
        other => SqlValue::Text(other.to_string()),
    }
}

/// The lower-cased name, its words joined by single spaces, a space, and
/// the email. Searches match in it; the search-prefix triggers (migration
/// 0012) split it on spaces into the words a short term must start.
fn search_text(name: &str, email: &str) -> String {
    format!("{} {}", search_name(name), email.to_lowercase())
}

fn search_name(name: &str) -> String {
    name.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>().join(" ")
}

impl Projection for UsersProjection {
    fn name(&self) -> &'static str {
        "users"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["user_owners", "user_roles", "users"]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["user"]
    }
    fn inline(&self) -> bool {
        true
    }

    fn handle(&self, event: &StoredEvent) -> Result<Vec<Statement>, ProjectionError> {
        if event.aggregate_type != "user" {
            return Ok(vec![]);
        }
        let id = SqlValue::Text(event.aggregate_id.clone());
        let statements = match event.decode::<UserEvent>()? {
            UserEvent::UserRegistered { registration: r, at } => {
                let at = format_time(&at);
                let mut statements = vec![Statement::new(
                    "INSERT INTO users (user_uuid, id, email, name, phone, username, status, organization_id, \
                     has_accepted_terms_and_conditions, preferred_language, search_text, created_at, updated_at, \
                     managed_by, profile_extension) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'ACTIVE', $7, $8, $9, $10, $11, $11, $12, $13)",
                    vec![
                        id.clone(),
                        r.numeric_id.into(),
                        r.email.clone().into(),
                        r.name.clone().into(),
                        r.phone.into(),
                        r.username.into(),
                        r.organization_id.into(),
                        r.has_accepted_terms_and_conditions.into(),
                        json_text(&Value::String(r.preferred_language)),
                        // As a profile update writes it: a managed user has no email.
                        search_text(&r.name, r.email.as_deref().unwrap_or_default()).into(),
                        at.into(),
                        r.managed_by.into(),
                        extension_text(r.extension),
                    ],
                )];
                for role_id in r.role_ids {
                    statements.push(Statement::new(
                        "INSERT INTO user_roles (user_uuid, role_id, organization_id) VALUES ($1, $2, $3) \
                         ON CONFLICT (user_uuid, role_id, organization_id) DO NOTHING",
                        vec![id.clone(), role_id.into(), r.organization_id.into()],
                    ));
                }
                statements
            }
            UserEvent::ProfileUpdated { changes, at } => vec![profile_update(id, changes, &format_time(&at))],
            UserEvent::ContactChanged { changes, at } => vec![contact_change(id, changes, &format_time(&at))],
            UserEvent::TermsAccepted { at } => vec![Statement::new(
                "UPDATE users SET has_accepted_terms_and_conditions = $2, updated_at = $3 WHERE user_uuid = $1",
                vec![id, true.into(), format_time(&at).into()],
            )],
            UserEvent::LoginSucceeded { at, .. } => vec![Statement::new(
                "UPDATE users SET last_logged_in_at = $2 WHERE user_uuid = $1",
                vec![id, format_time(&at).into()],
            )],
            UserEvent::LoginFailed { .. }
            | UserEvent::AccountLocked { .. }
            | UserEvent::LoggedOut { .. }
            | UserEvent::ManagedUserAdded { .. }
            | UserEvent::PasswordChanged { .. } => vec![],
            // Merges and migration prospects live on the aggregate; what a
            // read shows of them comes with their own events (`UserDeleted`,
            // `OrganizationChanged`, `RoleRevoked`).
            UserEvent::AccountMergedInto { .. }
            | UserEvent::MigrationProspectAdded { .. }
            | UserEvent::MigrationAttemptFailed { .. }
            | UserEvent::MigrationFailed { .. }
            | UserEvent::MigrationRejected { .. } => vec![],
            UserEvent::AccountMerged { at, .. } | UserEvent::UserMigrated { at, .. } => vec![touch(id, &at)],
            UserEvent::OwnerAdded { owner_id, at } => vec![
                Statement::new(
                    "INSERT INTO user_owners (user_uuid, owner_uuid, added_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_uuid, owner_uuid) DO NOTHING",
                    vec![id.clone(), owner_id.into(), format_time(&at).into()],
                ),
                touch(id, &at),
            ],
            UserEvent::OwnerRemoved { owner_id, at } => vec![
                Statement::new(
                    "DELETE FROM user_owners WHERE user_uuid = $1 AND owner_uuid = $2",
                    vec![id.clone(), owner_id.into()],
                ),
                touch(id, &at),
            ],
            UserEvent::DeclarationsChanged { declarations, at } => vec![Statement::new(
                "UPDATE users SET declarations = $2, updated_at = $3 WHERE user_uuid = $1",
                vec![
                    id,
                    json_text(&serde_json::to_value(declarations.entries).unwrap_or_default()),
                    format_time(&at).into(),
                ],
            )],
            UserEvent::PoolChanged { pool, at } => vec![Statement::new(
                "UPDATE users SET pool = $2, updated_at = $3 WHERE user_uuid = $1",
                vec![id, pool.as_str().into(), format_time(&at).into()],
            )],
            UserEvent::UserDeactivated { at } => vec![set_status(id, "INACTIVE", &format_time(&at))],
            UserEvent::UserActivated { at } => vec![set_status(id, "ACTIVE", &format_time(&at))],
            UserEvent::OrganizationChanged { to, at, .. } => vec![
                Statement::new(
                    "UPDATE users SET organization_id = $2, updated_at = $3 WHERE user_uuid = $1",
                    vec![id.clone(), to.into(), format_time(&at).into()],
                ),
                Statement::new("UPDATE user_roles SET organization_id = $2 WHERE user_uuid = $1", vec![id, to.into()]),
            ],
            UserEvent::RoleAssigned { role_id, organization_id, at } => vec![
                Statement::new(
                    "INSERT INTO user_roles (user_uuid, role_id, organization_id) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_uuid, role_id, organization_id) DO NOTHING",
                    vec![id.clone(), role_id.into(), organization_id.into()],
                ),
                touch(id, &at),
            ],
            UserEvent::RoleRevoked { role_id, at } => vec![
                Statement::new(
                    "DELETE FROM user_roles WHERE user_uuid = $1 AND role_id = $2",
                    vec![id.clone(), role_id.into()],
                ),
                touch(id, &at),
            ],
            UserEvent::UserDeleted { at } => {
                let at = format_time(&at);
                vec![
                    Statement::new("DELETE FROM user_roles WHERE user_uuid = $1", vec![id.clone()]),
                    Statement::new("DELETE FROM user_owners WHERE user_uuid = $1", vec![id.clone()]),
                    // Personal data leaves the read model; the numeric id stays so references resolve.
                    Statement::new(
                        "UPDATE users SET status = 'DELETED', email = NULL, name = NULL, phone = NULL, username = NULL, \
                         about = NULL, gender = NULL, location = NULL, image = NULL, languages = NULL, share_link = NULL, \
                         profile_extension = NULL, declarations = NULL, search_text = '', deleted_at = $2, updated_at = $2 WHERE user_uuid = $1",
                        vec![id, at.into()],
                    ),
                ]
            }
        };
        Ok(statements)
    }
}

/// The extension as JSON text (`null` when empty). Text, not jsonb, on
/// PostgreSQL too: serialised JSON escapes a NUL (`\u0000`), which text
/// holds and jsonb refuses.
fn extension_text(extension: Option<aggregates::ProfileExtension>) -> SqlValue {
    match extension.filter(|e| !e.is_empty()) {
        Some(extension) => json_text(&Value::Object(extension)),
        None => SqlValue::Null,
    }
}

fn touch(id: SqlValue, at: &aggregates::Timestamp) -> Statement {
    Statement::new("UPDATE users SET updated_at = $2 WHERE user_uuid = $1", vec![id, format_time(at).into()])
}

fn set_status(id: SqlValue, status: &str, at: &str) -> Statement {
    Statement::new(
        "UPDATE users SET status = $2, updated_at = $3 WHERE user_uuid = $1",
        vec![id, status.into(), at.into()],
    )
}

/// The new contact values. A new email replaces the email part of
/// `search_text` (the row's own name part is kept: every expression reads
/// the row as it was), and the search-prefix triggers follow.
fn contact_change(id: SqlValue, changes: ContactChanges, at: &str) -> Statement {
    let mut sets = vec!["updated_at = $2".to_string()];
    let mut args = vec![id, at.into()];
    if let Some(email) = changes.email {
        args.push(email.into());
        let n = args.len();
        sets.push(format!("email = ${n}"));
        sets.push(format!(
            "search_text = substr(search_text, 1, length(search_text) - length(coalesce(email, ''))) || ${n}"
        ));
    }
    for (column, value) in [("phone", changes.phone), ("username", changes.username)] {
        if let Some(value) = value {
            args.push(value.into());
            sets.push(format!("{column} = ${}", args.len()));
        }
    }
    Statement::new(format!("UPDATE users SET {} WHERE user_uuid = $1", sets.join(", ")), args)
}

/// Only the fields present in the event change.
fn profile_update(id: SqlValue, changes: ProfileChanges, at: &str) -> Statement {
    let mut sets = vec!["updated_at = $2".to_string()];
    let mut args = vec![id, at.into()];
    fn push(sets: &mut Vec<String>, args: &mut Vec<SqlValue>, column: &str, value: SqlValue) -> usize {
        args.push(value);
        sets.push(format!("{column} = ${}", args.len()));
        args.len()
    }
    if let Some(name) = &changes.name {
        push(&mut sets, &mut args, "name", name.clone().into());
        // search_text follows the new name (lower-cased here, as at sign-up:
        // SQLite's lower() folds ASCII only); the email part is kept from the row.
        args.push(search_name(name).into());
        sets.push(format!("search_text = ${} || ' ' || coalesce(email, '')", args.len()));
    }
    for (column, value) in [
        ("about", &changes.about),
        ("gender", &changes.gender),
        ("location", &changes.location),
        ("image", &changes.image),
        ("languages", &changes.languages),
        ("share_link", &changes.share_link),
        ("preferred_language", &changes.preferred_language),
    ] {
        if let Some(value) = value {
            push(&mut sets, &mut args, column, json_text(value));
        }
    }
    if let Some(accepted) = changes.has_accepted_terms_and_conditions {
        push(&mut sets, &mut args, "has_accepted_terms_and_conditions", accepted.into());
    }
    if let Some(extension) = changes.extension {
        // The event carries the whole extension after the change.
        push(&mut sets, &mut args, "profile_extension", extension_text(Some(extension)));
    }
    Statement::new(format!("UPDATE users SET {} WHERE user_uuid = $1", sets.join(", ")), args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(payload: Value) -> StoredEvent {
        StoredEvent {
            position: 1,
            aggregate_type: "user".into(),
            aggregate_id: "u1".into(),
            sequence: 1,
            event_type: "x".into(),
            event_version: "1".into(),
            payload,
            metadata: json!({}),
            recorded_at: String::new(),
        }
    }

    #[test]
    fn profile_update_sets_only_present_fields() {
        let event = stored(
            json!({"ProfileUpdated": {"changes": {"name": "Zed", "about": "hi"}, "at": "2026-01-01T00:00:00Z"}}),
        );
        let statements = UsersProjection.handle(&event).unwrap();
        assert_eq!(statements.len(), 1);
        let s = &statements[0];
        assert_eq!(
            s.sql,
            "UPDATE users SET updated_at = $2, name = $3, search_text = $4 || ' ' || coalesce(email, ''), about = $5 WHERE user_uuid = $1"
        );
        assert_eq!(s.args[2], SqlValue::Text("Zed".into()));
        assert_eq!(s.args[3], SqlValue::Text("zed".into()));
        assert_eq!(s.args[4], SqlValue::Text("\"hi\"".into()));
    }

    #[test]
    fn a_contact_change_replaces_the_email_part_of_the_search_text() {
        let event = stored(json!({"ContactChanged": {"changes": {"email": "b@c.de", "username": "bee"},
                                                     "at": "2026-01-01T00:00:00Z"}}));
        let statements = UsersProjection.handle(&event).unwrap();
        assert_eq!(
            statements[0].sql,
            "UPDATE users SET updated_at = $2, email = $3, \
             search_text = substr(search_text, 1, length(search_text) - length(coalesce(email, ''))) || $3, \
             username = $4 WHERE user_uuid = $1"
        );
        assert_eq!(statements[0].args[2], SqlValue::Text("b@c.de".into()));
        // Erased (its values read as null): nothing but the time changes.
        let erased = stored(json!({"ContactChanged": {"changes": {"email": null, "phone": null, "username": null},
                                                      "at": "2026-01-01T00:00:00Z"}}));
        assert_eq!(
            UsersProjection.handle(&erased).unwrap()[0].sql,
            "UPDATE users SET updated_at = $2 WHERE user_uuid = $1"
        );
    }

    #[test]
    fn search_text_has_single_spaced_lower_case_words() {
        assert_eq!(search_text("  Élodie\tDE  la Cruz ", "E@x.org"), "élodie de la cruz e@x.org");
    }

    #[test]
    fn other_aggregates_are_ignored() {
        let mut event = stored(json!({"Whatever": {}}));
        event.aggregate_type = "role".into();
        assert!(UsersProjection.handle(&event).unwrap().is_empty());
    }
}
