//! Sunbird's profile fields that Roster's domain has no place for, kept in
//! the user's profile extension (`aggregates::ProfileExtension`) so a read
//! returns what was written: `dob`, `profileLocation`, `profileUserType`,
//! `profileUserTypes` and `framework`. Their shapes are checked here, with
//! the codes Sunbird's `UserRequestValidator` answers; their values (which
//! location, user type or framework exists) are not: Roster has no
//! location, form or framework registry to check them against.

use aggregates::ProfileExtension;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::errors::{SbError, DATA_FORMAT, INVALID_PARAMETER_SIZE, INVALID_VALUE};
use crate::users::{json_column, UserRow};

/// The largest one field may be, as JSON (five fields: at most 20 KiB a user).
pub const MAX_FIELD_BYTES: usize = 4096;
/// The most entries a list (or framework categories) may have.
pub const MAX_ENTRIES: usize = 32;
/// Sunbird's `sunbird_valid_location_types`.
const LOCATION_TYPES: &[&str] = &["state", "district", "block", "cluster", "school"];

/// A field as sent: absent is `None`, an explicit `null` is `Some(Null)`
/// (an update's way to remove it). Use with `#[serde(default)]`.
pub fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// A field's check: the value as kept, or Sunbird's refusal.
type Check = fn(Value) -> Result<Value, SbError>;

/// The extension fields of a create or update body.
#[derive(Default)]
pub struct ProfileFields {
    pub dob: Option<Value>,
    pub profile_location: Option<Value>,
    pub profile_user_type: Option<Value>,
    pub profile_user_types: Option<Value>,
    pub framework: Option<Value>,
}

/// `profileLocation`'s entries: a location by `id` (as Sunbird reads them
/// back) or `code` (as its requests send them), and its type.
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::ProfileLocation)]
#[allow(dead_code)]
pub struct ProfileLocation {
    id: Option<String>,
    code: Option<String>,
    #[serde(rename = "type")]
    #[schema(example = "state")]
    kind: String,
}

/// `profileUserType` and `profileUserTypes`' entries.
#[derive(Serialize, ToSchema)]
#[schema(as = sunbird::ProfileUserType)]
#[allow(dead_code)]
pub struct ProfileUserType {
    #[serde(rename = "type")]
    #[schema(example = "teacher")]
    kind: String,
    #[serde(rename = "subType")]
    sub_type: Option<String>,
}

impl ProfileFields {
    /// The fields to set, checked (`None` when none was sent). A `null`
    /// stays `null`: it removes the field on an update.
    pub fn patch(self) -> Result<Option<ProfileExtension>, SbError> {
        let mut patch = Map::new();
        let fields: [(&str, Option<Value>, Check); 5] = [
            ("dob", self.dob, dob),
            ("profileLocation", self.profile_location, profile_location),
            ("profileUserType", self.profile_user_type, |v| user_type("profileUserType", v)),
            ("profileUserTypes", self.profile_user_types, profile_user_types),
            ("framework", self.framework, framework),
        ];
        for (name, value, check) in fields {
            let Some(value) = value else { continue };
            let value = match value {
                Value::Null => Value::Null,
                value => check(value)?,
            };
            let size = value.to_string().len();
            if size > MAX_FIELD_BYTES {
                return Err(too_large(name, &format!("at most {MAX_FIELD_BYTES} bytes of JSON"), size));
            }
            patch.insert(name.to_string(), value);
        }
        Ok((!patch.is_empty()).then_some(patch))
    }

    /// The fields a create keeps: those sent, nulls left out.
    pub fn created(self) -> Result<Option<ProfileExtension>, SbError> {
        Ok(self.patch()?.map(|mut patch| {
            patch.retain(|_, value| !value.is_null());
            patch
        }))
    }
}

fn too_large(field: &str, expected: &str, actual: usize) -> SbError {
    SbError::client(
        INVALID_PARAMETER_SIZE,
        format!("Parameter {field} is of invalid size (expected: {expected}, actual: {actual})."),
    )
}

fn text<'a>(value: &'a Value, field: &str) -> Result<&'a str, SbError> {
    value.as_str().ok_or_else(|| SbError::data_type(field, "String"))
}

/// Sunbird sends the year of birth (`2000`) and keeps it as its last day
/// (`2000-12-31`, `defaultMonthDate`); a full date (what a read gives back)
/// is kept as it is.
fn dob(value: Value) -> Result<Value, SbError> {
    let given = text(&value, "dob")?.trim();
    let invalid = || SbError::client(DATA_FORMAT, "Invalid format for given dob.");
    let date = if given.len() == 4 && given.chars().all(|c| c.is_ascii_digit()) {
        format!("{given}-12-31")
    } else {
        given.to_string()
    };
    match chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d") {
        Ok(parsed) if parsed.format("%Y-%m-%d").to_string() == date => Ok(Value::String(date)),
        _ => Err(invalid()),
    }
}

