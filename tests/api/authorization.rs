//! The authorisation matrix: every route × every kind of caller. A route
//! added to the service must be added here with its expected callers.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Caller {
    Anonymous,
    Mentee,
    OrgAdmin,
    Admin,
}

const EVERYONE: &[Caller] = &[Caller::Anonymous, Caller::Mentee, Caller::OrgAdmin, Caller::Admin];
const SIGNED_IN: &[Caller] = &[Caller::Mentee, Caller::OrgAdmin, Caller::Admin];

struct Row {
    method: Method,
    path: &'static str,
    body: fn(usize) -> Option<Value>,
    allowed: &'static [Caller],
}

fn none(_: usize) -> Option<Value> {
    None
}
fn empty(_: usize) -> Option<Value> {
    Some(json!({}))
}

/// Logout comes last: it ends the caller's session.
fn matrix() -> Vec<Row> {
    vec![
        Row { method: Method::POST, path: "/user/v1/account/create", body: empty, allowed: EVERYONE },
        Row { method: Method::POST, path: "/user/v1/account/login", body: empty, allowed: EVERYONE },
        Row { method: Method::POST, path: "/user/v1/account/generateToken", body: empty, allowed: EVERYONE },
        Row {
            method: Method::POST,
            path: "/user/v1/admin/create",
            body: |i| {
                Some(
                    json!({"name": "A", "email": format!("matrix{i}@example.com"), "password": PASSWORD, "secret_code": ADMIN_SECRET}),
                )
            },
            allowed: EVERYONE,
        },
        Row { method: Method::POST, path: "/user/v1/admin/login", body: empty, allowed: EVERYONE },
        Row { method: Method::PATCH, path: "/user/v1/account/acceptTermsAndCondition", body: none, allowed: SIGNED_IN },
        Row { method: Method::GET, path: "/user/v1/account/list", body: none, allowed: SIGNED_IN },
        Row { method: Method::POST, path: "/user/v1/account/search", body: empty, allowed: SIGNED_IN },
        Row { method: Method::GET, path: "/user/v1/user/read", body: none, allowed: SIGNED_IN },
        Row { method: Method::GET, path: "/user/v1/user/read/1", body: none, allowed: SIGNED_IN },
        Row {
            method: Method::PATCH,
            path: "/user/v1/user/update",
            body: |_| Some(json!({"about": "x"})),
            allowed: SIGNED_IN,
        },
        Row {
            method: Method::PATCH,
            path: "/user/v1/user/setLanguagePreference",
            body: |_| Some(json!({"preferred_language": "en"})),
            allowed: SIGNED_IN,
        },
        Row { method: Method::POST, path: "/user/v1/account/logout", body: empty, allowed: SIGNED_IN },
    ]
}

async fn every_route_against_every_caller(backend: Backend) {
    let app = spawn_app(backend).await;
    let mentee = app.sign_up("Mentee", "mentee@example.com").await;
    let org_admin = app.sign_up("Org Admin", "orgadmin@example.com").await;
    let meta = roster::commands::Metadata::system("test");
    let assign = aggregates::UserCommand::AssignRole { role_id: 5, organization_id: 1, at: chrono::Utc::now() };
    app.state.bus.execute::<aggregates::User>(org_admin.user["uuid"].as_str().unwrap(), assign, &meta).await.unwrap();
    app.post(
        "/user/v1/admin/create",
        None,
        json!({"name": "Root", "email": "root@example.com", "password": PASSWORD, "secret_code": ADMIN_SECRET}),
    )
    .await;
    let admin = session(
        &app.post("/user/v1/admin/login", None, json!({"email": "root@example.com", "password": PASSWORD})).await,
    );

    let mut unexpected = Vec::new();
    let mut counter = 0;
    for row in matrix() {
        for caller in EVERYONE {
            counter += 1;
            let token = match caller {
                Caller::Anonymous => None,
                Caller::Mentee => Some(mentee.access_token.as_str()),
                Caller::OrgAdmin => Some(org_admin.access_token.as_str()),
                Caller::Admin => Some(admin.access_token.as_str()),
            };
            let reply = app.call(row.method.clone(), row.path, token, (row.body)(counter)).await;
            assert!(!reply.status.is_server_error(), "{} {} as {caller:?}: {}", row.method, row.path, reply.body);
            let denied = matches!(reply.status.as_u16(), 401 | 403);
            let expected_allowed = row.allowed.contains(caller);
            if denied == expected_allowed {
                unexpected.push(format!(
                    "{} {} as {caller:?}: {} {}",
                    row.method, row.path, reply.status, reply.body["message"]
                ));
            }
        }
    }
    assert!(unexpected.is_empty(), "unexpected decisions:\n{}", unexpected.join("\n"));
}

/// Permissions are data: revoking one from a role takes effect on the next request.
async fn revoking_a_permission_takes_effect_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let mentee = app.sign_up("Mentee", "mentee@example.com").await;
    assert_eq!(app.get("/user/v1/user/read", Some(&mentee.access_token)).await.status.as_u16(), 200);
    let meta = roster::commands::Metadata::system("test");
    let revoke = aggregates::RoleCommand::RevokePermission { permission_id: 14, at: chrono::Utc::now() };
    let committed =
        app.state.bus.execute::<aggregates::Role>(&roster::bootstrap::role_uuid(3), revoke, &meta).await.unwrap();
    app.state.settle(committed).await;
    app.get("/user/v1/user/read", Some(&mentee.access_token)).await.assert_error_envelope(403);
    // Other permissions of the role still hold.
    assert_eq!(app.get("/user/v1/account/list", Some(&mentee.access_token)).await.status.as_u16(), 200);
}

on_both_backends!(every_route_against_every_caller, revoking_a_permission_takes_effect_at_once);
