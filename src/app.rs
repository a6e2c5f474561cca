//! The composition root: connects storage, starts the projections and the
//! publisher, bootstraps the defaults, builds the `Services` the use cases
//! run on, and serves them through the HTTP router. It is the one module
//! that knows both the services and the HTTP layer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::keycloak::KeycloakKeys;
use crate::auth::password;
use crate::auth::tokens::TokenService;
use crate::authorization::GrantCache;
use crate::commands::CommandBus;
use crate::config::Settings;
use crate::projector::Projector;
use crate::publisher::Publisher;
use crate::services::Services;
use crate::storage::file_lock::{lock_database, ProcessLock};
use crate::storage::{Db, Reader};
use crate::{bootstrap, http};

/// The name the handlers' state had before it moved below HTTP; kept for
/// the tests and tools that build an `Application` and reach into it.
pub type AppState = Services;

pub struct Application {
    listener: TcpListener,
    state: Services,
    stop: CancellationToken,
    /// One process per SQLite file, until this one stops.
    _lock: ProcessLock,
}

impl Application {
    /// Connects, migrates, starts the projection runners and bootstraps the
    /// defaults, then binds (port 0 picks a free port; see `local_addr`).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let lock = lock_database(&settings.database_url)?;
        let db = Db::connect(&settings.database_url, settings.database_max_connections).await?;
        let stop = CancellationToken::new();
        match Self::start(settings, db.clone(), stop.clone()).await {
            Ok((listener, state)) => Ok(Application { listener, state, stop, _lock: lock }),
            Err(error) => {
                // Runners a refused start left behind would otherwise keep
                // writing after the lock is released (a second projector on
                // one SQLite file).
                stop.cancel();
                db.close().await;
                drop(lock);
                Err(error)
            }
        }
    }

    async fn start(settings: Settings, db: Db, stop: CancellationToken) -> anyhow::Result<(TcpListener, Services)> {
        db.migrate().await?;
        let reader = Reader::connect(&settings, &db).await?;
        let projector = Projector::new(db.clone());
        projector.start(stop.clone()).await?;
        let claim_ids = crate::storage::claim_ids::ClaimIds::load(&db).await?;
        let bus = CommandBus::new(db.clone(), projector.clone(), claim_ids);
        crate::telemetry::metrics();
        // Serve only once the defaults are readable (roles render in every profile).
        if let Some(point) = bootstrap::run(&bus, &settings.default_organisation_code).await? {
            if !projector.wait_for(point, Duration::from_secs(30)).await {
                anyhow::bail!("projections did not catch up with the bootstrap events");
            }
        }
        crate::startup_checks::default_role(&db, &projector, &settings.default_role).await?;
        let tokens = Arc::new(TokenService::load(&db, &settings).await?);
        tokens.start_refresh(Duration::from_millis(settings.signing_keys_refresh_ms), stop.clone());
        // Erasures a crash interrupted between the deletion and the key.
        let unfinished = db.destroy_keys_of_deleted_users().await?;
        if unfinished > 0 {
            tracing::warn!(count = unfinished, "finished interrupted erasures");
        }
        // Claims a crash left between claiming a value and creating its owner.
        crate::orphaned_claims::start_release(db.clone(), bus.clone(), stop.clone());
        let publisher = match &settings.kafka {
            Some(kafka) => {
                let publisher = Publisher::new(db.clone(), kafka.clone())?;
                publisher.start(stop.clone());
                Some(publisher)
            }
            None => None,
        };
        // The outbox: one sender across instances, like the publisher.
        let sender = crate::notifications::sender::Sender::new(
            db.clone(),
            settings.notifications.clone(),
            settings.kafka.clone(),
        )?;
        sender.start(stop.clone());
        tokio::task::spawn_blocking(password::warm_up);
        let listener = TcpListener::bind(settings.addr).await?;
        let grants = Arc::new(GrantCache::new(http::ELEVATE_ROUTES));
        let bootstrap_admin = settings.bootstrap_admin.clone();
        let files =
            Arc::new(crate::files::FileStore::open(&settings.files, bus.claim_ids().derived_key("file-links"))?);
        let keycloak = settings.keycloak.as_ref().map(KeycloakKeys::load).transpose()?.map(Arc::new);
        let state = Services {
            settings: Arc::new(settings),
            db,
            reader,
            bus,
            projector,
            tokens,
            grants,
            publisher,
            form_versions: Default::default(),
            profile_field_types: Default::default(),
            files,
            keycloak,
        };
        if let Some(admin) = &bootstrap_admin {
            state.bootstrap_admin(admin).await?;
        }
        // Bulk invites: one worker across instances, like the sender.
        crate::bulk_invites::worker::start(state.clone(), stop.clone());
        Ok((listener, state))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn state(&self) -> Services {
        self.state.clone()
    }

    /// Stops the runners and closes the pools without serving (one-shot CLI commands).
    pub async fn stop(self) {
        self.stop.cancel();
        self.state.db.close().await;
    }

    /// Serves until `shutdown` completes, then drains requests and stops the runners.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = http::router(self.state.clone());
        tracing::info!(addr = %self.local_addr(), backend = self.state.db.backend(), "roster listening");
        http::server::serve(self.listener, router, &self.state.settings.connections, shutdown).await;
        self.stop.cancel();
        self.state.reader.close().await;
        self.state.db.close().await;
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
