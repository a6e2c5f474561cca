//! NUL characters are refused at the edge: in any body field at any depth,
//! in path and query parameters and in the correlation header, with a 400
//! naming the field, on both backends (PostgreSQL cannot store them, SQLite
//! would). Nothing refused reaches the log, and the read models keep going.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;

fn assert_refused(reply: &Reply, param: &str, what: &str) {
    reply.assert_error_envelope(400);
    let named: Vec<&str> = reply.body["error"].as_array().unwrap().iter().filter_map(|e| e["param"].as_str()).collect();
    assert_eq!(named, vec![param], "{what}: {}", reply.body);
    assert!(reply.body["message"].as_str().unwrap().contains("NUL"), "{what}: {}", reply.body);
}

/// Events whose payload or metadata holds a NUL, as JSON escapes or raw.
async fn events_with_nul(app: &TestApp) -> i64 {
    roster::on_pool!(&app.state.db, pool => {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM events WHERE CAST(payload AS TEXT) LIKE '%u0000%' OR CAST(metadata AS TEXT) LIKE '%u0000%'",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    })
}

async fn nul_in_any_body_field_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let user = app.sign_up("Plain User", "plain@example.com").await;
    let (admin, user) = (admin.access_token.as_str(), user.access_token.as_str());
    let events_before = app.state.db.count_events().await.unwrap();

    let cases: Vec<(Method, &str, Option<&str>, Value, &str)> = vec![
        (
            Method::POST,
            "/user/v1/account/create",
            None,
            json!({"name": "N\u{0}ul", "email": "nul@example.com", "password": PASSWORD}),
            "name",
        ),
        (
            Method::POST,
            "/user/v1/account/login",
            None,
            json!({"email": "plain@example.com\u{0}", "password": PASSWORD}),
            "email",
        ),
        (
            Method::POST,
            "/user/v1/organization/create",
            Some(admin),
            json!({"name": "Nul Org", "code": "nulorg", "description": "a\u{0}b"}),
            "description",
        ),
        (Method::PATCH, "/user/v1/organization/update/1", Some(admin), json!({"name": "x\u{0}"}), "name"),
        (
            Method::POST,
            "/user/v1/organization/requestOrgRole",
            Some(user),
            json!({"role": 2, "form_data": {"answers": ["fine", {"text": "\u{0}"}]}}),
            "form_data.answers[1].text",
        ),
        (Method::PATCH, "/user/v1/user/update", Some(user), json!({"about": "\u{0}"}), "about"),
        (
            Method::PATCH,
            "/user/v1/user/update",
            Some(user),
            json!({"location": [{"value": "x\u{0}"}]}),
            "location[0].value",
        ),
        (
            Method::PATCH,
            "/user/v1/user/setLanguagePreference",
            Some(user),
            json!({"preferred_language": "e\u{0}n"}),
            "preferred_language",
        ),
        (
            Method::POST,
            "/user/v1/userRole/create",
            Some(admin),
            json!({"title": "t\u{0}", "label": "T", "user_type": 0, "status": "ACTIVE", "visibility": "PUBLIC", "organization_id": 1}),
            "title",
        ),
        (
            Method::POST,
            "/user/v1/userRole/create",
            Some(admin),
            json!({"title": "t", "label": "T", "user_type": 0, "status": "ACTIVE", "visibility": "PUBLIC", "organization_id": 1,
                   "translations": {"hi\u{0}": "x"}}),
            "translations.hi",
        ),
        (Method::POST, "/user/v1/modules/create", Some(admin), json!({"code": "m\u{0}", "status": "ACTIVE"}), "code"),
        (
            Method::POST,
            "/user/v1/permissions/create",
            Some(admin),
            json!({"code": "p", "module": "user", "request_type": ["GET"], "api_path": "/user/v1/x\u{0}", "status": "ACTIVE"}),
            "api_path",
        ),
        (
            Method::POST,
            "/user/v1/permissions/create",
            Some(admin),
            json!({"code": "p", "module": "user", "request_type": ["GE\u{0}T"], "api_path": "/user/v1/x", "status": "ACTIVE"}),
            "request_type[0]",
        ),
        (
            Method::POST,
            "/user/v1/admin/deactivateUser",
            Some(admin),
            json!({"email": ["a\u{0}@example.com"]}),
            "email[0]",
        ),
        (
            Method::POST,
            "/user/v1/org-admin/getRequests",
            Some(admin),
            json!({"filters": {"status": ["\u{0}"]}}),
            "filters.status[0]",
        ),
    ];
    for (method, path, token, body, param) in cases {
        let reply = app.call(method, path, token, Some(body)).await;
        assert_refused(&reply, param, path);
    }
    assert_eq!(app.state.db.count_events().await.unwrap(), events_before, "nothing refused reached the log");
    assert_eq!(events_with_nul(&app).await, 0);

    // The read models were never stopped: a write right after is visible.
    let after = app.post("/user/v1/organization/create", Some(admin), json!({"name": "After", "code": "after"})).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.body);
    let read = app.get("/user/v1/organization/read?organisation_code=after", Some(admin)).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
}

