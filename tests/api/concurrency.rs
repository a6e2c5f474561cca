use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

async fn fifty_parallel_sign_ups_with_one_email_make_one_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let attempts = (0..50).map(|i| {
        // The same address in mixed case.
        let email: String = "Same.Person@Example.com"
            .chars()
            .enumerate()
            .map(|(j, c)| if (i + j) % 2 == 0 { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
            .collect();
        let app = &app;
        async move {
            app.post(
                "/user/v1/account/create",
                None,
                json!({"name": format!("Person {i}"), "email": email, "password": PASSWORD}),
            )
            .await
        }
    });
    let replies = join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == StatusCode::OK).count();
    let refused = replies.iter().filter(|r| r.status == StatusCode::BAD_REQUEST).count();
    assert!(replies.iter().all(|r| !r.status.is_server_error()), "a sign-up failed with 5xx");
    assert_eq!((created, refused), (1, 49));
    for r in replies.iter().filter(|r| r.status == StatusCode::BAD_REQUEST) {
        assert_eq!(r.body["message"], "User already exists");
    }
    let winner = session(replies.iter().find(|r| r.status == StatusCode::OK).unwrap());
    let list = app.get("/user/v1/account/list?search=same.person", Some(&winner.access_token)).await;
    assert_eq!(list.result()["count"], 1);
    // And only one user aggregate exists in the log.
    let registered: i64 = roster::on_pool!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'UserRegistered'").fetch_one(pool).await.unwrap()
    });
    assert_eq!(registered, 1);
}

async fn parallel_wrong_passwords_are_all_counted(backend: Backend) {
    let app = spawn_app(backend).await;
    app.sign_up("Target", "target@example.com").await;
    let replies = join_all((0..12).map(|_| app.login("target@example.com", "Wr0ng!pass"))).await;
    assert!(replies.iter().all(|r| r.status == StatusCode::BAD_REQUEST));
    // Failures are serialised on the aggregate: exactly max (3) are recorded, then the lock.
    let (failed, locked): (i64, i64) = roster::on_pool!(&app.state.db, pool => {
        sqlx::query_as(
            "SELECT sum(CASE WHEN event_type = 'LoginFailed' THEN 1 ELSE 0 END), \
                    sum(CASE WHEN event_type = 'AccountLocked' THEN 1 ELSE 0 END) FROM events WHERE aggregate_type = 'user'",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    });
    assert_eq!((failed, locked), (3, 1));
    app.login("target@example.com", PASSWORD).await.assert_error_envelope(400);
}

async fn parallel_profile_updates_all_land(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.sign_up("Busy", "busy@example.com").await;
    let updates = (0..20)
        .map(|i| app.patch("/user/v1/user/update", Some(&s.access_token), Some(json!({"about": format!("v{i}")}))));
    let replies = join_all(updates).await;
    assert!(
        replies.iter().all(|r| r.status == StatusCode::OK),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let count: i64 = roster::on_pool!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'ProfileUpdated'").fetch_one(pool).await.unwrap()
    });
    assert_eq!(count, 20);
}

on_both_backends!(
    fifty_parallel_sign_ups_with_one_email_make_one_user,
    parallel_wrong_passwords_are_all_counted,
    parallel_profile_updates_all_land,
);
