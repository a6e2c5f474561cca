//! Parse-don't-validate helpers shared by every API dialect: one rule per
//! kind of field (names, codes, labels, free text, enumerations, profile
//! choices, JSON documents), each with its own limit and its own message.
//! Everything here is pure; checks that need the stores (a referenced
//! organisation or module exists) are made by the use cases.

use serde_json::{Map, Value};
use thiserror::Error;

use crate::{OrganizationChanges, PermissionDefinition, ProfileChanges, RoleChanges, RoleDefinition};

/// The limits, in characters (Unicode scalar values) unless named otherwise.
/// README "Input rules" lists them per route.
pub mod limits {
    /// User and organisation names.
    pub const NAME: usize = 256;
    /// Organisation, module and permission codes, role titles.
    pub const CODE: usize = 64;
    /// Role labels.
    pub const LABEL: usize = 256;
    /// Organisation descriptions.
    pub const DESCRIPTION: usize = 5_000;
    /// A user's `about`.
    pub const ABOUT: usize = 5_000;
    /// A user's `image` (a URL or a storage path).
    pub const IMAGE: usize = 2_048;
    pub const SHARE_LINK: usize = 256;
    /// `preferred_language`: a language code such as `en` or `pt-BR`.
    pub const LANGUAGE: usize = 32;
    /// The value of a profile choice (gender, an entry of location or languages).
    pub const CHOICE_VALUE: usize = 64;
    /// The label of a profile choice.
    pub const CHOICE_LABEL: usize = 256;
    /// Entries of `location` and `languages`.
    pub const CHOICES: usize = 50;
    /// Serialised size in bytes of a role's `translations` or `meta` and of a
    /// role request's `form_data`.
    pub const JSON_BYTES: usize = 16 * 1024;
    /// A permission's `api_path`.
    pub const API_PATH: usize = 256;
    /// Comments on one role-request decision, and the length of each.
    pub const COMMENTS: usize = 20;
    pub const COMMENT: usize = 2_000;
    /// Entries of an organisation's `related_orgs`.
    pub const RELATED_ORGS: usize = 100;
}

/// Statuses of roles, modules and permissions (ELEVATE's `ACTIVE_STATUS`,
/// `INACTIVE_STATUS`; deletion has its own route).
pub const STATUSES: &[&str] = &["ACTIVE", "INACTIVE"];
/// Role visibilities.
pub const VISIBILITIES: &[&str] = &["PUBLIC", "PRIVATE"];
/// HTTP methods a permission may cover; `*` covers every method.
pub const REQUEST_TYPES: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "*"];
/// Role user types: 0 a user role, 1 a system role (ELEVATE's `ROLE_TYPE_SYSTEM`).
pub const USER_TYPES: &[i32] = &[0, 1];

