//! userRole, modules, permissions and rolePermissionMapping: authorisation
//! data managed through the API, with effects on the next request.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;
use crate::organizations::cast;

async fn roles_are_created_listed_updated_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let t = Some(c.admin.access_token.as_str());
    let created = app
        .post("/user/v1/userRole/create", t, json!({"title": "Head_Master", "label": "Head Master", "user_type": 1, "translations": {"hi": {"title": "x"}}}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.result()["title"], "head_master");
    assert_eq!(created.result()["organization_id"], 1);
    let id = created.result()["id"].as_i64().unwrap();
    // Titles are unique per organisation, defaults included.
    app.post("/user/v1/userRole/create", t, json!({"title": "head_master"})).await.assert_error_envelope(400);
    app.post("/user/v1/user-role/create", t, json!({"title": "mentor"})).await.assert_error_envelope(400);
    let in_other = app
        .post("/user/v1/user-role/create", t, json!({"title": "head_master", "organization_id": c.other_org_id}))
        .await;
    assert_eq!(in_other.status, StatusCode::CREATED, "{}", in_other.body);

    let updated = app
        .post(
            &format!("/user/v1/userRole/update/{id}"),
            t,
            json!({"title": "headmaster_state", "visibility": "PRIVATE"}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::CREATED, "{}", updated.body);
    assert_eq!(updated.result()["title"], "headmaster_state");
    // The old title is free again.
    assert_eq!(
        app.post("/user/v1/userRole/create", t, json!({"title": "head_master"})).await.status,
        StatusCode::CREATED
    );

    let listed = app.get("/user/v1/userRole/list?search=headmaster&visibility=private", t).await;
    assert_eq!(listed.result()["count"], 1, "{}", listed.body);
    let by_type = app.get("/user/v1/user-role/list?user_type=1&organization_id=1", t).await;
    let titles: Vec<&str> =
        by_type.result()["data"].as_array().unwrap().iter().map(|r| r["title"].as_str().unwrap()).collect();
    assert!(titles.contains(&"admin") && titles.contains(&"headmaster_state"), "{titles:?}");

    let deleted = app.call(Method::DELETE, &format!("/user/v1/userRole/delete/{id}"), t, None).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    app.call(Method::DELETE, &format!("/user/v1/userRole/delete/{id}"), t, None).await.assert_error_envelope(404);
    app.call(Method::DELETE, "/user/v1/userRole/delete/2", t, None).await.assert_error_envelope(400);
    app.post("/user/v1/userRole/update/999999", t, json!({"label": "x"})).await.assert_error_envelope(404);
}

async fn permissions_and_mappings_drive_authorisation(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let t = Some(c.admin.access_token.as_str());
    let module = app.post("/user/v1/modules/create", t, json!({"code": "Organisations"})).await;
    assert_eq!(module.status, StatusCode::CREATED, "{}", module.body);
    let module_id = module.result()["id"].as_i64().unwrap();
    app.post("/user/v1/modules/create", t, json!({"code": "organisations"})).await.assert_error_envelope(400);
    let renamed = app.post(&format!("/user/v1/modules/update/{module_id}"), t, json!({"code": "orgs"})).await;
    assert_eq!(renamed.result()["code"], "orgs");
    assert_eq!(app.get("/user/v1/modules/list?search=org", t).await.result()["count"], 1);

    // A mentee may not create organisations...
    let attempt = json!({"name": "Mentee Org", "code": "mentee-org"});
    app.post("/user/v1/organization/create", Some(&c.mentee.access_token), attempt.clone())
        .await
        .assert_error_envelope(403);
    // ...until the mentee role is granted a permission for it.
    let permission = app
        .post(
            "/user/v1/permissions/create",
            t,
            json!({"code": "create_orgs", "module": "orgs", "request_type": ["post"], "api_path": "/user/v1/organization/create"}),
        )
        .await;
    assert_eq!(permission.status, StatusCode::CREATED, "{}", permission.body);
    let permission_id = permission.result()["id"].as_i64().unwrap();
    app.post(
        "/user/v1/permissions/create",
        t,
        json!({"code": "create_orgs", "module": "orgs", "request_type": ["GET"], "api_path": "/x"}),
    )
    .await
    .assert_error_envelope(400);
    let mapped = app.post("/user/v1/rolePermissionMapping/create/3", t, json!({"permission_id": permission_id})).await;
    assert_eq!(mapped.status, StatusCode::CREATED, "{}", mapped.body);
    assert_eq!(mapped.result()["request_type"], json!(["POST"]));
    app.post("/user/v1/role-permission-mapping/create/3", t, json!({"permission_id": permission_id}))
        .await
        .assert_error_envelope(400);
    let allowed = app.post("/user/v1/organization/create", Some(&c.mentee.access_token), attempt).await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);
    let mappings = app.post("/user/v1/rolePermissionMapping/list", t, json!({"role_ids": [3]})).await;
    assert!(mappings.result()["data"].as_array().unwrap().iter().any(|m| m["permission_id"] == permission_id));

    // Narrow the permission's path: the grant no longer covers the route.
    let narrowed = app
        .post(
            &format!("/user/v1/permissions/update/{permission_id}"),
            t,
            json!({"code": "create_orgs", "module": "orgs", "request_type": ["POST"], "api_path": "/user/v1/organization/nothing"}),
        )
        .await;
    assert_eq!(narrowed.status, StatusCode::CREATED, "{}", narrowed.body);
    let again = json!({"name": "Second", "code": "second-org"});
    app.post("/user/v1/organization/create", Some(&c.mentee.access_token), again.clone())
        .await
        .assert_error_envelope(403);
    // Unmapping and deleting are refused twice, not crashed.
    let unmapped =
        app.post("/user/v1/rolePermissionMapping/delete/3", t, json!({"permission_id": permission_id})).await;
    assert_eq!(unmapped.status, StatusCode::ACCEPTED);
    app.post("/user/v1/rolePermissionMapping/delete/3", t, json!({"permission_id": permission_id}))
        .await
        .assert_error_envelope(400);
    assert_eq!(
        app.call(Method::DELETE, &format!("/user/v1/permissions/delete/{permission_id}"), t, None).await.status,
        StatusCode::ACCEPTED
    );
    app.call(Method::DELETE, &format!("/user/v1/permissions/delete/{permission_id}"), t, None)
        .await
        .assert_error_envelope(404);
    let listed = app.get("/user/v1/permissions/list?search=create_orgs", t).await;
    assert_eq!(listed.result()["results"]["count"], 0);
    assert_eq!(
        app.call(Method::DELETE, &format!("/user/v1/modules/delete/{module_id}"), t, None).await.status,
        StatusCode::ACCEPTED
    );

    // Everything above rebuilds identically from the log.
    let live = dump(&app.state.db).await;
    app.state.projector.rebuild(|_, _| {}).await.unwrap();
    assert_eq!(live, dump(&app.state.db).await);
}

on_both_backends!(roles_are_created_listed_updated_and_deleted, permissions_and_mappings_drive_authorisation);