fn list(value: Value, field: &str) -> Result<Vec<Value>, SbError> {
    let Value::Array(items) = value else { return Err(SbError::data_type(field, "List")) };
    if items.len() > MAX_ENTRIES {
        return Err(too_large(field, &format!("at most {MAX_ENTRIES}"), items.len()));
    }
    Ok(items)
}

/// An entry's other keys are kept when they are plain values.
fn plain_values(entry: &Map<String, Value>, field: &str) -> Result<(), SbError> {
    match entry.iter().find(|(_, v)| v.is_array() || v.is_object()) {
        Some((key, _)) => Err(SbError::data_type(&format!("{field}.{key}"), "String")),
        None => Ok(()),
    }
}

fn non_blank(entry: &Map<String, Value>, key: &str, field: &str) -> Result<bool, SbError> {
    match entry.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(value) => Ok(!text(value, &format!("{field}.{key}"))?.trim().is_empty()),
    }
}

fn profile_location(value: Value) -> Result<Value, SbError> {
    let field = "profileLocation";
    let mut entries = Vec::new();
    for item in list(value, field)? {
        let Value::Object(entry) = item else { return Err(SbError::data_type(field, "List of Map")) };
        plain_values(&entry, field)?;
        if !non_blank(&entry, "type", field)? {
            return Err(SbError::missing(&format!("{field}.type")));
        }
        let kind = entry["type"].as_str().unwrap_or_default().trim();
        if !LOCATION_TYPES.contains(&kind.to_lowercase().as_str()) {
            let message = format!(
                "Invalid locationType: {}. Valid values are: [{}].",
                super::user::clip(kind),
                LOCATION_TYPES.join(", ")
            );
            return Err(SbError::client(INVALID_VALUE, message));
        }
        if !non_blank(&entry, "id", field)? && !non_blank(&entry, "code", field)? {
            return Err(SbError::missing(&format!("{field}.id")));
        }
        entries.push(Value::Object(entry));
    }
    Ok(Value::Array(entries))
}

fn user_type(field: &str, value: Value) -> Result<Value, SbError> {
    let Value::Object(entry) = value else { return Err(SbError::data_type(field, "Map")) };
    plain_values(&entry, field)?;
    if !non_blank(&entry, "type", field)? {
        return Err(SbError::missing(&format!("{field}.type")));
    }
    non_blank(&entry, "subType", field)?;
    Ok(Value::Object(entry))
}

fn profile_user_types(value: Value) -> Result<Value, SbError> {
    let field = "profileUserTypes";
    let items = list(value, field)?;
    if items.is_empty() {
        return Err(SbError::invalid(field));
    }
    items.into_iter().map(|item| user_type(field, item)).collect::<Result<_, _>>().map(Value::Array)
}

/// A map of category to a list of names, with an `id`: one framework, as a
/// non-blank string or a list of exactly one. An empty map is kept empty.
fn framework(value: Value) -> Result<Value, SbError> {
    let Value::Object(framework) = value else { return Err(SbError::data_type("framework", "Map")) };
    if framework.is_empty() {
        return Ok(Value::Object(framework));
    }
    if framework.len() > MAX_ENTRIES {
        return Err(too_large("framework", &format!("at most {MAX_ENTRIES}"), framework.len()));
    }
    let missing_id = || SbError::missing("framework.id");
    match framework.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => {}
        Some(Value::Array(ids)) if ids.len() > 1 => return Err(too_large("framework.id", "1", ids.len())),
        Some(Value::Array(ids)) if ids.first().and_then(Value::as_str).is_some_and(|id| !id.trim().is_empty()) => {}
        _ => return Err(missing_id()),
    }
    for (category, names) in framework.iter().filter(|(key, _)| *key != "id") {
        match names {
            Value::Null => {}
            Value::Array(names) if names.len() > MAX_ENTRIES => {
                return Err(too_large(&format!("framework.{category}"), &format!("at most {MAX_ENTRIES}"), names.len()))
            }
            Value::Array(names) if names.iter().all(Value::is_string) => {}
            // Sunbird's message names the category alone.
            _ => return Err(SbError::data_type(category, "List")),
        }
    }
    Ok(Value::Object(framework))
}

/// The extension as Sunbird's read shows it: every field, empty when unset
/// (`profileUserTypes` from `profileUserType` when only that was written,
/// as Sunbird derives it).
pub fn render_extension(user: &UserRow, into: &mut Map<String, Value>) {
    let Value::Object(mut extension) = json_column(&user.profile_extension) else {
        return render_extension_of(Map::new(), into);
    };
    extension.retain(|_, value| !value.is_null());
    render_extension_of(extension, into);
}

