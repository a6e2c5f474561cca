//! Search semantics and bounded work (README, "Search"): terms of one or two
//! characters match the start of a name word or of the email, from
//! `user_search_prefixes` (migration 0013), which must follow every user
//! change and a replay; longer terms are substrings. Counts are exact up to
//! `SEARCH_EXACT_COUNT_LIMIT` and a flagged estimate above it; a read past
//! `READ_STATEMENT_TIMEOUT_MS` is a 503 in the envelope.

use std::time::Duration;

use aggregates::{ProfileChanges, User, UserCommand};
use projections::Statement;
use roster::app::AppState;
use roster::commands::Metadata;
use roster::seed::{seed_sign_up, SEED_PASSWORD};
use roster::storage::Db;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

async fn count(db: &Db, sql: &str) -> i64 {
    db.fetch_count(&Statement::new(sql, vec![])).await.unwrap()
}

/// `user_search_prefixes` holds exactly what its `_source` view says.
async fn assert_prefixes_match_users(state: &AppState, when: &str) {
    let last = state.db.last_committed_point().await.unwrap();
    assert!(state.projector.wait_for(last, Duration::from_secs(30)).await, "read models catch up ({when})");
    let db = &state.db;
    let missing = count(
        db,
        "SELECT count(*) FROM (SELECT role_id, prefix, name, id, by_name, organization_id FROM user_search_prefixes_source \
         EXCEPT SELECT role_id, prefix, name, id, by_name, organization_id FROM user_search_prefixes) d",
    )
    .await;
    let extra = count(
        db,
        "SELECT count(*) FROM (SELECT role_id, prefix, name, id, by_name, organization_id FROM user_search_prefixes \
         EXCEPT SELECT role_id, prefix, name, id, by_name, organization_id FROM user_search_prefixes_source) d",
    )
    .await;
    assert_eq!((missing, extra), (0, 0), "search prefixes missing / extra, {when}");
    if matches!(db, Db::Postgres(_)) {
        let wrong_counts = count(
            db,
            "SELECT count(*) FROM (SELECT role_id, prefix, count(*) AS n, count(*) FILTER (WHERE by_name) AS named \
               FROM user_search_prefixes GROUP BY 1, 2) truth \
             FULL JOIN (SELECT role_id, prefix, sum(active) AS active, sum(named) AS named \
               FROM user_search_prefix_counts GROUP BY 1, 2 HAVING sum(active) <> 0) kept \
             USING (role_id, prefix) WHERE truth.n IS DISTINCT FROM kept.active OR truth.named IS DISTINCT FROM kept.named",
        )
        .await;
        assert_eq!(wrong_counts, 0, "prefix counts, {when}");
    }
    assert!(
        count(db, "SELECT count(*) FROM user_search_prefixes WHERE role_id > 0").await > 0,
        "the prefixes are not trivially empty ({when})"
    );
    assert!(
        count(db, "SELECT count(*) FROM user_search_prefixes WHERE NOT by_name").await > 0,
        "some prefixes come from emails only ({when})"
    );
}

