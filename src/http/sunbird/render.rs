//! Sunbird's JSON for what the use cases return: a user as `read`, `get`
//! and `search` show one. Sunbird field names, statuses (1 active, 0
//! blocked) and date format; the types stay neutral.

use serde_json::{json, Map, Value};

use crate::users::{json_column, ListedStatus, ListedUser, Profile, RoleRow};
use crate::visibility::ProfileView;

/// `firstName` and `lastName` from the one name Roster keeps: the last word
/// is the last name (see the README's field mapping).
pub fn split_name(name: &str) -> (String, Option<String>) {
    match name.trim().rsplit_once(' ') {
        Some((first, last)) if !first.trim().is_empty() => (first.trim().to_string(), Some(last.to_string())),
        _ => (name.trim().to_string(), None),
    }
}

/// Sunbird's timestamps: `2020-11-23 10:03:39:935+0000`.
fn date(text: &Option<String>) -> Value {
    let Some(text) = text else { return Value::Null };
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(at) => at.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M:%S:%3f%z").to_string().into(),
        Err(_) => text.clone().into(),
    }
}

/// An email with the first two characters of its local part kept.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let kept: String = local.chars().take(2).collect();
            let hidden = local.chars().count().saturating_sub(2);
            format!("{kept}{}@{domain}", "*".repeat(hidden))
        }
        None => "*".repeat(email.chars().count()),
    }
}

/// A phone number with its last four digits kept.
pub fn mask_phone(phone: &str) -> String {
    let count = phone.chars().count();
    phone.chars().enumerate().map(|(i, c)| if i + 4 < count { '*' } else { c }).collect()
}

/// Role titles as Sunbird writes them (upper case), the public role first:
/// everyone holds it.
fn role_names(roles: &[RoleRow]) -> Vec<String> {
    let mut names = vec!["PUBLIC".to_string()];
    for role in roles {
        let name = role.title.to_uppercase();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn organisation(id: i64, name: Option<&str>, user_id: &str, roles: &[String]) -> Value {
    json!({
        "organisationId": id.to_string(),
        "orgName": name,
        "userId": user_id,
        "roles": roles,
        "isDeleted": false,
    })
}

/// A user as `read` and `get` show them, in `view`: the public view has no
/// contact data (email, phone, user name, masked or not) nor personal details.
pub fn user(profile: &Profile, view: ProfileView) -> Value {
    let u = &profile.user;
    let (first_name, last_name) = split_name(u.name.as_deref().unwrap_or_default());
    let roles = role_names(&profile.roles);
    let org_name = profile.organization.as_ref().map(|o| o.name.as_str());
    let blocked = u.status != "ACTIVE";
    let mut map = Map::new();
    for key in ["id", "userId", "identifier"] {
        map.insert(key.into(), json!(u.user_uuid));
    }
    map.insert("firstName".into(), json!(first_name));
    map.insert("lastName".into(), json!(last_name));
    map.insert("avatar".into(), json_column(&u.image));
    map.insert("status".into(), json!(if blocked { 0 } else { 1 }));
    map.insert("isDeleted".into(), json!(blocked));
    map.insert("isBlocked".into(), json!(blocked));
    map.insert("roles".into(), json!(roles));
    map.insert("rootOrgId".into(), json!(u.organization_id.to_string()));
    map.insert("rootOrgName".into(), json!(org_name));
    map.insert("channel".into(), json!(profile.organization.as_ref().map(|o| o.code.as_str())));
    map.insert("organisations".into(), json!([organisation(u.organization_id, org_name, &u.user_uuid, &roles)]));
    map.insert("managedBy".into(), json!(u.managed_by));
    if view == ProfileView::Full {
        map.insert("email".into(), json!(u.email));
        map.insert("maskedEmail".into(), json!(u.email.as_deref().map(mask_email)));
        map.insert("phone".into(), json!(u.phone));
        map.insert("maskedPhone".into(), json!(u.phone.as_deref().map(mask_phone)));
        map.insert("userName".into(), json!(u.username));
        map.insert("emailVerified".into(), json!(false));
        map.insert("phoneVerified".into(), json!(false));
        map.insert("gender".into(), json_column(&u.gender));
        map.insert("language".into(), json_column(&u.languages).as_array().map_or(json!([]), |a| json!(a)));
        map.insert("promptTnC".into(), json!(!u.has_accepted_terms_and_conditions));
        map.insert("lastLoginTime".into(), date(&u.last_logged_in_at));
        map.insert("createdDate".into(), date(&Some(u.created_at.clone())));
        map.insert("updatedDate".into(), date(&Some(u.updated_at.clone())));
        super::profile::render_extension(u, &mut map);
    }
    Value::Object(map)
}

/// A search result's entry; its email only if `sees_contacts`.
pub fn listed(user: &ListedUser, sees_contacts: bool) -> Value {
    let (first_name, last_name) = split_name(user.name.as_deref().unwrap_or_default());
    let roles = role_names(&user.roles);
    let email = if sees_contacts { user.email.clone() } else { None };
    let blocked = user.status == ListedStatus::Inactive;
    json!({
        "id": user.user_uuid,
        "userId": user.user_uuid,
        "identifier": user.user_uuid,
        "firstName": first_name,
        "lastName": last_name,
        "avatar": user.image(),
        "email": email,
        "maskedEmail": email.as_deref().map(mask_email),
        "status": if blocked { 0 } else { 1 },
        "isDeleted": blocked,
        "isBlocked": blocked,
        "createdDate": date(&Some(user.created_at.clone())),
        "roles": roles,
        "rootOrgId": user.organization_id.to_string(),
        "organisations": [organisation(user.organization_id, None, &user.user_uuid, &roles)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_what_sunbird_keeps() {
        assert_eq!(mask_email("selfdeclared@yopmail.com"), "se**********@yopmail.com");
        assert_eq!(mask_email("a@b.c"), "a@b.c");
        assert_eq!(mask_phone("9876543210"), "******3210");
        assert_eq!(mask_phone("12"), "12");
    }

    #[test]
    fn the_last_word_is_the_last_name() {
        assert_eq!(split_name("Ada Lovelace"), ("Ada".into(), Some("Lovelace".into())));
        assert_eq!(split_name("Mary Ann Evans"), ("Mary Ann".into(), Some("Evans".into())));
        assert_eq!(split_name("Plato"), ("Plato".into(), None));
    }
}