#[derive(Debug, Error, PartialEq, Eq)]
pub enum InvalidInput {
    #[error("email is invalid")]
    Email,
    #[error("password must be 8 to 256 characters with an upper-case letter, a lower-case letter, a digit and a special character, and no spaces")]
    Password,
    #[error("phone is invalid")]
    Phone,
    #[error("username is invalid")]
    Username,
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} must be at most {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} must not contain control characters")]
    ControlCharacters { field: &'static str },
    #[error("{field} {rule}")]
    Format { field: &'static str, rule: &'static str },
    #[error("{field} must be one of {}", .allowed.join(", "))]
    NotOneOf { field: &'static str, allowed: &'static [&'static str] },
    #[error("{field} must be {expected}")]
    WrongType { field: &'static str, expected: &'static str },
    #[error("{field} must have at most {max} entries")]
    TooMany { field: &'static str, max: usize },
    #[error("{field} must be at most {max} bytes as JSON")]
    TooLarge { field: &'static str, max: usize },
}

impl InvalidInput {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            InvalidInput::Email => "email",
            InvalidInput::Password => "password",
            InvalidInput::Phone => "phone",
            InvalidInput::Username => "username",
            InvalidInput::Empty { field }
            | InvalidInput::TooLong { field, .. }
            | InvalidInput::ControlCharacters { field }
            | InvalidInput::Format { field, .. }
            | InvalidInput::NotOneOf { field, .. }
            | InvalidInput::WrongType { field, .. }
            | InvalidInput::TooMany { field, .. }
            | InvalidInput::TooLarge { field, .. } => field,
        }
    }
}

/// Lower-cased, trimmed email; rejects obviously malformed addresses.
pub fn normalize_email(raw: &str) -> Result<String, InvalidInput> {
    let email = raw.trim().to_lowercase();
    let Some((local, domain)) = email.split_once('@') else {
        return Err(InvalidInput::Email);
    };
    let valid = !local.is_empty()
        && local.len() <= 64
        && email.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(InvalidInput::Email)
    }
}

/// ELEVATE's default policy: at least 8 characters (we allow up to 256) with a
/// digit, a lower-case and an upper-case letter and a special character, no spaces.
pub fn check_password_policy(password: &str) -> Result<(), InvalidInput> {
    let len = password.chars().count();
    let ok = (8..=256).contains(&len)
        && password.chars().any(|c| c.is_ascii_digit())
        && password.chars().any(|c| c.is_lowercase())
        && password.chars().any(|c| c.is_uppercase())
        && password.chars().any(|c| !c.is_alphanumeric() && !c.is_whitespace())
        && !password.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(InvalidInput::Password)
    }
}

/// One line of text, trimmed: at most `max` characters, no control
/// characters, and not empty when `required`.
pub fn single_line(field: &'static str, raw: &str, required: bool, max: usize) -> Result<String, InvalidInput> {
    let text = raw.trim();
    if required && text.is_empty() {
        return Err(InvalidInput::Empty { field });
    }
    if text.chars().count() > max {
        return Err(InvalidInput::TooLong { field, max });
    }
    if text.chars().any(char::is_control) {
        return Err(InvalidInput::ControlCharacters { field });
    }
    Ok(text.to_string())
}

/// Free text (descriptions, `about`, comments), trimmed: at most `max`
/// characters; line breaks and tabs are kept, other control characters refused.
pub fn free_text(field: &'static str, raw: &str, max: usize) -> Result<String, InvalidInput> {
    let text = raw.trim();
    if text.chars().count() > max {
        return Err(InvalidInput::TooLong { field, max });
    }
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(InvalidInput::ControlCharacters { field });
    }
    Ok(text.to_string())
}

pub fn normalize_name(raw: &str) -> Result<String, InvalidInput> {
    single_line("name", raw, true, limits::NAME)
}

/// An identifier (organisation, module and permission codes, role titles),
/// trimmed, case kept: 1 to 64 letters, digits, '.', '_' or '-'.
pub fn code(field: &'static str, raw: &str) -> Result<String, InvalidInput> {
    let code = raw.trim();
    if code.is_empty() {
        return Err(InvalidInput::Empty { field });
    }
    if code.chars().count() > limits::CODE {
        return Err(InvalidInput::TooLong { field, max: limits::CODE });
    }
    if !code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        return Err(InvalidInput::Format { field, rule: "may only contain letters, digits, '.', '_' or '-'" });
    }
    Ok(code.to_string())
}

