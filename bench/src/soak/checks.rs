//! What must hold after the kills: each acknowledged command's effect is in
//! the log and the read models, the read models equal a fresh replay, every
//! event of the log is on the broker, and no user exists twice. Each check
//! returns its violations as sentences; none is the pass.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use sqlx::PgPool;

use super::load::Ledger;

/// (user_uuid, email, about) of a `users` row.
type UserRow = (String, Option<String>, Option<String>);

/// At most this many examples of one violation are shown.
const EXAMPLES: usize = 5;

fn note(violations: &mut Vec<String>, shown: &mut usize, text: String) {
    *shown += 1;
    if *shown <= EXAMPLES {
        violations.push(text);
    } else if *shown == EXAMPLES + 1 {
        violations.push("… (more of the same)".into());
    }
}

/// Check 1: every acknowledged command's effect, read from the log (event
/// types are in clear) and from the read models.
pub async fn acknowledged_effects(pool: &PgPool, ledger: &Ledger) -> anyhow::Result<(Vec<String>, u64)> {
    let event_counts: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT aggregate_id, event_type, COUNT(*) FROM events WHERE aggregate_type = 'user' GROUP BY 1, 2",
    )
    .fetch_all(pool)
    .await?;
    let logged: HashMap<(String, String), i64> =
        event_counts.into_iter().map(|(id, kind, n)| ((id, kind), n)).collect();
    let logged = |uuid: &str, kind: &str| *logged.get(&(uuid.to_string(), kind.to_string())).unwrap_or(&0) as u64;
    let users: Vec<UserRow> = sqlx::query_as("SELECT user_uuid, email, about FROM users").fetch_all(pool).await?;
    let by_email: HashMap<String, Vec<&UserRow>> = users.iter().fold(HashMap::new(), |mut map, user| {
        map.entry(user.1.clone().unwrap_or_default()).or_default().push(user);
        map
    });
    let roles: HashSet<(String, i64)> =
        sqlx::query_as::<_, (String, i64)>("SELECT user_uuid, CAST(role_id AS BIGINT) FROM user_roles")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    let requests: HashMap<i64, (String, i64)> = sqlx::query_as::<_, (i64, String, i64)>(
        "SELECT CAST(id AS BIGINT), requester_uuid, CAST(role_id AS BIGINT) FROM role_requests",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(id, requester, role)| (id, (requester, role)))
    .collect();

    let (mut violations, mut lost) = (Vec::new(), 0u64);
    let mut shown = 0;
    let mut lose = |violations: &mut Vec<String>, text: String| {
        lost += 1;
        note(violations, &mut shown, text);
    };
    for account in &ledger.accounts {
        let who = &account.email;
        match by_email.get(who).map(Vec::as_slice) {
            Some([(uuid, _, about)]) => {
                if uuid != &account.uuid {
                    lose(
                        &mut violations,
                        format!("sign-up {who}: the read model has user {uuid}, the answer said {}", account.uuid),
                    );
                }
                if let Some(last) = &account.last_about {
                    // The column holds the JSON value as sent.
                    let about = about.as_deref().unwrap_or_default();
                    let shown_about = serde_json::from_str::<String>(about).unwrap_or_else(|_| about.to_string());
                    let shown_about = shown_about.as_str();
                    if shown_about != last && !account.later_unknown_abouts.iter().any(|a| a == shown_about) {
                        lose(
                            &mut violations,
                            format!(
                                "profile update of {who}: about is {shown_about:?}, the last acknowledged was {last:?}"
                            ),
                        );
                    }
                }
            }
            Some(many) if many.len() > 1 => {
                lose(&mut violations, format!("sign-up {who}: {} users have this email", many.len()))
            }
            _ => lose(&mut violations, format!("acknowledged sign-up {who} is not in the users read model")),
        }
        if logged(&account.uuid, "UserRegistered") != 1 {
            lose(
                &mut violations,
                format!("sign-up {who}: {} UserRegistered events in the log", logged(&account.uuid, "UserRegistered")),
            );
        }
        if logged(&account.uuid, "ProfileUpdated") < account.updates_acknowledged {
            lose(
                &mut violations,
                format!(
                    "{who}: {} profile updates acknowledged, {} in the log",
                    account.updates_acknowledged,
                    logged(&account.uuid, "ProfileUpdated")
                ),
            );
        }
        if logged(&account.uuid, "LoginSucceeded") < account.logins_acknowledged {
            lose(
                &mut violations,
                format!(
                    "{who}: {} logins acknowledged, {} in the log",
                    account.logins_acknowledged,
                    logged(&account.uuid, "LoginSucceeded")
                ),
            );
        }
        for (id, role) in &account.requests {
            if requests.get(id) != Some(&(account.uuid.clone(), *role)) {
                lose(
                    &mut violations,
                    format!(
                        "{who}: acknowledged role request {id} (role {role}) is not in role_requests: {:?}",
                        requests.get(id)
                    ),
                );
            }
        }
        for role in &account.roles_granted {
            if !roles.contains(&(account.uuid.clone(), *role)) {
                lose(&mut violations, format!("{who}: approved role {role} is not held"));
            }
        }
    }
    Ok((violations, lost))
}

/// Events a projection could not apply and skipped: each is a silent gap in a read model.
pub async fn failed_projection_events(pool: &PgPool) -> anyhow::Result<Vec<String>> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT projection, COUNT(*) FROM failed_projection_events GROUP BY 1").fetch_all(pool).await?;
    Ok(rows.into_iter().map(|(projection, n)| format!("{n} events failed in projection {projection}")).collect())
}

