//! After the run: does the service still work, which read models stopped,
//! and which fuzz requests wrote the events they refuse.

use super::*;

/// GETs `path` until `found` holds for the reply (read models are eventually consistent), up to 5 s.
pub(super) async fn eventually(
    app: &TestApp,
    path: &str,
    token: &str,
    found: impl Fn(&Reply) -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reply = app.get(path, Some(token)).await;
        if found(&reply) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("GET {path}: {} {}", reply.status, clip(&reply.body.to_string(), 300)));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(super) fn status_is(reply: &Reply, ok: impl Fn(u16) -> bool) -> Result<(), String> {
    if ok(reply.status.as_u16()) {
        Ok(())
    } else {
        Err(format!("{} {}", reply.status, clip(&reply.body.to_string(), 300)))
    }
}

/// After the run every read model still follows the log and the service
/// answers: what failed, one line each.
pub(super) async fn service_still_works(app: &TestApp) -> Vec<String> {
    let mut checks: Vec<(&str, Result<(), String>)> = Vec::new();
    let success = |s: u16| (200..300).contains(&s);
    let health = app.get("/health", None).await;
    checks.push(("/health is 200", status_is(&health, |s| s == 200)));
    let unhealthy: Vec<&Value> =
        health.result()["checks"].as_array().into_iter().flatten().filter(|c| c["healthy"] != true).collect();
    if health.result()["healthy"] != true || !unhealthy.is_empty() {
        checks.push(("/health reports healthy", Err(clip(&health.body.to_string(), 300))));
    }
    // A read model that skipped an event keeps going, so "still works"
    // alone would miss it: nothing may have been skipped.
    match app.state.db.failed_events(None).await {
        Ok(failed) if failed.is_empty() => {}
        Ok(failed) => checks.push(("no event was skipped by a read model", Err(clip(&format!("{failed:?}"), 600)))),
        Err(error) => checks.push(("failed events readable", Err(error.to_string()))),
    }
    let login =
        app.post("/user/v1/admin/login", None, json!({"email": "root@example.com", "password": PASSWORD})).await;
    checks.push(("admin login", status_is(&login, |s| s == 200)));
    let signed = app
        .post(
            "/user/v1/account/create",
            None,
            json!({"name": "After Fuzz", "email": "after-fuzz@example.com", "password": PASSWORD}),
        )
        .await;
    checks.push(("sign-up", status_is(&signed, |s| s == 200)));
    if let Some(user) = signed.result()["access_token"].as_str() {
        let read = eventually(app, "/user/v1/user/read", user, |r| r.result()["email"] == "after-fuzz@example.com");
        checks.push(("the new user reads back (users)", read.await));
        let asked = app.post("/user/v1/organization/requestOrgRole", Some(user), json!({"role": 2})).await;
        checks.push(("role request", status_is(&asked, success)));
        if let (Some(id), Some(admin)) =
            (asked.result()["request_id"].as_i64(), login.result()["access_token"].as_str())
        {
            let path = format!("/user/v1/org-admin/getRequestDetails/{id}");
            checks.push((
                "the new role request reads back (role_requests)",
                eventually(app, &path, admin, |r| r.status == 200).await,
            ));
        }
    }
    if let Some(admin) = login.result()["access_token"].as_str() {
        let org_body = json!({"name": "After Fuzz", "code": "afterfuzz", "description": "d"});
        let org = app.post("/user/v1/organization/create", Some(admin), org_body).await;
        checks.push(("organisation create", status_is(&org, success)));
        let path = "/user/v1/organization/read?organisation_code=afterfuzz";
        checks.push((
            "the new organisation reads back (organizations)",
            eventually(app, path, admin, |r| r.status == 200).await,
        ));
        let role = app
            .post("/user/v1/userRole/create", Some(admin), json!({"title": "after_fuzz_role", "user_type": 0}))
            .await;
        checks.push(("role create", status_is(&role, success)));
        let path = "/user/v1/userRole/list?search=after_fuzz_role";
        checks
            .push(("the new role is listed (roles)", eventually(app, path, admin, |r| r.result()["count"] == 1).await));
        let module = app.post("/user/v1/modules/create", Some(admin), json!({"code": "after_fuzz_module"})).await;
        checks.push(("module create", status_is(&module, success)));
        let path = "/user/v1/modules/list?search=after_fuzz_module";
        checks.push((
            "the new module is listed (permissions)",
            eventually(app, path, admin, |r| r.result()["count"] == 1).await,
        ));
    }
    checks.into_iter().filter_map(|(what, result)| result.err().map(|e| format!("{what}: {e}"))).collect()
}

