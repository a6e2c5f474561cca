//! ELEVATE answers with the success statuses its published contract
//! documents (issue 15, point 7): upstream's OpenAPI file
//! (`src/api-doc/api-doc.yaml` of ELEVATE-Project/user at 79cf8c9b), where
//! it differs from upstream's code too (`organization/create` is 200 there,
//! 201 in the code). The table is that file's 2xx per operation, with
//! Roster's path parameter names. Roster's own description must document
//! the same status, and the routes whose status this changed answer it live.

use reqwest::Method;
use serde_json::{json, Value};

use roster::http::openapi::{document, Part};

use crate::helpers::*;
use crate::on_both_backends;

/// (method, path, status) of every operation upstream's file documents that
/// Roster serves. Not served: `user/share/{userId}` (a mentor profile link,
/// absent from the seed).
const DOCUMENTED: &[(&str, &str, u16)] = &[
    ("POST", "/user/v1/account/create", 200),
    ("POST", "/user/v1/account/login", 200),
    ("PATCH", "/user/v1/account/acceptTermsAndCondition", 200),
    ("POST", "/user/v1/account/generateToken", 200),
    ("POST", "/user/v1/account/generateOtp", 200),
    ("POST", "/user/v1/account/resetPassword", 200),
    ("POST", "/user/v1/account/logout", 200),
    ("POST", "/user/v1/account/registrationOtp", 200),
    ("GET", "/user/v1/account/list", 200),
    ("GET", "/user/v1/account/search", 200),
    ("GET", "/user/v1/user/read/{id}", 200),
    ("PATCH", "/user/v1/user/setLanguagePreference", 200),
    ("PATCH", "/user/v1/user/update", 200),
    ("GET", "/user/v1/cloud-services/file/getSignedUrl", 200),
    ("GET", "/user/v1/cloud-services/file/getDownloadableUrl", 200),
    ("GET", "/user/v1/cloud-services/file/getSampleCSV", 200),
    ("POST", "/user/v1/form/create", 200),
    ("PATCH", "/user/v1/form/update/{id}", 200),
    ("POST", "/user/v1/form/read/{id}", 200),
    ("POST", "/user/v1/admin/create", 201),
    ("POST", "/user/v1/admin/login", 200),
    ("DELETE", "/user/v1/admin/deleteUser/{id}", 202),
    ("POST", "/user/v1/admin/addOrgAdmin", 200),
    ("POST", "/user/v1/admin/deactivateOrg/{id}", 202),
    ("POST", "/user/v1/admin/deactivateUser", 202),
    ("POST", "/user/v1/organization/create", 200),
    ("POST", "/user/v1/organization/update/{id}", 200),
    ("GET", "/user/v1/organization/list", 200),
    ("POST", "/user/v1/organization/requestOrgRole", 200),
    ("GET", "/user/v1/userRole/list", 200),
    ("POST", "/user/v1/entity-type/create", 201),
    ("POST", "/user/v1/entity-type/update/{id}", 201),
    ("POST", "/user/v1/entity-type/read", 201),
    ("DELETE", "/user/v1/entity-type/delete/{id}", 202),
    ("POST", "/user/v1/entity/create", 201),
    ("PATCH", "/user/v1/entity/update/{id}", 202),
    ("GET", "/user/v1/entity/read", 200),
    ("POST", "/user/v1/entity/list", 200),
    ("DELETE", "/user/v1/entity/delete/{id}", 202),
    ("POST", "/user/v1/org-admin/getRequests", 200),
    ("POST", "/user/v1/org-admin/updateRequestStatus", 200),
    ("GET", "/user/v1/org-admin/getRequestDetails", 200),
    ("POST", "/user/v1/org-admin/deactivateUser/{id}", 202),
    ("POST", "/user/v1/org-admin/inheritEntityType", 202),
    ("POST", "/user/v1/notification/template", 202),
    ("POST", "/user/v1/userRole/Create", 201),
    ("POST", "/user/v1/userRole/update/{id}", 201),
    ("DELETE", "/user/v1/userRole/delete/{id}", 202),
    ("POST", "/user/v1/permissions/create", 201),
    ("POST", "/user/v1/permissions/update/{id}", 201),
    ("GET", "/user/v1/permissions/list", 200),
    ("DELETE", "/user/v1/permissions/delete/{id}", 202),
    ("POST", "/user/v1/modules/create", 201),
    ("POST", "/user/v1/modules/update/{id}", 201),
    ("GET", "/user/v1/modules/list", 200),
    ("DELETE", "/user/v1/modules/delete/{id}", 202),
    ("POST", "/user/v1/rolePermissionMapping/create/{role_id}", 201),
    ("POST", "/user/v1/rolePermissionMapping/delete/{role_id}", 202),
    ("GET", "/user/health", 200),
];