async fn search_prefixes_follow_every_user_change_and_a_replay(backend: Backend) {
    let app = spawn_app(backend).await;
    let state = &app.state;
    let meta = Metadata::system("search-test");
    let hash = roster::auth::password::hash(SEED_PASSWORD.to_string()).await.unwrap();
    state.seed_users((0..12).map(seed_sign_up).collect(), hash, &meta).await.unwrap();
    assert_prefixes_match_users(state, "after seeding").await;
    // "Asha Rao 0 user0@bench.roster.example": a, as, r, ra, 0, u, us.
    let first: i64 = count(&state.db, "SELECT id FROM users WHERE email = 'user0@bench.roster.example'").await;
    let prefixes: Vec<(String,)> = state
        .db
        .fetch_all(&Statement::new(
            "SELECT prefix FROM user_search_prefixes WHERE id = $1 AND role_id = 0 ORDER BY prefix",
            vec![first.into()],
        ))
        .await
        .unwrap();
    let prefixes: Vec<&str> = prefixes.iter().map(|(p,)| p.as_str()).collect();
    assert_eq!(prefixes, ["0", "a", "as", "r", "ra", "u", "us"]);
    let email_only: Vec<(String,)> = state
        .db
        .fetch_all(&Statement::new(
            "SELECT prefix FROM user_search_prefixes WHERE id = $1 AND role_id = 0 AND NOT by_name ORDER BY prefix",
            vec![first.into()],
        ))
        .await
        .unwrap();
    let email_only: Vec<&str> = email_only.iter().map(|(p,)| p.as_str()).collect();
    assert_eq!(email_only, ["u", "us"], "only the email gives u and us");

    let uuids: Vec<(String,)> = state
        .db
        .fetch_all(&Statement::new("SELECT user_uuid FROM users WHERE email LIKE 'user%' ORDER BY id", vec![]))
        .await
        .unwrap();
    let at = chrono::Utc::now;
    let rename = |name: &str| UserCommand::UpdateProfile {
        changes: ProfileChanges { name: Some(name.into()), ..Default::default() },
        at: at(),
    };
    let steps: Vec<(usize, UserCommand, &str)> = vec![
        (
            1,
            UserCommand::AssignRole { role_id: 2, organization_id: 1, dropped_on_move: vec![], at: at() },
            "a role granted",
        ),
        (
            1,
            UserCommand::AssignRole { role_id: 2, organization_id: 1, dropped_on_move: vec![], at: at() },
            "the same role again",
        ),
        (2, rename("Zed  Renamed\tTwice"), "a rename"),
        (3, UserCommand::Deactivate { at: at() }, "a deactivation"),
        (
            3,
            UserCommand::AssignRole { role_id: 4, organization_id: 1, dropped_on_move: vec![], at: at() },
            "a role given while inactive",
        ),
        (3, UserCommand::Activate { at: at() }, "a reactivation"),
        (0, UserCommand::RevokeRole { role_id: 2, at: at() }, "a role revoked"),
        (4, UserCommand::Delete { at: at() }, "a deletion"),
        (
            5,
            UserCommand::AssignRole { role_id: 5, organization_id: 1, dropped_on_move: vec![], at: at() },
            "another role",
        ),
        (
            6,
            UserCommand::AssignRole { role_id: 2, organization_id: 2, dropped_on_move: vec![], at: at() },
            "a move to another organisation",
        ),
    ];
    for (user, command, what) in steps {
        // A refused command (the same role twice, say) is fine: the table must still match.
        let _ = state.bus.execute::<User>(&uuids[user].0, command, &meta).await;
        assert_prefixes_match_users(state, what).await;
    }
    let renamed = count(&state.db, "SELECT count(*) FROM user_search_prefixes WHERE prefix = 'tw'").await;
    assert_eq!(renamed, 2, "the renamed user's words, split on any white space, for role 0 and its role");

    state.projector.rebuild(|_, _| {}).await.unwrap();
    assert_prefixes_match_users(state, "after a replay").await;

    // A replay that died midway: PostgreSQL leaves the stale mark, SQLite
    // the parked triggers; the next start of the runners finishes either.
    match &state.db {
        Db::Postgres(pool) => {
            sqlx::query("INSERT INTO user_listing_stale (since) VALUES ('test')").execute(pool).await.unwrap();
            sqlx::query("DELETE FROM user_search_prefixes WHERE id % 2 = 0").execute(pool).await.unwrap();
            sqlx::query("UPDATE user_search_prefix_counts SET active = 0").execute(pool).await.unwrap();
            state.db.finish_stale_listing().await.unwrap();
        }
        Db::Sqlite(_) => {
            state.db.park_indexes(&["user_roles", "users"]).await.unwrap();
            assert_eq!(count(&state.db, "SELECT count(*) FROM user_search_prefixes").await, 0, "parking empties it");
            state.db.restore_parked_indexes().await.unwrap();
        }
    }
    assert_prefixes_match_users(state, "after a died replay is finished").await;
}