async fn nul_in_query_and_path_parameters_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let admin = admin.access_token.as_str();
    let cases = [
        ("/user/v1/account/list?userType=%00", "userType"),
        ("/user/v1/account/list?type=mentee%00", "type"),
        ("/user/v1/account/list?search=%00", "search"),
        ("/user/v1/account/list?page=1&limit=%00", "limit"),
        ("/user/v1/organization/list?search=a%00", "search"),
        ("/user/v1/organization/read?organisation_code=%00", "organisation_code"),
        ("/user/v1/organization/read?organization_id=1%00", "organization_id"),
        ("/user/v1/userRole/list?status=%00", "status"),
        ("/user/v1/userRole/list?visibility=%00", "visibility"),
        ("/user/v1/modules/list?search=%00", "search"),
        ("/user/v1/permissions/list?search=%00", "search"),
        ("/user/v1/audit/events?aggregate_type=%00", "aggregate_type"),
        ("/user/v1/audit/events?aggregate_id=%00", "aggregate_id"),
        ("/user/v1/audit/events?event_type=%00", "event_type"),
        ("/user/v1/audit/events?actor_id=%00", "actor_id"),
        ("/user/v1/audit/events?from=%00", "from"),
        ("/user/v1/audit/users/1/history?after_sequence=%00", "after_sequence"),
        ("/user/v1/audit/users/1/state?at=%00", "at"),
        ("/user/v1/org-admin/getRequestDetails/1?request_id=%00", "request_id"),
        ("/user/v1/account/list?%00=1", "query"),
        ("/user/v1/user/read/%00", "id"),
        ("/user/v1/user/read/1%00", "id"),
        ("/user/v1/audit/users/%00/history", "id"),
        ("/user/v1/audit/organizations/%00/history", "id"),
        ("/user/v1/org-admin/getRequestDetails/%00", "id"),
    ];
    for (path, param) in cases {
        let reply = app.get(path, Some(admin)).await;
        assert_refused(&reply, param, path);
    }
    let deleted = app.call(Method::DELETE, "/user/v1/admin/deleteUser/%00", Some(admin), None).await;
    assert_refused(&deleted, "id", "deleteUser");
    let updated = app.patch("/user/v1/organization/update/%00", Some(admin), Some(json!({"name": "x"}))).await;
    assert_refused(&updated, "id", "organization/update");

    // A correlation id is stored with every event: a huge one is refused.
    let long_id = "r".repeat(201);
    let reply = app
        .client
        .get(app.url("/user/v1/user/read"))
        .header("X-auth-token", format!("bearer {admin}"))
        .header("x-request-id", long_id)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["error"][0]["param"], "x-request-id", "{body}");
    let fine = app.get("/user/v1/account/list?search=ro", Some(admin)).await;
    assert_eq!(fine.status, StatusCode::OK, "{}", fine.body);
}

on_both_backends!(nul_in_any_body_field_is_refused, nul_in_query_and_path_parameters_is_refused);
