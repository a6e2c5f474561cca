//! Settings that can only be checked against the database, refused at start
//! with the variable and the fix, rather than failing every request later.

use std::time::Duration;

use crate::bootstrap::DEFAULT_ORGANIZATION_ID;
use crate::on_pool;
use crate::projector::Projector;
use crate::read_models;
use crate::storage::Db;

/// `DEFAULT_ROLE` must name an active role every sign-up can be given, and
/// not one that makes each new user a system admin.
pub async fn default_role(db: &Db, projector: &Projector, title: &str) -> anyhow::Result<()> {
    // A role an admin defined may still be on its way to the read model.
    let end = db.end_of_log().await?;
    if !projector.wait_for(end, Duration::from_secs(30)).await {
        anyhow::bail!("the read models did not reach the end of the log, so DEFAULT_ROLE cannot be checked");
    }
    let role = read_models::role_by_title(db, title, DEFAULT_ORGANIZATION_ID).await?;
    match role {
        Some(role) if role.user_type == 1 => anyhow::bail!(
            "DEFAULT_ROLE={title} would make every sign-up a system admin: set DEFAULT_ROLE to another role (default mentee)"
        ),
        Some(role) if role.status == "ACTIVE" => Ok(()),
        _ => {
            let sql = "SELECT title FROM roles WHERE organization_id = $1 AND status = 'ACTIVE' AND user_type <> 1 \
                       ORDER BY id";
            let titles: Vec<String> = on_pool!(db, pool => {
                sqlx::query_scalar(sql).bind(DEFAULT_ORGANIZATION_ID).fetch_all(pool).await?
            });
            anyhow::bail!(
                "DEFAULT_ROLE={title} names no active role of the default organisation: set it to one of {} \
                 (default mentee)",
                titles.join(", ")
            )
        }
    }
}
