//! The bulk invite worker: one instance runs the jobs (`crate::leadership`,
//! role `bulk_invites`), oldest first, each from where its log says it is.
//! A crash, a kill or a lost lock stops it between batches at worst (a
//! batch is one commit), and whoever leads next resumes the job at its next
//! batch.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::leadership::{self, Leadership};
use crate::read_models;
use crate::services::Services;

/// How often an idle leader looks for a new job.
const IDLE_POLL: Duration = Duration::from_millis(250);
/// The wait after a job failed for a reason other than its file (the database is away).
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(2);

pub fn start(services: Services, stop: CancellationToken) {
    tokio::spawn(async move { lead_or_follow(services, stop).await });
}

async fn lead_or_follow(services: Services, stop: CancellationToken) {
    loop {
        match Leadership::try_acquire(&services.db, "bulk_invites").await {
            Ok(Some(leadership)) => {
                if work_while_leading(&services, leadership, &stop).await {
                    return;
                }
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "bulk invite worker cannot reach the database to take the lead"),
        }
        tokio::select! {
            _ = tokio::time::sleep(leadership::RETRY) => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// Returns true when stopped, false when leadership was lost.
async fn work_while_leading(services: &Services, leadership: Leadership, stop: &CancellationToken) -> bool {
    let leadership = tokio::sync::Mutex::new(leadership);
    let lead = &leadership;
    // Jobs that errored are passed over until the queue comes round again.
    let mut after_id = 0;
    loop {
        if stop.is_cancelled() {
            leadership.into_inner().release().await;
            return true;
        }
        if !lead.lock().await.still_held_lately().await {
            tracing::warn!("lost the bulk invite worker lock; stepping down");
            return false;
        }
        let pause = match read_models::next_unfinished_bulk_invite(&services.db, after_id).await {
            Ok(Some(job)) => {
                let keep_going =
                    move || async move { !stop.is_cancelled() && lead.lock().await.still_held_lately().await };
                match services.run_bulk_invite(&job.job_uuid, keep_going).await {
                    Ok(_) => Duration::ZERO,
                    Err(error) => {
                        tracing::error!(job = %job.job_uuid, %error, "a bulk invite stopped; it is retried");
                        after_id = job.id;
                        RETRY_AFTER_ERROR
                    }
                }
            }
            Ok(None) if after_id > 0 => {
                after_id = 0;
                Duration::ZERO
            }
            Ok(None) => IDLE_POLL,
            Err(error) => {
                tracing::warn!(%error, "bulk invite worker cannot read its queue");
                RETRY_AFTER_ERROR
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.cancelled() => {}
        }
    }
}
