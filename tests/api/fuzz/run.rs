//! Sending the probes: who sends what in which order, with how much in
//! flight, and what counts as an answer.

use super::*;

/// One request as sent: which probe, as whom.
pub(super) struct Dispatch {
    pub(super) probe: usize,
    pub(super) caller: Option<Caller>,
}

pub(super) struct Outcome {
    pub(super) send: Dispatch,
    /// The status, or why there was none.
    pub(super) status: Result<u16, String>,
    pub(super) body: Vec<u8>,
    pub(super) elapsed: Duration,
    /// Sent a second time after the first attempt got no answer.
    pub(super) retried: bool,
}

/// Which probes run, as whom, in what order: required probes always; optional
/// ones sampled until `target` requests; each probe as the system admin (who passes
/// every guard) and as one other caller, hashing routes as one caller only.
pub(super) fn schedule(routes: &[Route], probes: &[Probe], target: usize, rng: &mut StdRng) -> Vec<Vec<Dispatch>> {
    let others = [Caller::Anonymous, Caller::User, Caller::OrgAdmin];
    let everyone = [Caller::Anonymous, Caller::User, Caller::OrgAdmin, Caller::Admin];
    let callers = |p: &Probe, rng: &mut StdRng| -> Vec<Option<Caller>> {
        match p.auth {
            Auth::Header(_) => vec![None],
            Auth::Caller if routes[p.route].hashes => vec![Some(*everyone.choose(rng).unwrap())],
            Auth::Caller => vec![Some(Caller::Admin), Some(*others.choose(rng).unwrap())],
        }
    };
    let mut sends = Vec::new();
    let mut optional = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        if p.required {
            sends.extend(callers(p, rng).into_iter().map(|caller| Dispatch { probe: i, caller }));
        } else if !routes[p.route].hashes {
            optional.push(i);
        }
    }
    optional.shuffle(rng);
    for i in optional {
        if sends.len() >= target {
            break;
        }
        sends.extend(callers(&probes[i], rng).into_iter().map(|caller| Dispatch { probe: i, caller }));
    }
    let mut phases: BTreeMap<Phase, Vec<Dispatch>> = BTreeMap::new();
    for send in sends {
        phases.entry(routes[probes[send.probe].route].phase).or_default().push(send);
    }
    phases
        .into_values()
        .map(|mut phase| {
            phase.shuffle(rng);
            phase
        })
        .collect()
}

/// Watches the read models while the run lasts. Once one has stood still
/// behind the log for 3 s it has stalled, and every later write waits out the
/// read-your-writes timeout (2 s) doing nothing: more requests may then be in
/// flight without more work, which keeps a run on a broken build short.
/// When and which, if one stalled.
pub(super) async fn watch_for_stalls(
    app: &TestApp,
    gate: &tokio::sync::Semaphore,
    finished: &std::sync::atomic::AtomicBool,
) -> Option<(Duration, &'static str)> {
    let started = Instant::now();
    let names: Vec<&'static str> = projections::registry().iter().map(|p| p.name()).collect();
    let mut last_move: BTreeMap<&str, (CommitPoint, Instant)> = BTreeMap::new();
    while !finished.load(std::sync::atomic::Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Ok(end) = app.state.db.end_of_log().await else { continue };
        for name in &names {
            let Ok(at) = app.state.db.checkpoint(name).await else { continue };
            let entry = last_move.entry(name).or_insert((at, Instant::now()));
            if entry.0 != at || at >= end {
                *entry = (at, Instant::now());
            } else if entry.1.elapsed() > Duration::from_secs(3) {
                gate.add_permits(IN_FLIGHT_STALLED - IN_FLIGHT);
                return Some((started.elapsed(), name));
            }
        }
    }
    None
}

/// The two HTTP clients of a run: a pooled one, and one that opens a fresh
/// connection per request for the retry below.
pub(super) struct Clients {
    pub(super) pooled: reqwest::Client,
    pub(super) fresh: reqwest::Client,
}

pub(super) async fn attempt(
    client: &reqwest::Client,
    base: &str,
    p: &Probe,
    header: Option<&str>,
) -> Result<(u16, Vec<u8>), reqwest::Error> {
    let mut request = client.request(p.method.clone(), format!("{base}{}", p.url)).timeout(REQUEST_TIMEOUT);
    if let Some(header) = header {
        if is_entity_v5(&p.url) {
            // Entity v5's credentials: the bearer token and a registered app.
            request = request.header("Authorization", header).header("X-APP-ID", FUZZ_APP_ID);
        } else if is_sunbird(&p.url) {
            // Sunbird's credentials: the client's key and the acting user's token.
            request = request.header("Authorization", header).header("x-authenticated-user-token", header);
        } else {
            request = request.header("X-auth-token", header);
        }
    }
    if let Some(ct) = &p.content_type {
        request = request.header("content-type", ct.as_str());
    }
    if let Some(body) = &p.body {
        request = request.body(body.clone());
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.bytes().await?.to_vec()))
}

