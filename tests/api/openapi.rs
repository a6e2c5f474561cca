//! The served API description covers the routers exactly: every route the
//! handler sources register (`.route(...)` calls, read as the fuzz test
//! reads them) is an operation of `/openapi.json`, and every operation is
//! served by a route (probed over HTTP: none reaches a dialect's unknown-path
//! answer or a 405). Each part (`/openapi/<part>.json`) holds its own paths.
//! The fuzz run of `tests/api/schemathesis.rs` then checks the answers
//! against the schemas.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use roster::http::openapi::{document, Part};

use crate::helpers::*;
use crate::on_both_backends;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// (method, path) of every operation of a document.
fn operations(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("paths");
    let mut found = BTreeSet::new();
    for (path, item) in paths {
        for method in METHODS {
            if item.get(method).is_some() {
                found.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    found
}

/// `{*rest}` in a router is `{rest}` in OpenAPI.
fn as_openapi(path: &str) -> String {
    path.replace("{*", "{")
}

fn listed(routes: &BTreeSet<&(String, String)>) -> String {
    routes.iter().map(|(method, path)| format!("\n  {method} {path}")).collect()
}

#[test]
fn the_description_has_every_route_and_no_other() {
    let spec = operations(&serde_json::to_value(document(Part::All)).unwrap());
    let routed: BTreeSet<(String, String)> =
        crate::fuzz::routes_in_source().into_iter().map(|(method, path)| (method, as_openapi(&path))).collect();
    let undescribed: BTreeSet<_> = routed.difference(&spec).collect();
    let unrouted: BTreeSet<_> = spec.difference(&routed).collect();
    assert!(
        undescribed.is_empty() && unrouted.is_empty(),
        "the OpenAPI description and the routers differ.\n\
         Routes missing from the description (give the handler a #[utoipa::path] and list it in its dialect's \
         openapi.rs `paths(...)`, or add the path to `ALIASES` there):{}\n\
         Operations of the description that no route serves:{}",
        listed(&undescribed),
        listed(&unrouted),
    );
    assert!(spec.len() > 130, "{} operations", spec.len());
}

#[test]
fn each_part_holds_its_own_routes_and_together_they_are_the_whole() {
    let all = operations(&serde_json::to_value(document(Part::All)).unwrap());
    let mut union = BTreeSet::new();
    for part in Part::EACH {
        let ops = operations(&serde_json::to_value(document(part)).unwrap());
        for (method, path) in &ops {
            let elevate = path.starts_with("/user/v1/");
            let sunbird = ["/api/user/", "/private/user/", "/v1/", "/v2/", "/v3/", "/v4/", "/v5/"]
                .iter()
                .any(|p| path.starts_with(p));
            let entity_v5 = path.starts_with("/api/v5/entity/");
            let belongs = match part {
                Part::Elevate => elevate,
                Part::Sunbird => sunbird,
                Part::EntityV5 => entity_v5,
                _ => !elevate && !sunbird && !entity_v5,
            };
            assert!(belongs, "{method} {path} is in the {part:?} document");
        }
        assert!(union.is_disjoint(&ops), "{part:?} repeats another part's operations");
        union.extend(ops);
    }
    assert_eq!(union, all, "/openapi.json is the parts together");
}

/// A request that a matched route answers before its handler looks at the
/// input (no credentials, an empty object), as each dialect words it.
async fn probe(app: &TestApp, method: &str, path: &str) -> (u16, Value) {
    let concrete: String = path
        .split('/')
        .map(|segment| match segment {
            "{file}" => "index.css".to_string(),
            s if s.starts_with('{') => "1".to_string(),
            s => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/");
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app.client.request(method.clone(), app.url(&concrete));
    if method != Method::GET {
        request = request.json(&serde_json::json!({}));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn every_operation_reaches_a_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let served: Value = app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(served, serde_json::to_value(document(Part::All)).unwrap(), "/openapi.json is the document");
    assert!(served["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", served["openapi"]);
    let mut unrouted = Vec::new();
    for (method, path) in operations(&served) {
        let (status, body) = probe(&app, &method, &path).await;
        let fallback = match status {
            405 => true,
            // ELEVATE's unknown path; Sunbird refuses a matched route without
            // `Authorization` (401), so its 404 is its unknown path; the
            // operational routes' 404 is theirs.
            404 => !path.starts_with("/user/v1/") || body["message"] == "Route not found",
            _ => false,
        };
        if fallback {
            unrouted.push(format!("{method} {path}: {status} {body}"));
        }
    }
    assert!(unrouted.is_empty(), "operations no route answers:\n{}", unrouted.join("\n"));
}

on_both_backends!(every_operation_reaches_a_route);
