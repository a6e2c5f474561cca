//! Profile fields typed by entity types: a user's `gender`, `location`,
//! `languages` or `preferred_language` is typed when an active entity type
//! of that value, with `User` among its `model_names`, belongs to the
//! user's organisation (or, failing that, to the default one). A typed
//! field takes only the values of its type's active entities (unless the
//! type allows custom entities), and reads back as `{value, label}` objects,
//! as upstream ELEVATE renders them. Untyped fields keep the client's JSON.
//!
//! The catalogue is held in memory until the entity-type projection changes
//! on this instance (`Projector::changes_of`), as the form versions are: a
//! profile read must cost no extra query.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aggregates::ProfileChanges;
use serde_json::{json, Value};

use crate::bootstrap::DEFAULT_ORGANIZATION_ID;
use crate::error::{Entity, Invalid, Reason, ServiceError};
use crate::read_models::{self, Profile};
use crate::services::Services;

/// The profile fields an entity type may type.
const TYPED_FIELDS: [&str; 4] = ["gender", "location", "languages", "preferred_language"];
/// The model name that makes a type a user profile field's.
const USER_MODEL: &str = "user";

/// One typed field of one organisation.
#[derive(Debug, Clone)]
struct FieldType {
    allow_custom_entities: bool,
    /// value → label of its active entities.
    labels: HashMap<String, String>,
}

/// Every organisation's typed profile fields.
#[derive(Debug, Default)]
pub struct Catalogue {
    fields: HashMap<(i64, String), FieldType>,
}

impl Catalogue {
    /// The type of `field` for a user of `organization_id`.
    fn field(&self, organization_id: i64, field: &str) -> Option<&FieldType> {
        self.fields
            .get(&(organization_id, field.to_string()))
            .or_else(|| self.fields.get(&(DEFAULT_ORGANIZATION_ID, field.to_string())))
    }

    fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

#[derive(Default)]
pub struct CatalogueCache {
    loaded: RwLock<Option<(u64, Arc<Catalogue>)>>,
}

/// The values a field's JSON holds: a string, a `{value, label}` object, or a list of them.
fn values_of(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Object(o) => o.get("value").and_then(Value::as_str).into_iter().collect(),
        Value::Array(items) => items.iter().flat_map(values_of).collect(),
        _ => vec![],
    }
}

/// `value` with each of its values as `{value, label}` (labels from the type).
fn labelled(value: Value, field: &FieldType) -> Value {
    let one = |v: &str| match field.labels.get(v) {
        Some(label) => json!({"value": v, "label": label}),
        None => json!({"value": v, "label": v}),
    };
    match value {
        Value::String(s) => one(&s),
        Value::Object(o) => match o.get("value").and_then(Value::as_str) {
            Some(v) => one(v),
            None => Value::Object(o),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(|item| labelled(item, field)).collect()),
        other => other,
    }
}

fn relabel(column: &mut Option<String>, field: Option<&FieldType>) {
    let (Some(text), Some(field)) = (column.as_deref(), field) else { return };
    let Ok(value) = serde_json::from_str::<Value>(text) else { return };
    *column = Some(labelled(value, field).to_string());
}

impl Services {
    /// Every organisation's typed profile fields, from memory while the
    /// entity types have not changed.
    async fn catalogue(&self) -> Result<Arc<Catalogue>, ServiceError> {
        let cache = &self.profile_field_types;
        let version = self.projector.changes_of("entity_types");
        if let (Some(version), Some((at, catalogue))) =
            (version, &*cache.loaded.read().unwrap_or_else(|p| p.into_inner()))
        {
            if *at == version {
                return Ok(catalogue.clone());
            }
        }
        let names: Vec<String> = TYPED_FIELDS.iter().map(|f| f.to_string()).collect();
        let types = read_models::entity_types_with_values(&self.db, &names).await?;
        let types: Vec<_> =
            types.into_iter().filter(|t| t.model_names().iter().any(|m| m.eq_ignore_ascii_case(USER_MODEL))).collect();
        let ids: Vec<i64> = types.iter().map(|t| t.id).collect();
        let entities = read_models::entities_of(&self.db, &ids, None, true).await?;
        let mut catalogue = Catalogue::default();
        for t in types {
            let labels = entities
                .iter()
                .filter(|e| e.entity_type_id == t.id)
                .map(|e| (e.value.clone(), e.label.clone()))
                .collect();
            let field = FieldType { allow_custom_entities: t.allow_custom_entities || !t.has_entities, labels };
            catalogue.fields.insert((t.organization_id, t.value), field);
        }
        let catalogue = Arc::new(catalogue);
        if let Some(version) = version {
            *cache.loaded.write().unwrap_or_else(|p| p.into_inner()) = Some((version, catalogue.clone()));
        }
        Ok(catalogue)
    }