/// Names found for `term`, as a list.
async fn names(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let reply = app.get(&format!("/user/v1/account/list?{query}"), Some(token)).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    let mut names = listed_names(&reply);
    names.sort();
    names
}

async fn short_terms_match_word_and_email_starts(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.sign_up("Lola Brandt", "lb1@mail.test").await;
    app.sign_up("Bruno Alder", "x2@mail.test").await;
    app.sign_up("Ines Ola", "olaf@mail.test").await;
    app.sign_up("Carl Pola", "cp@mail.test").await;
    let token = s.access_token.as_str();

    // Word starts: "ol" starts "Ola" and "olaf@", and is inside "Lola",
    // "Pola" and "Carl": only Ines.
    assert_eq!(names(&app, token, "search=ol").await, ["Ines Ola"]);
    assert_eq!(names(&app, token, "search=OL&userType=mentee").await, ["Ines Ola"], "case and a role");
    assert_eq!(names(&app, token, "search=o").await, ["Ines Ola"]);
    assert_eq!(names(&app, token, "search=br").await, ["Bruno Alder", "Lola Brandt"], "any word");
    assert_eq!(names(&app, token, "search=%20b%20").await, ["Bruno Alder", "Lola Brandt"], "trimmed");
    // Email starts, and nothing inside an email, for a caller who may see
    // the emails (README, "Field-level visibility"); Lola may not, and
    // finds the others by name only.
    let root = app.admin_session().await;
    let admin = root.access_token.as_str();
    assert_eq!(names(&app, admin, "search=x2").await, ["Bruno Alder"]);
    assert_eq!(names(&app, admin, "search=cp").await, ["Carl Pola"]);
    assert!(names(&app, admin, "search=ma").await.is_empty(), "\"mail.test\" is inside the email");
    assert!(names(&app, token, "search=x2").await.is_empty(), "Bruno's email is not Lola's to see");
    assert!(names(&app, token, "search=cp").await.is_empty());
    assert_eq!(names(&app, token, "search=lb").await, ["Lola Brandt"], "her own email");
    assert!(names(&app, token, "search=la").await.is_empty(), "inside Lola, Ola, Pola");
    assert!(names(&app, token, "search=zq").await.is_empty());
    assert!(names(&app, token, "search=ol&userType=mentor").await.is_empty(), "no mentor");
    assert!(names(&app, token, "search=ol&userType=nosuchrole").await.is_empty());
    // Three characters or more: substrings, as before.
    assert_eq!(names(&app, token, "search=ola").await, ["Carl Pola", "Ines Ola", "Lola Brandt"]);
    assert_eq!(names(&app, token, "search=a%20b").await, ["Lola Brandt"], "across words");
    assert_eq!(names(&app, admin, "search=ail.t").await.len(), 4, "inside the email");
    assert_eq!(names(&app, token, "search=ail.t").await, ["Lola Brandt"], "inside her own email only");

    // A rename moves the user's prefixes at once (read-your-writes).
    app.patch("/user/v1/user/update", Some(token), Some(json!({"name": "Yara Brandt"}))).await;
    assert_eq!(names(&app, token, "search=ya").await, ["Yara Brandt"]);
    assert!(names(&app, token, "search=lo").await.is_empty(), "the old name is gone");
    assert_eq!(names(&app, token, "search=lb").await, ["Yara Brandt"], "the email stays");

    // account/search narrows by ids too; short terms keep prefix semantics.
    let me = app.get("/user/v1/user/read", Some(token)).await.result()["id"].as_i64().unwrap();
    let searched = app.post("/user/v1/account/search?search=br", Some(token), json!({"excluded_user_ids": [me]})).await;
    assert_eq!(listed_names(&searched), ["Bruno Alder"]);
    let searched = app.post("/user/v1/account/search?search=ol", Some(token), json!({"excluded_user_ids": [me]})).await;
    assert_eq!(listed_names(&searched), ["Ines Ola"]);
}

