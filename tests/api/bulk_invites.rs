//! Bulk invites (`org-admin/bulkUserCreate`, `getBulkInvitesFilesList`;
//! README "Bulk invites"): an org admin uploads a CSV through a file link,
//! the job answers at once as UPLOADED, the worker creates the valid rows'
//! users in the org admin's organisation with an invitation each, and the
//! output CSV says what became of every row. A job killed with SIGKILL
//! resumes at its next batch and creates nobody twice.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;

/// Uploads `csv` through an upload link as the holder of `token`; its path.
async fn upload(base: &str, client: &reqwest::Client, token: &str, csv: &str) -> String {
    let signed: Value = client
        .get(format!("{base}/user/v1/cloud-services/file/getSignedUrl?file_name=invites.csv"))
        .header("X-auth-token", format!("bearer {token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = signed["result"]["signedUrl"].as_str().unwrap();
    let put = client.put(url).header("content-type", "text/csv").body(csv.to_string()).send().await.unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    signed["result"]["filePath"].as_str().unwrap().to_string()
}

/// The output CSV of a processed job, as (header, rows).
async fn output_of(base: &str, client: &reqwest::Client, token: &str, job: &Value) -> (Vec<String>, Vec<Vec<String>>) {
    let path = job["output_path"].as_str().unwrap_or_else(|| panic!("no output: {job}"));
    let link: Value = client
        .get(format!("{base}/user/v1/cloud-services/file/getDownloadableUrl?file_path={path}"))
        .header("X-auth-token", format!("bearer {token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bytes = client.get(link["result"].as_str().unwrap()).send().await.unwrap().bytes().await.unwrap();
    let mut reader = csv::Reader::from_reader(&bytes[..]);
    let header = reader.headers().unwrap().iter().map(str::to_string).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    (header, rows)
}

/// The caller's job `id` once the worker has finished it (PROCESSED or FAILED).
async fn finished_job(base: &str, client: &reqwest::Client, token: &str, id: i64, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let list: Value = client
            .get(format!("{base}/user/v1/org-admin/getBulkInvitesFilesList?page=1&limit=100"))
            .header("X-auth-token", format!("bearer {token}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let job = list["result"]["data"].as_array().unwrap().iter().find(|j| j["id"] == id).cloned();
        if let Some(job) = job.filter(|j| j["status"] != "UPLOADED") {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} did not finish: {list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const ROWS: &str = "name,email,phone_code,phone,username,roles,team\n\
    Ada Invited,ada.invited@example.com,+91,9876543210,ada_inv,mentor,blue\n\
    Ben Invited,BEN.invited@example.com,,,,,green\n\
    Mina Again,mina@example.com,,,,mentee,red\n\
    ,no-name@example.com,,,,,x\n\
    Bad Mail,not-an-email,,,,,x\n\
    Nurse,nurse@example.com,,,,nurse,x\n\
    Would Be Admin,wba@example.com,,,,admin,x\n\
    Ada Twice,ada.invited@example.com,,,,,x\n\
    Short Phone,short@example.com,+91,12,,,x\n\
    Olga Name,olga.name@example.com,,,olga_inv,\"mentee;mentor\",\"with, comma\"\n";

async fn a_bulk_invite_creates_the_valid_rows_and_reports_every_row(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = crate::organizations::cast(&app).await;
    let base = app.url("");
    let base = base.trim_end_matches('/');
    let oscar = c.other_org_admin.access_token.as_str();
    let path = upload(base, &app.client, oscar, ROWS).await;

    let started = app.post("/user/v1/org-admin/bulkUserCreate", Some(oscar), json!({"file_path": path})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    assert_eq!(started.body["message"], "Bulk User Invites CSV Uploaded Successfully");
    let r = started.result();
    assert_eq!(r["status"], "UPLOADED");
    assert_eq!(r["input_path"], path.as_str());
    assert_eq!(r["type"], "text/csv");
    assert_eq!(r["created_by"], c.other_org_admin.user["id"]);
    let id = r["id"].as_i64().unwrap();

    let job = finished_job(base, &app.client, oscar, id, Duration::from_secs(30)).await;
    assert_eq!(job["status"], "PROCESSED", "{job}");
    assert_eq!(job["counts"], json!({"created": 3, "existing": 1, "invalid": 6}));
    let (header, rows) = output_of(base, &app.client, oscar, &job).await;
    assert_eq!(header, ["name", "email", "phone_code", "phone", "username", "roles", "team", "status", "reason"]);
    assert_eq!(rows.len(), 10, "every row once, in order");
    let status: Vec<&str> = rows.iter().map(|r| r[7].as_str()).collect();
    assert_eq!(
        status,
        ["CREATED", "CREATED", "EXISTS", "INVALID", "INVALID", "INVALID", "INVALID", "INVALID", "INVALID", "CREATED"]
    );
    let reasons: Vec<&str> = rows.iter().map(|r| r[8].as_str()).collect();
    assert!(reasons[3].contains("name must not be empty"), "{}", reasons[3]);
    assert_eq!(reasons[4], "email is invalid");
    assert_eq!(reasons[5], "role nurse does not exist in the organisation");
    assert_eq!(reasons[6], "role admin cannot be given by an org admin");
    assert_eq!(reasons[7], "email duplicates row 1");
    assert_eq!(reasons[8], "phone is invalid");
    assert_eq!(rows[9][6], "with, comma", "the input's own columns come back as given");

    // The users are in the org admin's organisation, with the roles asked (the default role when none).
    let admin = Some(c.admin.access_token.as_str());
    let user_id = |reason: &str| reason.rsplit(' ').next().unwrap().parse::<i64>().unwrap();
    let roles_of = |profile: &Value| -> Vec<String> {
        let mut titles: Vec<String> =
            profile["user_roles"].as_array().unwrap().iter().map(|r| r["title"].as_str().unwrap().into()).collect();
        titles.sort();
        titles
    };
    for (row, expected) in [(0, vec!["mentor"]), (1, vec!["mentee"]), (9, vec!["mentee", "mentor"])] {
        let profile = app.get(&format!("/user/v1/user/read/{}", user_id(reasons[row])), admin).await;
        assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
        assert_eq!(profile.result()["organization_id"], c.other_org_id, "{}", profile.body);
        assert_eq!(roles_of(profile.result()), expected);
    }
    let ada = app.get(&format!("/user/v1/user/read/{}", user_id(reasons[0])), admin).await;
    assert_eq!(ada.result()["email"], "ada.invited@example.com");
    assert_eq!(ada.result()["username"], "ada_inv");
    // An existing user is left as they were: still in the default organisation.
    let mina = app.get(&format!("/user/v1/user/read/{}", c.mentee.user["id"]), admin).await;
    assert_eq!(mina.result()["organization_id"], 1);

    // Each new user is invited, and sets a password through the reset OTP.
    let invitation = wait_for_mail(&app, "ben.invited@example.com", 1).await;
    assert!(invitation.contains("Other Org") && invitation.contains("Ben Invited"), "{invitation}");
    assert!(outbox_mails(&app.state.settings.notifications.outbox_dir, "nurse@example.com").is_empty());
    assert_eq!(app.login("ben.invited@example.com", PASSWORD).await.status, StatusCode::BAD_REQUEST, "no password yet");
    let asked = app.post("/user/v1/account/generateOtp", None, json!({"email": "ben.invited@example.com"})).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let otp = otp_in(&wait_for_mail(&app, "ben.invited@example.com", 2).await).expect("an OTP");
    let reset = app
        .post(
            "/user/v1/account/resetPassword",
            None,
            json!({"email": "ben.invited@example.com", "password": PASSWORD, "otp": otp}),
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    assert_eq!(app.login("ben.invited@example.com", PASSWORD).await.status, StatusCode::OK);

    // The list: filtered by status (any case), scoped to the caller's organisation.
    let listed =
        app.get("/user/v1/org-admin/getBulkInvitesFilesList?page=1&limit=10&status=processed", Some(oscar)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["message"], "Bulk Invites CSV List Fetched Successfully");
    assert_eq!(listed.result()["count"], 1);
    assert_eq!(listed.result()["data"][0]["name"], path.rsplit('/').next().unwrap());
    let none = app.get("/user/v1/org-admin/getBulkInvitesFilesList?status=UPLOADED", Some(oscar)).await;
    assert_eq!(none.result()["count"], 0);
    let olga = Some(c.org_admin.access_token.as_str());
    assert_eq!(app.get("/user/v1/org-admin/getBulkInvitesFilesList", olga).await.result()["count"], 0);
    app.get("/user/v1/org-admin/getBulkInvitesFilesList?status=done", Some(oscar)).await.assert_error_envelope(400);
    app.get("/user/v1/org-admin/getBulkInvitesFilesList?page=0", Some(oscar)).await.assert_error_envelope(400);
}

async fn bulk_invite_requests_are_refused_when_they_should_be(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = crate::organizations::cast(&app).await;
    let base = app.url("");
    let base = base.trim_end_matches('/');
    let oscar = Some(c.other_org_admin.access_token.as_str());
    let olga = c.org_admin.access_token.as_str();
    let olgas = upload(base, &app.client, olga, ROWS).await;
    let create = |token: Option<&str>, body: Value| {
        let app = &app;
        let token = token.map(str::to_string);
        async move { app.post("/user/v1/org-admin/bulkUserCreate", token.as_deref(), body).await }
    };
    create(None, json!({"file_path": olgas})).await.assert_error_envelope(401);
    create(Some(&c.mentee.access_token), json!({"file_path": olgas})).await.assert_error_envelope(403);
    // Another org admin's upload, a file that is not there, a path out of the store.
    create(oscar, json!({"file_path": olgas})).await.assert_error_envelope(404);
    create(Some(olga), json!({"file_path": format!("{olgas}-gone")})).await.assert_error_envelope(404);
    create(Some(olga), json!({"file_path": "../../etc/passwd"})).await.assert_error_envelope(404);
    create(Some(olga), json!({"file_path": ""})).await.assert_error_envelope(400);
    create(Some(olga), json!({"file_path": 7})).await.assert_error_envelope(400);
    create(Some(olga), json!({})).await.assert_error_envelope(400);
    let list = app.get("/user/v1/org-admin/getBulkInvitesFilesList", Some(olga)).await;
    assert_eq!(list.result()["count"], 0, "nothing was recorded");

    // A file without the required columns fails as a whole, with the reason.
    let bad = upload(base, &app.client, olga, "mail;fullname\nx;y\n").await;
    let started = create(Some(olga), json!({"file_path": bad})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let id = started.result()["id"].as_i64().unwrap();
    let job = finished_job(base, &app.client, olga, id, Duration::from_secs(30)).await;
    assert_eq!(job["status"], "FAILED", "{job}");
    assert!(job["failure"].as_str().unwrap().contains("name, email"), "{job}");
    assert!(job["output_path"].is_null());
    let failed = app.get("/user/v1/org-admin/getBulkInvitesFilesList?status=failed", Some(olga)).await;
    assert_eq!(failed.result()["count"], 1);
}

/// Sign-ups racing a bulk invite for the same emails: whichever commits
/// first holds the email; the other is refused (a sign-up) or reported
/// EXISTS (a row). Nobody gets two accounts.
async fn sign_ups_racing_a_bulk_invite_never_make_two_users(backend: Backend) {
    let app = spawn_app_with(fresh_database(backend).await, |s| s.bulk.batch_size = 50).await;
    let admin = app.admin_session().await;
    let token = admin.access_token.as_str();
    let base = app.url("");
    let base = base.trim_end_matches('/');
    let mut csv = String::from("name,email\n");
    for i in 0..600 {
        csv.push_str(&format!("Racer {i},racer{i}@example.com\n"));
    }
    let path = upload(base, &app.client, token, &csv).await;
    let started = app.post("/user/v1/org-admin/bulkUserCreate", Some(token), json!({"file_path": path})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let id = started.result()["id"].as_i64().unwrap();
    // Sign-ups of every tenth email, spread over the job's run.
    let sign_ups = futures::future::join_all((0..600).step_by(10).map(|i| {
        let app = &app;
        async move {
            let body =
                json!({"name": format!("Racer {i}"), "email": format!("racer{i}@example.com"), "password": PASSWORD});
            (i, app.post("/user/v1/account/create", None, body).await.status)
        }
    }))
    .await;
    let job = finished_job(base, &app.client, token, id, Duration::from_secs(60)).await;
    assert_eq!(job["status"], "PROCESSED", "{job}");
    let (_, rows) = output_of(base, &app.client, token, &job).await;
    assert_eq!(rows.len(), 600);
    let signed_up: HashMap<usize, bool> = sign_ups.iter().map(|(i, s)| (*i, *s == StatusCode::OK)).collect();
    for (i, won) in &signed_up {
        let row = &rows[*i];
        match won {
            true => assert_eq!(row[2], "EXISTS", "racer{i}: signed up first, so the row found it: {row:?}"),
            false => assert_eq!(row[2], "CREATED", "racer{i}: the sign-up was refused, so the row created it: {row:?}"),
        }
    }
    let registered = projections::Statement::new(
        "SELECT count(*) FROM events WHERE aggregate_type = 'user' AND event_type = 'UserRegistered'",
        vec![],
    );
    // 600 racers and the admin, once each.
    assert_eq!(app.state.db.fetch_count(&registered).await.unwrap(), 601);
}

/// `kill -9` of the real binary in the middle of a job, then a restart: the
/// job resumes at its next batch, each email ends up with one user, and
/// the output lists every row once.
async fn a_bulk_invite_killed_mid_job_resumes_without_duplicates(backend: Backend) {
    const USERS: usize = 5_000;
    const BATCH: usize = 250;
    let database = fresh_database(backend).await;
    let files = tempfile::tempdir().unwrap();
    let outbox = tempfile::tempdir().unwrap();
    let (files_dir, outbox_dir) = (files.path().display().to_string(), outbox.path().display().to_string());
    let batch = BATCH.to_string();
    let env = [
        ("FILES_DIR", files_dir.as_str()),
        ("NOTIFICATION_OUTBOX_DIR", outbox_dir.as_str()),
        ("BULK_BATCH_SIZE", batch.as_str()),
        // Slow enough to be caught in the middle.
        ("BULK_BATCH_PAUSE_MS", "150"),
    ];
    let mut server = start_server(&database.url, &env).await;
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{}/user/v1/admin/create", server.base))
        .json(&json!({"name": "Root", "email": "root@example.com", "password": PASSWORD, "secret_code": ADMIN_SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let login: Value = client
        .post(format!("{}/user/v1/admin/login", server.base))
        .json(&json!({"email": "root@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["result"]["access_token"].as_str().unwrap().to_string();
    let mut csv = String::from("name,email,roles\n");
    for i in 0..USERS {
        csv.push_str(&format!("Bulk User {i},bulk{i}@example.com,{}\n", if i % 3 == 0 { "mentor" } else { "" }));
    }
    let path = upload(&server.base, &client, &token, &csv).await;
    let started: Value = client
        .post(format!("{}/user/v1/org-admin/bulkUserCreate", server.base))
        .header("X-auth-token", format!("bearer {token}"))
        .json(&json!({"file_path": path}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(started["result"]["status"], "UPLOADED", "{started}");
    let id = started["result"]["id"].as_i64().unwrap();

    // Kill it once a few batches are in.
    let deadline = Instant::now() + Duration::from_secs(60);
    let at_kill = loop {
        let list = server.get_as(&client, "/user/v1/org-admin/getBulkInvitesFilesList", &token).await;
        let job = list["result"]["data"].as_array().unwrap().iter().find(|j| j["id"] == id).cloned().unwrap();
        let done = job["counts"]["created"].as_i64().unwrap();
        assert_eq!(job["status"], "UPLOADED", "the job finished before the kill: {job}");
        if done >= 3 * BATCH as i64 {
            server.kill_nine();
            break done;
        }
        assert!(Instant::now() < deadline, "the job made no progress: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(at_kill < USERS as i64, "killed mid-job");

    let server = start_server(&database.url, &env).await;
    let job = finished_job(&server.base, &client, &token, id, Duration::from_secs(120)).await;
    assert_eq!(job["status"], "PROCESSED", "{job}");
    assert_eq!(job["counts"], json!({"created": USERS, "existing": 0, "invalid": 0}));
    let (_, rows) = output_of(&server.base, &client, &token, &job).await;
    assert_eq!(rows.len(), USERS, "every row once");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!((row[1].as_str(), row[3].as_str()), (format!("bulk{i}@example.com").as_str(), "CREATED"));
    }
    // The log: one registration per email (and the admin's), one record per batch.
    let db = roster::storage::Db::connect(&database.url, 2).await.unwrap();
    let count = |sql: &str| {
        let db = db.clone();
        let sql = sql.to_string();
        async move { db.fetch_count(&projections::Statement::new(sql, vec![])).await.unwrap() }
    };
    assert_eq!(count("SELECT count(*) FROM events WHERE event_type = 'UserRegistered'").await, USERS as i64 + 1);
    assert_eq!(
        count("SELECT count(*) FROM events WHERE event_type = 'BulkInviteBatchProcessed'").await,
        (USERS / BATCH) as i64
    );
    // The read model catches up in the background: one row per user, once it has.
    let deadline = Instant::now() + Duration::from_secs(60);
    while count("SELECT count(*) FROM users").await < USERS as i64 + 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count("SELECT count(DISTINCT id) FROM users").await, USERS as i64 + 1);
    assert_eq!(count("SELECT count(*) FROM users").await, USERS as i64 + 1);
    assert_eq!(count("SELECT count(*) FROM events WHERE event_type = 'NotificationQueued'").await, USERS as i64);
    db.close().await;
    drop(server);
}

on_both_backends!(
    a_bulk_invite_creates_the_valid_rows_and_reports_every_row,
    bulk_invite_requests_are_refused_when_they_should_be,
    sign_ups_racing_a_bulk_invite_never_make_two_users,
    a_bulk_invite_killed_mid_job_resumes_without_duplicates,
);