    /// Refuses typed values that are not entities of their type.
    pub(crate) async fn check_typed_fields(
        &self,
        organization_id: i64,
        changes: &ProfileChanges,
    ) -> Result<(), ServiceError> {
        let catalogue = self.catalogue().await?;
        if catalogue.is_empty() {
            return Ok(());
        }
        let sent: [(&str, Option<&Value>); 4] = [
            ("gender", changes.gender.as_ref()),
            ("location", changes.location.as_ref()),
            ("languages", changes.languages.as_ref()),
            ("preferred_language", changes.preferred_language.as_ref()),
        ];
        let mut refused = Vec::new();
        for (name, value) in sent {
            let (Some(value), Some(field)) = (value, catalogue.field(organization_id, name)) else { continue };
            if field.allow_custom_entities {
                continue;
            }
            if let Some(unknown) = values_of(value).into_iter().find(|v| !field.labels.contains_key(*v)) {
                let reason = Reason::NotFound { entity: Entity::EntityValue, id: Some(unknown.to_string()) };
                refused.push(Invalid::new(name, reason));
            }
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Invalid(refused))
        }
    }

    /// The profile with its typed fields as `{value, label}` objects.
    pub(crate) async fn with_typed_fields(&self, mut profile: Profile) -> Result<Profile, ServiceError> {
        let catalogue = self.catalogue().await?;
        if catalogue.is_empty() {
            return Ok(profile);
        }
        let organization_id = profile.user.organization_id;
        let u = &mut profile.user;
        relabel(&mut u.gender, catalogue.field(organization_id, "gender"));
        relabel(&mut u.location, catalogue.field(organization_id, "location"));
        relabel(&mut u.languages, catalogue.field(organization_id, "languages"));
        relabel(&mut u.preferred_language, catalogue.field(organization_id, "preferred_language"));
        Ok(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn languages() -> FieldType {
        FieldType {
            allow_custom_entities: false,
            labels: [("en".to_string(), "English".to_string()), ("ml".to_string(), "Malayalam".to_string())]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn values_are_labelled_whatever_shape_they_were_sent_in() {
        let field = languages();
        assert_eq!(labelled(json!("en"), &field), json!({"value": "en", "label": "English"}));
        assert_eq!(
            labelled(json!(["ml", {"value": "en", "label": "old"}]), &field),
            json!([{"value": "ml", "label": "Malayalam"}, {"value": "en", "label": "English"}])
        );
        assert_eq!(labelled(json!("xx"), &field), json!({"value": "xx", "label": "xx"}), "a value since removed");
        assert_eq!(values_of(&json!(["a", {"value": "b"}, 3])), ["a", "b"]);
    }

    #[test]
    fn an_organisation_without_its_own_type_uses_the_default_one() {
        let mut catalogue = Catalogue::default();
        catalogue.fields.insert((DEFAULT_ORGANIZATION_ID, "languages".into()), languages());
        assert!(catalogue.field(7, "languages").is_some());
        assert!(catalogue.field(7, "gender").is_none());
        let mut own = languages();
        own.labels.clear();
        catalogue.fields.insert((7, "languages".into()), own);
        assert!(catalogue.field(7, "languages").unwrap().labels.is_empty());
    }
}
