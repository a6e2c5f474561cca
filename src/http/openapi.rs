//! The API description: one OpenAPI 3.1 document per dialect (ELEVATE,
//! Sunbird) and one for the operational routes, generated from the
//! handlers' `#[utoipa::path]` annotations and the dialects' schema types,
//! served at `/openapi.json` (all three merged) and
//! `/openapi/<part>.json`, with Swagger UI at `/docs` (its files are in the
//! binary, from the utoipa-swagger-ui-vendored crate: nothing is fetched at
//! run time).
//!
//! Each dialect's document says only what its handlers answer on success;
//! `finish` adds what every route of the dialect shares: its credentials,
//! the errors its envelope words (unknown paths, too-large bodies, rate
//! limits and timeouts come from the shared layers), a tag and a unique
//! operation id.

use std::sync::{Arc, OnceLock};

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, InfoBuilder, OpenApi as Document, Ref, RefOr, ResponseBuilder};
use utoipa::{OpenApi, ToSchema};
use utoipa_swagger_ui::{Config, Url};

use super::{elevate, entity_v5, sunbird, AppState};

/// What `finish` adds to every operation of one document.
pub struct Dialect {
    /// The part's name in `/openapi/<name>.json`.
    pub name: &'static str,
    /// Tags are this and the path's area (`ELEVATE account`).
    pub tag_prefix: &'static str,
    /// The alternatives (any one suffices), each the schemes it sends together.
    pub security: &'static [&'static [&'static str]],
    /// The component every error answer of the dialect is.
    pub error_schema: &'static str,
    /// The document's title and description (its envelope, in its words).
    pub title: &'static str,
    pub description: &'static str,
}

/// The parts `/openapi/<name>.json` serves; `/openapi.json` is all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    All,
    Elevate,
    Sunbird,
    EntityV5,
    Operations,
}

impl Part {
    pub const EACH: [Part; 4] = [Part::Elevate, Part::Sunbird, Part::EntityV5, Part::Operations];
}

/// Copies the operations of each canonical path to its aliases (routes that
/// share one handler).
pub fn expand_aliases(document: &mut Document, aliases: &[(&str, &[&str])]) {
    for (canonical, others) in aliases {
        let item = document.paths.paths.get(*canonical).cloned();
        let item = item.unwrap_or_else(|| panic!("alias of {canonical}, which has no #[utoipa::path]"));
        for other in *others {
            document.paths.paths.insert(other.to_string(), item.clone());
        }
    }
}

/// Every operation of a path item, with its method.
pub fn operations_mut(item: &mut utoipa::openapi::PathItem) -> Vec<(&'static str, &mut Operation)> {
    let methods = [
        ("GET", &mut item.get),
        ("PUT", &mut item.put),
        ("POST", &mut item.post),
        ("DELETE", &mut item.delete),
        ("OPTIONS", &mut item.options),
        ("HEAD", &mut item.head),
        ("PATCH", &mut item.patch),
        ("TRACE", &mut item.trace),
    ];
    methods.into_iter().filter_map(|(method, op)| op.as_mut().map(|op| (method, op))).collect()
}

/// The errors every route of a dialect may answer (the shared layers' and
/// its envelope's), and why.
const SHARED_ERRORS: &[(&str, &str)] = &[
    ("400", "Invalid input: a malformed body or query, a wrong type, a missing or refused field, text that cannot be stored (NUL)."),
    ("401", "No valid credentials (or, on a login, wrong ones)."),
    ("403", "The caller's roles do not grant this."),
    ("404", "No such record (or no such route)."),
    ("408", "The request body stalled (`HTTP_BODY_READ_TIMEOUT_MS`)."),
    ("409", "A conflicting change (a value someone else holds, a concurrent write)."),
    ("413", "The body is larger than 1 MiB."),
    ("415", "The body is not `application/json`."),
    ("429", "Rate limited: retry after the seconds in `Retry-After`."),
    ("503", "Busy, or the request took too long (`HTTP_REQUEST_TIMEOUT_MS`): retry."),
    ("default", "Any other error, in the same envelope."),
];

fn sanitized(path: &str) -> String {
    // `/docs/` is not `/docs`.
    let path = if path.len() > 1 && path.ends_with('/') { format!("{path}index") } else { path.to_string() };
    let words = path.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty());
    words.collect::<Vec<_>>().join("_")
}