/// `(count, meta.count_is_estimate)` of a list reply.
fn counted(reply: &Reply) -> (i64, bool) {
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    let count = reply.result()["count"].as_i64().or_else(|| reply.result()["results"]["count"].as_i64());
    (count.unwrap(), reply.body["meta"]["count_is_estimate"].as_bool().unwrap())
}

async fn list(app: &TestApp, token: &str, query: &str) -> Reply {
    app.get(&format!("/user/v1/account/list?{query}"), Some(token)).await
}

async fn counts_are_exact_up_to_the_limit_then_flagged(backend: Backend) {
    let database = fresh_database(backend).await;
    let app = spawn_app_with(database, |s| s.search_exact_count_limit = 5).await;
    let admin = app.admin_session().await;
    for i in 0..7 {
        app.sign_up(&format!("Kim Alpha{i}"), &format!("kim{i}@mail.test")).await;
    }
    for i in 0..3 {
        app.sign_up(&format!("Jo Beta{i}"), &format!("jo{i}@mail.test")).await;
    }
    let token = admin.access_token.as_str();

    // At or below the limit: exact, also when the page does not hold them all.
    assert_eq!(counted(&list(&app, token, "search=jo&limit=2").await), (3, false));
    assert_eq!(counted(&list(&app, token, "search=beta&limit=2").await), (3, false));
    // A page that holds the end of the list tells the exact count, even above the limit.
    assert_eq!(counted(&list(&app, token, "search=ki&limit=100").await), (7, false));
    // Above it, with more to come: at least the limit plus one, flagged.
    // Short terms alone (or with a role) on PostgreSQL are counted exactly
    // by the database (user_search_prefix_counts), lists with no search too
    // (user_list_counts); SQLite counts those to the bound as well.
    let above = |reply: &Reply, exact: i64, kept_exact: bool| {
        let (value, estimate) = counted(reply);
        match (backend, kept_exact) {
            (Backend::Postgres, true) => assert_eq!((value, estimate), (exact, false), "{}", reply.body),
            _ => assert!(estimate && value >= 6, "{value} {estimate}: {}", reply.body),
        }
    };
    above(&list(&app, token, "search=ki&limit=2").await, 7, true);
    above(&list(&app, token, "search=ki&userType=mentee&limit=3&page=2").await, 7, true);
    above(&list(&app, token, "search=kim&limit=2").await, 7, false);
    above(&list(&app, token, "search=kim&userType=mentee&limit=2").await, 7, false);
    above(&app.post("/user/v1/account/search?search=ki&limit=2", Some(token), json!({})).await, 7, true);
    let admin_id = admin.user["id"].as_i64().unwrap();
    let narrowed = app
        .post("/user/v1/account/search?search=ki&limit=2", Some(token), json!({"excluded_user_ids": [admin_id]}))
        .await;
    above(&narrowed, 7, false);
    above(&list(&app, token, "limit=2").await, 11, true);
    // The other lists count the same way: seven default roles.
    let (value, estimate) = counted(&app.get("/user/v1/userRole/list?limit=2", Some(token)).await);
    assert!(estimate && value >= 6, "roles: {value}");
    assert_eq!(counted(&app.get("/user/v1/userRole/list?limit=2&search=ment", Some(token)).await), (2, false));
    assert_eq!(counted(&app.get("/user/v1/organization/list?limit=2", Some(token)).await), (1, false));

    // A member, who may not see the others' emails, does not find nor count
    // a user whose email alone matches. PostgreSQL counts a short term
    // exactly for members too (the by-name count plus the email-only rows in
    // scope, migration 0018); SQLite counts it to the bound, as for admins.
    let xavier = app.sign_up("Xavier Zed", "kix@mail.test").await;
    let lee = app.sign_up("Lee Gamma", "lee@mail.test").await;
    let member = lee.access_token.as_str();
    let all = list(&app, member, "search=ki&limit=100").await;
    assert_eq!(counted(&all), (7, false));
    assert!(!listed_names(&all).contains(&"Xavier Zed".to_string()));
    above(&list(&app, member, "search=ki&limit=2").await, 7, true);
    assert_eq!(counted(&list(&app, member, "search=jo&limit=2").await), (3, false), "below the limit, counted");
    assert_eq!(counted(&list(&app, member, "search=kim&limit=100").await), (7, false));
    assert_eq!(counted(&list(&app, &xavier.access_token, "search=ki&limit=100").await), (8, false), "his own");
    assert_eq!(counted(&list(&app, token, "search=ki&limit=100").await), (8, false), "the admin's");
}

