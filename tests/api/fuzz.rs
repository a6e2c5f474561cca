//! A deterministic fuzz run over every route: at least 5,000 malformed
//! requests per backend (NUL and other control characters in every string at
//! every depth, 100 KB strings, wrong JSON types, missing and unknown fields,
//! malformed bodies and content types, garbage in every query and path
//! parameter, bad tokens, wrong methods), sent as an anonymous caller, a
//! signed-up user, an org admin and a system admin. No answer may be a 5xx,
//! every error must come in ELEVATE's envelope, and afterwards every read model
//! must still follow the log. `cargo test --test api fuzz -- --nocapture`
//! prints the totals.
//!
//! The route table is checked against the `.route("...")` calls of the
//! handler sources, so a route added without a fuzz entry fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use reqwest::Method;
use serde_json::{json, Value};

use roster::storage::log::CommitPoint;

use crate::helpers::*;
use crate::on_both_backends;

/// `ROSTER_FUZZ_SEED` and `ROSTER_FUZZ_REQUESTS` override these two, to
/// explore other samples or to send every probe (a larger target);
/// `ROSTER_FUZZ_SHOW_VALID` prints the answers to the valid examples.
const SEED: u64 = 0x0011_f022_5eed;
const IN_FLIGHT: usize = 8;
/// In flight once a read model has stalled (see `watch_for_stalls`).
const IN_FLIGHT_STALLED: usize = 64;
/// What the run must reach on each backend (the bar) ...
const MIN_REQUESTS: usize = 5_000;
/// ... and what it aims for, filling with optional probes up to here.
const TARGET_REQUESTS: usize = 6_000;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
/// A stalled read model makes every later write wait out the read-your-writes
/// timeout (2 s): this bounds such a run; requests not sent by then fail it.
const DEADLINE: Duration = Duration::from_secs(180);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const LONG: usize = 100 * 1024;
/// Offending classes printed before the test fails.
const REPORT_GROUPS: usize = 50;

mod afterwards;
mod probes;
mod run;
mod table;

use afterwards::*;
use probes::*;
use run::*;
/// Every (method, path) the handler sources register, for other tests.
pub(crate) use table::routes_in_source;
use table::*;

/// At most `max` characters of `text` for a report, NUL shown escaped.
fn clip(text: &str, max: usize) -> String {
    let text = text.replace('\u{0}', "\\u0000");
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}… ({} bytes)", &text[..at], text.len()),
        None => text,
    }
}

// ---------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------