/// The area a path belongs to, for its tag: `account` in
/// `/user/v1/account/login`, `create` in `/api/user/v1/create`.
fn area(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty() && !s.starts_with('{')).collect();
    let skip = match segments.as_slice() {
        ["user", "v1", ..] => 2,
        ["api", "user", _, ..] | ["private", "user", _, ..] => 3,
        ["api", "v5", "entity", ..] => 3,
        [version, "user", ..] | [version, "ssouser", ..] | [version, "manageduser", ..] if version.starts_with('v') => {
            2
        }
        _ => 0,
    };
    segments.get(skip).map_or("root", |s| s).to_string()
}

/// Adds what every route of `dialect` shares (see the module's comment).
pub fn finish(document: &mut Document, dialect: &Dialect) {
    let security: Vec<SecurityRequirement> = dialect
        .security
        .iter()
        .map(|schemes| {
            schemes
                .iter()
                .fold(SecurityRequirement::default(), |requirement, scheme| requirement.add(*scheme, [] as [&str; 0]))
        })
        .collect();
    let error = ContentBuilder::new().schema(Some(Ref::from_schema_name(dialect.error_schema))).build();
    for (path, item) in document.paths.paths.iter_mut() {
        let tag = format!("{} {}", dialect.tag_prefix, area(path));
        for (method, operation) in operations_mut(item) {
            operation.operation_id = Some(format!("{}_{}", method.to_lowercase(), sanitized(path)));
            operation.tags = Some(vec![tag.clone()]);
            if !dialect.security.is_empty() {
                operation.security = Some(security.clone());
            }
            for (status, why) in SHARED_ERRORS {
                if !operation.responses.responses.contains_key(*status) {
                    let response = ResponseBuilder::new().description(*why).content("application/json", error.clone());
                    operation.responses.responses.insert(status.to_string(), response.build().into());
                }
            }
        }
    }
}

/// A user's numeric id or uuid, as path parameters take them.
pub struct UserKey;

impl utoipa::PartialSchema for UserKey {
    fn schema() -> RefOr<Schema> {
        let numeric = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1));
        let uuid =
            ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)));
        OneOfBuilder::new().item(numeric).item(uuid).description(Some("A numeric id or a uuid")).into()
    }
}

impl ToSchema for UserKey {}

/// The error of the operational routes: `{error, message}`.
#[derive(Serialize, ToSchema)]
#[schema(as = operations::Error)]
#[allow(dead_code)]
pub struct OperationsError {
    /// A stable code: `not_found`, `body_too_large`, `timeout`, `internal`...
    error: String,
    message: String,
}

/// A JSON Web Key Set: Ed25519 public keys (`kty` `OKP`), empty with HS256.
#[derive(Serialize, ToSchema)]
#[schema(as = operations::Jwks)]
#[allow(dead_code)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = operations::Jwk)]
#[allow(dead_code)]
pub struct Jwk {
    kty: String,
    crv: String,
    alg: String,
    #[serde(rename = "use")]
    usage: String,
    kid: String,
    /// The public key, base64url.
    x: String,
}

/// `/health`'s answer, in the shape of the ELEVATE seed's health check.
#[derive(Serialize, ToSchema)]
#[schema(as = operations::Health)]
#[allow(dead_code)]
pub struct Health {
    id: String,
    ver: String,
    ts: String,
    params: HealthParams,
    /// The HTTP status, again.
    status: u16,
    result: HealthResult,
}

#[derive(Serialize, ToSchema)]
#[schema(as = operations::HealthParams)]
#[allow(dead_code)]
pub struct HealthParams {
    resmsgid: String,
    msgid: String,
    /// `successful` or `failed`.
    status: String,
    err: Option<String>,
    #[serde(rename = "errMsg")]
    err_msg: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = operations::HealthResult)]
#[allow(dead_code)]
pub struct HealthResult {
    name: String,
    version: String,
    healthy: bool,
    /// Some read model skipped events (`roster projections failed`).
    degraded: bool,
    checks: Vec<HealthCheck>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = operations::HealthCheck)]