/// A read model whose runner has not reached the end of the log.
pub(super) struct Stall {
    pub(super) projection: Box<dyn projections::Projection>,
    pub(super) at: CommitPoint,
    pub(super) end: CommitPoint,
}

/// The read models that have not reached the end of the log a few seconds after the run.
pub(super) async fn stalled_read_models(app: &TestApp) -> Vec<Stall> {
    let db = &app.state.db;
    let end = db.end_of_log().await.expect("the end of the log");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut stalls = Vec::new();
    for projection in projections::registry() {
        let mut at = db.checkpoint(projection.name()).await.expect("a checkpoint");
        while at < end && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            at = db.checkpoint(projection.name()).await.expect("a checkpoint");
        }
        if at < end {
            stalls.push(Stall { projection, at, end });
        }
    }
    stalls
}

/// Which fuzz request wrote `event`, by the correlation id its answer
/// carried: (route and mutation class, the mutation and the answer).
pub(super) fn written_by(
    event: &projections::StoredEvent,
    probes: &[Probe],
    routes: &[Route],
    outcomes: &[Outcome],
) -> (String, String) {
    let correlation = event.metadata["correlation_id"].as_str().unwrap_or_default();
    let cause = outcomes
        .iter()
        .find(|o| serde_json::from_slice::<Value>(&o.body).is_ok_and(|b| b["meta"]["correlation"] == correlation));
    cause.map_or_else(
        || ("a request outside the fuzz run".to_string(), correlation.to_string()),
        |o| {
            let p = &probes[o.send.probe];
            let status = o.status.as_ref().map_or_else(|e| clip(e, 60), |s| s.to_string());
            let caller = o.send.caller.map_or("bad token".to_string(), |c| format!("{c:?}"));
            (
                format!("{} {} | {}", p.method, routes[p.route].template, p.class),
                format!("{} as {caller} answered {status}", p.detail),
            )
        },
    )
}

/// For each stalled read model, applies the events it has not applied one by
/// one, outside its runner, to list every event the store refuses (not only
/// the first, on which the runner is stuck) with the request that wrote it.
/// A diagnosis only: it writes to the read tables, so it runs last.
pub(super) async fn diagnose(
    app: &TestApp,
    stalls: &[Stall],
    probes: &[Probe],
    routes: &[Route],
    outcomes: &[Outcome],
) -> Vec<String> {
    let db = &app.state.db;
    let mut lines = Vec::new();
    for stall in stalls {
        let name = stall.projection.name();
        let types = stall.projection.aggregate_types();
        let events = match db.events_of_types_up_to(stall.at, stall.end, types, 100_000).await {
            Ok((events, _)) => events,
            Err(e) => {
                lines.push(format!("read model {name} stopped at {:?}; its events cannot be read: {e}", stall.at));
                continue;
            }
        };
        lines.push(format!(
            "read model {name} stopped at {:?} (log ends at {:?}) with {} events unapplied",
            stall.at,
            stall.end,
            events.len()
        ));
        // (route and class, error) -> the mutations, and one refused event.
        let mut refused: BTreeMap<(String, String), (BTreeSet<String>, String)> = BTreeMap::new();
        for entry in events {
            let event = entry.event;
            let error = match stall.projection.handle(&event) {
                Err(e) => Some(e.to_string()),
                Ok(statements) => {
                    let mut error = None;
                    for statement in &statements {
                        if let Err(e) = db.execute(statement).await {
                            error = Some(e.to_string());
                            break;
                        }
                    }
                    error
                }
            };
            if let Some(error) = error {
                let (cause, detail) = written_by(&event, probes, routes, outcomes);
                let example =
                    format!("{} {} {}", event.aggregate_type, event.event_type, clip(&event.payload.to_string(), 160));
                refused
                    .entry((cause, clip(&error, 160)))
                    .or_insert_with(|| (BTreeSet::new(), example))
                    .0
                    .insert(detail);
            }
        }
        for ((cause, error), (details, example)) in refused {
            let details = details.into_iter().collect::<Vec<_>>().join("; ");
            lines.push(format!(
                "  {name} refuses events written by {cause}: {error}\n      mutations: {details}\n      e.g. {example}"
            ));
        }
    }
    lines
}
