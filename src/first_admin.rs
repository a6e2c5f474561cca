//! The first system admin, without `ADMIN_SECRET_CODE`: `roster admin create`
//! (`crate::cli`) and, for containers, a one-time bootstrap from `ROSTER_BOOTSTRAP_ADMIN_*`
//! that does nothing once any admin exists (as Keycloak's bootstrap admin).

use std::time::Duration;

use crate::bootstrap::ADMIN_ROLE_ID;
use crate::commands::Metadata;
use crate::config::BootstrapAdmin;
use crate::on_pool;
use crate::services::Services;

/// How long the bootstrap waits for the read models to reach the end of the
/// log before it decides whether an admin exists.
const CATCH_UP: Duration = Duration::from_secs(30);

impl Services {
    /// Whether a user that is not deleted holds the admin role.
    pub async fn any_admin(&self) -> Result<bool, sqlx::Error> {
        let sql = "SELECT EXISTS (SELECT 1 FROM user_roles r JOIN users u ON u.user_uuid = r.user_uuid \
                   WHERE r.role_id = $1 AND u.status <> 'DELETED')";
        on_pool!(&self.db, pool => sqlx::query_scalar::<_, bool>(sql).bind(ADMIN_ROLE_ID).fetch_one(pool).await)
    }

    /// Creates the bootstrap admin unless an admin exists. Two instances
    /// starting at once with the same email: the email claim lets one
    /// through and the other finds the admin on its second look.
    pub async fn bootstrap_admin(&self, admin: &BootstrapAdmin) -> anyhow::Result<()> {
        if self.caught_up_admin().await? {
            return Ok(());
        }
        let meta = Metadata::system("bootstrap-admin");
        match self.create_admin(admin.name.clone(), admin.email.clone(), admin.password.clone(), &meta).await {
            Ok(_) => {
                tracing::info!("created the bootstrap admin from ROSTER_BOOTSTRAP_ADMIN_EMAIL");
                Ok(())
            }
            Err(error) => {
                // The other instance's admin took the email: nothing to do.
                if self.caught_up_admin().await? {
                    return Ok(());
                }
                anyhow::bail!(
                    "ROSTER_BOOTSTRAP_ADMIN_EMAIL / _PASSWORD / _NAME: cannot create the bootstrap admin: {}",
                    error
                )
            }
        }
    }

    async fn caught_up_admin(&self) -> anyhow::Result<bool> {
        let end = self.db.end_of_log().await?;
        if !self.projector.wait_for(end, CATCH_UP).await {
            anyhow::bail!("the read models did not reach the end of the log, so whether an admin exists is unknown");
        }
        Ok(self.any_admin().await?)
    }
}
