//! OTP flows and the notification outbox: reset with an OTP mailed through
//! the default `.eml` outbox, real SMTP (aiosmtpd) and Kafka (tansu);
//! expiry, wrong tries (also in parallel), the resend limit, no
//! enumeration, sign-up with `ENABLE_EMAIL_OTP_VERIFICATION`, password
//! change, and no OTP in clear in the events table.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::kafka_support::{read_all, Broker};
use crate::on_both_backends;

const NEW_PASSWORD: &str = "N3w!password";

async fn generate_otp(app: &TestApp, email: &str) -> Reply {
    app.post("/user/v1/account/generateOtp", None, json!({"email": email})).await
}

async fn reset(app: &TestApp, email: &str, otp: &str, password: &str) -> Reply {
    app.post("/user/v1/account/resetPassword", None, json!({"email": email, "password": password, "otp": otp})).await
}

/// A code that is not `otp`.
fn other_than(otp: &str) -> String {
    let n: u32 = otp.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

/// Every payload and metadata of the events table, as stored.
async fn events_text(app: &TestApp) -> String {
    let rows: Vec<(String, String)> = roster::on_pool!(&app.state.db, pool => {
        sqlx::query_as("SELECT CAST(payload AS TEXT), CAST(metadata AS TEXT) FROM events").fetch_all(pool).await.unwrap()
    });
    rows.into_iter().map(|(p, m)| format!("{p}\n{m}\n")).collect()
}

/// Whether `code` stands alone somewhere in `text` (not inside a longer run
/// of letters and digits, as a hash or a sealed value may hold by chance).
fn stands_alone(text: &str, code: &str) -> bool {
    text.match_indices(code).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + code.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric()) && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

async fn otp_rejections(app: &TestApp) -> i64 {
    roster::on_pool!(&app.state.db, pool => {
        sqlx::query_scalar::<_, i64>("SELECT CAST(count(*) AS BIGINT) FROM events WHERE event_type = 'OtpRejected'")
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

/// The `.eml` default: the OTP in the mail resets the password, the answer
/// is tokens and the user, and every session opened before ends.
async fn a_reset_with_the_mailed_otp_revokes_every_older_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.sign_up("Ada", "ada@example.com").await;
    let second = session(&app.login("ada@example.com", PASSWORD).await);

    let asked = generate_otp(&app, "Ada@Example.com").await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert_eq!(asked.result(), &json!([]));
    let mail = wait_for_mail(&app, "ada@example.com", 1).await;
    assert!(mail.contains("Subject: Your OTP to reset your password"), "{mail}");
    let otp = otp_in(&mail).expect("the mail holds the OTP");

    let reply = reset(&app, "ada@example.com", &otp, NEW_PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["message"], "Password reset successfully.");
    let fresh = session(&reply);
    assert_eq!(fresh.user["email"], "ada@example.com");
    for old in [&first, &second] {
        let read = app.get("/user/v1/user/read", Some(&old.access_token)).await;
        assert_eq!(read.status, 401, "an old session still works: {}", read.body);
        let refreshed =
            app.post("/user/v1/account/generateToken", None, json!({"refresh_token": old.refresh_token})).await;
        assert_eq!(refreshed.status, 401, "{}", refreshed.body);
    }
    assert_eq!(app.get("/user/v1/user/read", Some(&fresh.access_token)).await.status, 200);
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 400, "the old password still logs in");
    assert_eq!(app.login("ada@example.com", NEW_PASSWORD).await.status, 200);

    // Used once.
    let again = reset(&app, "ada@example.com", &otp, "An0ther!pass").await;
    again.assert_error_envelope(400);
    assert_eq!(again.body["message"], "Please enter the correct OTP.");

    // The code never sits in the log in clear, nor the mail's words; the
    // delivered message reads as erased, and no reader gets its body.
    let text = events_text(&app).await;
    assert!(!stands_alone(&text, &otp), "the OTP is in the events table in clear");
    assert!(!text.contains("do not share") && !text.contains("ada@example.com"), "mail text in the log");
    assert!(!text.contains("$argon2"), "a password hash in clear");
    let admin = app.admin_session().await;
    let audit = app.get("/user/v1/audit/events?aggregate_type=notification", Some(&admin.access_token)).await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    let events = audit.result()["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(!audit.body.to_string().contains(&otp) && !audit.body.to_string().contains("mail_body"));
    let otp_audit = app.get("/user/v1/audit/events?aggregate_type=otp", Some(&admin.access_token)).await;
    assert!(!otp_audit.body.to_string().contains("otp_hash"), "{}", otp_audit.body);
}

async fn an_expired_otp_is_refused(backend: Backend) {
    let app = spawn_app_with(fresh_database(backend).await, |s| s.otp.expiry_seconds = 1).await;
    app.sign_up("Bo", "bo@example.com").await;
    assert_eq!(generate_otp(&app, "bo@example.com").await.status, 200);
    let otp = otp_in(&wait_for_mail(&app, "bo@example.com", 1).await).unwrap();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let reply = reset(&app, "bo@example.com", &otp, NEW_PASSWORD).await;
    reply.assert_error_envelope(400);
    assert_eq!(reply.body["message"], "Please enter the correct OTP.");
    assert_eq!(app.login("bo@example.com", PASSWORD).await.status, 200, "the password did not change");
}

async fn three_wrong_tries_void_the_otp(backend: Backend) {
    let app = spawn_app(backend).await;
    app.sign_up("Cy", "cy@example.com").await;
    assert_eq!(generate_otp(&app, "cy@example.com").await.status, 200);
    let otp = otp_in(&wait_for_mail(&app, "cy@example.com", 1).await).unwrap();
    for _ in 0..3 {
        let wrong = reset(&app, "cy@example.com", &other_than(&otp), NEW_PASSWORD).await;
        wrong.assert_error_envelope(400);
        assert_eq!(wrong.body["message"], "Please enter the correct OTP.");
    }
    let right = reset(&app, "cy@example.com", &otp, NEW_PASSWORD).await;
    right.assert_error_envelope(400);
    assert_eq!(otp_rejections(&app).await, 3);
    // A new code works again.
    assert_eq!(generate_otp(&app, "cy@example.com").await.status, 200);
    let otp = otp_in(&wait_for_mail(&app, "cy@example.com", 2).await).unwrap();
    assert_eq!(reset(&app, "cy@example.com", &otp, NEW_PASSWORD).await.status, 200);
}

/// Twenty wrong tries at once count three, and the right code is then void.
async fn parallel_wrong_tries_count_at_most_three(backend: Backend) {
    let app = spawn_app(backend).await;
    app.sign_up("Di", "di@example.com").await;
    assert_eq!(generate_otp(&app, "di@example.com").await.status, 200);
    let otp = otp_in(&wait_for_mail(&app, "di@example.com", 1).await).unwrap();
    let wrong = other_than(&otp);
    let tries = (0..20).map(|_| reset(&app, "di@example.com", &wrong, NEW_PASSWORD));
    for reply in futures::future::join_all(tries).await {
        assert_eq!(reply.status, 400, "{}", reply.body);
    }
    assert_eq!(otp_rejections(&app).await, 3);
    assert_eq!(reset(&app, "di@example.com", &otp, NEW_PASSWORD).await.status, 400);
    assert_eq!(app.login("di@example.com", PASSWORD).await.status, 200);
}

/// Parallel right tries: one reset wins, the others are refused.
async fn a_code_is_spent_once_under_parallel_tries(backend: Backend) {
    let app = spawn_app(backend).await;
    app.sign_up("Ed", "ed@example.com").await;
    assert_eq!(generate_otp(&app, "ed@example.com").await.status, 200);
    let otp = otp_in(&wait_for_mail(&app, "ed@example.com", 1).await).unwrap();
    let tries =
        (0..8).map(|i| reset(&app, "ed@example.com", &otp, if i % 2 == 0 { NEW_PASSWORD } else { "Oth3r!pass" }));
    let replies = futures::future::join_all(tries).await;
    let won = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(won, 1, "{:?}", replies.iter().map(|r| r.body.clone()).collect::<Vec<_>>());
}

/// The resend limit answers alike for an account and for no account.
async fn the_resend_limit_holds_per_address(backend: Backend) {
    let app = spawn_app_with(fresh_database(backend).await, |s| s.otp.resend_limit = 2).await;
    app.sign_up("Fa", "fa@example.com").await;
    let mut answers: Vec<(u16, Value)> = Vec::new();
    for email in ["fa@example.com", "nobody@example.com"] {
        for expected in [200, 200, 429] {
            let reply = generate_otp(&app, email).await;
            assert_eq!(reply.status.as_u16(), expected, "{email}: {}", reply.body);
            answers.push((reply.status.as_u16(), without_correlation(&reply.body)));
        }
    }
    assert_eq!(answers[..3], answers[3..], "known and unknown addresses answer differently");
    // Two mails for the account, none for the other address.
    wait_for_mail(&app, "fa@example.com", 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dir = app.state.settings.notifications.outbox_dir.clone();
    assert_eq!(outbox_mails(&dir, "fa@example.com").len(), 2);
    assert!(outbox_mails(&dir, "nobody@example.com").is_empty());
    // Another purpose has its own count.
    let registration = app.post("/user/v1/account/registrationOtp", None, json!({"email": "fa@example.com"})).await;
    assert_eq!(registration.status, 200, "{}", registration.body);
}

fn without_correlation(body: &Value) -> Value {
    let mut body = body.clone();
    body["meta"]["correlation"] = Value::Null;
    body
}

/// An unknown address gets the same answer as a known one, at every step.
async fn unknown_addresses_get_the_same_answers(backend: Backend) {
    let app = spawn_app(backend).await;
    app.sign_up("Gil", "gil@example.com").await;
    let known = generate_otp(&app, "gil@example.com").await;
    let unknown = generate_otp(&app, "ghost@example.com").await;
    assert_eq!((known.status, without_correlation(&known.body)), (unknown.status, without_correlation(&unknown.body)));
    let otp = otp_in(&wait_for_mail(&app, "gil@example.com", 1).await).unwrap();
    let wrong_known = reset(&app, "gil@example.com", &other_than(&otp), NEW_PASSWORD).await;
    let wrong_unknown = reset(&app, "ghost@example.com", &otp, NEW_PASSWORD).await;
    assert_eq!(
        (wrong_known.status, without_correlation(&wrong_known.body)),
        (wrong_unknown.status, without_correlation(&wrong_unknown.body))
    );
    // A registration code for a taken address answers alike, and mails nothing.
    let taken = app.post("/user/v1/account/registrationOtp", None, json!({"email": "gil@example.com"})).await;
    let free = app.post("/user/v1/account/registrationOtp", None, json!({"email": "new@example.com"})).await;
    assert_eq!((taken.status, without_correlation(&taken.body)), (free.status, without_correlation(&free.body)));
    wait_for_mail(&app, "new@example.com", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dir = app.state.settings.notifications.outbox_dir.clone();
    assert_eq!(outbox_mails(&dir, "gil@example.com").len(), 1, "only the reset mail");
    // Malformed input is refused the same way for anyone.
    let bad = generate_otp(&app, "not-an-email").await;
    bad.assert_error_envelope(400);
}

async fn sign_up_needs_the_registration_otp_when_verification_is_on(backend: Backend) {
    let app = spawn_app_with(fresh_database(backend).await, |s| s.otp.email_verification = true).await;
    let body = |otp: Option<Value>| {
        let mut body = json!({"name": "Hal", "email": "hal@example.com", "password": PASSWORD});
        if let Some(otp) = otp {
            body["otp"] = otp;
        }
        body
    };
    let without = app.post("/user/v1/account/create", None, body(None)).await;
    without.assert_error_envelope(400);
    assert_eq!(without.body["error"][0]["param"], "otp", "{}", without.body);

    let asked =
        app.post("/user/v1/account/registrationOtp", None, json!({"name": "Hal", "email": "hal@example.com"})).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let mail = wait_for_mail(&app, "hal@example.com", 1).await;
    assert!(mail.contains("Dear Hal"), "{mail}");
    let otp = otp_in(&mail).unwrap();
    let wrong = app.post("/user/v1/account/create", None, body(Some(json!(other_than(&otp))))).await;
    wrong.assert_error_envelope(400);
    assert_eq!(app.login("hal@example.com", PASSWORD).await.status, 400, "a wrong OTP signed up");
    // The seed sends the OTP as a number.
    let number: u64 = otp.parse().unwrap();
    let created = app.post("/user/v1/account/create", None, body(Some(json!(number)))).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    // A reset code does not sign up.
    let reset_code = app
        .post(
            "/user/v1/account/create",
            None,
            json!({"name": "Ivy", "email": "ivy@example.com", "password": PASSWORD, "otp": otp}),
        )
        .await;
    reset_code.assert_error_envelope(400);
}

async fn sign_up_needs_no_otp_by_default(backend: Backend) {
    let app = spawn_app(backend).await;
    app.sign_up("Jo", "jo@example.com").await;
}

async fn a_password_change_needs_the_old_password_and_ends_every_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("Kit", "kit@example.com").await;
    let other = session(&app.login("kit@example.com", PASSWORD).await);
    let change = |old: &str, new: &str| {
        app.post(
            "/user/v1/account/changePassword",
            Some(&user.access_token),
            json!({"oldPassword": old, "newPassword": new}),
        )
    };
    let wrong = change("Wr0ng!pass", NEW_PASSWORD).await;
    wrong.assert_error_envelope(400);
    assert_eq!(wrong.body["message"], "Invalid old password");
    let same = change(PASSWORD, PASSWORD).await;
    assert_eq!(same.body["message"], "New password cannot be same as old password", "{}", same.body);
    let weak = change(PASSWORD, "short").await;
    weak.assert_error_envelope(400);
    let changed = change(PASSWORD, NEW_PASSWORD).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    for old in [&user, &other] {
        assert_eq!(app.get("/user/v1/user/read", Some(&old.access_token)).await.status, 401);
    }
    assert_eq!(app.login("kit@example.com", NEW_PASSWORD).await.status, 200);
    let anonymous =
        app.post("/user/v1/account/changePassword", None, json!({"oldPassword": "a", "newPassword": "b"})).await;
    anonymous.assert_error_envelope(401);
}

/// Real mail: an SMTP server (Python's aiosmtpd) receives the OTP, which then resets the password.
async fn the_otp_reaches_a_real_smtp_server(backend: Backend) {
    let mut smtp = SmtpServer::start();
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let app = spawn_app_with(fresh_database(backend).await, |s| {
        s.notifications.smtp_url = Some(url.as_str().into());
        s.notifications.from = "Roster <roster@example.com>".into();
    })
    .await;
    app.sign_up("Lu", "lu@example.com").await;
    assert_eq!(generate_otp(&app, "lu@example.com").await.status, 200);
    let mail = smtp.wait_for_mail("lu@example.com").await;
    assert!(mail.contains("From: Roster <roster@example.com>"), "{mail}");
    let otp = otp_in(&mail).expect("the OTP is in the mail");
    assert_eq!(reset(&app, "lu@example.com", &otp, NEW_PASSWORD).await.status, 200);
    assert!(outbox_mails(&app.state.settings.notifications.outbox_dir, "lu@example.com").is_empty());
    smtp.stop();
}

/// ELEVATE's notification records on a Kafka topic (tansu).
async fn notifications_go_to_kafka_when_a_topic_is_set(backend: Backend) {
    let broker = Broker::start().await;
    let brokers = broker.address();
    let app = spawn_app_with(fresh_database(backend).await, |s| {
        s.kafka = Some(roster::config::KafkaSettings {
            brokers: brokers.clone(),
            topic_prefix: "roster.".into(),
            topic_partitions: 1,
            replication: 1,
            user_events_topic: None,
            organization_events_topic: None,
            delivery_timeout_ms: 5_000,
            client_properties: Default::default(),
        });
        s.notifications.kafka_topic = Some("notifications".into());
    })
    .await;
    app.sign_up("Mo", "mo@example.com").await;
    assert_eq!(generate_otp(&app, "mo@example.com").await.status, 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    let record = loop {
        let records = read_all(&brokers, &["notifications"], 1, Duration::from_secs(3)).await;
        if let Some(record) = records.into_iter().next() {
            break record;
        }
        assert!(Instant::now() < deadline, "no notification record on the topic");
    };
    assert_eq!(record.payload["type"], "email");
    assert_eq!(record.payload["email"]["to"], "mo@example.com");
    assert_eq!(record.payload["email"]["subject"], "Your OTP to reset your password");
    let body = record.payload["email"]["body"].as_str().unwrap();
    let otp = otp_in(body).expect("the OTP is in the body");
    assert_eq!(record.header("notification_id"), record.key);
    assert_eq!(reset(&app, "mo@example.com", &otp, NEW_PASSWORD).await.status, 200);
}

/// Templates are data: an organisation's own replaces the default
/// organisation's, which replaces the built-in one; ELEVATE's `{name}`
/// placeholders render; admins and org admins write them, nobody else.
async fn notification_templates_are_data_per_organisation(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = crate::organizations::cast(&app).await;
    let admin = Some(c.admin.access_token.as_str());
    let listed = app.get("/user/v1/notification/template", admin).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let codes: Vec<&str> = listed.result().as_array().unwrap().iter().map(|t| t["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["registrationotp", "emailotp", "generic_invite"], "the built-in templates");
    assert!(listed.result()[0]["id"].is_null());

    let template = json!({"type": "email", "code": "emailotp", "subject": "Reset for {name}",
                          "body": "<p>Code: {otp}</p>", "email_header": "<div>", "email_footer": "</div>"});
    let created = app.post("/user/v1/notification/template", admin, template.clone()).await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
    assert_eq!(created.result()["organization_id"], 1);
    let id = created.result()["id"].as_i64().unwrap();
    let again = app.post("/user/v1/notification/template", admin, template.clone()).await;
    again.assert_error_envelope(400);
    assert_eq!(again.body["message"], "Notification template already exists");
    let broken = app
        .post("/user/v1/notification/template", admin, json!({"code": "broken", "subject": "s", "body": "{{ otp"}))
        .await;
    broken.assert_error_envelope(400);
    assert_eq!(broken.body["error"][0]["param"], "body", "{}", broken.body);

    app.sign_up("Nia", "nia@example.com").await;
    assert_eq!(generate_otp(&app, "nia@example.com").await.status, 200);
    let mail = wait_for_mail(&app, "nia@example.com", 1).await;
    assert!(mail.contains("Subject: Reset for Nia"), "{mail}");
    assert!(mail.contains("<div><p>Code: "), "{mail}");
    let otp = otp_in(&mail).unwrap();
    assert_eq!(reset(&app, "nia@example.com", &otp, NEW_PASSWORD).await.status, 200);

    let changed = app
        .patch(&format!("/user/v1/notification/template/{id}"), admin, Some(json!({"subject": "New subject"})))
        .await;
    assert_eq!(changed.status, 202, "{}", changed.body);
    assert_eq!(changed.result()["body"], "<p>Code: {otp}</p>", "fields not sent stay");
    assert_eq!(generate_otp(&app, "nia@example.com").await.status, 200);
    assert!(wait_for_mail(&app, "nia@example.com", 2).await.contains("Subject: New subject"));

    // Another organisation reads the default organisation's until it writes its own.
    let other = Some(c.other_org_admin.access_token.as_str());
    let fallback = app.get("/user/v1/notification/template?code=emailotp", other).await;
    assert_eq!(fallback.result()[0]["organization_id"], 1, "{}", fallback.body);
    let own = app.post("/user/v1/notification/template", other, template).await;
    assert_eq!(own.status, StatusCode::ACCEPTED, "{}", own.body);
    let read = app.get("/user/v1/notification/template?code=emailotp", other).await;
    assert_eq!(read.result()[0]["organization_id"], c.other_org_id, "{}", read.body);
    assert_eq!(app.get("/user/v1/notification/template/999", admin).await.status, 404);

    let mentee = Some(c.mentee.access_token.as_str());
    app.get("/user/v1/notification/template", mentee).await.assert_error_envelope(403);
    app.post("/user/v1/notification/template", None, json!({})).await.assert_error_envelope(401);
}

/// At least once: a message the sender could not deliver (its SMTP server
/// down) stays after its checkpoint and goes out when a later start can
/// deliver it; a bad `SMTP_FROM` stops the start.
async fn an_undelivered_message_survives_a_restart(backend: Backend) {
    let nobody_listens = format!("smtp://127.0.0.1:{}", free_port());
    let first = spawn_stoppable(fresh_database(backend).await, |s| {
        s.notifications.smtp_url = Some(nobody_listens.as_str().into());
    })
    .await;
    first.app.sign_up("Ola", "ola@example.com").await;
    assert_eq!(generate_otp(&first.app, "ola@example.com").await.status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let database = first.stop().await;
    let mut refused = test_settings(&database.url);
    refused.notifications.from = "not an address".into();
    let error = roster::app::Application::build(refused).await.err().expect("a bad SMTP_FROM is refused");
    assert!(error.to_string().contains("SMTP_FROM"), "{error}");
    let second = spawn_app_with(database, |_| {}).await;
    let otp = otp_in(&wait_for_mail(&second, "ola@example.com", 1).await).unwrap();
    assert_eq!(reset(&second, "ola@example.com", &otp, NEW_PASSWORD).await.status, 200);
}

/// `python3 -m aiosmtpd` on a free port, keeping what it receives in a Maildir.
struct SmtpServer {
    port: u16,
    dir: tempfile::TempDir,
    child: std::process::Child,
}

impl SmtpServer {
    fn start() -> SmtpServer {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let child = std::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd (.ci/run installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start (pip install aiosmtpd)");
            std::thread::sleep(Duration::from_millis(100));
        }
        SmtpServer { port, dir, child }
    }

    async fn wait_for_mail(&self, to: &str) -> String {
        let new = self.dir.path().join("maildir").join("new");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for entry in std::fs::read_dir(&new).into_iter().flatten().flatten() {
                let text = decode_mail(&std::fs::read_to_string(entry.path()).unwrap_or_default());
                if text.contains(to) {
                    return text;
                }
            }
            assert!(Instant::now() < deadline, "the SMTP server received no mail to {to}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

on_both_backends!(
    a_reset_with_the_mailed_otp_revokes_every_older_session,
    an_expired_otp_is_refused,
    three_wrong_tries_void_the_otp,
    parallel_wrong_tries_count_at_most_three,
    a_code_is_spent_once_under_parallel_tries,
    the_resend_limit_holds_per_address,
    unknown_addresses_get_the_same_answers,
    sign_up_needs_the_registration_otp_when_verification_is_on,
    sign_up_needs_no_otp_by_default,
    a_password_change_needs_the_old_password_and_ends_every_session,
    the_otp_reaches_a_real_smtp_server,
    notifications_go_to_kafka_when_a_topic_is_set,
    notification_templates_are_data_per_organisation,
    an_undelivered_message_survives_a_restart,
);

/// Several instances on one PostgreSQL: one sends (the advisory lock), so a
/// message goes out once, whichever instance queued it; when the sender
/// stops, the other takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_sends_and_another_takes_over() {
    let first = spawn_stoppable(fresh_database(Backend::Postgres).await, |_| {}).await;
    let url = first.app.database.url.clone();
    let second_settings = test_settings(&url);
    let second_dir = second_settings.notifications.outbox_dir.clone();
    let second = roster::app::Application::build(second_settings).await.unwrap();
    let second_url = format!("http://{}", second.local_addr());
    tokio::spawn(second.run_until(std::future::pending()));
    let client = reqwest::Client::new();
    let on_second = |path: &str, body: Value| {
        let request = client.post(format!("{second_url}{path}")).json(&body);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    first.app.sign_up("Pat", "pat@example.com").await;
    for _ in 0..2 {
        assert_eq!(generate_otp(&first.app, "pat@example.com").await.status, 200);
        assert_eq!(on_second("/user/v1/account/generateOtp", json!({"email": "pat@example.com"})).await, 200);
    }
    let first_dir = first.app.state.settings.notifications.outbox_dir.clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    let count =
        || outbox_mails(&first_dir, "pat@example.com").len() + outbox_mails(&second_dir, "pat@example.com").len();
    while count() < 4 {
        assert!(Instant::now() < deadline, "only {} of 4 mails", count());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(), 4, "a message went out twice");
    let senders = [&first_dir, &second_dir].iter().filter(|d| !outbox_mails(d, "pat@example.com").is_empty()).count();
    assert_eq!(senders, 1, "both instances sent");
    // The first stops; whichever sent, the second sends from now on.
    let sent_by_first = !outbox_mails(&first_dir, "pat@example.com").is_empty();
    first.stop().await;
    assert_eq!(on_second("/user/v1/account/generateOtp", json!({"email": "pat@example.com"})).await, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while outbox_mails(&second_dir, "pat@example.com").len() < if sent_by_first { 1 } else { 5 } {
        assert!(Instant::now() < deadline, "the second instance never took over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