async fn a_zero_limit_counts_exactly(backend: Backend) {
    let database = fresh_database(backend).await;
    let app = spawn_app_with(database, |s| s.search_exact_count_limit = 0).await;
    let s = app.sign_up("Kim First", "kim@mail.test").await;
    for i in 0..6 {
        app.sign_up(&format!("Kim Alpha{i}"), &format!("kim{i}@mail.test")).await;
    }
    let list = app.get("/user/v1/account/list?search=ki&limit=2", Some(&s.access_token)).await;
    assert_eq!(counted(&list), (7, false));
    let list = app.get("/user/v1/account/list?search=kim&limit=2", Some(&s.access_token)).await;
    assert_eq!(counted(&list), (7, false));
}

/// Events no projection reads, straight into the log: enough that a
/// search of the log over all of them takes far longer than 1 ms. In short
/// transactions: a long one would hold back the commit-order readers of
/// every database on the PostgreSQL instance, other tests' too.
async fn bulk_events(db: &Db, batches: i64) {
    for _ in 0..batches {
        let last = count(db, "SELECT coalesce(max(position), 0) FROM events").await;
        let first = count(db, "SELECT coalesce(max(sequence), 0) FROM events WHERE aggregate_type = 'bulk'").await;
        let sql = match db {
            Db::Postgres(_) => {
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
                 payload, metadata) SELECT 'bulk', 'bulk', $1 + g, 'Bulk', '1', '{}', '{\"actor_id\": \"bulk\"}' \
                 FROM generate_series(1, 5000) g"
            }
            Db::Sqlite(_) => {
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) \
                 INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
                 payload, metadata, position) SELECT 'bulk', 'bulk', $1 + i, 'Bulk', '1', '{}', \
                 '{\"actor_id\": \"bulk\"}', $2 + i FROM n"
            }
        };
        let args = match db {
            Db::Postgres(_) => vec![first.into()],
            Db::Sqlite(_) => vec![first.into(), last.into()],
        };
        db.execute(&Statement::new(sql, args)).await.unwrap();
    }
}

async fn a_read_past_its_time_is_a_503(backend: Backend) {
    let database = fresh_database(backend).await;
    let app = spawn_app_with(database, |s| s.read_statement_timeout_ms = 1).await;
    let admin = app.admin_session().await;
    bulk_events(&app.state.db, 10).await;

    let slow = app.get("/user/v1/audit/events?actor_id=nobody&limit=5", Some(&admin.access_token)).await;
    slow.assert_error_envelope(503);
    assert_eq!(slow.body["responseCode"], "SERVER_ERROR");
    assert!(slow.body["message"].as_str().unwrap().contains("took too long; narrow it"), "{}", slow.body);
    // The service goes on: reads off the read pool are not limited.
    let me = app.get("/user/v1/user/read", Some(&admin.access_token)).await;
    assert_eq!(me.status.as_u16(), 200, "{}", me.body);
    let health = app.get("/health", None).await;
    assert_eq!(health.status.as_u16(), 200, "{}", health.body);
}