#[allow(dead_code)]
pub struct HealthCheck {
    /// `database`, `Kafka` or `projections`.
    name: String,
    healthy: bool,
    err: String,
    #[serde(rename = "errMsg")]
    err_msg: String,
}

#[derive(OpenApi)]
#[openapi(
    paths(
        super::health::health,
        super::jwks,
        super::metrics_text,
        openapi_all,
        openapi_elevate,
        openapi_sunbird,
        openapi_entity_v5,
        openapi_operations,
        docs_root,
        docs_index,
        docs_file,
        super::files::download,
        super::files::upload,
    ),
    components(schemas(OperationsError))
)]
struct OperationsApi;

const OPERATIONS: Dialect = Dialect {
    name: "operations",
    tag_prefix: "Operations",
    security: &[],
    error_schema: "operations.Error",
    title: "Roster: operations",
    description: "Health, metrics, the token verification keys, the local file store's signed links, \
                  and this description. Errors are `{error, message}`.",
};

fn titled(mut document: Document, title: &str, description: &str) -> Document {
    document.info = InfoBuilder::new()
        .title(title)
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(description))
        .license(Some(utoipa::openapi::License::new("MIT")))
        .build();
    document
}

/// One part's document, built from the annotations.
pub fn document(part: Part) -> Document {
    let part_document = |dialect: &Dialect, mut document: Document| {
        finish(&mut document, dialect);
        titled(document, dialect.title, dialect.description)
    };
    match part {
        Part::Elevate => part_document(&elevate::openapi::DIALECT, elevate::openapi::document()),
        Part::Sunbird => part_document(&sunbird::openapi::DIALECT, sunbird::openapi::document()),
        Part::EntityV5 => part_document(&entity_v5::openapi::DIALECT, entity_v5::openapi::document()),
        Part::Operations => part_document(&OPERATIONS, {
            let mut document = OperationsApi::openapi();
            expand_aliases(&mut document, &[("/health", &["/user/health"])]);
            document
        }),
        Part::All => {
            let mut all = document(Part::Elevate);
            all.merge(document(Part::Sunbird));
            all.merge(document(Part::EntityV5));
            all.merge(document(Part::Operations));
            titled(
                all,
                "Roster",
                "Roster's whole HTTP surface: the ELEVATE dialect (`/user/v1`), the Sunbird dialect \
                 (`/api/user`, `/vN/user`), the entity v5 dialect (`/api/v5/entity`) and the operational \
                 routes. `/openapi/<part>.json` serves each part alone (`elevate`, `sunbird`, `entity-v5`, \
                 `operations`).",
            )
        }
    }
}

/// A part's document as served (built once).
fn served(part: Part) -> Response {
    static JSON: OnceLock<Vec<(Part, String)>> = OnceLock::new();
    let all = JSON.get_or_init(|| {
        [Part::All].into_iter().chain(Part::EACH).map(|p| (p, document(p).to_json().expect("serialisable"))).collect()
    });
    let json = all.iter().find(|(p, _)| *p == part).map(|(_, json)| json.clone()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}

/// The whole description (every dialect and the operational routes).
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
async fn openapi_all() -> Response {
    served(Part::All)
}

/// The ELEVATE dialect's description.
#[utoipa::path(get, path = "/openapi/elevate.json", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
async fn openapi_elevate() -> Response {
    served(Part::Elevate)
}

/// The Sunbird dialect's description.
#[utoipa::path(get, path = "/openapi/sunbird.json", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
async fn openapi_sunbird() -> Response {
    served(Part::Sunbird)
}

/// The entity v5 dialect's description.
#[utoipa::path(get, path = "/openapi/entity-v5.json", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
async fn openapi_entity_v5() -> Response {
    served(Part::EntityV5)
}

/// The operational routes' description.
#[utoipa::path(get, path = "/openapi/operations.json", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
async fn openapi_operations() -> Response {
    served(Part::Operations)
}

fn swagger_config() -> Arc<Config<'static>> {
    static CONFIG: OnceLock<Arc<Config<'static>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let urls = [
                Url::new("Roster (all)", "/openapi.json"),
                Url::new("ELEVATE", "/openapi/elevate.json"),
                Url::new("Sunbird", "/openapi/sunbird.json"),
                Url::new("Entity v5", "/openapi/entity-v5.json"),
                Url::new("Operations", "/openapi/operations.json"),
            ];
            Arc::new(Config::new(urls))
        })
        .clone()
}

