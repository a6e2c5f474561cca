//! Bulk invites (issue 15 point 6): uploads a CSV of `rows` new users through
//! a file link, starts `org-admin/bulkUserCreate`, and waits for PROCESSED.
//! Prints rows per minute from the answer to the end, and each batch's time
//! from the job's own log (the `recorded_at` of its batch events, so the
//! figure is the server's, not the polling's).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::scenarios::{admin_token, Target};
use roster_bench::http::{client, expect_ok};

pub async fn bulk(target: &Target, admin_secret: &str, rows: usize, database_url: &str) -> anyhow::Result<()> {
    let token = admin_token(target, admin_secret).await?;
    let client = client();
    let auth = format!("bearer {token}");
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    let mut csv = String::with_capacity(rows * 64);
    csv.push_str("name,email,phone_code,phone,username,roles\n");
    for i in 0..rows {
        let role = if i % 10 == 0 { "mentor" } else { "" };
        csv.push_str(&format!("Invitee {i},invitee{i}.{run}@bench.roster.example,,,,{role}\n"));
    }
    let signed = expect_ok(
        client
            .get(format!("{}/user/v1/cloud-services/file/getSignedUrl?file_name=bench-{rows}.csv", target.base))
            .header("X-auth-token", &auth)
            .send()
            .await,
    )
    .await
    .map_err(anyhow::Error::msg)?;
    let url = signed["result"]["signedUrl"].as_str().unwrap_or_default();
    let path = signed["result"]["filePath"].as_str().unwrap_or_default().to_string();
    let put = client.put(url).header("content-type", "text/csv").body(csv).send().await?;
    anyhow::ensure!(put.status().is_success(), "upload refused: {} (FILES_MAX_BYTES?)", put.status());

    let started = Instant::now();
    let job = expect_ok(
        client
            .post(format!("{}/user/v1/org-admin/bulkUserCreate", target.base))
            .header("X-auth-token", &auth)
            .json(&json!({"file_path": path}))
            .send()
            .await,
    )
    .await
    .map_err(anyhow::Error::msg)?;
    let answered = started.elapsed();
    let id = job["result"]["id"].as_i64().unwrap_or_default();
    let finished: Value = loop {
        let list = expect_ok(
            client
                .get(format!("{}/user/v1/org-admin/getBulkInvitesFilesList?page=1&limit=20", target.base))
                .header("X-auth-token", &auth)
                .send()
                .await,
        )
        .await
        .map_err(anyhow::Error::msg)?;
        let found = list["result"]["data"].as_array().and_then(|d| d.iter().find(|j| j["id"] == id).cloned());
        if let Some(job) = found.filter(|j| j["status"] != "UPLOADED") {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let took = started.elapsed();
    anyhow::ensure!(finished["status"] == "PROCESSED", "the job did not process: {finished}");
    println!(
        "bulk invite of {rows} rows: answered in {answered:.1?}, PROCESSED after {took:.2?}: {:.0} rows/min; counts {}",
        rows as f64 / took.as_secs_f64() * 60.0,
        finished["counts"]
    );
    batch_times(database_url, id).await
}

/// Each batch's time: from the previous batch event (the upload for the first) to its own.
async fn batch_times(database_url: &str, id: i64) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(database_url).await?;
    let uuid: String =
        sqlx::query_scalar("SELECT job_uuid FROM bulk_invites WHERE id = $1").bind(id).fetch_one(&pool).await?;
    let times: Vec<(String, f64)> = sqlx::query_as(
        "SELECT event_type, extract(epoch FROM recorded_at)::float8 FROM events \
         WHERE aggregate_type = 'bulk_invite' AND aggregate_id = $1 ORDER BY sequence",
    )
    .bind(&uuid)
    .fetch_all(&pool)
    .await?;
    let mut batches: Vec<f64> =
        times.windows(2).filter(|w| w[1].0 == "BulkInviteBatchProcessed").map(|w| (w[1].1 - w[0].1) * 1000.0).collect();
    if batches.is_empty() {
        return Ok(());
    }
    let first = batches[0];
    let listed: Vec<String> = batches.iter().map(|ms| format!("{ms:.0}")).collect();
    batches.sort_by(f64::total_cmp);
    let at = |q: f64| batches[((batches.len() - 1) as f64 * q).round() as usize];
    println!(
        "{} batches, ms each: first {first:.0}, p50 {:.0}, p90 {:.0}, max {:.0}; in order: {}",
        batches.len(),
        at(0.5),
        at(0.9),
        at(1.0),
        listed.join(" ")
    );
    pool.close().await;
    Ok(())
}