async fn fuzz_every_route(backend: Backend) {
    assert_table_complete();
    let app = spawn_app(backend).await;
    let (targets, tokens) = set_up(&app).await;
    let routes = table(&targets);
    let probes = probes(&routes, &tokens);
    let seed = setting("ROSTER_FUZZ_SEED", SEED);
    let target = setting("ROSTER_FUZZ_REQUESTS", TARGET_REQUESTS as u64) as usize;
    let mut rng = StdRng::seed_from_u64(seed);
    let phases = schedule(&routes, &probes, target, &mut rng);
    let total: usize = phases.iter().map(Vec::len).sum();
    assert!(total >= MIN_REQUESTS, "only {total} requests scheduled; the bar is {MIN_REQUESTS}");

    let started = Instant::now();
    let deadline = started + DEADLINE;
    let clients = Clients {
        pooled: reqwest::Client::new(),
        fresh: reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap(),
    };
    let base = app.url("");
    let gate = tokio::sync::Semaphore::new(IN_FLIGHT);
    let finished = std::sync::atomic::AtomicBool::new(false);
    let run = async {
        let mut outcomes = Vec::with_capacity(total);
        for phase in phases {
            let (clients, base, probes, tokens, gate) = (&clients, base.as_str(), &probes, &tokens, &gate);
            let done: Vec<Outcome> = stream::iter(phase)
                .map(|s| async move {
                    let _permit = gate.acquire().await.expect("the gate stays open");
                    send(clients, base, probes, tokens, s, deadline).await
                })
                .buffer_unordered(IN_FLIGHT_STALLED)
                .collect()
                .await;
            outcomes.extend(done);
        }
        finished.store(true, std::sync::atomic::Ordering::Release);
        outcomes
    };
    let (outcomes, stalled_at) = tokio::join!(run, watch_for_stalls(&app, &gate, &finished));
    let elapsed = started.elapsed();
    if let Some(at) = stalled_at {
        println!(
            "fuzz [{backend:?}]: {} stood still behind the log {:.1} s into the run; {IN_FLIGHT_STALLED} in flight from then",
            at.1,
            at.0.as_secs_f64()
        );
    }

    // Totals, and every offending request grouped by route and mutation class.
    let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut groups: BTreeMap<(String, &str, String), Vec<&Outcome>> = BTreeMap::new();
    for outcome in &outcomes {
        let p = &probes[outcome.send.probe];
        let problem = match &outcome.status {
            Err(why) => {
                *classes.entry(if why.starts_with("not sent") { "not sent" } else { "no answer" }).or_default() += 1;
                Some(why.clone())
            }
            Ok(status) => {
                *classes
                    .entry(["1xx", "2xx", "3xx", "4xx", "5xx"][(*status as usize / 100).clamp(1, 5) - 1])
                    .or_default() += 1;
                if *status >= 500 {
                    Some(format!("status {status}"))
                } else if *status >= 400 {
                    envelope_problem(&routes[p.route].template, &outcome.body).map(|why| format!("{status} {why}"))
                } else {
                    None
                }
            }
        };
        if let Some(problem) = problem {
            let r = &routes[p.route];
            groups.entry((format!("{} {}", r.method, r.template), p.class, problem)).or_default().push(outcome);
        }
    }
    let slowest = outcomes.iter().max_by_key(|o| o.elapsed).map(|o| {
        let p = &probes[o.send.probe];
        format!("{:.1} s ({} {} {})", o.elapsed.as_secs_f64(), p.method, routes[p.route].template, p.class)
    });
    // To see what the valid examples met (a conflict, a pending request, ...).
    if std::env::var("ROSTER_FUZZ_SHOW_VALID").is_ok() {
        for o in outcomes.iter().filter(|o| probes[o.send.probe].class == "valid") {
            let p = &probes[o.send.probe];
            println!(
                "VALID {} {} as {:?}: {:?} {}",
                p.method,
                routes[p.route].template,
                o.send.caller,
                o.status,
                clip(&String::from_utf8_lossy(&o.body), 150)
            );
        }
    }
    let mut codes: BTreeMap<u16, usize> = BTreeMap::new();
    for status in outcomes.iter().filter_map(|o| o.status.as_ref().ok()) {
        *codes.entry(*status).or_default() += 1;
    }
    let retried = outcomes.iter().filter(|o| o.retried).count();
    println!(
        "fuzz [{backend:?}]: {} requests in {:.1} s (seed {seed:#x}, {} probes, {IN_FLIGHT} in flight): {}; \
         {retried} sent again on a fresh connection; slowest {}",
        outcomes.len(),
        elapsed.as_secs_f64(),
        probes.len(),
        classes.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "),
        slowest.unwrap_or_default(),
    );
    println!(
        "fuzz [{backend:?}]: by status: {}",
        codes.iter().map(|(code, n)| format!("{code} {n}")).collect::<Vec<_>>().join(", ")
    );

    let stalls = stalled_read_models(&app).await;
    let mut failures = service_still_works(&app).await;
    failures.extend(diagnose(&app, &stalls, &probes, &routes, &outcomes).await);
    let offending: usize = groups.values().map(Vec::len).sum();
    if groups.is_empty() && failures.is_empty() {
        return;
    }
    let mut report = format!(
        "fuzz [{backend:?}]: {offending} offending requests in {} classes (route, mutation, problem); \
         {} checks after the run failed\n",
        groups.len(),
        failures.len()
    );
    for ((route, class, problem), hits) in groups.iter().take(REPORT_GROUPS) {
        let first = hits[0];
        let p = &probes[first.send.probe];
        let callers: BTreeSet<String> =
            hits.iter().map(|o| o.send.caller.map_or("bad token".to_string(), |c| format!("{c:?}"))).collect();
        let details: BTreeSet<&str> = hits.iter().map(|o| probes[o.send.probe].detail.as_str()).collect();
        report.push_str(&format!(
            "- {route} | {class} | {problem} | {} requests, as {} | e.g. {}\n    request: {} {} body {}\n    response: {}\n",
            hits.len(),
            callers.into_iter().collect::<Vec<_>>().join("/"),
            clip(&details.into_iter().take(20).collect::<Vec<_>>().join("; "), 500),
            p.method,
            clip(&p.url, 160),
            p.body.as_ref().map_or("none".into(), |b| clip(&String::from_utf8_lossy(b), 200)),
            clip(&String::from_utf8_lossy(&first.body), 300),
        ));
    }
    if groups.len() > REPORT_GROUPS {
        report.push_str(&format!("... and {} more classes\n", groups.len() - REPORT_GROUPS));
    }
    for failure in &failures {
        report.push_str(&format!("- after the run: {failure}\n"));
    }
    panic!("{report}");
}

on_both_backends!(fuzz_every_route);