/// The seed's casing `userRole/Create` is an alias of `userRole/create` in
/// Roster's description (one operation per handler).
fn described_as(path: &str) -> &str {
    match path {
        "/user/v1/userRole/Create" => "/user/v1/userRole/create",
        other => other,
    }
}

#[test]
fn roster_documents_the_status_upstream_documents() {
    let described = serde_json::to_value(document(Part::All)).unwrap();
    let mut wrong = Vec::new();
    for (method, path, status) in DOCUMENTED {
        let operation = &described["paths"][described_as(path)][method.to_lowercase()];
        let Some(responses) = operation["responses"].as_object() else {
            wrong.push(format!("{method} {path}: not described"));
            continue;
        };
        let successes: Vec<&String> = responses.keys().filter(|code| code.starts_with('2')).collect();
        if !successes.iter().any(|code| **code == status.to_string()) {
            wrong.push(format!("{method} {path}: documented {successes:?}, upstream {status}"));
        }
    }
    assert!(wrong.is_empty(), "statuses differing from upstream's contract:\n{}", wrong.join("\n"));
}

/// The routes whose success status followed upstream's file answer it.
async fn the_documented_statuses_are_answered(backend: Backend) {
    let app = spawn_app(backend).await;
    let cast = crate::organizations::cast(&app).await;
    let root = Some(cast.admin.access_token.as_str());
    let expect = |reply: &Reply, status: u16, what: &str| {
        assert_eq!(reply.status.as_u16(), status, "{what}: {}", reply.body);
    };

    // Sign-up (200; its helper checks it too) and the GET form of account/search.
    expect(&app.get("/user/v1/account/search?type=all", root).await, 200, "GET account/search");

    // Organisations: create 200, the POST form of update 200, a role request 200.
    let org = app.post("/user/v1/organization/create", root, json!({"name": "Status Org", "code": "status-org"})).await;
    expect(&org, 200, "organization/create");
    let org_id = org.result()["id"].as_i64().unwrap();
    let update = format!("/user/v1/organization/update/{org_id}");
    let updated = app.call(Method::POST, &update, root, Some(json!({"description": "d"}))).await;
    expect(&updated, 200, "POST organization/update");
    let asked =
        app.post("/user/v1/organization/requestOrgRole", Some(&cast.mentee.access_token), json!({"role": 2})).await;
    expect(&asked, 200, "organization/requestOrgRole");

    // The catalogue: updates 201, deletes 202.
    let role = app
        .post("/user/v1/userRole/create", root, json!({"title": "status_role", "label": "Status", "user_type": 1}))
        .await;
    expect(&role, 201, "userRole/create");
    let role_id = role.result()["id"].as_i64().unwrap();
    let module = app.post("/user/v1/modules/create", root, json!({"code": "status_module"})).await;
    expect(&module, 201, "modules/create");
    let module_id = module.result()["id"].as_i64().unwrap();
    let module_code = module.result()["code"].as_str().unwrap().to_string();
    let permission = app
        .post(
            "/user/v1/permissions/create",
            root,
            json!({"code": "status_permission", "module": module_code, "request_type": ["GET"], "api_path": "/user/v1/status/*"}),
        )
        .await;
    expect(&permission, 201, "permissions/create");
    let permission_id = permission.result()["id"].as_i64().unwrap();
    let mapping = json!({"permission_id": permission_id});
    expect(
        &app.post(&format!("/user/v1/rolePermissionMapping/create/{role_id}"), root, mapping.clone()).await,
        201,
        "rolePermissionMapping/create",
    );
    expect(
        &app.post(&format!("/user/v1/rolePermissionMapping/delete/{role_id}"), root, mapping).await,
        202,
        "rolePermissionMapping/delete",
    );
    let relabel = json!({"label": "Status Two"});
    expect(&app.post(&format!("/user/v1/userRole/update/{role_id}"), root, relabel).await, 201, "userRole/update");
    expect(
        &app.post(
            &format!("/user/v1/modules/update/{module_id}"),
            root,
            json!({"code": module_code, "status": "ACTIVE"}),
        )
        .await,
        201,
        "modules/update",
    );
    expect(
        &app.post(&format!("/user/v1/permissions/update/{permission_id}"), root, json!({"code": "status_permission", "module": module_code, "request_type": ["GET"], "api_path": "/user/v1/status/*", "status": "INACTIVE"})).await,
        201,
        "permissions/update",
    );
    let app = &app;
    let delete = |path: String| async move { app.call(Method::DELETE, &path, root, None).await };
    expect(&delete(format!("/user/v1/permissions/delete/{permission_id}")).await, 202, "permissions/delete");
    expect(&delete(format!("/user/v1/modules/delete/{module_id}")).await, 202, "modules/delete");
    expect(&delete(format!("/user/v1/userRole/delete/{role_id}")).await, 202, "userRole/delete");

    // Forms: create 200.
    let form = json!({"type": "status", "sub_type": "form", "data": {"fields": {"controls": []}}});
    expect(&app.post("/user/v1/form/create", root, form).await, 200, "form/create");

    // Entity types: update 201, the POST read 201 (GET 200), inherit 202.
    let kind = json!({"value": "status_kind", "label": "Status", "data_type": "STRING", "model_names": ["User"]});
    let created = app.post("/user/v1/entity-type/create", root, kind).await;
    expect(&created, 201, "entity-type/create");
    let type_id = created.result()["id"].as_i64().unwrap();
    let relabel = format!("/user/v1/entity-type/update/{type_id}");
    let relabelled = app.post(&relabel, root, json!({"label": "Status 2"})).await;
    expect(&relabelled, 201, "entity-type/update");
    expect(&app.post("/user/v1/entity-type/read", root, json!({})).await, 201, "POST entity-type/read");
    expect(&app.get("/user/v1/entity-type/read", root).await, 200, "GET entity-type/read");
    let other = Some(cast.other_org_admin.access_token.as_str());
    let inherit = json!({"entity_type_value": "status_kind", "target_entity_type_label": "Status here"});
    let inherited = app.post("/user/v1/org-admin/inheritEntityType", other, inherit).await;
    expect(&inherited, 202, "org-admin/inheritEntityType");

    // Notification templates: create 202.
    let template = json!({"code": "status_template", "subject": "Hi", "body": "<p>{{ otp }}</p>"});
    expect(&app.post("/user/v1/notification/template", root, template).await, 202, "notification/template");

    // Users: deactivation and deletion 202, the documented path form of org-admin/deactivateUser.
    let one = app.sign_up("Status One", "status.one@example.com").await;
    let two = app.sign_up("Status Two", "status.two@example.com").await;
    let three = app.sign_up("Status Three", "status.three@example.com").await;
    let id = |s: &Session| s.user["id"].as_i64().unwrap();
    let by_path = app.call(Method::POST, &format!("/user/v1/org-admin/deactivateUser/{}", id(&one)), root, None).await;
    expect(&by_path, 202, "org-admin/deactivateUser/{id}");
    assert_eq!(by_path.result()["deactivated_users"], 1, "{}", by_path.body);
    let deactivated = app.post("/user/v1/admin/deactivateUser", root, json!({"id": [id(&two)]})).await;
    expect(&deactivated, 202, "admin/deactivateUser");
    expect(&delete(format!("/user/v1/admin/deleteUser/{}", id(&three))).await, 202, "admin/deleteUser");
    let gone = app.post(&format!("/user/v1/admin/deactivateOrg/{org_id}"), root, json!({})).await;
    expect(&gone, 202, "admin/deactivateOrg");
    let logged: Value = app
        .post("/user/v1/account/login", None, json!({"email": "status.one@example.com", "password": PASSWORD}))
        .await
        .body;
    assert_ne!(logged["responseCode"], "OK", "a user deactivated by the path form cannot log in: {logged}");
}

on_both_backends!(the_documented_statuses_are_answered);
