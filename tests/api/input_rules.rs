//! Input rules (README "Input rules"): every field's type, length,
//! enumeration and reference is checked before anything is written. A
//! refused request is a 400 naming the field, and the log and every read
//! model are as they were.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;
use crate::organizations::cast;

type Snapshot = (i64, Vec<(String, Vec<Vec<Option<String>>>)>);

/// The length of the log and the content of every read table.
async fn snapshot(app: &TestApp) -> Snapshot {
    let events =
        app.state.db.fetch_count(&projections::Statement::new("SELECT count(*) FROM events", vec![])).await.unwrap();
    (events, dump(&app.state.db).await)
}

fn params(reply: &Reply) -> Vec<String> {
    reply.body["error"].as_array().unwrap().iter().map(|e| e["param"].as_str().unwrap().to_string()).collect()
}

/// A 400 in the envelope whose first error names `param`.
#[track_caller]
fn assert_refused(reply: &Reply, param: &str) {
    reply.assert_error_envelope(400);
    assert_eq!(params(reply).first().map(String::as_str), Some(param), "{}", reply.body);
}

fn first_msg(reply: &Reply) -> &str {
    reply.body["error"][0]["msg"].as_str().unwrap()
}

async fn organisation_names_descriptions_and_relations(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let admin = Some(c.admin.access_token.as_str());
    let org_admin = Some(c.org_admin.access_token.as_str());
    let huge = "x".repeat(100 * 1024);
    let before = snapshot(&app).await;

    let create =
        |name: &str, code: &str, description: &str| json!({"name": name, "code": code, "description": description});
    let long_name = app.post("/user/v1/organization/create", admin, create(&huge, "big", "")).await;
    assert_refused(&long_name, "name");
    assert_eq!(first_msg(&long_name), "name must be at most 256 characters");
    let blank = app.post("/user/v1/organization/create", admin, create("   ", "blank", "")).await;
    assert_refused(&blank, "name");
    assert_eq!(first_msg(&blank), "name must not be empty");
    assert_refused(&app.post("/user/v1/organization/create", admin, create("Spaced", "two words", "")).await, "code");
    let long_description = "d".repeat(5_001);
    assert_refused(
        &app.post("/user/v1/organization/create", admin, create("Wordy", "wordy", &long_description)).await,
        "description",
    );
    // Every bad field is named at once.
    let all = app.post("/user/v1/organization/create", admin, create("", "", &long_description)).await;
    assert_eq!(params(&all), vec!["name", "code", "description"]);

    // Update follows the same rules as create, for org admins and admins.
    for name in ["", "   ", huge.as_str()] {
        let reply = app.patch("/user/v1/organization/update/1", org_admin, Some(json!({"name": name}))).await;
        assert_refused(&reply, "name");
    }
    let reply = app.patch("/user/v1/organization/update/1", org_admin, Some(json!({"name": huge}))).await;
    assert_eq!(first_msg(&reply), "name must be at most 256 characters");
    assert_refused(
        &app.patch("/user/v1/organization/update/1", admin, Some(json!({"description": long_description}))).await,
        "description",
    );
    // Related organisations must exist, and an organisation is not related to itself.
    assert_refused(
        &app.patch("/user/v1/organization/update/1", admin, Some(json!({"related_orgs": [999_999]}))).await,
        "related_orgs",
    );
    assert_refused(
        &app.patch("/user/v1/organization/update/1", admin, Some(json!({"related_orgs": [1]}))).await,
        "related_orgs",
    );
    assert_eq!(snapshot(&app).await, before, "refused requests stored nothing");

    // Valid values at the limits are taken.
    let at_limit =
        app.post("/user/v1/organization/create", admin, create(&"n".repeat(256), "at-limit", &"d".repeat(5_000))).await;
    assert_eq!(at_limit.status, StatusCode::OK, "{}", at_limit.body);
    let renamed = app.patch("/user/v1/organization/update/1", org_admin, Some(json!({"name": "  Main Org  "}))).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.result()["name"], "Main Org");
}

