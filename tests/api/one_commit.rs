//! A write that changes several aggregates is one commit
//! (`src/unit_of_work.rs`). A failure between its aggregates, injected where
//! the write decides (the command bus's fault point, armed for the second
//! aggregate) or where the database stores it (a trigger that refuses the
//! second aggregate's row inside the same statement), leaves nothing of the
//! write: no event, no claim, no read-model row, and the same request
//! succeeds once the fault is gone.

use aggregates::{Aggregate, ClaimKind, Organization, RoleRequest, UniqueClaim, User};
use futures::future::join_all;
use reqwest::StatusCode;
use roster::commands::Metadata;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;
use crate::organizations::cast;

/// Where the failure is injected.
#[derive(Clone, Copy)]
enum Fault {
    /// The bus's next decision on this aggregate type fails.
    Decision(&'static str),
    /// The database refuses the row of this (aggregate type, event type).
    Storage(&'static str, &'static str),
}

const FAULTS: [fn(&'static str, &'static str) -> Fault; 2] = [|t, _| Fault::Decision(t), Fault::Storage];

fn backend_of(app: &TestApp) -> Backend {
    match app.state.db {
        roster::storage::Db::Postgres(_) => Backend::Postgres,
        roster::storage::Db::Sqlite(_) => Backend::Sqlite,
    }
}

async fn arm(app: &TestApp, fault: Fault) {
    match fault {
        Fault::Decision(aggregate_type) => app.state.bus.fail_next_decision_on(aggregate_type),
        Fault::Storage(aggregate_type, event_type) => {
            let when = format!("NEW.aggregate_type = '{aggregate_type}' AND NEW.event_type = '{event_type}'");
            match backend_of(app) {
                Backend::Postgres => roster::on_pool!(&app.state.db, pool => {
                    sqlx::raw_sql(&format!(
                        "CREATE FUNCTION injected_failure() RETURNS trigger LANGUAGE plpgsql AS \
                         $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$; \
                         CREATE TRIGGER injected_failure BEFORE INSERT ON events FOR EACH ROW WHEN ({when}) \
                         EXECUTE FUNCTION injected_failure();"
                    ))
                    .execute(pool)
                    .await
                    .unwrap();
                }),
                Backend::Sqlite => roster::on_pool!(&app.state.db, pool => {
                    sqlx::raw_sql(&format!(
                        "CREATE TRIGGER injected_failure BEFORE INSERT ON events WHEN {when} \
                         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
                    ))
                    .execute(pool)
                    .await
                    .unwrap();
                }),
            }
        }
    }
}

async fn disarm(app: &TestApp, fault: Fault) {
    let sql = match (fault, backend_of(app)) {
        (Fault::Decision(_), _) => return,
        (Fault::Storage(..), Backend::Postgres) => {
            "DROP TRIGGER injected_failure ON events; DROP FUNCTION injected_failure();"
        }
        (Fault::Storage(..), Backend::Sqlite) => "DROP TRIGGER injected_failure;",
    };
    roster::on_pool!(&app.state.db, pool => { sqlx::raw_sql(sql).execute(pool).await.unwrap(); });
}

/// The log and every read table: what a write that failed must not change.
async fn everything(app: &TestApp) -> (i64, Vec<(String, Vec<Vec<Option<String>>>)>) {
    (app.state.db.count_events().await.unwrap(), dump(&app.state.db).await)
}

async fn owner_of(app: &TestApp, claim: &str) -> Option<String> {
    app.state.bus.load::<UniqueClaim>(claim).await.unwrap().owner
}

async fn a_failed_sign_up_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    for (n, fault) in FAULTS.map(|f| f(User::TYPE, "UserRegistered")).into_iter().enumerate() {
        let (email, username) = (format!("half{n}@example.com"), format!("half_{n}"));
        let body = json!({"name": "Half Done", "email": email, "password": PASSWORD, "username": username,
                          "phone": format!("+9199000000{n}")});
        let before = everything(&app).await;
        arm(&app, fault).await;
        let failed = app.post("/user/v1/account/create", None, body.clone()).await;
        disarm(&app, fault).await;
        failed.assert_error_envelope(500);
        // The claims were decided (and, with the trigger, inserted) before
        // the user: none of them is stored.
        assert_eq!(everything(&app).await, before);
        assert_eq!(owner_of(&app, &app.state.bus.claim_id(ClaimKind::Email, &email)).await, None);
        assert_eq!(owner_of(&app, &app.state.bus.claim_id(ClaimKind::Username, &username)).await, None);
        // Nothing blocks the values: the same sign-up now succeeds.
        let again = app.post("/user/v1/account/create", None, body).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.body);
        assert_eq!(app.login(&email, PASSWORD).await.status, StatusCode::OK);
    }
}

