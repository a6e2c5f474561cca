//! The scenarios of docs/performance.md. Each prints one line per figure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::Client;
use roster::seed::{seed_email, SEED_PASSWORD};
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::driver::{run, Load, Report};
use roster_bench::http::{client, expect_ok};

pub struct Target {
    pub base: String,
    pub users: u64,
}

/// Sends `request` with the user's access token; Ok with the body on 2xx.
async fn as_user(request: reqwest::RequestBuilder, access_token: &str) -> Result<Value, String> {
    expect_ok(request.header("X-auth-token", format!("bearer {access_token}")).send().await).await
}

/// Like `as_user`, but only checks the status and reads the body without
/// parsing it: a load generator sharing the server's cores should cost as
/// little as it can (parsing a 24 KB list took 16 % of a core).
async fn as_user_unparsed(request: reqwest::RequestBuilder, access_token: &str) -> Result<(), String> {
    let response =
        request.header("X-auth-token", format!("bearer {access_token}")).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{status}: {}", String::from_utf8_lossy(&body)))
    }
}

async fn login_as(client: &Client, base: &str, i: u64) -> Result<Value, String> {
    expect_ok(
        client
            .post(format!("{base}/user/v1/account/login"))
            .json(&json!({"email": seed_email(i), "password": SEED_PASSWORD}))
            .send()
            .await,
    )
    .await
}

/// One logged-in seeded user per worker: (access token, refresh token).
async fn sessions(target: &Target, count: usize) -> anyhow::Result<Vec<(String, String)>> {
    let client = client();
    let mut sessions = Vec::with_capacity(count);
    for worker in 0..count {
        let body = login_as(&client, &target.base, worker as u64 % target.users.max(1))
            .await
            .map_err(|e| anyhow::anyhow!("cannot log in a seeded user (run `roster dev seed` first): {e}"))?;
        let result = &body["result"];
        sessions.push((
            result["access_token"].as_str().unwrap_or_default().to_string(),
            result["refresh_token"].as_str().unwrap_or_default().to_string(),
        ));
    }
    Ok(sessions)
}

