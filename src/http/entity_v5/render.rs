//! Entity v5's JSON for the use cases' typed results: the profile the seed
//! shows (`profile/fetch`), contact values (`user/contact/fetch`), and the
//! split of a stored phone number into the seed's `area_code` and `mobile`.

use serde_json::{json, Map, Value};

use crate::ownership::Ownership;
use crate::users::{json_column, UserRow};

/// ITU-T E.164 country codes of two digits; `1` and `7` are the only ones of
/// one digit, every other is three. The set is prefix-free, so a number in
/// full (`+8613888888888`) splits into its code and the rest.
const TWO_DIGIT_CODES: &[&str] = &[
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49", "51",
    "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84", "86", "90",
    "91", "92", "93", "94", "95", "98",
];

/// `(area_code, mobile)` of a stored phone: a number stored without `+`
/// (from another dialect) has no known area code.
pub fn split_phone(phone: &str) -> (Option<String>, String) {
    let Some(digits) = phone.strip_prefix('+') else { return (None, phone.to_string()) };
    let length = match digits.as_bytes().first() {
        Some(b'1' | b'7') => 1,
        _ if digits.get(..2).is_some_and(|two| TWO_DIGIT_CODES.contains(&two)) => 2,
        _ => 3,
    };
    match digits.split_at_checked(length) {
        Some((code, rest)) if !rest.is_empty() => (Some(code.to_string()), rest.to_string()),
        _ => (None, phone.to_string()),
    }
}

/// The name's first word and the rest (the seed's `first_name`, `last_name`).
fn split_name(name: &str) -> (Option<String>, Option<String>) {
    let mut words = name.split_whitespace();
    let first = words.next().map(str::to_string);
    let rest: Vec<&str> = words.collect();
    (first, (!rest.is_empty()).then(|| rest.join(" ")))
}

/// A free-form profile field as text: a string as it is, an entity-typed
/// `{value, label}` by its label (else its value), a list by its first item.
fn text_of(column: &Option<String>) -> Value {
    fn text(value: &Value) -> Value {
        match value {
            Value::String(_) | Value::Null => value.clone(),
            Value::Object(map) => {
                map.get("label").or_else(|| map.get("value")).filter(|v| v.is_string()).cloned().unwrap_or(Value::Null)
            }
            Value::Array(items) => items.first().map(text).unwrap_or(Value::Null),
            other => Value::String(other.to_string()),
        }
    }
    text(&json_column(column))
}

/// `profile/fetch`'s data. Fields the seed lists that Roster does not keep
/// are null; `pool` and `owner_id` are Roster's additions.
pub fn profile(user: &UserRow, corp_id: i64, ownership: &Ownership) -> Value {
    let name = user.name.clone().unwrap_or_default();
    let (first_name, last_name) = split_name(&name);
    let (area_code, mobile) = match user.phone.as_deref().map(split_phone) {
        Some((code, number)) => (code.map(Value::String).unwrap_or(Value::Null), Value::String(number)),
        None => (Value::Null, Value::Null),
    };
    let mut map = Map::new();
    map.insert("user_id".into(), user.user_uuid.clone().into());
    map.insert("corp_id".into(), corp_id.to_string().into());
    map.insert("name".into(), name.into());
    map.insert("last_name".into(), last_name.into());
    map.insert("first_name".into(), first_name.into());
    map.insert("area_code".into(), area_code);
    map.insert("mobile".into(), mobile);
    map.insert("gender".into(), text_of(&user.gender));
    map.insert("age".into(), Value::Null);
    map.insert("city".into(), text_of(&user.location));
    for absent in ["city_raw", "city_mobile", "company_name", "job_title", "department", "industry", "linkedin_url"] {
        map.insert(absent.into(), Value::Null);
    }
    map.insert("pool".into(), ownership.pool.clone().into());
    map.insert("owner_id".into(), json!(ownership.owners));
    Value::Object(map)
}

/// The kinds of contact `user/contact/fetch` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactType {
    Mobile,
    Email,
    MobileBackup,
}

impl ContactType {
    pub const NAMES: [&'static str; 3] = ["mobile", "email", "mobile_backup"];

    pub fn parse(raw: &str) -> Option<ContactType> {
        match raw.trim() {
            "mobile" => Some(ContactType::Mobile),
            "email" => Some(ContactType::Email),
            "mobile_backup" => Some(ContactType::MobileBackup),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// `value` of `user/contact/fetch`: `[area_code, mobile]`, `[email]`, or
/// empty when the user has none (Roster keeps no backup mobile).
pub fn contact(user: &UserRow, kind: ContactType) -> Value {
    match kind {
        ContactType::Mobile => match user.phone.as_deref().map(split_phone) {
            Some((code, number)) => json!([code.unwrap_or_default(), number]),
            None => json!([]),
        },
        ContactType::Email => json!(user.email.iter().collect::<Vec<_>>()),
        ContactType::MobileBackup => json!([]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_split_at_their_country_code() {
        assert_eq!(split_phone("+8613888888888"), (Some("86".into()), "13888888888".into()));
        assert_eq!(split_phone("+14155550100"), (Some("1".into()), "4155550100".into()));
        assert_eq!(split_phone("+919876543210"), (Some("91".into()), "9876543210".into()));
        assert_eq!(split_phone("+35312345678"), (Some("353".into()), "12345678".into()));
        assert_eq!(split_phone("9876543210"), (None, "9876543210".into()));
        assert_eq!(split_phone("+"), (None, "+".into()));
    }

    #[test]
    fn profile_fields_read_as_text() {
        let column = |v: Value| Some(v.to_string());
        assert_eq!(text_of(&column(json!([{"value": "in", "label": "India"}]))), json!("India"));
        assert_eq!(text_of(&column(json!({"value": "female"}))), json!("female"));
        assert_eq!(text_of(&column(json!("Pune"))), json!("Pune"));
        assert_eq!(text_of(&column(json!([]))), Value::Null);
        assert_eq!(text_of(&None), Value::Null);
    }

    #[test]
    fn names_split_at_the_first_word() {
        assert_eq!(split_name("Amy Acker Jones"), (Some("Amy".into()), Some("Acker Jones".into())));
        assert_eq!(split_name("Amy"), (Some("Amy".into()), None));
        assert_eq!(split_name(""), (None, None));
    }
}