async fn a_failed_approval_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let mentee_uuid = c.mentee.user["uuid"].as_str().unwrap().to_string();
    let pending = app.state.bus.claim_id(ClaimKind::PendingRoleRequest, &mentee_uuid);
    let asked =
        app.post("/user/v1/organization/requestOrgRole", Some(&c.mentee.access_token), json!({"role": 2})).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let request_id = asked.result()["request_id"].as_i64().unwrap();
    let request_uuid = owner_of(&app, &pending).await.expect("the request holds the pending claim");
    let approve = json!({"request_id": request_id, "status": "APPROVED", "comments": ["yes"]});
    for fault in FAULTS.map(|f| f(User::TYPE, "RoleAssigned")) {
        let before = everything(&app).await;
        arm(&app, fault).await;
        let failed =
            app.post("/user/v1/org-admin/updateRequestStatus", Some(&c.org_admin.access_token), approve.clone()).await;
        disarm(&app, fault).await;
        failed.assert_error_envelope(500);
        // The decision came first: it is not stored, nor is the claim's release.
        assert_eq!(everything(&app).await, before);
        let request = app.state.bus.load::<RoleRequest>(&request_uuid).await.unwrap();
        assert_eq!(request.status.as_str(), "REQUESTED");
        assert!(!app.state.bus.load::<User>(&mentee_uuid).await.unwrap().role_ids.contains(&2));
        assert_eq!(owner_of(&app, &pending).await.as_deref(), Some(request_uuid.as_str()));
    }
    let approved = app.post("/user/v1/org-admin/updateRequestStatus", Some(&c.org_admin.access_token), approve).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(approved.result()["status"], "APPROVED");
    assert!(app.state.bus.load::<User>(&mentee_uuid).await.unwrap().role_ids.contains(&2));
    assert_eq!(owner_of(&app, &pending).await, None, "released with the approval");
}

async fn a_failed_organisation_creation_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    for (n, fault) in FAULTS.map(|f| f(Organization::TYPE, "OrganizationCreated")).into_iter().enumerate() {
        let code = format!("half{n}");
        let body = json!({"name": "Half Org", "code": code, "description": "x"});
        let before = everything(&app).await;
        arm(&app, fault).await;
        let failed = app.post("/user/v1/organization/create", Some(&admin.access_token), body.clone()).await;
        disarm(&app, fault).await;
        failed.assert_error_envelope(500);
        assert_eq!(everything(&app).await, before);
        assert_eq!(owner_of(&app, &app.state.bus.claim_id(ClaimKind::OrganizationCode, &code)).await, None);
        let again = app.post("/user/v1/organization/create", Some(&admin.access_token), body).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    }
}