/// Check 4: no two users share an email or a username, and no user was registered twice.
pub async fn duplicate_users(pool: &PgPool) -> anyhow::Result<(Vec<String>, u64)> {
    let mut violations = Vec::new();
    for (what, sql) in [
        ("email", "SELECT lower(email), COUNT(*) FROM users WHERE email IS NOT NULL GROUP BY 1 HAVING COUNT(*) > 1"),
        (
            "username",
            "SELECT lower(username), COUNT(*) FROM users WHERE username IS NOT NULL GROUP BY 1 HAVING COUNT(*) > 1",
        ),
        (
            "registration",
            "SELECT aggregate_id, COUNT(*) FROM events WHERE aggregate_type = 'user' \
             AND event_type = 'UserRegistered' GROUP BY 1 HAVING COUNT(*) > 1",
        ),
    ] {
        let rows: Vec<(String, i64)> = sqlx::query_as(sql).fetch_all(pool).await?;
        for (value, n) in rows {
            violations.push(format!("{n} users share the {what} {value}"));
        }
    }
    let duplicates = violations.len() as u64;
    violations.truncate(EXAMPLES);
    Ok((violations, duplicates))
}

pub type Dump = BTreeMap<&'static str, Vec<String>>;

/// Tables PostgreSQL triggers derive from `users` and `user_roles`
/// (migrations 0007 and 0013); exact by design, so a replay must rebuild
/// them row for row too.
const DERIVED_TABLES: [&str; 4] =
    ["user_list_counts", "role_listing", "user_search_prefixes", "user_search_prefix_counts"];

/// Every read table a projection owns, and the derived ones, each row as
/// JSON text, sorted (duplicates kept: `user_search_prefixes` has no key).
pub async fn dump_read_models(pool: &PgPool) -> anyhow::Result<Dump> {
    let mut dump = Dump::new();
    let owned: Vec<&'static str> = projections::registry().iter().flat_map(|p| p.tables().iter().copied()).collect();
    for table in owned.into_iter().chain(DERIVED_TABLES) {
        // Counters are kept in shards (migration 0035): a key's value is their sum.
        let rows = match table {
            "user_list_counts" => "(SELECT role_id, sum(active) AS active FROM user_list_counts GROUP BY 1 \
                 HAVING sum(active) <> 0)"
                .to_string(),
            "user_search_prefix_counts" => "(SELECT role_id, prefix, sum(active) AS active, sum(named) AS named \
                 FROM user_search_prefix_counts GROUP BY 1, 2 HAVING sum(active) <> 0 OR sum(named) <> 0)"
                .to_string(),
            other => other.to_string(),
        };
        let sql = format!("SELECT CAST(row_to_json(t) AS TEXT) FROM {rows} t ORDER BY 1");
        dump.insert(table, sqlx::query_scalar(&sql).fetch_all(pool).await?);
    }
    Ok(dump)
}

/// Check 2: the live read models against the ones a replay built.
pub fn compare_dumps(live: &Dump, replayed: &Dump) -> (Vec<String>, u64) {
    let mut violations = Vec::new();
    let mut differing = 0u64;
    for (table, rows) in live {
        let empty = Vec::new();
        let other = replayed.get(table).unwrap_or(&empty);
        let (a, b): (BTreeSet<&String>, BTreeSet<&String>) = (rows.iter().collect(), other.iter().collect());
        let only_live: Vec<&&String> = a.difference(&b).collect();
        let only_replay: Vec<&&String> = b.difference(&a).collect();
        if rows == other {
            continue;
        }
        differing += (only_live.len() + only_replay.len()).max(1) as u64;
        violations.push(format!(
            "{table}: {} rows live, {} after replay; only live: {:?}; only after replay: {:?}",
            rows.len(),
            other.len(),
            only_live.iter().take(2).collect::<Vec<_>>(),
            only_replay.iter().take(2).collect::<Vec<_>>()
        ));
    }
    (violations, differing)
}

/// The id every event of the log must carry on the broker as `ce_id`.
pub async fn logged_event_ids(pool: &PgPool) -> anyhow::Result<HashSet<String>> {
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT aggregate_type, aggregate_id, CAST(sequence AS BIGINT) FROM events")
            .fetch_all(pool)
            .await?;
    Ok(rows.iter().map(|(t, a, s)| roster::event_id::event_id(t, a, *s).to_string()).collect())
}

/// Check 3: reads every `roster.*` topic from the start until each expected
/// id was seen or `within` passed; the ids never seen.
pub async fn unpublished(brokers: &str, expected: HashSet<String>, within: Duration) -> anyhow::Result<Vec<String>> {
    let brokers = brokers.to_string();
    tokio::task::spawn_blocking(move || unpublished_blocking(&brokers, expected, within)).await?
}

fn unpublished_blocking(brokers: &str, mut missing: HashSet<String>, within: Duration) -> anyhow::Result<Vec<String>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("roster-soak-{}", rand::random::<u64>()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for aggregate_type in roster::publisher::AGGREGATE_TYPES {
        let topic = format!("roster.{aggregate_type}");
        let metadata = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10))?;
        for partition in metadata.topics().first().map(|t| t.partitions()).unwrap_or_default() {
            assignment.add_partition_offset(&topic, partition.id(), Offset::Beginning)?;
        }
    }
    consumer.assign(&assignment)?;
    let deadline = Instant::now() + within;
    while !missing.is_empty() && Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else { continue };
        let message = message?;
        if let Some(headers) = message.headers() {
            for header in headers.iter().filter(|h| h.key == "ce_id") {
                missing.remove(String::from_utf8_lossy(header.value.unwrap_or_default()).as_ref());
            }
        }
    }
    Ok(missing.into_iter().collect())
}
