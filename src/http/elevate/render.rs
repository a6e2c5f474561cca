//! ELEVATE's JSON for what the use cases return: the profile (`user/read`,
//! login, sign-up), organisations, roles, permissions and audit pages. The
//! bodies are ELEVATE's field names and quirks; the types stay neutral.

use serde_json::{json, Map, Value};

use aggregates::User;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::audit::{render_event, Page, UserState};
use crate::catalogue::{PermissionRow, RoleDetails};
use crate::event_id::event_id;
use crate::organizations::OrganizationDetails;
use crate::users::{json_column, Profile};
use crate::visibility::{ProfileView, PUBLIC_PROFILE_FIELDS};

pub trait ToElevateJson {
    fn to_elevate_json(&self) -> Value;
}

impl ToElevateJson for Profile {
    /// ELEVATE's profile shape (`user/read`, login, sign-up).
    fn to_elevate_json(&self) -> Value {
        let u = &self.user;
        let mut map = Map::new();
        map.insert("id".into(), json!(u.id));
        map.insert("uuid".into(), json!(u.user_uuid));
        map.insert("email".into(), json!(u.email));
        map.insert("email_verified".into(), json!(false));
        map.insert("name".into(), json!(u.name));
        map.insert("phone".into(), json!(u.phone));
        map.insert("username".into(), json!(u.username));
        map.insert("about".into(), json_column(&u.about));
        map.insert("gender".into(), json_column(&u.gender));
        map.insert("location".into(), json_column(&u.location).as_array().map_or(json!([]), |a| json!(a)));
        map.insert("languages".into(), json_column(&u.languages).as_array().map_or(json!([]), |a| json!(a)));
        map.insert("image".into(), json_column(&u.image));
        map.insert("share_link".into(), json_column(&u.share_link));
        map.insert("status".into(), json!(u.status));
        map.insert("has_accepted_terms_and_conditions".into(), json!(u.has_accepted_terms_and_conditions));
        map.insert("preferred_language".into(), json_column(&u.preferred_language));
        map.insert("organization_id".into(), json!(u.organization_id));
        map.insert("organization".into(), json!(self.organization));
        map.insert("roles".into(), json!(self.roles.iter().map(|r| r.id).collect::<Vec<_>>()));
        map.insert("user_roles".into(), json!(self.roles));
        map.insert("last_logged_in_at".into(), json!(u.last_logged_in_at));
        map.insert("deleted_at".into(), json!(u.deleted_at));
        map.insert("created_at".into(), json!(u.created_at));
        map.insert("updated_at".into(), json!(u.updated_at));
        Value::Object(map)
    }
}

impl Profile {
    /// The profile as `view` shows it: all of it, or its public fields.
    pub fn to_elevate_view(&self, view: ProfileView) -> Value {
        let mut full = self.to_elevate_json();
        if let (ProfileView::Public, Value::Object(map)) = (view, &mut full) {
            map.retain(|field, _| PUBLIC_PROFILE_FIELDS.contains(&field.as_str()));
        }
        full
    }
}

impl ToElevateJson for OrganizationDetails {
    fn to_elevate_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "code": self.code,
            "description": self.description,
            "status": self.status,
            "related_orgs": serde_json::from_str::<Value>(&self.related_orgs).unwrap_or(json!([])),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

impl ToElevateJson for RoleDetails {
    fn to_elevate_json(&self) -> Value {
        let parse = |t: &Option<String>| t.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null);
        json!({
            "id": self.id, "title": self.title, "label": self.label, "user_type": self.user_type,
            "status": self.status, "visibility": self.visibility, "organization_id": self.organization_id,
            "translations": parse(&self.translations), "meta": parse(&self.meta),
        })
    }
}

impl ToElevateJson for PermissionRow {
    fn to_elevate_json(&self) -> Value {
        json!({
            "id": self.id, "code": self.code, "module": self.module,
            "request_type": serde_json::from_str::<Value>(&self.request_type).unwrap_or(json!([])),
            "api_path": self.api_path, "status": self.status,
        })
    }
}

impl ToElevateJson for Page {
    fn to_elevate_json(&self) -> Value {
        let events: Vec<Value> = self.events.iter().map(|e| render_event(&e.event)).collect();
        json!({"events": events, "next_cursor": self.next_cursor})
    }
}