/// The users are decided first, the organisation last: a failure at the
/// organisation leaves every user active.
async fn a_failed_organisation_deactivation_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let member = app.sign_up("Member Two", "member2@example.com").await;
    let moved = app
        .post(
            "/user/v1/admin/assignRole",
            Some(&c.admin.access_token),
            json!({"user_id": member.user["id"], "role_id": 3, "organization_id": c.other_org_id}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let path = format!("/user/v1/admin/deactivateOrg/{}", c.other_org_id);
    for fault in FAULTS.map(|f| f(Organization::TYPE, "OrganizationDeactivated")) {
        let before = everything(&app).await;
        arm(&app, fault).await;
        let failed = app.post(&path, Some(&c.admin.access_token), json!({})).await;
        disarm(&app, fault).await;
        failed.assert_error_envelope(500);
        assert_eq!(everything(&app).await, before);
        assert_eq!(app.get("/user/v1/user/read", Some(&member.access_token)).await.status, StatusCode::OK);
    }
    let off = app.post(&path, Some(&c.admin.access_token), json!({})).await;
    assert_eq!(off.status, StatusCode::ACCEPTED, "{}", off.body);
    assert_eq!(off.result()[0]["deactivated_users"], 2);
    app.get("/user/v1/user/read", Some(&member.access_token)).await.assert_error_envelope(401);
}

/// More members than one commit takes: they go in commits of
/// `USERS_PER_COMMIT`, and the organisation with the last of them, so the
/// organisation is never inactive while a member is still active.
async fn a_large_organisation_is_deactivated_in_bounded_commits_ending_with_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let meta = Metadata::system("test");
    let hash = roster::auth::password::hash(roster::seed::SEED_PASSWORD.to_string()).await.unwrap();
    let members = roster::organizations::USERS_PER_COMMIT as u64 + 50;
    let seeded = app.state.seed_users((0..members).map(roster::seed::seed_sign_up).collect(), hash, &meta).await;
    assert_eq!(seeded.unwrap(), members);
    let end = app.state.db.last_committed_point().await.unwrap();
    assert!(app.state.projector.wait_for(end, std::time::Duration::from_secs(60)).await);

    let off = app.post("/user/v1/admin/deactivateOrg/1", Some(&admin.access_token), json!({})).await;
    assert_eq!(off.status, StatusCode::ACCEPTED, "{}", off.body);
    // Every seeded member and the admin, who belongs to it too.
    assert_eq!(off.result()[0]["deactivated_users"], members + 1);
    let positions = |sql: &'static str| {
        let db = app.state.db.clone();
        async move { roster::on_pool!(&db, pool => sqlx::query_as::<_, (i64,)>(sql).fetch_all(pool).await.unwrap()) }
    };
    let users = positions("SELECT position FROM events WHERE event_type = 'UserDeactivated' ORDER BY position").await;
    let org = positions("SELECT position FROM events WHERE event_type = 'OrganizationDeactivated'").await;
    assert_eq!(users.len() as u64, members + 1);
    assert!(org[0].0 > users.last().unwrap().0, "the organisation comes last");
    if backend == Backend::Postgres {
        let commits = positions(
            "SELECT count(DISTINCT transaction_id)::bigint FROM events \
             WHERE event_type IN ('UserDeactivated', 'OrganizationDeactivated')",
        )
        .await;
        assert_eq!(commits[0].0, 2, "two commits, the organisation in the second");
    }
}

/// An aggregate a unit read without changing it is guarded on both
/// backends: if it moves before the commit, nothing is written.
async fn a_read_aggregate_that_moved_stops_the_write(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.sign_up("Read Only", "read.only@example.com").await;
    let uuid = s.user["uuid"].as_str().unwrap().to_string();
    let meta = Metadata::system("test");
    let claim = app.state.bus.claim_id(ClaimKind::Username, "guarded");
    let mut unit = app.state.bus.unit(&meta);
    assert!(unit.load::<User>(&uuid).await.unwrap().role_ids.contains(&3));
    let command = aggregates::ClaimCommand::Claim { owner: uuid.clone(), at: chrono::Utc::now() };
    unit.decide::<UniqueClaim>(&claim, command.clone()).await.unwrap();
    let revoke = aggregates::UserCommand::RevokeRole { role_id: 3, at: chrono::Utc::now() };
    app.state.bus.execute::<User>(&uuid, revoke, &meta).await.unwrap();
    assert!(unit.commit().await.unwrap().is_none(), "the user moved on");
    assert_eq!(owner_of(&app, &claim).await, None);
    // Decided again on the user as it is now, the write goes through.
    assert!(!unit.load::<User>(&uuid).await.unwrap().role_ids.contains(&3));
    unit.decide::<UniqueClaim>(&claim, command).await.unwrap();
    assert!(unit.commit().await.unwrap().is_some());
    assert_eq!(owner_of(&app, &claim).await, Some(uuid));
}

