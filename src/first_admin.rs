//! The first system admin, without `ADMIN_SECRET_CODE`: `roster admin create`
//! and, for containers, a one-time bootstrap from `ROSTER_BOOTSTRAP_ADMIN_*`
//! that does nothing once any admin exists (as Keycloak's bootstrap admin).

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::time::Duration;

use crate::app::{AppState, Application};
use crate::bootstrap::ADMIN_ROLE_ID;
use crate::commands::Metadata;
use crate::config::{BootstrapAdmin, Settings};
use crate::on_pool;

/// How long the bootstrap waits for the read models to reach the end of the
/// log before it decides whether an admin exists.
const CATCH_UP: Duration = Duration::from_secs(30);

impl AppState {
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

/// `roster admin create`: the same use case as `admin/create`, on an app
/// that serves nothing and stops once the admin is written. On SQLite it
/// takes the file's lock, so it runs while the service is stopped.
pub async fn create_from_cli(mut settings: Settings, email: String, name: String) -> anyhow::Result<()> {
    // Refused before the prompt rather than after the password is typed;
    // `Application::build` takes the lock for real.
    drop(crate::storage::file_lock::lock_database(&settings.database_url)?);
    let password = read_password()?;
    settings.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    settings.kafka = None;
    settings.bootstrap_admin = None;
    let app = Application::build(settings).await?;
    let created = app.state().create_admin(name, email, password, &Metadata::system("cli-admin-create")).await;
    app.stop().await;
    match created {
        Ok(profile) => {
            eprintln!("admin created: id {} ({})", profile.user.id, profile.user.email.unwrap_or_default());
            Ok(())
        }
        Err(error) => anyhow::bail!("{}", error),
    }
}

/// A prompt without echo on a terminal; otherwise the first line of stdin.
fn read_password() -> anyhow::Result<String> {
    let line = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password for the new admin: ")?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line
    };
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        anyhow::bail!("no password given: type it at the prompt or pipe it on stdin");
    }
    Ok(password)
}
