//! ELEVATE's forms (README, "Forms"): admins create and update them, every
//! signed-in user reads them (their organisation's, else the default
//! organisation's), each update raises the version, and every ELEVATE
//! answer lists the versions in `meta.formsVersion`.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;
use crate::organizations::cast;

fn profile_form(label: &str) -> Value {
    json!({"type": "profile", "sub_type": "profileForm", "data": {"template_name": "defaultTemplate",
        "fields": {"controls": [{"name": "name", "label": label, "value": "", "type": "text",
            "validators": {"required": true, "minLength": 10}}]}}})
}

/// `meta.formsVersion` of a reply: (id, type, version) of each form.
fn versions(reply: &Reply) -> Vec<(i64, String, i64)> {
    reply.body["meta"]["formsVersion"]
        .as_array()
        .unwrap_or_else(|| panic!("no formsVersion: {}", reply.body))
        .iter()
        .map(|f| (f["id"].as_i64().unwrap(), f["type"].as_str().unwrap().to_string(), f["version"].as_i64().unwrap()))
        .collect()
}

async fn forms_are_written_by_admins_and_read_by_everyone(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let (admin, mentee) = (c.admin.access_token.as_str(), c.mentee.access_token.as_str());

    let created = app.post("/user/v1/form/create", Some(admin), profile_form("name")).await;
    assert_eq!(created.status.as_u16(), 200, "{}", created.body);
    assert_eq!(created.body["message"], "Form created successfully");
    let id = created.result()["id"].as_i64().unwrap();
    assert_eq!(created.result()["version"], 0);
    assert_eq!(versions(&created), [(id, "profile".to_string(), 0)]);

    // One form per type and organisation.
    let again = app.post("/user/v1/form/create", Some(admin), profile_form("other")).await;
    again.assert_error_envelope(400);
    assert_eq!(again.body["message"], "Form already exists", "{}", again.body);
    // Members read, never write.
    app.post("/user/v1/form/create", Some(mentee), json!({"type": "x", "sub_type": "y", "data": {}}))
        .await
        .assert_error_envelope(403);
    app.patch(&format!("/user/v1/form/update/{id}"), Some(mentee), Some(profile_form("mine")))
        .await
        .assert_error_envelope(403);

    // Read by id (GET or POST) and by type (POST body or GET query), by a member.
    for reply in [
        app.get(&format!("/user/v1/form/read/{id}"), Some(mentee)).await,
        app.post(
            &format!("/user/v1/form/read/{id}"),
            Some(mentee),
            json!({"type": "profile", "sub_type": "profileForm"}),
        )
        .await,
        app.post("/user/v1/form/read", Some(mentee), json!({"type": "profile", "sub_type": "profileForm"})).await,
        app.get("/user/v1/form/read?type=profile", Some(mentee)).await,
    ] {
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
        assert_eq!(reply.body["message"], "Form fetched successfully");
        assert_eq!(reply.result()["id"], id);
        assert_eq!(reply.result()["data"]["fields"]["controls"][0]["label"], "name", "stored as sent");
    }

    // Each update raises the version; every ELEVATE answer says so.
    let updated = app.patch(&format!("/user/v1/form/update/{id}"), Some(admin), Some(profile_form("full name"))).await;
    assert_eq!(updated.status.as_u16(), 200, "{}", updated.body);
    assert_eq!(updated.body["message"], "Form updated successfully");
    assert_eq!(updated.result()["version"], 1);
    let by_type = app.post("/user/v1/form/update", Some(admin), profile_form("display name")).await;
    assert_eq!(by_type.status.as_u16(), 200, "{}", by_type.body);
    assert_eq!(by_type.result()["version"], 2);
    let elsewhere = app.get("/user/v1/user/read", Some(mentee)).await;
    assert_eq!(versions(&elsewhere), [(id, "profile".to_string(), 2)], "any answer lists the versions");
    let refused = app.get("/user/v1/form/read/999999", Some(mentee)).await;
    refused.assert_error_envelope(404);
    assert_eq!(versions(&refused), [(id, "profile".to_string(), 2)], "error answers list them too");
    let read = app.get(&format!("/user/v1/form/read/{id}"), Some(mentee)).await;
    assert_eq!(read.result()["data"]["fields"]["controls"][0]["label"], "display name");

    // Another organisation's user reads the default organisation's form,
    // until that organisation has its own.
    let other = c.other_org_admin.access_token.as_str();
    assert_eq!(app.get("/user/v1/form/read?type=profile", Some(other)).await.result()["id"], id);
    let meta = roster::commands::Metadata::system("test");
    let input = roster::forms::FormInput {
        form_type: "profile".into(),
        sub_type: "profileForm".into(),
        data: json!({"theirs": true}),
    };
    let own = app.state.create_form(c.other_org_id, input, &meta).await.unwrap();
    let theirs = app.get("/user/v1/form/read?type=profile", Some(other)).await;
    assert_eq!(theirs.result()["id"], own.id, "{}", theirs.body);
    assert_eq!(theirs.result()["data"], json!({"theirs": true}));
    assert_eq!(app.get("/user/v1/form/read?type=profile", Some(mentee)).await.result()["id"], id, "not ours");
}

async fn bad_forms_are_refused_in_the_envelope(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let a = Some(admin.access_token.as_str());
    for (what, body, field) in [
        ("no type", json!({"sub_type": "s", "data": {}}), "type"),
        ("empty type", json!({"type": " ", "sub_type": "s", "data": {}}), "type"),
        ("data not an object", json!({"type": "t", "sub_type": "s", "data": [1, 2]}), "data"),
        ("type not a string", json!({"type": 5, "sub_type": "s", "data": {}}), "type"),
        ("NUL in the data", json!({"type": "t", "sub_type": "s", "data": {"x": "a\u{0}b"}}), "data.x"),
        ("NUL in the type", json!({"type": "a\u{0}b", "sub_type": "s", "data": {}}), "type"),
    ] {
        let reply = app.post("/user/v1/form/create", a, body).await;
        reply.assert_error_envelope(400);
        assert_eq!(reply.body["error"][0]["param"], field, "{what}: {}", reply.body);
    }
    app.post("/user/v1/form/read", a, json!({})).await.assert_error_envelope(400);
    app.get("/user/v1/form/read/not-a-number", a).await.assert_error_envelope(404);
    app.post("/user/v1/form/update", a, profile_form("x")).await.assert_error_envelope(404);
    assert!(app.get("/user/v1/user/read", a).await.body["meta"]["formsVersion"].as_array().unwrap().is_empty());
}

/// Twenty admins' requests for one new type at once make one form.
async fn parallel_creates_of_one_type_make_one_form(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let token = admin.access_token.clone();
    let replies = futures::future::join_all((0..20).map(|i| {
        let (app, token) = (&app, token.clone());
        async move { app.post("/user/v1/form/create", Some(&token), profile_form(&format!("label {i}"))).await }
    }))
    .await;
    let created = replies.iter().filter(|r| r.status.as_u16() == 200).count();
    assert_eq!(created, 1, "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(replies.iter().all(|r| matches!(r.status.as_u16(), 200 | 400)));
    let listed = versions(&app.get("/user/v1/user/read", Some(&token)).await);
    assert_eq!(listed.len(), 1, "{listed:?}");
}

on_both_backends!(
    forms_are_written_by_admins_and_read_by_everyone,
    bad_forms_are_refused_in_the_envelope,
    parallel_creates_of_one_type_make_one_form,
);
