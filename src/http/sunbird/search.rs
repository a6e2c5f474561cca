//! Sunbird's user search (v1-v3) on the SQL read models: its request
//! (`filters` with exact values, lists, ranges and `$or`; `query`,
//! `fields`, `facets`, `sort_by`, `limit`, `offset`) mapped onto the neutral
//! user query, and its answer `{response: {count, content, facets}}`. What
//! each filter means is in the README's Sunbird section ("Search").

use std::collections::BTreeSet;

use axum::extract::State;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::envelope::SbOk;
use super::errors::SbError;
use super::extract::{Acting, SbBody};
use super::render;
use super::user::{clip, identifier, OrgId};
use crate::accounts::Caller;
use crate::http::AppState;
use crate::users::{
    Alternative, DateField, DateRange, FacetField, GroupCount, ListedStatus, Sort, SortField, UserKey, UserQuery,
};
use crate::visibility::ContactScope;

/// Default and largest page of a search.
const SEARCH_LIMIT: i64 = 250;
const SEARCH_MAX_LIMIT: i64 = 1000;
/// How deep `offset` may page when it is not a multiple of `limit`.
const SEARCH_MAX_WINDOW: i64 = 10_000;

#[derive(Deserialize, ToSchema)]
#[schema(as = sunbird::SearchBody)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchBody {
    /// Field → value (a list: any of them; a map of `>=`, `>`, `<=`, `<`: a
    /// range, on `createdDate`), all of which must hold; `$or`: a map of
    /// such filters of which any must hold.
    #[serde(default)]
    #[schema(example = json!({"rootOrgId": "1", "createdDate": {">=": "2026-01-01"}, "$or": {"roles": "mentor", "status": 0}}))]
    filters: Option<Map<String, Value>>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10000)]
    offset: Option<i64>,
    #[serde(default)]
    fields: Option<Vec<String>>,
    /// Fields whose values are counted over every match: `roles`,
    /// `rootOrgId`, `status` (names, or Elasticsearch's `{"roles": null}`).
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, example = json!(["roles", "status"]))]
    facets: Option<Vec<Value>>,
    /// Field → `asc` or `desc`: `createdDate`, `firstName`.
    #[serde(default)]
    #[schema(value_type = Option<Object>, example = json!({"createdDate": "desc"}))]
    sort_by: Option<Map<String, Value>>,
}

/// A filter's value: one, or a list of which any matches.
fn values(field: &str, value: &Value) -> Result<Vec<String>, SbError> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(SbError::data_type(&format!("filters.{field}"), "String")),
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

/// The statuses a `status` (1 active, 0 blocked) or `isDeleted` filter names.
fn statuses(field: &str, value: &Value) -> Result<Vec<ListedStatus>, SbError> {
    let mut found = Vec::new();
    for raw in values(field, value)? {
        let status = match (field, raw.trim()) {
            ("status", "1") | ("isDeleted", "false") => Some(ListedStatus::Active),
            ("status", "0") | ("isDeleted", "true") => Some(ListedStatus::Inactive),
            _ => None,
        };
        found.extend(status.filter(|s| !found.contains(s)));
    }
    Ok(found)
}