/// The docs UI lives under `/docs/` (its pages load their files relative to it).
#[utoipa::path(get, path = "/docs", responses((status = 303, description = "To `/docs/`")))]
async fn docs_root() -> Redirect {
    Redirect::to("/docs/")
}

/// Swagger UI over these documents.
#[utoipa::path(get, path = "/docs/", responses((status = 200, description = "The docs UI", content_type = "text/html", body = String)))]
async fn docs_index() -> Response {
    docs_asset("")
}

/// The docs UI's files (scripts, styles, images), from the binary.
#[utoipa::path(
    get,
    path = "/docs/{file}",
    params(("file" = String, Path, description = "A file of the docs UI, e.g. `swagger-ui.css`")),
    responses((status = 200, description = "The file", content(
        (String = "text/html"), (String = "text/javascript"), (String = "text/css"), (String = "image/png"),
        (Object = "application/json"),
    )))
)]
async fn docs_file(Path(file): Path<String>) -> Response {
    docs_asset(&file)
}

fn docs_asset(file: &str) -> Response {
    match utoipa_swagger_ui::serve(file, swagger_config()) {
        Ok(Some(found)) => {
            // The content types the document lists, whatever mime_guess's version says.
            let content_type = match file.rsplit_once('.').map_or("html", |(_, ext)| ext) {
                "html" => "text/html",
                "js" => "text/javascript",
                "css" => "text/css",
                "png" => "image/png",
                _ => "application/json",
            };
            ([(header::CONTENT_TYPE, content_type)], found.bytes.into_owned()).into_response()
        }
        // The neutral envelope words both.
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => {
            tracing::error!(%error, "the docs UI cannot serve {file}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `/openapi.json`, `/openapi/<part>.json` and `/docs`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_all))
        .route("/openapi/elevate.json", get(openapi_elevate))
        .route("/openapi/sunbird.json", get(openapi_sunbird))
        .route("/openapi/entity-v5.json", get(openapi_entity_v5))
        .route("/openapi/operations.json", get(openapi_operations))
        .route("/docs", get(docs_root))
        .route("/docs/", get(docs_index))
        .route("/docs/{*file}", get(docs_file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_name_the_resource() {
        assert_eq!(area("/user/v1/account/login"), "account");
        assert_eq!(area("/api/user/v1/create"), "create");
        assert_eq!(area("/v1/user/read/{userId}"), "read");
        assert_eq!(area("/v1/ssouser/create"), "create");
        assert_eq!(area("/health"), "health");
        assert_eq!(area("/api/v5/entity/user/create"), "user");
    }

    #[test]
    fn operation_ids_are_unique_and_every_operation_has_the_shared_errors() {
        let all = document(Part::All);
        let mut ids = std::collections::HashSet::new();
        let mut count = 0;
        for (path, item) in all.paths.paths.clone().iter_mut() {
            for (method, op) in operations_mut(item) {
                count += 1;
                assert!(ids.insert(op.operation_id.clone().unwrap()), "{method} {path}: operation id twice");
                assert!(op.responses.responses.contains_key("default"), "{method} {path}");
            }
        }
        assert!(count > 100, "{count} operations");
    }

    /// Every `$ref` names a schema of the document (a shared error added
    /// by `finish` must be registered by its dialect).
    #[test]
    fn every_reference_resolves() {
        for part in [Part::All, Part::Elevate, Part::Sunbird, Part::EntityV5, Part::Operations] {
            let json = serde_json::to_value(document(part)).unwrap();
            let schemas = json["components"]["schemas"].as_object().cloned().unwrap_or_default();
            let mut refs = Vec::new();
            collect_refs(&json, &mut refs);
            for reference in refs {
                let name = reference.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{reference}"));
                assert!(schemas.contains_key(name), "{part:?}: {reference} is not in the components");
            }
        }
    }

    fn collect_refs(value: &serde_json::Value, refs: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(r)) = map.get("$ref") {
                    refs.push(r.clone());
                }
                map.values().for_each(|v| collect_refs(v, refs));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
            _ => {}
        }
    }
}