/// One of `allowed`, compared without case; answers the canonical spelling.
pub fn one_of(field: &'static str, raw: &str, allowed: &'static [&'static str]) -> Result<&'static str, InvalidInput> {
    let raw = raw.trim();
    allowed.iter().copied().find(|a| a.eq_ignore_ascii_case(raw)).ok_or(InvalidInput::NotOneOf { field, allowed })
}

pub fn user_type(value: i32) -> Result<i32, InvalidInput> {
    if USER_TYPES.contains(&value) {
        Ok(value)
    } else {
        Err(InvalidInput::Format { field: "user_type", rule: "must be 0 (a user role) or 1 (a system role)" })
    }
}

/// A language code such as `en`, `hi` or `pt-BR`.
pub fn language(field: &'static str, raw: &str) -> Result<String, InvalidInput> {
    let code = raw.trim();
    if code.is_empty() {
        return Err(InvalidInput::Empty { field });
    }
    if code.chars().count() > limits::LANGUAGE {
        return Err(InvalidInput::TooLong { field, max: limits::LANGUAGE });
    }
    if !code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')) {
        return Err(InvalidInput::Format { field, rule: "must be a language code: letters, digits, '-' or '_'" });
    }
    Ok(code.to_string())
}

/// A JSON document stored as sent (role `translations` and `meta`, a role
/// request's `form_data`): an object, or null for none, of bounded size.
pub fn json_object(field: &'static str, value: &Value) -> Result<(), InvalidInput> {
    if !(value.is_object() || value.is_null()) {
        return Err(InvalidInput::WrongType { field, expected: "a JSON object" });
    }
    if value.to_string().len() > limits::JSON_BYTES {
        return Err(InvalidInput::TooLarge { field, max: limits::JSON_BYTES });
    }
    Ok(())
}

const CHOICE: &str = "a string or a {value, label} object of strings";

/// A profile choice (gender, an entry of location or languages): a value
/// string, or the `{value, label}` object profiles are read back with, so a
/// client may send back what it read.
pub fn profile_choice(field: &'static str, value: &Value) -> Result<Value, InvalidInput> {
    match value {
        Value::String(s) => Ok(Value::String(single_line(field, s, true, limits::CHOICE_VALUE)?)),
        Value::Object(object) => {
            if object.keys().any(|k| k != "value" && k != "label") {
                return Err(InvalidInput::WrongType { field, expected: CHOICE });
            }
            let mut choice = Map::new();
            match object.get("value") {
                Some(Value::String(s)) => {
                    choice.insert("value".into(), Value::String(single_line(field, s, true, limits::CHOICE_VALUE)?));
                }
                _ => return Err(InvalidInput::WrongType { field, expected: CHOICE }),
            }
            match object.get("label") {
                None => {}
                Some(Value::String(s)) => {
                    choice.insert("label".into(), Value::String(single_line(field, s, false, limits::CHOICE_LABEL)?));
                }
                Some(_) => return Err(InvalidInput::WrongType { field, expected: CHOICE }),
            }
            Ok(Value::Object(choice))
        }
        _ => Err(InvalidInput::WrongType { field, expected: CHOICE }),
    }
}

/// A list of profile choices (location, languages), as ELEVATE's
/// `ARRAY[STRING]` entity types, also taking the `{value, label}` entries a
/// profile is read back with.
pub fn profile_choices(field: &'static str, value: &Value) -> Result<Value, InvalidInput> {
    let Value::Array(items) = value else {
        return Err(InvalidInput::WrongType { field, expected: "a list of strings or {value, label} objects" });
    };
    if items.len() > limits::CHOICES {
        return Err(InvalidInput::TooMany { field, max: limits::CHOICES });
    }
    Ok(Value::Array(items.iter().map(|item| profile_choice(field, item)).collect::<Result<_, _>>()?))
}

fn string<'a>(field: &'static str, value: &'a Value) -> Result<&'a str, InvalidInput> {
    value.as_str().ok_or(InvalidInput::WrongType { field, expected: "a string" })
}

/// Collects every field's error, so one answer names them all.
#[derive(Default)]
struct Checks(Vec<InvalidInput>);

impl Checks {
    fn check<T>(&mut self, result: Result<T, InvalidInput>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    /// Replaces an optional field by its checked form.
    fn field<T>(&mut self, value: &mut Option<T>, rule: impl FnOnce(T) -> Result<T, InvalidInput>) {
        if let Some(raw) = value.take() {
            *value = self.check(rule(raw));
        }
    }

    fn done<T>(self, value: T) -> Result<T, Vec<InvalidInput>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }
}

/// The fields of `user/update` (and `setLanguagePreference`), typed and bounded.
pub fn profile_changes(mut changes: ProfileChanges) -> Result<ProfileChanges, Vec<InvalidInput>> {
    let mut checks = Checks::default();
    checks.field(&mut changes.name, |v| normalize_name(&v));
    let text = |field: &'static str, max: usize| {
        move |v: Value| -> Result<Value, InvalidInput> { Ok(Value::String(free_text(field, string(field, &v)?, max)?)) }
    };
    let line = |field: &'static str, max: usize| {
        move |v: Value| -> Result<Value, InvalidInput> {
            Ok(Value::String(single_line(field, string(field, &v)?, false, max)?))
        }
    };
    checks.field(&mut changes.about, text("about", limits::ABOUT));
    checks.field(&mut changes.image, line("image", limits::IMAGE));
    checks.field(&mut changes.share_link, line("share_link", limits::SHARE_LINK));
    checks.field(&mut changes.gender, |v| profile_choice("gender", &v));
    checks.field(&mut changes.location, |v| profile_choices("location", &v));
    checks.field(&mut changes.languages, |v| profile_choices("languages", &v));
    checks.field(&mut changes.preferred_language, |v| {
        let field = "preferred_language";
        Ok(Value::String(language(field, string(field, &v)?)?))
    });
    checks.done(changes)
}

