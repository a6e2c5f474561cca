//! Claims left behind. A sign-up claims its email, phone and username before
//! it registers the user (creating an organisation, role, module, permission
//! or role request claims its code or title the same way); a crash in
//! between leaves a claim whose owner never existed, and the value looks
//! taken for good. Until claim and creation are one commit, two things free
//! such claims:
//! - at start-up, `start_release` gives back every claim whose owner has no
//!   events: on SQLite every claim recorded before this instance started
//!   (one instance: nothing else can be signing up), on PostgreSQL those
//!   older than `ABANDONED_CLAIM_AGE`, since another instance may be
//!   mid-sign-up. It runs beside serving: it reads every claim in the log
//!   (about 6 s on PostgreSQL and 13 s on SQLite for a million claims and
//!   a million users on the 2-core test machine), and nothing waits for it;
//! - a sign-up that finds its value claimed takes the claim over once it is
//!   that old and its owner was never registered (`accounts`).
//!
//! Why the age is safe: the part of a sign-up between its first claim and its
//! registration runs in its own task, so a client that hangs up does not cut
//! it short; it gives its claims back rather than start registering later
//! than `SIGN_UP_DEADLINE` after claiming, and the registration is one
//! append, which waits at most the pool's acquire timeout (10 s on
//! PostgreSQL, 30 s on SQLite, plus SQLite's 30 s busy timeout). A claim
//! older than the deadline plus that wait whose owner has no events will not
//! get one. Two minutes covers the worst case (70 s on SQLite) with room for
//! clock skew (the take-over compares its clock with the claiming instance's
//! `at`, the start-up sweep with the database's `recorded_at`); a shorter age
//! would need shorter database timeouts first.

use aggregates::{ClaimCommand, ClaimError, ClaimKind, UniqueClaim};

use tokio_util::sync::CancellationToken;

use crate::commands::{CommandBus, CommandError, Metadata};
use crate::storage::Db;

/// A claim this old whose owner never came to exist was abandoned.
pub const ABANDONED_CLAIM_AGE: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

/// A sign-up that has not started registering this long after its claims
/// gives them back instead.
pub const SIGN_UP_DEADLINE: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

/// The aggregate type whose id owns a claim of this kind.
pub fn owner_type(kind: ClaimKind) -> &'static str {
    match kind {
        ClaimKind::Email | ClaimKind::Phone | ClaimKind::Username => "user",
        ClaimKind::OrganizationCode => "organization",
        ClaimKind::PendingRoleRequest => "role_request",
        ClaimKind::RoleTitle => "role",
        ClaimKind::ModuleCode => "module",
        ClaimKind::PermissionCode => "permission",
    }
}

const KINDS: [ClaimKind; 8] = [
    ClaimKind::Email,
    ClaimKind::Phone,
    ClaimKind::Username,
    ClaimKind::OrganizationCode,
    ClaimKind::PendingRoleRequest,
    ClaimKind::RoleTitle,
    ClaimKind::ModuleCode,
    ClaimKind::PermissionCode,
];

/// Starts releasing the orphaned claims in the background; call it before
/// serving, so that on SQLite the cutoff precedes every claim of this instance.
pub fn start_release(db: Db, bus: CommandBus, stop: CancellationToken) {
    let cutoff = match db {
        Db::Sqlite(_) => chrono::Utc::now(),
        Db::Postgres(_) => chrono::Utc::now() - ABANDONED_CLAIM_AGE,
    };
    tokio::spawn(async move {
        tokio::select! {
            _ = stop.cancelled() => {}
            released = release_orphaned_claims(&db, &bus, cutoff) => {
                // A process that stops (a one-shot CLI command) closes the
                // pool under the sweep: that is no failure to report.
                let closing = stop.is_cancelled() || crate::on_pool!(&db, pool => pool.is_closed());
                match released {
                    Err(error) if !closing => {
                        tracing::error!(error = format!("{error:#}"), "could not release orphaned claims")
                    }
                    _ => {}
                }
            }
        }
    });
}

/// Releases, through the command bus, every claim recorded before `cutoff`
/// whose owner was never created. Returns how many.
pub async fn release_orphaned_claims(
    db: &Db,
    bus: &CommandBus,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<usize> {
    let owners: Vec<(&str, &str)> = KINDS.iter().map(|kind| (kind.as_str(), owner_type(*kind))).collect();
    let orphans = db.orphaned_claims(&owners, cutoff).await?;
    let meta = Metadata::system("release-orphaned-claims");
    let mut released = 0;
    for orphan in orphans {
        let release = ClaimCommand::Release { owner: orphan.owner, at: chrono::Utc::now() };
        match bus.execute::<UniqueClaim>(&orphan.claim_id, release, &meta).await {
            Ok(committed) if committed.point.is_some() => released += 1,
            Ok(_) => {}
            // Taken over by a sign-up since the query: nothing to do.
            Err(CommandError::Domain(ClaimError::NotOwner)) => {}
            Err(error) => anyhow::bail!("cannot release an orphaned claim: {error}"),
        }
    }
    if released > 0 {
        tracing::warn!(count = released, "released unique-value claims left by unfinished sign-ups or creations");
    }
    Ok(released)
}
