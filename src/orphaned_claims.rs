//! Claims left behind by older versions. Until a write and its claims were
//! one commit (`crate::unit_of_work`), a sign-up claimed its email, phone and
//! username before it registered the user (creating an organisation, role,
//! module, permission or role request claimed its code or title the same
//! way); a crash in between left a claim whose owner never existed, and the
//! value looked taken for good. Such claims can no longer be made, but a log
//! written before may hold them, so at start-up `start_release` gives back
//! every claim whose owner has no events: on SQLite every claim recorded
//! before this instance started (one instance: nothing else can be writing),
//! on PostgreSQL those older than `ABANDONED_CLAIM_AGE`, since an instance of
//! an older version may still be running and mid-sign-up during a rolling
//! upgrade. It runs beside serving: it reads every claim in the log (about
//! 6 s on PostgreSQL and 13 s on SQLite for a million claims and a million
//! users on the 2-core test machine), and nothing waits for it. An orphan
//! younger than that at a PostgreSQL start is released at the next one.
//!
//! Why the age is safe: an older version's sign-up gave its claims back
//! rather than start registering later than 10 s after claiming, and the
//! registration was one append, which waits at most the pool's acquire
//! timeout (10 s on PostgreSQL, 30 s on SQLite, plus SQLite's 30 s busy
//! timeout). A claim older than that whose owner has no events will not get
//! one. Two minutes covers the worst case (70 s on SQLite) with room for
//! clock skew (the sweep compares the database's `recorded_at`).

use aggregates::{ClaimCommand, ClaimError, ClaimKind, UniqueClaim};

use tokio_util::sync::CancellationToken;

use crate::commands::{CommandBus, CommandError, Metadata};
use crate::storage::Db;

/// A claim this old whose owner never came to exist was abandoned.
pub const ABANDONED_CLAIM_AGE: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

/// The aggregate type whose id owns a claim of this kind.
pub fn owner_type(kind: ClaimKind) -> &'static str {
    match kind {
        ClaimKind::Email | ClaimKind::Phone | ClaimKind::Username => "user",
        ClaimKind::OrganizationCode => "organization",
        ClaimKind::PendingRoleRequest => "role_request",
        ClaimKind::RoleTitle => "role",
        ClaimKind::ModuleCode => "module",
        ClaimKind::PermissionCode => "permission",
        ClaimKind::FormType => "form",
        ClaimKind::EntityTypeValue => "entity_type",
        ClaimKind::EntityValue => "entity",
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
            // Released and claimed again since the query: nothing to do.
            Err(CommandError::Domain(ClaimError::NotOwner)) => {}
            Err(error) => anyhow::bail!("cannot release an orphaned claim: {error}"),
        }
    }
    // Everything looked at stays swept; an orphan a failed release left
    // above stops the mark there (the error returned before this).
    db.advance_sweep_mark(cutoff).await?;
    if released > 0 {
        tracing::warn!(
            count = released,
            "released unique-value claims left by sign-ups or creations an older version did not finish"
        );
    }
    Ok(released)
}