async fn roles_take_enumerated_values_and_existing_organisations(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let admin = Some(c.admin.access_token.as_str());
    let closed = app
        .post("/user/v1/organization/create", admin, json!({"name": "Closed", "code": "closed", "description": "x"}))
        .await;
    let closed_id = closed.result()["id"].as_i64().unwrap();
    let deactivated = app.post(&format!("/user/v1/admin/deactivateOrg/{closed_id}"), admin, json!({})).await;
    assert_eq!(deactivated.status, StatusCode::ACCEPTED, "{}", deactivated.body);
    let roles_before = app.get("/user/v1/userRole/list?limit=1000", admin).await.result().clone();
    let before = snapshot(&app).await;

    let cases: Vec<(Value, &str)> = vec![
        (json!({"title": "coach", "organization_id": 999_999}), "organization_id"),
        (json!({"title": "coach", "organization_id": closed_id}), "organization_id"),
        (json!({"title": "coach", "user_type": -1}), "user_type"),
        (json!({"title": "coach", "user_type": 7}), "user_type"),
        (json!({"title": "coach", "status": "WHATEVER"}), "status"),
        (json!({"title": "coach", "status": "DELETED"}), "status"),
        (json!({"title": "coach", "visibility": "SECRET"}), "visibility"),
        (json!({"title": "head master"}), "title"),
        (json!({"title": "  "}), "title"),
        (json!({"title": "t".repeat(65)}), "title"),
        (json!({"title": "coach", "label": "l".repeat(257)}), "label"),
        (json!({"title": "coach", "translations": "hi"}), "translations"),
        (json!({"title": "coach", "meta": {"blob": "x".repeat(17 * 1024)}}), "meta"),
    ];
    for (body, param) in cases {
        let reply = app.post("/user/v1/userRole/create", admin, body.clone()).await;
        assert_refused(&reply, param);
    }
    for (body, param) in [
        (json!({"status": "DELETED"}), "status"),
        (json!({"visibility": "hidden"}), "visibility"),
        (json!({"user_type": -3}), "user_type"),
        (json!({"label": ""}), "label"),
        (json!({"title": "no spaces allowed"}), "title"),
        (json!({"translations": [1, 2]}), "translations"),
    ] {
        assert_refused(&app.post("/user/v1/userRole/update/2", admin, body).await, param);
    }
    assert_eq!(snapshot(&app).await, before, "refused requests stored nothing");
    assert_eq!(app.get("/user/v1/userRole/list?limit=1000", admin).await.result(), &roles_before);

    // Enumerations are matched without case and stored in ELEVATE's spelling.
    let coach = app
        .post(
            "/user/v1/userRole/create",
            admin,
            json!({"title": "Coach", "status": "inactive", "visibility": "private", "user_type": 0, "meta": {"k": "v"}}),
        )
        .await;
    assert_eq!(coach.status, StatusCode::CREATED, "{}", coach.body);
    assert_eq!(
        (&coach.result()["title"], &coach.result()["status"], &coach.result()["visibility"]),
        (&json!("coach"), &json!("INACTIVE"), &json!("PRIVATE"))
    );
    let id = coach.result()["id"].as_i64().unwrap();
    let updated = app.post(&format!("/user/v1/userRole/update/{id}"), admin, json!({"status": "Active"})).await;
    assert_eq!(updated.status, StatusCode::CREATED, "{}", updated.body);
    assert_eq!(updated.result()["status"], "ACTIVE");
}

async fn permissions_reference_existing_modules(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let admin = Some(c.admin.access_token.as_str());
    let permission = |module: &str, methods: Value, path: &str| json!({"code": "reports_read", "module": module, "request_type": methods, "api_path": path});
    let before = snapshot(&app).await;

    for (body, param) in [
        (permission("nope", json!(["GET"]), "/user/v1/reports"), "module"),
        (permission("user", json!(["FETCH"]), "/user/v1/reports"), "request_type"),
        (permission("user", json!([]), "/user/v1/reports"), "request_type"),
        (permission("user", json!(["GET"]), "relative/path"), "api_path"),
        (permission("user", json!(["GET"]), "/user/*/reports"), "api_path"),
        (json!({"code": "has space", "module": "user", "request_type": ["GET"], "api_path": "/x"}), "code"),
        (json!({"code": "p", "module": "user", "request_type": ["GET"], "api_path": "/x", "status": "ON"}), "status"),
    ] {
        assert_refused(&app.post("/user/v1/permissions/create", admin, body).await, param);
    }
    assert_refused(&app.post("/user/v1/modules/create", admin, json!({"code": "two words"})).await, "code");
    assert_refused(&app.post("/user/v1/modules/create", admin, json!({"code": "m", "status": "ON"})).await, "status");
    assert_eq!(snapshot(&app).await, before, "refused requests stored nothing");

    // The modules the default permissions use are known without being defined.
    let built_in =
        app.post("/user/v1/permissions/create", admin, permission("user", json!(["get"]), "/user/v1/x")).await;
    assert_eq!(built_in.status, StatusCode::CREATED, "{}", built_in.body);
    // A defined module may be named in any case, as module codes are.
    let module = app.post("/user/v1/modules/create", admin, json!({"code": "Reports"})).await;
    assert_eq!(module.status, StatusCode::CREATED, "{}", module.body);
    let module_id = module.result()["id"].as_i64().unwrap();
    let body =
        json!({"code": "reports_write", "module": "REPORTS", "request_type": ["POST"], "api_path": "/user/v1/r/{id}"});
    let created = app.post("/user/v1/permissions/create", admin, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.result()["module"], "reports");
    let id = created.result()["id"].as_i64().unwrap();

    // Update checks the module too; the permission stays as it was.
    let before = snapshot(&app).await;
    let moved = json!({"code": "reports_write", "module": "nope", "request_type": ["POST"], "api_path": "/user/v1/r"});
    assert_refused(&app.post(&format!("/user/v1/permissions/update/{id}"), admin, moved).await, "module");
    // A module in use keeps its code and cannot be deleted.
    assert_refused(
        &app.post(&format!("/user/v1/modules/update/{module_id}"), admin, json!({"code": "other"})).await,
        "code",
    );
    let delete = app.call(reqwest::Method::DELETE, &format!("/user/v1/modules/delete/{module_id}"), admin, None).await;
    assert_refused(&delete, "code");
    assert_eq!(snapshot(&app).await, before, "refused requests stored nothing");

    let deleted = app.call(reqwest::Method::DELETE, &format!("/user/v1/permissions/delete/{id}"), admin, None).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.body);
    let freed = app.call(reqwest::Method::DELETE, &format!("/user/v1/modules/delete/{module_id}"), admin, None).await;
    assert_eq!(freed.status, StatusCode::ACCEPTED, "{}", freed.body);
}