/// A range bound's instant: Sunbird's timestamp (`2026-11-23 10:03:39:935+0000`),
/// a date (midnight UTC), RFC 3339, or milliseconds since the epoch.
fn instant(field: &str, value: &Value) -> Result<DateTime<Utc>, SbError> {
    let invalid = || SbError::invalid(&format!("filters.{field}"));
    let text = match value {
        Value::Number(n) => return n.as_i64().and_then(|ms| Utc.timestamp_millis_opt(ms).single()).ok_or_else(invalid),
        Value::String(text) => text.trim(),
        _ => return Err(SbError::data_type(&format!("filters.{field}"), "String")),
    };
    if let Ok(at) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S:%3f%z") {
        return Ok(at.with_timezone(&Utc));
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Ok(at) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S") {
        return Ok(at.and_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
        .ok_or_else(invalid)
}

/// A range filter, `{">=": from, "<": to, ...}`: one range per bound (all
/// must hold, so two lower bounds keep the tighter).
fn ranges(field: &str, date: DateField, ops: &Map<String, Value>) -> Result<Vec<DateRange>, SbError> {
    let mut found = Vec::new();
    for (op, value) in ops {
        let at = instant(field, value)?;
        let (from, to) = match op.as_str() {
            ">=" => (Some((at, true)), None),
            ">" => (Some((at, false)), None),
            "<=" => (None, Some((at, true))),
            "<" => (None, Some((at, false))),
            other => return Err(SbError::unknown_parameter(&format!("filters.{field}.{}", clip(other)))),
        };
        found.push(DateRange { field: date, from, to });
    }
    Ok(found)
}

/// The date a range or sort names.
fn date_field(field: &str) -> Option<DateField> {
    match field {
        "createdDate" => Some(DateField::Created),
        _ => None,
    }
}

/// What the filters ask, as the neutral query, and the users the id and
/// contact filters name (`None`: anyone). `Ok(None)` when nothing can match.
struct Asked {
    users: Option<BTreeSet<String>>,
    query: UserQuery,
}

/// The users `field` (an id or a contact value) names, of those whose
/// contact data the caller may see for contact values.
async fn named_users(
    state: &AppState,
    scope: &ContactScope,
    field: &str,
    value: &Value,
) -> Result<BTreeSet<String>, SbError> {
    let mut found = BTreeSet::new();
    for raw in values(field, value)? {
        match field {
            "id" | "userId" | "identifier" => {
                if let Some(user) = match UserKey::parse(&raw) {
                    Some(key) => state.user(&key).await.ok(),
                    None => None,
                } {
                    found.insert(user.user_uuid);
                }
            }
            _ => {
                let id_type = if field == "userName" { "loginId" } else { field };
                let profile = state.find_user(&identifier(id_type, raw)?).await?;
                // Only users whose contact data the caller may see are found by it.
                if let Some(p) = profile.filter(|p| scope.covers(p.user.id, p.user.organization_id)) {
                    found.insert(p.user.user_uuid);
                }
            }
        }
    }
    Ok(found)
}

const NAMING: &[&str] = &["id", "userId", "identifier", "email", "phone", "userName", "loginId"];
const ORGANISATION: &[&str] = &["rootOrgId", "organisationId", "organisations.organisationId"];
const ROLES: &[&str] = &["roles", "organisations.roles", "roles.role"];

fn organisations(field: &str, value: &Value) -> Result<Vec<i64>, SbError> {
    values(field, value)?.into_iter().map(|id| OrgId::Text(id).id()).collect()
}

fn roles(field: &str, value: &Value) -> Result<Vec<String>, SbError> {
    Ok(values(field, value)?.into_iter().map(|r| r.trim().to_lowercase()).collect())
}

/// The alternatives of `$or`: each entry one exact filter, any of which holds.
async fn or_group(
    state: &AppState,
    scope: &ContactScope,
    entries: &Map<String, Value>,
) -> Result<Vec<Alternative>, SbError> {
    let mut group = Vec::new();
    for (field, value) in entries {
        let field = field.as_str();
        if value.as_array().is_some_and(Vec::is_empty) {
            continue;
        }
        if value.is_object() {
            return Err(SbError::data_type(&format!("filters.$or.{}", clip(field)), "String"));
        }
        if NAMING.contains(&field) {
            group.push(Alternative::Users(named_users(state, scope, field, value).await?.into_iter().collect()));
        } else if ORGANISATION.contains(&field) {
            group.extend(organisations(field, value)?.into_iter().map(Alternative::Organization));
        } else if ROLES.contains(&field) {
            group.extend(roles(field, value)?.into_iter().map(Alternative::Role));
        } else if field == "status" || field == "isDeleted" {
            group.extend(statuses(field, value)?.into_iter().map(Alternative::Status));
        } else {
            return Err(SbError::unknown_parameter(&format!("filters.$or.{}", clip(field))));
        }
    }
    Ok(group)
}

async fn asked(state: &AppState, caller: &Caller, filters: &Map<String, Value>) -> Result<Option<Asked>, SbError> {
    let scope = ContactScope::of(caller);
    let mut users: Option<BTreeSet<String>> = None;
    let mut query = UserQuery::default();
    let mut status_named = false;
    for (field, value) in filters {
        let field = field.as_str();
        // An empty list asks nothing, as Elasticsearch reads it.
        if value.as_array().is_some_and(Vec::is_empty) {
            continue;
        }
        if NAMING.contains(&field) {
            let found = named_users(state, &scope, field, value).await?;
            users = Some(match users.take() {
                None => found,
                Some(before) => before.intersection(&found).cloned().collect(),
            });
        } else if ORGANISATION.contains(&field) {
            match organisations(field, value)?.as_slice() {
                [one] if query.organization_id.is_none() => query.organization_id = Some(*one),
                ids => query.any_of.push(ids.iter().copied().map(Alternative::Organization).collect()),
            }
        } else if ROLES.contains(&field) {
            match roles(field, value)?.as_slice() {
                [one] if query.role.is_none() => query.role = Some(one.clone()),
                titles => query.any_of.push(titles.iter().cloned().map(Alternative::Role).collect()),
            }
        } else if field == "status" || field == "isDeleted" {
            let named = statuses(field, value)?;
            if named.is_empty() {
                return Ok(None);
            }
            // Both `status` and `isDeleted`: a user must be in both.
            query.statuses = match status_named {
                false => named,
                true => query.statuses.into_iter().filter(|s| named.contains(s)).collect(),
            };
            if query.statuses.is_empty() {
                return Ok(None);
            }
            status_named = true;
        } else if field == "$or" {
            let Value::Object(entries) = value else { return Err(SbError::data_type("filters.$or", "Map")) };
            if !entries.is_empty() {
                query.any_of.push(or_group(state, &scope, entries).await?);
            }
        } else if let Some(date) = date_field(field) {
            let Value::Object(ops) = value else { return Err(SbError::data_type(&format!("filters.{field}"), "Map")) };
            query.ranges.extend(ranges(field, date, ops)?);
        } else {
            return Err(SbError::unknown_parameter(&format!("filters.{}", clip(field))));
        }
    }
    // A status among the alternatives: the list is not narrowed to active users first.
    let status_alternative = query.any_of.iter().flatten().any(|a| matches!(a, Alternative::Status(_)));
    if !status_named && status_alternative {
        query.statuses = vec![ListedStatus::Active, ListedStatus::Inactive];
    }
    if users.as_ref().is_some_and(|u| u.is_empty()) {
        return Ok(None);
    }
    Ok(Some(Asked { users, query }))
}

/// `sort_by`: field → `asc` (any case) or anything else for descending, as
/// Sunbird reads it.
fn sort(sort_by: &Map<String, Value>) -> Result<Vec<Sort>, SbError> {
    let mut sorts = Vec::new();
    for (field, order) in sort_by {
        let field_name = format!("sort_by.{}", clip(field));
        let sort_field = match field.as_str() {
            "firstName" => SortField::Name,
            other if date_field(other) == Some(DateField::Created) => SortField::Created,
            _ => return Err(SbError::unknown_parameter(&field_name)),
        };
        let Value::String(order) = order else { return Err(SbError::data_type(&field_name, "String")) };
        sorts.push(Sort { field: sort_field, descending: !order.trim().eq_ignore_ascii_case("asc") });
    }
    Ok(sorts)
}

/// The fields `facets` names, each with the name to answer it under.
fn facets(asked: &[Value]) -> Result<Vec<(String, FacetField)>, SbError> {
    let mut names = Vec::new();
    for item in asked {
        match item {
            Value::String(name) => names.push(name.clone()),
            // Elasticsearch's form, `{"roles": null}`.
            Value::Object(map) => names.extend(map.keys().cloned()),
            _ => return Err(SbError::data_type("facets", "List")),
        }
    }
    let mut fields = Vec::new();
    for name in names {
        let field = match name.as_str() {
            "roles" | "roles.role" | "organisations.roles" => FacetField::Role,
            "rootOrgId" | "organisations.organisationId" | "organisationId" => FacetField::Organization,
            "status" => FacetField::Status,
            other => return Err(SbError::unknown_parameter(&format!("facets.{}", clip(other)))),
        };
        if !fields.iter().any(|(n, _)| n == &name) {
            fields.push((name, field));
        }
    }
    Ok(fields)
}

/// A facet as Sunbird answers it: `{name, values: [{name, count}]}`, values
/// written as its search results write them.
fn facet(name: &str, field: FacetField, counts: &[GroupCount]) -> Value {
    let values: Vec<Value> = counts
        .iter()
        .map(|c| {
            let value = match field {
                FacetField::Role => json!(c.value.to_uppercase()),
                FacetField::Organization => json!(c.value),
                FacetField::Status => json!(if c.value == "ACTIVE" { 1 } else { 0 }),
            };
            json!({"name": value, "count": c.count})
        })
        .collect();
    json!({"name": name, "values": values})
}

/// Users matching the filters, in the view the acting user may see of each.
#[utoipa::path(post, path = "/api/user/v1/search", request_body = super::openapi::Request<SearchBody>,
    responses((status = 200, description = "Users found", body = super::openapi::Users)))]