/// argon2id hashes per second on every core, with Roster's own parameters.
fn hash_rate(duration: Duration) -> f64 {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let started = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            std::thread::spawn(move || {
                let mut hashes = 0u64;
                while started.elapsed() < duration {
                    roster::auth::password::hash_blocking("Bench!pass1").expect("hashing works");
                    hashes += 1;
                }
                hashes
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

pub async fn login(target: &Target, load: &Load) -> anyhow::Result<()> {
    let client = client();
    let (base, users) = (target.base.clone(), target.users);
    let report = run("P1 login", load, move |_, _| {
        let (client, base) = (client.clone(), base.clone());
        let user = rand::thread_rng().gen_range(0..users);
        async move { login_as(&client, &base, user).await.map(|_| ()) }
    })
    .await;
    report.print();
    // Measured after the load, on an idle server, with the same parameters.
    let rate = tokio::task::spawn_blocking({
        let duration = load.duration;
        move || hash_rate(duration)
    })
    .await?;
    println!("argon2id hashes/s on this machine (all cores): {rate:.1}");
    println!("ratio logins/s ÷ hashes/s: {:.2} (goal ≥ 0.9)", report.throughput() / rate);
    Ok(())
}

pub async fn refresh(target: &Target, load: &Load, database_url: Option<&str>) -> anyhow::Result<()> {
    let sessions = sessions(target, load.concurrency).await?;
    // Each worker owns one session and rotates its refresh token.
    let tokens: Arc<Vec<Mutex<String>>> = Arc::new(sessions.into_iter().map(|(_, r)| Mutex::new(r)).collect());
    let client = client();
    let base = target.base.clone();
    let report = run("P2 refresh", load, move |worker, _| {
        let (client, base, tokens) = (client.clone(), base.clone(), tokens.clone());
        async move {
            let mut token = tokens[worker].lock().await;
            let body = expect_ok(
                client
                    .post(format!("{base}/user/v1/account/generateToken"))
                    .json(&json!({"refresh_token": *token}))
                    .send()
                    .await,
            )
            .await?;
            *token = body["result"]["refresh_token"].as_str().unwrap_or_default().to_string();
            Ok(())
        }
    })
    .await;
    report.print();
    if let Some(url) = database_url {
        // Fresh sessions for pgbench's clients, logged in through the service.
        self::sessions(target, load.concurrency).await?;
        let ceiling = crate::pgbench::refresh_statement_rate(url, load.concurrency, load.duration.as_secs()).await?;
        println!(
            "P2 pgbench, the refresh statement alone ({} clients): {:.0} transactions/s ({} in all)",
            load.concurrency, ceiling.transactions_per_second, ceiling.transactions
        );
        println!(
            "ratio refreshes/s ÷ pgbench transactions/s: {:.2} (goal ≥ 0.8, or refreshes ≥ 5,000/s)",
            report.throughput() / ceiling.transactions_per_second
        );
    }
    Ok(())
}

/// Logs in (creating it once with the admin secret) the benchmark's admin.
pub(crate) async fn admin_token(target: &Target, admin_secret: &str) -> anyhow::Result<String> {
    let client = client();
    let email = "bench-admin@bench.roster.example";
    let _ = client
        .post(format!("{}/user/v1/admin/create", target.base))
        .json(&json!({"name": "Bench Admin", "email": email, "password": SEED_PASSWORD, "secret_code": admin_secret}))
        .send()
        .await?;
    let body = expect_ok(
        client
            .post(format!("{}/user/v1/admin/login", target.base))
            .json(&json!({"email": email, "password": SEED_PASSWORD}))
            .send()
            .await,
    )
    .await
    .map_err(|e| anyhow::anyhow!("admin login failed (is ADMIN_SECRET_CODE the server's?): {e}"))?;
    Ok(body["result"]["access_token"].as_str().unwrap_or_default().to_string())
}

/// Profile updates spread over this many users, so no aggregate grows unrealistically long.
const UPDATED_USERS: usize = 64;

pub async fn update(
    target: &Target,
    load: &Load,
    admin_secret: &str,
    database_url: Option<&str>,
) -> anyhow::Result<()> {
    let admin = Arc::new(admin_token(target, admin_secret).await?);
    let client = client();
    let (base, users) = (target.base.clone(), target.users);
    let assigned = run("P3 role assignment", load, move |_, _| {
        let (client, base, admin) = (client.clone(), base.clone(), admin.clone());
        let user = rand::thread_rng().gen_range(0..users);
        async move {
            // session_manager (id 6): new to seeded users, so most commands write an event.
            let body = json!({"identifier": seed_email(user), "role_id": 6});
            as_user(client.post(format!("{base}/user/v1/admin/assignRole")).json(&body), &admin).await.map(|_| ())
        }
    })
    .await;
    assigned.print();

    let sessions = Arc::new(sessions(target, UPDATED_USERS).await?);
    let client = self::client();
    let base = target.base.clone();
    let concurrency = load.concurrency;
    let report = run("P3 profile update", load, move |worker, i| {
        let (client, base, sessions) = (client.clone(), base.clone(), sessions.clone());
        let session = (worker + i as usize * concurrency) % sessions.len();
        async move {
            let body = json!({"about": format!("benchmark update {worker}-{i}")});
            as_user(client.patch(format!("{base}/user/v1/user/update")).json(&body), &sessions[session].0)
                .await
                .map(|_| ())
        }
    })
    .await;
    report.print();
    if let Some(url) = database_url {
        let raw = raw_insert_rate(url, load).await?;
        raw.print();
        println!(
            "ratio commands/s ÷ raw INSERTs/s: role assignment {:.2}, profile update {:.2} (goal ≥ 0.5)",
            assigned.throughput() / raw.throughput(),
            report.throughput() / raw.throughput()
        );
    }
    Ok(())
}

/// One autocommit INSERT per "command", of a row the size of a profile-update
/// event, into a scratch table shaped like `events`, at the same concurrency.
async fn raw_insert_rate(url: &str, load: &Load) -> anyhow::Result<Report> {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(load.concurrency as u32).connect(url).await?;
    sqlx::query("DROP TABLE IF EXISTS bench_raw_events").execute(&pool).await?;
    sqlx::query(
        "CREATE TABLE bench_raw_events (aggregate_type text NOT NULL, aggregate_id text NOT NULL, \
         sequence bigint NOT NULL, event_type text NOT NULL, event_version text NOT NULL, payload json NOT NULL, \
         metadata json NOT NULL, position bigint GENERATED ALWAYS AS IDENTITY, \
         transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(), recorded_at timestamptz NOT NULL DEFAULT now(), \
         PRIMARY KEY (aggregate_type, aggregate_id, sequence))",
    )
    .execute(&pool)
    .await?;
    let payload = json!({"ProfileUpdated": {"changes": {"about": "pii:v1:".to_string() + &"x".repeat(96)},
        "at": "2026-11-25T12:00:00.000000Z"}})
    .to_string();
    let metadata = json!({"actor_id": "3f1c2a9e-0000-4000-8000-000000000000", "correlation_id":
        "3f1c2a9e-0000-4000-8000-000000000001", "dialect": "elevate", "client_addr": "127.0.0.1"})
    .to_string();
    let (pool2, payload, metadata) = (pool.clone(), Arc::new(payload), Arc::new(metadata));
    let report = run("P3 raw INSERT (same rows)", load, move |worker, i| {
        let (pool, payload, metadata) = (pool2.clone(), payload.clone(), metadata.clone());
        async move {
            sqlx::query(
                "INSERT INTO bench_raw_events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
                 payload, metadata) VALUES ('user', $1, $2, 'ProfileUpdated', '1', $3::json, $4::json)",
            )
            .bind(format!("bench-{worker}"))
            .bind(i as i64)
            .bind(payload.as_str())
            .bind(metadata.as_str())
            .execute(&pool)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
        }
    })
    .await;
    sqlx::query("DROP TABLE bench_raw_events").execute(&pool).await?;
    Ok(report)
}

/// `GET /health`: an HTTP exchange and a database ping, nothing else. What
/// the load generator, the server and PostgreSQL can do together on these
/// cores for the cheapest request; every scenario above costs more than this.
pub async fn floor(target: &Target, load: &Load) -> anyhow::Result<()> {
    let client = client();
    let base = target.base.clone();
    let report = run("floor GET /health", load, move |_, _| {
        let (client, base) = (client.clone(), base.clone());
        async move { expect_ok(client.get(format!("{base}/health")).send().await).await.map(|_| ()) }
    })
    .await;
    report.print();
    Ok(())
}

/// The query string of a search scenario for the n-th request.
type QueryOf = Arc<dyn Fn(u64) -> String + Send + Sync>;

pub async fn search(target: &Target, load: &Load) -> anyhow::Result<()> {
    let sessions = Arc::new(sessions(target, 1).await?);
    let users = target.users;
    let queries: [(&str, QueryOf); 4] = [
        // A rare substring: a name plus part of a number (few matches).
        (
            "P4 name substring (rare)",
            Arc::new(move |i: u64| format!("search=novak%20{}&page=1&limit=20", (i * 7919) % users.max(1))),
        ),
        // A common substring: one user in ten or twelve.
        ("P4 name substring (common)", Arc::new(|_| "search=haddad&page=1&limit=20".to_string())),
        ("P4 role filter (mentor)", Arc::new(|_| "userType=mentor&page=1&limit=20".to_string())),
        ("P4 deep page (offset 10000)", Arc::new(|_| "page=501&limit=20".to_string())),
    ];
    for (name, query) in queries {
        let client = client();
        let (base, sessions) = (target.base.clone(), sessions.clone());
        let report = run(name, load, move |_, i| {
            let (client, base, sessions, query) = (client.clone(), base.clone(), sessions.clone(), query.clone());
            async move {
                as_user(client.get(format!("{base}/user/v1/account/list?{}", query(i))), &sessions[0].0)
                    .await
                    .map(|_| ())
            }
        })
        .await;
        report.print();
    }
    Ok(())
}

/// A Sunbird search body for the n-th request.
type BodyOf = Arc<dyn Fn(u64) -> Value + Send + Sync>;

/// Sunbird's `/api/user/v1/search` (issue 14): an exact filter, a `query`,
/// a `createdDate` range and a facet, as an admin through an API key.
pub async fn sunbird_search(target: &Target, load: &Load, admin_secret: &str) -> anyhow::Result<()> {
    let client = client();
    let admin = admin_token(target, admin_secret).await?;
    let issued = expect_ok(
        client
            .post(format!("{}/user/v1/admin/apiKey/create", target.base))
            .header("X-auth-token", format!("bearer {admin}"))
            .json(&json!({"name": format!("bench-{}", rand::random::<u32>())}))
            .send()
            .await,
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot issue an API key: {e}"))?;
    let key = issued["result"]["key"].as_str().unwrap_or_default().to_string();
    let search = {
        let (client, base, key, admin) = (client.clone(), target.base.clone(), key.clone(), admin.clone());
        move |request: Value| {
            let (client, base, key, admin) = (client.clone(), base.clone(), key.clone(), admin.clone());
            async move {
                expect_ok(
                    client
                        .post(format!("{base}/api/user/v1/search"))
                        .header("Authorization", format!("Bearer {key}"))
                        .header("x-authenticated-user-token", admin)
                        .json(&json!({"request": request}))
                        .send()
                        .await,
                )
                .await
            }
        }
    };
    // The range: the two seconds after the first registration (the seed
    // registers its users within minutes, so a day would match them all).
    let first = search(json!({"filters": {"status": 1}, "sort_by": {"createdDate": "asc"}, "limit": 1}))
        .await
        .map_err(|e| anyhow::anyhow!("Sunbird search failed (is the database seeded?): {e}"))?;
    let since = first["result"]["response"]["content"][0]["createdDate"].as_str().unwrap_or_default().to_string();
    // Sunbird's own format, as its answers write it.
    let format = "%Y-%m-%d %H:%M:%S:%3f%z";
    let since_at = chrono::DateTime::parse_from_str(&since, format)
        .map_err(|e| anyhow::anyhow!("no createdDate in the first user ({since:?}): {e}"))?;
    let until = (since_at + chrono::Duration::seconds(2)).format(format).to_string();
    let users = target.users.max(1);
    let bodies: [(&str, BodyOf); 5] = [
        (
            "sunbird exact filter (email)",
            Arc::new(move |i: u64| json!({"filters": {"email": seed_email((i * 7919) % users)}})),
        ),
        (
            "sunbird query (a name and number: rare)",
            Arc::new(
                move |i: u64| json!({"filters": {"status": 1}, "query": format!("novak {}", (i * 7919) % users), "limit": 20}),
            ),
        ),
        (
            "sunbird createdDate range (2 s), by name",
            Arc::new(move |_| json!({"filters": {"createdDate": {">=": since, "<=": until}}, "limit": 20})),
        ),
        (
            "sunbird facet (roles, every active user)",
            Arc::new(|_| json!({"filters": {"status": 1}, "facets": ["roles"], "limit": 1})),
        ),
        // The same counts through the general query (a range holding
        // everyone turns off the counters): what the facet cost before them.
        (
            "sunbird facet (roles, every active user, general query)",
            Arc::new(|_| {
                json!({"filters": {"status": 1, "createdDate": {">=": "1970-01-01 00:00:00:000+0000"}},
                    "facets": ["roles"], "limit": 1})
            }),
        ),
    ];
    for (name, body) in bodies {
        let search = search.clone();
        let report = run(name, load, move |_, i| {
            let (search, body) = (search.clone(), body.clone());
            async move { search(body(i)).await.map(|_| ()) }
        })
        .await;
        report.print();
    }
    Ok(())
}

/// The type-ahead terms of issue 11: one and two characters, common and rare.
const TYPEAHEAD_TERMS: [&str; 8] = ["a", "b", "c", "d", "e", "lo", "ad", "ha"];

/// Type-ahead search (issue 11): `load.concurrency` clients cycle through
/// short terms on the mentee list at the default page size, while a probe
/// reads profiles at a fixed rate. The probe runs alone first, so its two
/// lines say whether the searches slow anything else on the instance.
pub async fn typeahead(target: &Target, load: &Load, probe_rate: f64) -> anyhow::Result<()> {
    let sessions = Arc::new(sessions(target, 2).await?);
    let probe_load = Load { concurrency: 2, duration: load.duration, rate: Some(probe_rate) };
    let probe = |name: &'static str| {
        let (client, base, sessions) = (client(), target.base.clone(), sessions.clone());
        let load = probe_load.clone();
        async move {
            run(name, &load, move |_, _| {
                let (client, base, sessions) = (client.clone(), base.clone(), sessions.clone());
                async move { as_user_unparsed(client.get(format!("{base}/user/v1/user/read")), &sessions[1].0).await }
            })
            .await
        }
    };
    probe("probe user/read, alone").await.print();
    let client = client();
    let (base, searchers) = (target.base.clone(), sessions.clone());
    let search = run("typeahead mentee list", load, move |worker, i| {
        let (client, base, sessions) = (client.clone(), base.clone(), searchers.clone());
        let term = TYPEAHEAD_TERMS[(worker + i as usize) % TYPEAHEAD_TERMS.len()];
        async move {
            let url = format!("{base}/user/v1/account/list?userType=mentee&search={term}");
            as_user_unparsed(client.get(url), &sessions[0].0).await
        }
    });
    let (search, probed) = tokio::join!(search, probe("probe user/read, under search"));
    search.print();
    probed.print();
    Ok(())
}

/// Each iteration renames the worker's user to a fresh unique name and at
/// once searches for it: with read-your-writes the first search finds it.
pub async fn visible(target: &Target, load: &Load) -> anyhow::Result<()> {
    let sessions = Arc::new(sessions(target, load.concurrency).await?);
    let before = wait_buckets(&target.base).await?;
    let missed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let client = client();
    let base = target.base.clone();
    let missed_in = missed.clone();
    let report = run("P5 write then visible", load, move |worker, i| {
        let (client, base, sessions, missed) = (client.clone(), base.clone(), sessions.clone(), missed_in.clone());
        async move {
            let token = &sessions[worker].0;
            let name = format!("Visible Check w{worker}i{i}");
            as_user(client.patch(format!("{base}/user/v1/user/update")).json(&json!({"name": name})), token).await?;
            let search = format!("{base}/user/v1/account/list?search=w{worker}i{i}&page=1&limit=5");
            let found = as_user(client.get(search), token).await?;
            if found["result"]["count"].as_i64() != Some(1) {
                missed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        }
    })
    .await;
    report.print();
    println!(
        "writes not visible to the very next search: {} of {} (latency above is write + search)",
        missed.load(std::sync::atomic::Ordering::Relaxed),
        report.ok
    );
    // The server counts each write's wait from its commit until every read
    // model shows it, in histogram buckets; the difference is this run's.
    let after = wait_buckets(&target.base).await?;
    let run: Vec<(f64, f64)> =
        after.iter().map(|(le, n)| (*le, n - before.iter().find(|(b, _)| b == le).map_or(0.0, |(_, m)| *m))).collect();
    let total = run.last().map_or(0.0, |(_, n)| *n);
    if total == 0.0 {
        // Inline read models: the write was visible at its commit, nobody waited.
        println!("commit → visible in every read model (server-side, this run): no write waited (0 waits)");
        return Ok(());
    }
    let quantile = |q: f64| run.iter().find(|(_, n)| *n >= q * total).map_or(f64::INFINITY, |(le, _)| le * 1000.0);
    println!(
        "commit → visible in every read model (server-side, this run): p50 ≤ {} ms, p99 ≤ {} ms, p999 ≤ {} ms \
         ({total} waits)",
        quantile(0.5),
        quantile(0.99),
        quantile(0.999)
    );
    Ok(())
}

/// The samples on `/metrics` whose line starts with `prefix`: the rest of
/// the series (labels) and the value.
async fn samples(client: &Client, base: &str, prefix: &str) -> anyhow::Result<Vec<(String, f64)>> {
    let text = client.get(format!("{base}/metrics")).send().await?.text().await?;
    Ok(text
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect())
}

/// The cumulative buckets of `roster_read_your_writes_wait_seconds`: upper
/// bound in seconds (`+Inf` last) and count.
async fn wait_buckets(base: &str) -> anyhow::Result<Vec<(f64, f64)>> {
    let buckets = samples(&client(), base, "roster_read_your_writes_wait_seconds_bucket{le=\"").await?;
    Ok(buckets.into_iter().filter_map(|(le, count)| Some((le.strip_suffix("\"}")?.parse().ok()?, count))).collect())
}

async fn metric(client: &Client, base: &str, name: &str) -> anyhow::Result<f64> {
    Ok(samples(client, base, name).await?.first().map_or(0.0, |(_, value)| *value))
}

/// Start the server with `KAFKA_BROKERS` on a log the publisher has not seen,
/// then run this: it reports events/s from first to last published event.
pub async fn publish(target: &Target) -> anyhow::Result<()> {
    let client = client();
    let name = "roster_published_events_total";
    // The server may still be starting.
    let waiting_since = Instant::now();
    let mut last = loop {
        match metric(&client, &target.base, name).await {
            Ok(value) => break value,
            Err(error) if waiting_since.elapsed() > Duration::from_secs(30) => return Err(error),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let (mut first_seen, mut last_change) = (None, Instant::now());
    let start_count = last;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = metric(&client, &target.base, name).await?;
        if now > last {
            first_seen.get_or_insert(Instant::now());
            last_change = Instant::now();
            last = now;
        } else if first_seen.is_some() && last_change.elapsed() > Duration::from_secs(3) {
            break;
        } else if first_seen.is_none() && last_change.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("nothing was published in 30 s (is KAFKA_BROKERS set on the server?)");
        }
    }
    let elapsed = last_change - first_seen.unwrap_or(last_change);
    let events = last - start_count;
    println!(
        "P7 published {events} events in {elapsed:.1?}: {:.0} events/s",
        events / elapsed.as_secs_f64().max(0.001)
    );
    Ok(())
}

pub fn memory(pid: u32) -> anyhow::Result<()> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    for line in status.lines().filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM")) {
        println!("P10 {line}");
    }
    Ok(())
}