async fn profile_fields_have_types_and_limits(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.sign_up("Asha", "asha@example.com").await;
    let t = Some(s.access_token.as_str());
    let profile_before = app.get("/user/v1/user/read", t).await.result().clone();
    let before = snapshot(&app).await;

    // The probe's body: every bad field is named.
    let probe = json!({"gender": {"$gt": ""}, "about": 12345, "location": "notalist"});
    let reply = app.patch("/user/v1/user/update", t, Some(probe)).await;
    reply.assert_error_envelope(400);
    assert_eq!(params(&reply), vec!["about", "gender", "location"]);
    // ~900 KB of about (the body limit is 1 MiB) is refused, not logged.
    let reply = app.patch("/user/v1/user/update", t, Some(json!({"about": "a".repeat(900 * 1024)}))).await;
    assert_refused(&reply, "about");
    assert_eq!(first_msg(&reply), "about must be at most 5000 characters");
    for (body, param) in [
        (json!({"languages": [1, 2]}), "languages"),
        (json!({"languages": "en"}), "languages"),
        (json!({"location": [{"value": "ka", "label": "Karnataka", "extra": 1}]}), "location"),
        (json!({"location": (0..51).map(|i| format!("l{i}")).collect::<Vec<_>>()}), "location"),
        (json!({"gender": ["female"]}), "gender"),
        (json!({"gender": {"value": "x".repeat(65)}}), "gender"),
        (json!({"image": 12}), "image"),
        (json!({"image": "i".repeat(2_049)}), "image"),
        (json!({"share_link": {"a": 1}}), "share_link"),
        (json!({"name": "   "}), "name"),
        (json!({"preferred_language": {"value": "en"}}), "preferred_language"),
    ] {
        assert_refused(&app.patch("/user/v1/user/update", t, Some(body)).await, param);
    }
    assert_eq!(snapshot(&app).await, before, "refused requests stored nothing");
    assert_eq!(app.get("/user/v1/user/read", t).await.result(), &profile_before);

    // What a profile read returns can be sent back, and values at the limits are taken.
    let good = json!({
        "gender": {"value": "female", "label": "Female"},
        "location": ["ka", {"value": "ap", "label": "Andhra Pradesh"}],
        "languages": [{"value": "en", "label": "English"}],
        "about": format!("{}\nline two", "a".repeat(4_990)),
        "image": "https://cdn.example.com/u/1.png",
    });
    let updated = app.patch("/user/v1/user/update", t, Some(good)).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.result()["gender"]["label"], "Female");
    assert_eq!(updated.result()["location"][1]["value"], "ap");
    assert_eq!(updated.result()["languages"][0]["value"], "en");
    let again = app.patch("/user/v1/user/update", t, Some(json!({"gender": updated.result()["gender"]}))).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
}