pub(super) async fn search(
    State(state): State<AppState>,
    Acting(caller): Acting,
    SbBody(body): SbBody<SearchBody>,
) -> Result<SbOk, SbError> {
    let filters = body.filters.filter(|f| !f.is_empty()).ok_or_else(|| SbError::missing("filters"))?;
    let limit = body.limit.unwrap_or(SEARCH_LIMIT);
    if !(1..=SEARCH_MAX_LIMIT).contains(&limit) {
        return Err(SbError::invalid("limit"));
    }
    let offset = body.offset.unwrap_or(0);
    let window = offset.checked_add(limit).filter(|end| *end <= SEARCH_MAX_WINDOW);
    if offset < 0 || (offset % limit != 0 && window.is_none()) {
        return Err(SbError::invalid("offset"));
    }
    let sorts = sort(&body.sort_by.unwrap_or_default())?;
    let facet_fields = facets(&body.facets.unwrap_or_default())?;
    let empty_facets: Vec<Value> = facet_fields.iter().map(|(name, field)| facet(name, *field, &[])).collect();
    let empty = || {
        let mut response = json!({"count": 0, "content": []});
        if !empty_facets.is_empty() {
            response["facets"] = json!(empty_facets);
        }
        SbOk(json!({"response": response}))
    };
    let Some(Asked { users, mut query }) = asked(&state, &caller, &filters).await? else { return Ok(empty()) };
    query.search = body.query.map(|q| q.trim().to_string()).filter(|q| !q.is_empty());
    query.include_ids = users.into_iter().flatten().map(UserKey::Uuid).collect();
    query.sort = sorts;
    // A page of `limit` at `offset`; an offset between pages reads from the start.
    let skip = if offset % limit == 0 {
        (query.page, query.limit) = (offset / limit + 1, limit);
        0
    } else {
        (query.page, query.limit) = (1, offset + limit);
        offset as usize
    };
    let counted = match facet_fields.is_empty() {
        true => Vec::new(),
        false => {
            let fields: Vec<FacetField> = facet_fields.iter().map(|(_, f)| *f).collect();
            state.user_facets(&caller, query.clone(), &fields).await?
        }
    };
    let (listed, count) = state.list_users(&caller, query).await?;
    let scope = ContactScope::of(&caller);
    let fields = body.fields.unwrap_or_default();
    let content: Vec<Value> = listed
        .iter()
        .skip(skip)
        .map(|user| {
            let mut entry = render::listed(user, scope.covers(user.id, user.organization_id));
            if let (false, Value::Object(map)) = (fields.is_empty(), &mut entry) {
                map.retain(|key, _| fields.contains(key));
            }
            entry
        })
        .collect();
    let mut response = json!({"count": count.value, "content": content});
    if !facet_fields.is_empty() {
        let answered: Vec<Value> =
            facet_fields.iter().zip(&counted).map(|((name, field), (_, counts))| facet(name, *field, counts)).collect();
        response["facets"] = json!(answered);
    }
    Ok(SbOk(json!({"response": response})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_bounds_take_sunbird_timestamps_dates_and_milliseconds() {
        let at = |v: Value| instant("createdDate", &v).map(|t| t.to_rfc3339()).map_err(|e| e.message);
        assert_eq!(at(json!("2020-11-23 07:02:36:155+0000")), Ok("2020-11-23T07:02:36.155+00:00".into()));
        assert_eq!(at(json!("2020-11-23")), Ok("2020-11-23T00:00:00+00:00".into()));
        assert_eq!(at(json!("2020-11-23T09:00:00+02:00")), Ok("2020-11-23T07:00:00+00:00".into()));
        assert_eq!(at(json!(0)), Ok("1970-01-01T00:00:00+00:00".into()));
        assert_eq!(at(json!("yesterday")), Err("Please provide valid filters.createdDate.".into()));
        assert!(at(json!(["2020-11-23"])).is_err());
    }

    #[test]
    fn sort_by_reads_asc_or_else_descending() {
        let sorts = sort(json!({"createdDate": "ASC", "firstName": "desc"}).as_object().unwrap()).unwrap();
        assert_eq!(
            sorts,
            vec![
                Sort { field: SortField::Created, descending: false },
                Sort { field: SortField::Name, descending: true }
            ]
        );
        let unknown = sort(json!({"shoeSize": "asc"}).as_object().unwrap()).unwrap_err();
        assert_eq!(unknown.message, "Invalid parameter sort_by.shoeSize in request.");
    }

    #[test]
    fn facets_take_names_and_elasticsearch_maps() {
        let asked = facets(&[json!("roles"), json!({"status": null}), json!("roles")]).unwrap();
        assert_eq!(asked, vec![("roles".to_string(), FacetField::Role), ("status".to_string(), FacetField::Status)]);
        assert!(facets(&[json!("dob")]).is_err());
        assert!(facets(&[json!(1)]).is_err());
    }
}