fn render_extension_of(mut extension: Map<String, Value>, into: &mut Map<String, Value>) {
    let single = extension.get("profileUserType").cloned();
    into.insert("dob".into(), extension.remove("dob").unwrap_or(Value::Null));
    into.insert("profileLocation".into(), extension.remove("profileLocation").unwrap_or_else(|| Value::Array(vec![])));
    into.insert(
        "profileUserType".into(),
        extension.remove("profileUserType").unwrap_or_else(|| Value::Object(Map::new())),
    );
    let derived = single.map(|one| Value::Array(vec![one])).unwrap_or_else(|| Value::Array(vec![]));
    into.insert("profileUserTypes".into(), extension.remove("profileUserTypes").unwrap_or(derived));
    into.insert("framework".into(), extension.remove("framework").unwrap_or_else(|| Value::Object(Map::new())));
}

/// The user's declarations as Sunbird's read shows them (`fields=declarations`).
pub fn render_declarations(user: &UserRow) -> Value {
    let Value::Array(entries) = json_column(&user.declarations) else { return Value::Array(vec![]) };
    let shown = entries
        .iter()
        .map(|entry| {
            serde_json::json!({
                "orgId": entry.get("org_id"),
                "persona": entry.get("persona"),
                "status": entry.get("status"),
                "errorType": entry.get("error_type"),
                "info": entry.get("info"),
            })
        })
        .collect();
    Value::Array(shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::sunbird::errors::Code;
    use serde_json::json;

    fn patch(fields: ProfileFields) -> Result<Value, (Code, String)> {
        fields.patch().map(|p| Value::Object(p.unwrap_or_default())).map_err(|e| (e.code, e.message))
    }

    #[test]
    fn dob_takes_a_year_or_a_date() {
        let dob_of = |v: Value| patch(ProfileFields { dob: Some(v), ..Default::default() });
        assert_eq!(dob_of(json!("2000")).unwrap(), json!({"dob": "2000-12-31"}));
        assert_eq!(dob_of(json!("2001-02-28")).unwrap(), json!({"dob": "2001-02-28"}));
        assert_eq!(dob_of(json!(null)).unwrap(), json!({"dob": null}));
        for bad in ["2001-02-30", "20001", "01-01-2000", "2000-1-1", ""] {
            assert_eq!(dob_of(json!(bad)).unwrap_err(), (Code::Number("0009"), "Invalid format for given dob.".into()));
        }
        assert_eq!(dob_of(json!(2000)).unwrap_err().1, "Data type of dob should be String.");
    }

    #[test]
    fn shapes_are_refused_as_sunbird_refuses_them() {
        let loc = |v: Value| patch(ProfileFields { profile_location: Some(v), ..Default::default() });
        assert!(loc(json!([{"code": "02", "type": "state"}, {"id": "x", "type": "District"}])).is_ok());
        assert_eq!(loc(json!({"id": "x"})).unwrap_err().1, "Data type of profileLocation should be List.");
        assert_eq!(loc(json!([{"id": "x"}])).unwrap_err().1, "Mandatory parameter profileLocation.type is missing.");
        assert_eq!(
            loc(json!([{"type": "state"}])).unwrap_err().1,
            "Mandatory parameter profileLocation.id is missing."
        );
        assert_eq!(loc(json!([{"id": "x", "type": "planet"}])).unwrap_err().0, Code::Number("0018"));
        let fw = |v: Value| patch(ProfileFields { framework: Some(v), ..Default::default() });
        assert!(fw(json!({"id": ["f1"], "board": ["CBSE"], "medium": ["English"]})).is_ok());
        assert!(fw(json!({})).is_ok());
        assert_eq!(fw(json!([1])).unwrap_err().1, "Data type of framework should be Map.");
        assert_eq!(fw(json!({"board": ["CBSE"]})).unwrap_err().1, "Mandatory parameter framework.id is missing.");
        assert_eq!(fw(json!({"id": ["a", "b"]})).unwrap_err().0, Code::Number("0058"));
        assert_eq!(fw(json!({"id": "f", "board": "CBSE"})).unwrap_err().1, "Data type of board should be List.");
        let types = |v: Value| patch(ProfileFields { profile_user_types: Some(v), ..Default::default() });
        assert_eq!(types(json!([])).unwrap_err().0, Code::Number("0019"));
        assert_eq!(
            types(json!([{"subType": "x"}])).unwrap_err().1,
            "Mandatory parameter profileUserTypes.type is missing."
        );
        assert!(types(json!([{"type": "teacher", "subType": null}])).is_ok());
    }

    #[test]
    fn a_field_is_capped() {
        let many: Vec<Value> = (0..40).map(|i| json!({"id": i.to_string(), "type": "state"})).collect();
        let error =
            patch(ProfileFields { profile_location: Some(Value::Array(many)), ..Default::default() }).unwrap_err();
        assert_eq!(error.0, Code::Number("0058"));
        let big = json!({"id": "f", "board": [("x".repeat(5000))]});
        assert_eq!(
            patch(ProfileFields { framework: Some(big), ..Default::default() }).unwrap_err().0,
            Code::Number("0058")
        );
    }
}