/// The rebuilt state. Fields are listed one by one (no `..`), so a field
/// added to the aggregate has to be decided on here; the password hash is
/// never shown.
impl ToElevateJson for UserState {
    fn to_elevate_json(&self) -> Value {
        let UserState { user_uuid, user, at, last } = self;
        let User {
            status,
            numeric_id,
            email,
            phone,
            username,
            name,
            password_hash: _,
            organization_id,
            role_ids,
            has_accepted_terms_and_conditions,
            consecutive_failures,
            locked_until,
            last_logged_in_at,
            managed_by,
            managed_users,
            owners,
            pool,
            merged_from,
            migration_prospects,
            external_ids,
            extension,
            declarations,
        } = user;
        let instant = |t: &Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true));
        let mut state = json!({
            "id": numeric_id,
            "uuid": user_uuid,
            "status": status.as_str(),
            "email": email,
            "phone": phone,
            "username": username,
            "name": name,
            "organization_id": organization_id,
            "roles": role_ids,
            "has_accepted_terms_and_conditions": has_accepted_terms_and_conditions,
            "consecutive_failed_logins": consecutive_failures,
            "locked_until": instant(locked_until),
            "last_logged_in_at": instant(last_logged_in_at),
            "as_of": at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "sequence": last.sequence,
            "event_id": event_id(&last.aggregate_type, &last.aggregate_id, last.sequence),
            "recorded_at": last.recorded_at,
        });
        // Managed users (Sunbird's) only: other users' state reads as before.
        if let Some(manager) = managed_by {
            state["managed_by"] = json!(manager);
        }
        if !managed_users.is_empty() {
            state["managed_users"] = json!(managed_users);
        }
        // Entity v5's owners and pool, once set.
        if !owners.is_empty() {
            state["owners"] = json!(owners);
        }
        if let Some(pool) = pool {
            state["pool"] = json!(pool.as_str());
        }
        // Sunbird's merges and migrations, once there are any; a prospect's
        // expected external id is never shown (it is what the user must give).
        if !merged_from.is_empty() {
            state["merged_from"] = json!(merged_from);
        }
        if !migration_prospects.is_empty() {
            let prospects: Vec<Value> = migration_prospects
                .iter()
                .map(|p| {
                    json!({"feed_id": p.prospect.feed_id, "channel": p.prospect.channel,
                           "organization_id": p.prospect.organization_id, "attempts": p.attempts})
                })
                .collect();
            state["migration_prospects"] = json!(prospects);
        }
        if !external_ids.is_empty() {
            let ids: Vec<Value> = external_ids.iter().map(|e| json!({"id": e.id, "provider": e.provider})).collect();
            state["external_ids"] = json!(ids);
        }
        // Sunbird's profile extension and declarations, once written.
        if !extension.is_empty() {
            state["profile_extension"] = json!(extension);
        }
        if !declarations.is_empty() {
            state["declarations"] = json!(declarations);
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use aggregates::UserStatus;
    use projections::StoredEvent;

    use super::*;

    #[test]
    fn state_never_shows_the_password_hash() {
        let user = User {
            status: UserStatus::Active,
            name: Some("Ann".into()),
            password_hash: Some("$argon2id$secret-hash".into()),
            role_ids: vec![3],
            ..User::default()
        };
        let last = StoredEvent {
            position: 42,
            aggregate_type: "user".into(),
            aggregate_id: "u-1".into(),
            sequence: 2,
            event_type: "TermsAccepted".into(),
            event_version: "1".into(),
            payload: json!({"TermsAccepted": {"at": "2026-01-01T00:00:00Z"}}),
            metadata: json!({}),
            recorded_at: "2026-01-01T00:00:00.000Z".into(),
        };
        let state = UserState { user_uuid: "u-1".into(), user, at: Utc::now(), last }.to_elevate_json();
        assert_eq!(state["name"], "Ann");
        assert_eq!(state["roles"], json!([3]));
        assert_eq!(state["status"], "ACTIVE");
        assert!(!state.to_string().contains("secret-hash"), "{state}");
    }
}