/// An organisation update's fields; whether `related_orgs` exist is the use
/// case's to check.
pub fn organization_changes(mut changes: OrganizationChanges) -> Result<OrganizationChanges, Vec<InvalidInput>> {
    let mut checks = Checks::default();
    checks.field(&mut changes.name, |v| normalize_name(&v));
    checks.field(&mut changes.description, |v| free_text("description", &v, limits::DESCRIPTION));
    checks.field(&mut changes.related_orgs, |ids| {
        if ids.len() > limits::RELATED_ORGS {
            return Err(InvalidInput::TooMany { field: "related_orgs", max: limits::RELATED_ORGS });
        }
        let mut unique: Vec<i64> = Vec::with_capacity(ids.len());
        for id in ids {
            if !unique.contains(&id) {
                unique.push(id);
            }
        }
        Ok(unique)
    });
    checks.done(changes)
}

fn role_title(raw: &str) -> Result<String, InvalidInput> {
    code("title", &raw.to_lowercase())
}

fn role_label(raw: &str) -> Result<String, InvalidInput> {
    single_line("label", raw, true, limits::LABEL)
}

/// A new role's fields, normalised (title lower-cased, status and visibility
/// upper-cased); whether its organisation exists is the use case's to check.
pub fn role_definition(mut role: RoleDefinition) -> Result<RoleDefinition, Vec<InvalidInput>> {
    let mut checks = Checks::default();
    role.title = checks.check(role_title(&role.title)).unwrap_or_default();
    role.label = checks.check(role_label(&role.label)).unwrap_or_default();
    checks.check(user_type(role.user_type));
    role.status = checks.check(one_of("status", &role.status, STATUSES)).unwrap_or_default().to_string();
    role.visibility =
        checks.check(one_of("visibility", &role.visibility, VISIBILITIES)).unwrap_or_default().to_string();
    checks.check(json_object("translations", &role.translations));
    checks.check(json_object("meta", &role.meta));
    checks.done(role)
}

pub fn role_changes(mut changes: RoleChanges) -> Result<RoleChanges, Vec<InvalidInput>> {
    let mut checks = Checks::default();
    checks.field(&mut changes.title, |v| role_title(&v));
    checks.field(&mut changes.label, |v| role_label(&v));
    checks.field(&mut changes.user_type, user_type);
    checks.field(&mut changes.status, |v| one_of("status", &v, STATUSES).map(str::to_string));
    checks.field(&mut changes.visibility, |v| one_of("visibility", &v, VISIBILITIES).map(str::to_string));
    checks.field(&mut changes.translations, |v| json_object("translations", &v).map(|_| v));
    checks.field(&mut changes.meta, |v| json_object("meta", &v).map(|_| v));
    checks.done(changes)
}