on_both_backends!(
    search_prefixes_follow_every_user_change_and_a_replay,
    short_terms_match_word_and_email_starts,
    counts_are_exact_up_to_the_limit_then_flagged,
    a_zero_limit_counts_exactly,
    a_read_past_its_time_is_a_503,
);

/// A member's substring search reads other users' name matches from the
/// name's own trigram index (postgres migration 0016): the index must be on
/// the very expression the search uses (`read_models::SEARCH_NAME`), and the
/// search must ask for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_substring_search_can_use_the_name_index() {
    let app = spawn_app(Backend::Postgres).await;
    let Db::Postgres(pool) = &app.state.db else { unreachable!("PostgreSQL only") };
    let plan = |sql: String| async move {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("SET LOCAL enable_seqscan = off").execute(&mut *tx).await.unwrap();
        let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}")).fetch_all(&mut *tx).await.unwrap();
        lines.join("\n")
    };
    let name = roster::read_models::SEARCH_NAME;
    let direct = plan(format!("SELECT u.id FROM users u WHERE {name} LIKE '%mail.test%'")).await;
    assert!(direct.contains("users_search_name_trgm"), "{direct}");
    // As the member's search asks: name matches, or matches in scope (on
    // an empty table the planner reads `status` from users_listing; at
    // 116,000 users it takes a BitmapOr of this index and the primary key).
    let asked = plan(format!(
        "SELECT u.id FROM users u WHERE ({name} LIKE '%mail.test%' OR (u.id = 1 AND u.search_text LIKE '%mail.test%'))"
    ))
    .await;
    assert!(asked.contains("users_search_name_trgm"), "{asked}");
}

/// A search pattern is planned for its own terms (`storage::Db::kept_prepared`):
/// a generic plan for `search_text LIKE $1 ... ORDER BY name` walks every
/// user in name order (seconds at a million users), and PostgreSQL may
/// switch a prepared statement to one after its fifth call. Twelve runs of
/// one search leave no prepared statement with a pattern behind; the list
/// without a term stays prepared (planning every call halves cheap lists).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_are_planned_for_their_own_terms() {
    let database = fresh_database(Backend::Postgres).await;
    // One read connection, so every search below runs on it.
    let app = spawn_app_with(database, |s| s.read_max_connections = 1).await;
    let admin = app.admin_session().await;
    for i in 0..3 {
        app.sign_up(&format!("Ana Novak {i}"), &format!("novak{i}@mail.test")).await;
    }
    for i in 0..12 {
        let reply = list(&app, &admin.access_token, &format!("search=novak%20{i}")).await;
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
        let expected = usize::from(i < 3);
        assert_eq!(listed_names(&reply).len(), expected, "search {i}: {}", reply.body);
        let reply = list(&app, &admin.access_token, "limit=2").await;
        assert_eq!(listed_names(&reply).len(), 2, "{}", reply.body);
    }
    let Db::Postgres(reader) = app.state.reader.db() else { unreachable!("PostgreSQL only") };
    let mut conn = reader.acquire().await.unwrap();
    let prepared = |pattern: &'static str| {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_prepared_statements \
             WHERE statement LIKE $1 AND statement NOT LIKE '%pg_prepared_statements%'",
        )
        .bind(pattern)
    };
    let with_pattern = prepared("%search_text LIKE%").fetch_one(&mut *conn).await.unwrap();
    assert_eq!(with_pattern, 0, "no search with a pattern is kept prepared");
    let plain = prepared("%FROM (SELECT u.id FROM users u WHERE u.status%").fetch_one(&mut *conn).await.unwrap();
    assert!(plain > 0, "the list without a term is kept prepared on the same connection");
}