/// Parallel sign-ups that share a username but not an email: one wins, and
/// no loser keeps a claim on its email (each loser's whole write is refused).
async fn parallel_sign_ups_sharing_a_username_leave_the_losers_emails_free(backend: Backend) {
    let app = spawn_app(backend).await;
    let attempts = (0..20).map(|i| {
        let app = &app;
        async move {
            let body = json!({"name": format!("Racer {i}"), "email": format!("racer{i}@example.com"),
                              "password": PASSWORD, "username": "one_name"});
            (i, app.post("/user/v1/account/create", None, body).await)
        }
    });
    let replies = join_all(attempts).await;
    assert!(replies.iter().all(|(_, r)| !r.status.is_server_error()), "a sign-up failed with 5xx");
    let winners: Vec<usize> = replies.iter().filter(|(_, r)| r.status == StatusCode::OK).map(|(i, _)| *i).collect();
    assert_eq!(winners.len(), 1);
    for (i, reply) in replies.iter().filter(|(i, _)| *i != winners[0]) {
        assert_eq!(reply.body["message"], "username already in use", "{}", reply.body);
        assert_eq!(
            owner_of(&app, &app.state.bus.claim_id(ClaimKind::Email, &format!("racer{i}@example.com"))).await,
            None
        );
    }
}

/// A merge's source deletion, its released claims and the target's record
/// are one commit: a failure at the claims (decided after the source) or at
/// the target's event leaves both accounts as they were, the source still
/// signed in, and the same merge then succeeds.
async fn a_failed_account_merge_stores_nothing(backend: Backend) {
    use crate::sunbird_merge::{merge_body, merge_call, state_organization, state_user, uuid_of, MERGE};
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let state = state_organization(&app, &admin, "state").await;
    let target = state_user(&app, &admin, "Tia Target", "tia@example.com", state).await;
    let faults = [Fault::Decision(UniqueClaim::TYPE), Fault::Storage(User::TYPE, "AccountMerged")];
    for (n, fault) in faults.into_iter().enumerate() {
        let email = format!("source{n}@example.com");
        let source = app.sign_up("Sam Source", &email).await;
        let body = merge_body(&uuid_of(&source), &uuid_of(&target));
        let before = everything(&app).await;
        arm(&app, fault).await;
        let (key, t, s) =
            (Some(admin.access_token.as_str()), Some(target.access_token.as_str()), Some(source.access_token.as_str()));
        let failed = merge_call(&app, MERGE, key, t, s, body.clone()).await;
        disarm(&app, fault).await;
        assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", failed.body);
        assert_eq!(failed.body["params"]["err"], "UOS_0069", "{}", failed.body);
        assert_eq!(everything(&app).await, before);
        assert_eq!(owner_of(&app, &app.state.bus.claim_id(ClaimKind::Email, &email)).await, Some(uuid_of(&source)));
        assert_eq!(app.get("/user/v1/user/read", Some(&source.access_token)).await.status, StatusCode::OK);
        let merged = merge_call(&app, MERGE, key, t, s, body).await;
        assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
        assert_eq!(owner_of(&app, &app.state.bus.claim_id(ClaimKind::Email, &email)).await, None);
    }
}

on_both_backends!(
    a_failed_account_merge_stores_nothing,
    a_failed_sign_up_stores_nothing,
    a_failed_approval_stores_nothing,
    a_failed_organisation_creation_stores_nothing,
    a_failed_organisation_deactivation_stores_nothing,
    a_large_organisation_is_deactivated_in_bounded_commits_ending_with_it,
    a_read_aggregate_that_moved_stops_the_write,
    parallel_sign_ups_sharing_a_username_leave_the_losers_emails_free,
);