/// A permission's `api_path`: an absolute path of letters, digits and
/// `/ _ - . : { }`, where a `*` may only end it (it matches any rest).
pub fn api_path(raw: &str) -> Result<String, InvalidInput> {
    let field = "api_path";
    let path = raw.trim();
    if path.is_empty() {
        return Err(InvalidInput::Empty { field });
    }
    if path.chars().count() > limits::API_PATH {
        return Err(InvalidInput::TooLong { field, max: limits::API_PATH });
    }
    let body = path.strip_suffix('*').unwrap_or(path);
    let ok = path.starts_with('/')
        && body.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '.' | ':' | '{' | '}'));
    if ok {
        Ok(path.to_string())
    } else {
        Err(InvalidInput::Format {
            field,
            rule: "must start with '/' and contain only letters, digits and / _ - . : { }, with '*' only at the end",
        })
    }
}

/// A permission's methods: at least one, each a known method or `*`,
/// upper-cased, each once.
pub fn request_types(raw: &[String]) -> Result<Vec<String>, InvalidInput> {
    let field = "request_type";
    if raw.is_empty() {
        return Err(InvalidInput::Empty { field });
    }
    let mut methods: Vec<String> = Vec::with_capacity(raw.len());
    for method in raw {
        let method = one_of(field, method, REQUEST_TYPES)?.to_string();
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    Ok(methods)
}

/// A permission's fields, normalised (module lower-cased like module codes,
/// methods and status upper-cased); whether its module exists is the use
/// case's to check.
pub fn permission_definition(mut permission: PermissionDefinition) -> Result<PermissionDefinition, Vec<InvalidInput>> {
    let mut checks = Checks::default();
    permission.code = checks.check(code("code", &permission.code)).unwrap_or_default();
    permission.module = checks.check(code("module", &permission.module.to_lowercase())).unwrap_or_default();
    permission.request_type = checks.check(request_types(&permission.request_type)).unwrap_or_default();
    permission.api_path = checks.check(api_path(&permission.api_path)).unwrap_or_default();
    permission.status = checks.check(one_of("status", &permission.status, STATUSES)).unwrap_or_default().to_string();
    checks.done(permission)
}

/// The comments of a role-request decision.
pub fn comments(raw: Vec<String>) -> Result<Vec<String>, InvalidInput> {
    if raw.len() > limits::COMMENTS {
        return Err(InvalidInput::TooMany { field: "comments", max: limits::COMMENTS });
    }
    raw.iter().map(|c| free_text("comments", c, limits::COMMENT)).collect()
}

/// Digits with an optional leading '+', separators removed.
pub fn normalize_phone(raw: &str) -> Result<String, InvalidInput> {
    let trimmed = raw.trim();
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", trimmed),
    };
    let digits: String = rest.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
    if (6..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(format!("{plus}{digits}"))
    } else {
        Err(InvalidInput::Phone)
    }
}