pub(super) async fn send(
    clients: &Clients,
    base: &str,
    probes: &[Probe],
    tokens: &Tokens,
    send: Dispatch,
    deadline: Instant,
) -> Outcome {
    let p = &probes[send.probe];
    let started = Instant::now();
    if started > deadline {
        let status = Err("not sent: the run's deadline passed".into());
        return Outcome { send, status, body: vec![], elapsed: Duration::ZERO, retried: false };
    }
    let header = match (&p.auth, send.caller) {
        (Auth::Header(h), _) => Some(h.clone()),
        (Auth::Caller, Some(caller)) => tokens.of(caller),
        (Auth::Caller, None) => None,
    };
    let mut result = attempt(&clients.pooled, base, p, header.as_deref()).await;
    // A server that answers before reading a body (401, 405, 415) closes the
    // connection, and the pooled client may already be writing the next
    // request into it. Such a request never reached the service: send it once
    // more on a connection of its own.
    let retried = matches!(&result, Err(e) if !e.is_timeout() && !e.is_builder());
    if retried {
        result = attempt(&clients.fresh, base, p, header.as_deref()).await;
    }
    let elapsed = started.elapsed();
    match result {
        Ok((status, body)) => Outcome { send, status: Ok(status), body, elapsed, retried },
        Err(error) if error.is_builder() => panic!("probe {} {} cannot be sent: {error}", p.method, clip(&p.url, 100)),
        Err(error) => Outcome { send, status: Err(format!("no answer: {error:?}")), body: vec![], elapsed, retried },
    }
}

/// The app `set_up` registers, which entity v5's probes name.
pub(super) const FUZZ_APP_ID: &str = "fuzz";

/// Entity v5's paths.
pub(super) fn is_entity_v5(path: &str) -> bool {
    path.starts_with("/api/v5/entity")
}

/// Sunbird's paths: the gateway's `/api/user/...`, the service's `/vN/...`
/// and its private `/private/user/...`.
pub(super) fn is_sunbird(path: &str) -> bool {
    path.starts_with("/api/user/")
        || path.starts_with("/private/user/")
        || (path.starts_with("/v") && path.as_bytes().get(2).is_some_and(u8::is_ascii_digit))
}

/// Why an error body is not the envelope of the route's dialect, if it is
/// not: ELEVATE's under `/user/v1`, Sunbird's under its prefixes, the
/// neutral `{error, message}` outside any dialect (health, metrics, JWKS).
pub(super) fn envelope_problem(template: &str, body: &[u8]) -> Option<String> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Some("body is not JSON".into());
    };
    if is_entity_v5(template) {
        let code = v["code"].as_i64().filter(|c| (40000..60000).contains(c));
        let shaped = code.is_some()
            && v["msg"].is_string()
            && v["data"].is_null()
            && v.as_object().is_some_and(|o| o.len() == 3);
        return (!shaped).then(|| "not in entity v5's envelope ({code, msg, data: null})".to_string());
    }
    if is_sunbird(template) {
        let missing: Vec<&str> = [
            // Sunbird's private routes (account merge) answer `id: null`.
            (
                "id",
                v["id"].is_string()
                    || (template.starts_with("/private/") || template.ends_with("/account/merge")) && v["id"].is_null(),
            ),
            ("ver", v["ver"].is_string()),
            ("ts", v["ts"].is_string()),
            ("params.err", v["params"]["err"].is_string()),
            ("params.errmsg", v["params"]["errmsg"].is_string()),
            // "failed", or an old code Sunbird keeps there (`USER_NOT_FOUND`).
            ("params.status", v["params"]["status"].is_string() && v["params"]["status"] != "success"),
            ("responseCode", v["responseCode"].is_string()),
            ("result", v["result"].is_object()),
        ]
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| *name)
        .collect();
        return (!missing.is_empty()).then(|| format!("not in Sunbird's envelope (missing {})", missing.join(", ")));
    }
    if !template.starts_with("/user/v1/") {
        let neutral = v["error"].is_string() && v["message"].is_string() && v.get("responseCode").is_none();
        return (!neutral).then(|| "not in the neutral error body ({error, message})".to_string());
    }
    let missing: Vec<&str> = [
        ("responseCode", v["responseCode"].is_string()),
        ("message", v["message"].is_string()),
        ("error", v["error"].is_array()),
        ("meta", v["meta"].is_object()),
    ]
    .iter()
    .filter(|(_, ok)| !ok)
    .map(|(name, _)| *name)
    .collect();
    (!missing.is_empty()).then(|| format!("not in the envelope (missing {})", missing.join(", ")))
}