async fn language_preference_is_a_short_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.sign_up("Lang", "lang@example.com").await;
    let t = Some(s.access_token.as_str());
    let before = snapshot(&app).await;
    for bad in [json!({"x": 1}), json!(["en"]), json!(7), json!(true), json!(""), json!("a".repeat(33)), json!("en gb")]
    {
        let reply = app.patch("/user/v1/user/setLanguagePreference", t, Some(json!({"preferred_language": bad}))).await;
        assert_refused(&reply, "preferred_language");
    }
    // Sign-up takes the same rule, and a refused sign-up leaves nothing behind.
    let sign_up =
        json!({"name": "New", "email": "new@example.com", "password": PASSWORD, "preferred_language": "x".repeat(100)});
    assert_refused(&app.post("/user/v1/account/create", None, sign_up).await, "preferred_language");
    assert_eq!(snapshot(&app).await, before, "refused requests stored nothing");
    app.login("new@example.com", PASSWORD).await.assert_error_envelope(400);

    let set = app.patch("/user/v1/user/setLanguagePreference", t, Some(json!({"preferred_language": " hi "}))).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.result()["preferred_language"], "hi");
    let sign_up =
        json!({"name": "New", "email": "new@example.com", "password": PASSWORD, "preferred_language": "pt-BR"});
    let created = app.post("/user/v1/account/create", None, sign_up).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(created.result()["user"]["preferred_language"], "pt-BR");
}

async fn role_requests_bound_form_data_and_comments(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let mentee = Some(c.mentee.access_token.as_str());
    let before = snapshot(&app).await;
    for form_data in [json!("text"), json!([1]), json!({"essay": "e".repeat(17 * 1024)})] {
        let body = json!({"role": 2, "form_data": form_data});
        assert_refused(&app.post("/user/v1/organization/requestOrgRole", mentee, body).await, "form_data");
    }
    assert_eq!(snapshot(&app).await, before, "refused requests stored nothing");

    // The refusals took no pending-request slot: a valid request goes through.
    let asked = app
        .post("/user/v1/organization/requestOrgRole", mentee, json!({"role": 2, "form_data": {"about": "I teach"}}))
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let request_id = asked.result()["request_id"].as_i64().unwrap();

    let org_admin = Some(c.org_admin.access_token.as_str());
    let before = snapshot(&app).await;
    for comments in [json!(vec!["ok"; 21]), json!(["c".repeat(2_001)])] {
        let body = json!({"request_id": request_id, "status": "APPROVED", "comments": comments});
        assert_refused(&app.post("/user/v1/org-admin/updateRequestStatus", org_admin, body).await, "comments");
    }
    assert_eq!(snapshot(&app).await, before, "refused requests stored nothing");
    let details = app.get(&format!("/user/v1/org-admin/getRequestDetails/{request_id}"), org_admin).await;
    assert_eq!(details.result()["status"], "REQUESTED", "{}", details.body);

    let body = json!({"request_id": request_id, "status": "REJECTED", "comments": ["c".repeat(2_000), "thanks"]});
    let decided = app.post("/user/v1/org-admin/updateRequestStatus", org_admin, body).await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
}

async fn role_assignments_reference_live_roles_and_organisations(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let admin = Some(c.admin.access_token.as_str());
    let made = |title: &str, status: &str| json!({"title": title, "status": status});
    let dropped = app.post("/user/v1/userRole/create", admin, made("dropped", "ACTIVE")).await;
    let dropped_id = dropped.result()["id"].as_i64().unwrap();
    let removed =
        app.call(reqwest::Method::DELETE, &format!("/user/v1/userRole/delete/{dropped_id}"), admin, None).await;
    assert_eq!(removed.status, StatusCode::ACCEPTED, "{}", removed.body);
    let dormant = app.post("/user/v1/userRole/create", admin, made("dormant", "INACTIVE")).await;
    let dormant_id = dormant.result()["id"].as_i64().unwrap();
    let mentee_id = c.mentee.user["id"].as_i64().unwrap();
    let before = snapshot(&app).await;

    for (body, param) in [
        (json!({"user_id": mentee_id, "role_id": dropped_id}), "role_id"),
        (json!({"user_id": mentee_id, "role_id": dormant_id}), "role_id"),
        (json!({"user_id": mentee_id, "role_id": 999_999}), "role_id"),
        (json!({"user_id": mentee_id, "role_id": 6, "organization_id": 999_999}), "organization_id"),
    ] {
        assert_refused(&app.post("/user/v1/admin/assignRole", admin, body).await, param);
    }
    let promote = json!({"user_id": mentee_id, "organization_id": 999_999});
    assert_refused(&app.post("/user/v1/admin/addOrgAdmin", admin, promote).await, "organization_id");
    assert_eq!(snapshot(&app).await, before, "refused requests stored nothing");

    let assigned = app.post("/user/v1/admin/assignRole", admin, json!({"user_id": mentee_id, "role_id": 6})).await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
}

on_both_backends!(
    organisation_names_descriptions_and_relations,
    roles_take_enumerated_values_and_existing_organisations,
    permissions_reference_existing_modules,
    profile_fields_have_types_and_limits,
    language_preference_is_a_short_code,
    role_requests_bound_form_data_and_comments,
    role_assignments_reference_live_roles_and_organisations,
);