pub fn normalize_username(raw: &str) -> Result<String, InvalidInput> {
    let name = raw.trim().to_lowercase();
    let ok = (3..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(name)
    } else {
        Err(InvalidInput::Username)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(normalize_email("  John.Doe@Example.COM ").unwrap(), "john.doe@example.com");
        for bad in ["", "no-at", "@x.com", "a@b", "a b@c.com", "a@.com", "a@c.com."] {
            assert_eq!(normalize_email(bad), Err(InvalidInput::Email), "{bad}");
        }
    }

    #[test]
    fn password_policy_matches_elevate_default() {
        assert!(check_password_policy("Str0ng!pass").is_ok());
        for bad in ["Sh0rt!", "alllower1!", "ALLUPPER1!", "NoDigits!!", "NoSpecial11", "Has space1!A"] {
            assert_eq!(check_password_policy(bad), Err(InvalidInput::Password), "{bad}");
        }
        let long = format!("Aa1!{}", "x".repeat(253));
        assert_eq!(check_password_policy(&long), Err(InvalidInput::Password));
        let max = format!("Aa1!{}", "x".repeat(252));
        assert!(check_password_policy(&max).is_ok());
    }

    #[test]
    fn phones_and_usernames_normalise() {
        assert_eq!(normalize_phone("+91 98765-43210").unwrap(), "+919876543210");
        assert!(normalize_phone("12ab").is_err());
        assert_eq!(normalize_username("John_Doe").unwrap(), "john_doe");
        assert!(normalize_username("a b").is_err());
    }

    #[test]
    fn each_name_limit_has_its_own_message() {
        assert_eq!(normalize_name("  Asha R ").unwrap(), "Asha R");
        assert_eq!(normalize_name("   "), Err(InvalidInput::Empty { field: "name" }));
        assert_eq!(normalize_name(""), Err(InvalidInput::Empty { field: "name" }));
        let long = "x".repeat(100 * 1024);
        assert_eq!(normalize_name(&long), Err(InvalidInput::TooLong { field: "name", max: 256 }));
        assert_eq!(normalize_name(&long).unwrap_err().to_string(), "name must be at most 256 characters");
        assert_eq!(normalize_name("a\tb"), Err(InvalidInput::ControlCharacters { field: "name" }));
        // Characters, not bytes: 256 two-byte letters fit.
        assert!(normalize_name(&"é".repeat(256)).is_ok());
        assert!(normalize_name(&"é".repeat(257)).is_err());
    }

    #[test]
    fn free_text_keeps_line_breaks_and_bounds_length() {
        assert_eq!(free_text("about", " line one\nline two\t", 100).unwrap(), "line one\nline two");
        assert_eq!(free_text("about", "", 100).unwrap(), "");
        assert_eq!(free_text("about", &"x".repeat(101), 100), Err(InvalidInput::TooLong { field: "about", max: 100 }));
        assert_eq!(free_text("about", "bell\u{7}", 100), Err(InvalidInput::ControlCharacters { field: "about" }));
    }

    #[test]
    fn codes_are_bounded_identifiers() {
        assert_eq!(code("code", " Head_Master-2.x ").unwrap(), "Head_Master-2.x");
        assert_eq!(code("code", " "), Err(InvalidInput::Empty { field: "code" }));
        assert!(matches!(code("code", "has space"), Err(InvalidInput::Format { field: "code", .. })));
        assert!(matches!(code("title", "ünïcode"), Err(InvalidInput::Format { field: "title", .. })));
        assert_eq!(code("code", &"a".repeat(65)), Err(InvalidInput::TooLong { field: "code", max: 64 }));
        assert!(code("code", &"a".repeat(64)).is_ok());
    }

    #[test]
    fn enumerations_answer_the_canonical_spelling() {
        assert_eq!(one_of("status", " inactive ", STATUSES), Ok("INACTIVE"));
        let refused = one_of("status", "DELETED", STATUSES).unwrap_err();
        assert_eq!(refused.to_string(), "status must be one of ACTIVE, INACTIVE");
        assert_eq!(one_of("visibility", "private", VISIBILITIES), Ok("PRIVATE"));
        assert!(one_of("visibility", "SECRET", VISIBILITIES).is_err());
        assert_eq!(user_type(1), Ok(1));
        assert!(user_type(-1).is_err());
        assert!(user_type(2).is_err());
    }

    #[test]
    fn languages_are_short_codes() {
        assert_eq!(language("preferred_language", " pt-BR ").unwrap(), "pt-BR");
        assert!(language("preferred_language", "").is_err());
        assert!(language("preferred_language", "en gb").is_err());
        assert!(language("preferred_language", &"a".repeat(33)).is_err());
    }

    #[test]
    fn profile_choices_are_strings_or_value_label_objects() {
        assert_eq!(profile_choice("gender", &json!(" female ")).unwrap(), json!("female"));
        let read_back = json!({"value": "ka", "label": "Karnataka"});
        assert_eq!(profile_choice("location", &read_back).unwrap(), read_back);
        assert_eq!(profile_choice("gender", &json!({"value": "m"})).unwrap(), json!({"value": "m"}));
        for bad in [
            json!({"$gt": ""}),
            json!({"value": 1}),
            json!({"value": "m", "label": 2}),
            json!({"value": "m", "extra": "x"}),
            json!(12),
            json!([]),
            json!(true),
            json!(""),
        ] {
            assert!(profile_choice("gender", &bad).is_err(), "{bad}");
        }
        assert_eq!(
            profile_choices("location", &json!(["ap", {"value": "ka"}])).unwrap(),
            json!(["ap", {"value": "ka"}])
        );
        assert_eq!(
            profile_choices("location", &json!("notalist")),
            Err(InvalidInput::WrongType { field: "location", expected: "a list of strings or {value, label} objects" })
        );
        assert!(profile_choices("languages", &json!([1, 2])).is_err());
        let many: Vec<String> = (0..51).map(|i| format!("l{i}")).collect();
        assert_eq!(
            profile_choices("languages", &json!(many)),
            Err(InvalidInput::TooMany { field: "languages", max: 50 })
        );
    }

    #[test]
    fn profile_changes_name_every_bad_field() {
        let changes: ProfileChanges =
            serde_json::from_value(json!({"gender": {"$gt": ""}, "about": 12345, "location": "notalist"})).unwrap();
        let fields: Vec<&str> = profile_changes(changes).unwrap_err().iter().map(InvalidInput::field).collect();
        assert_eq!(fields, vec!["about", "gender", "location"]);
        let huge: ProfileChanges = serde_json::from_value(json!({"about": "x".repeat(900 * 1024)})).unwrap();
        assert_eq!(profile_changes(huge).unwrap_err(), vec![InvalidInput::TooLong { field: "about", max: 5_000 }]);
        for bad in [json!({"x": 1}), json!(["en"]), json!(7)] {
            let changes = ProfileChanges { preferred_language: Some(bad.clone()), ..Default::default() };
            assert_eq!(profile_changes(changes).unwrap_err()[0].field(), "preferred_language", "{bad}");
        }
        let good: ProfileChanges = serde_json::from_value(json!({
            "name": " Asha ", "about": "Teacher\nof maths", "gender": "female", "image": "https://x/y.png",
            "location": [{"value": "ka", "label": "Karnataka"}], "languages": ["en"], "preferred_language": "hi",
            "share_link": "abc"
        }))
        .unwrap();
        let checked = profile_changes(good).unwrap();
        assert_eq!(checked.name.as_deref(), Some("Asha"));
        assert_eq!(checked.preferred_language, Some(json!("hi")));
    }

    #[test]
    fn organization_changes_follow_the_create_rules() {
        for name in ["", "   ", &"x".repeat(100 * 1024)] {
            let changes = OrganizationChanges { name: Some(name.to_string()), ..Default::default() };
            assert_eq!(organization_changes(changes).unwrap_err()[0].field(), "name");
        }
        let long = OrganizationChanges { description: Some("d".repeat(5_001)), ..Default::default() };
        assert_eq!(
            organization_changes(long).unwrap_err(),
            vec![InvalidInput::TooLong { field: "description", max: 5_000 }]
        );
        let related = OrganizationChanges { related_orgs: Some(vec![2, 3, 2]), ..Default::default() };
        assert_eq!(organization_changes(related).unwrap().related_orgs, Some(vec![2, 3]));
        let too_many = OrganizationChanges { related_orgs: Some((1..=101).collect()), ..Default::default() };
        assert!(organization_changes(too_many).is_err());
    }

    fn role() -> RoleDefinition {
        RoleDefinition {
            numeric_id: 0,
            title: "Head_Master".into(),
            label: "Head Master".into(),
            user_type: 1,
            status: "active".into(),
            visibility: "public".into(),
            organization_id: 1,
            translations: json!({"hi": {"title": "x"}}),
            meta: Value::Null,
        }
    }

    #[test]
    fn roles_take_enumerated_values() {
        let checked = role_definition(role()).unwrap();
        assert_eq!(
            (checked.title.as_str(), checked.status.as_str(), checked.visibility.as_str()),
            ("head_master", "ACTIVE", "PUBLIC")
        );
        let bad = RoleDefinition {
            title: "head master".into(),
            label: " ".into(),
            user_type: -1,
            status: "WHATEVER".into(),
            visibility: "SECRET".into(),
            translations: json!("not an object"),
            meta: json!({"big": "x".repeat(20_000)}),
            ..role()
        };
        let fields: Vec<&str> = role_definition(bad).unwrap_err().iter().map(InvalidInput::field).collect();
        assert_eq!(fields, vec!["title", "label", "user_type", "status", "visibility", "translations", "meta"]);
        let changes = RoleChanges { status: Some("deleted".into()), ..Default::default() };
        assert_eq!(role_changes(changes).unwrap_err()[0].field(), "status");
        let changes = RoleChanges { visibility: Some("private".into()), user_type: Some(0), ..Default::default() };
        assert_eq!(role_changes(changes).unwrap().visibility.as_deref(), Some("PRIVATE"));
    }

    #[test]
    fn permissions_name_real_paths_and_methods() {
        assert_eq!(api_path(" /user/v1/user/read* ").unwrap(), "/user/v1/user/read*");
        assert!(api_path("/user/v1/user/read/{id}").is_ok());
        for bad in ["", "user/v1/x", "/user/*/x", "/a b", "/x?y=1"] {
            assert!(api_path(bad).is_err(), "{bad}");
        }
        assert!(api_path(&format!("/{}", "a".repeat(256))).is_err());
        let methods = request_types(&["post".into(), "GET".into(), "POST".into()]).unwrap();
        assert_eq!(methods, vec!["POST", "GET"]);
        assert!(request_types(&[]).is_err());
        assert!(request_types(&["FETCH".into()]).is_err());
        assert_eq!(request_types(&["*".into()]).unwrap(), vec!["*"]);
    }

    #[test]
    fn permission_definitions_name_every_bad_field() {
        let permission = PermissionDefinition {
            numeric_id: 0,
            code: " create_orgs ".into(),
            module: "Orgs".into(),
            request_type: vec!["post".into()],
            api_path: "/user/v1/organization/create".into(),
            status: "active".into(),
        };
        let checked = permission_definition(permission.clone()).unwrap();
        assert_eq!((checked.code.as_str(), checked.module.as_str()), ("create_orgs", "orgs"));
        assert_eq!((checked.request_type, checked.status.as_str()), (vec!["POST".to_string()], "ACTIVE"));
        let bad = PermissionDefinition {
            code: "".into(),
            module: "no module".into(),
            request_type: vec!["FETCH".into()],
            api_path: "relative".into(),
            status: "ON".into(),
            ..permission
        };
        let fields: Vec<&str> = permission_definition(bad).unwrap_err().iter().map(InvalidInput::field).collect();
        assert_eq!(fields, vec!["code", "module", "request_type", "api_path", "status"]);
    }

    #[test]
    fn decision_comments_are_bounded() {
        assert_eq!(comments(vec![" ok ".into()]).unwrap(), vec!["ok"]);
        assert!(comments(vec!["c".into(); 21]).is_err());
        assert!(comments(vec!["c".repeat(2_001)]).is_err());
    }

    #[test]
    fn json_documents_are_bounded_objects() {
        assert!(json_object("meta", &Value::Null).is_ok());
        assert!(json_object("meta", &json!({"a": [1, 2]})).is_ok());
        assert!(json_object("meta", &json!([1])).is_err());
        assert!(json_object("form_data", &json!({"x": "y".repeat(16 * 1024)})).is_err());
    }
}
