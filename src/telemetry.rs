//! Logs (text, or JSON with `ROSTER_LOG_FORMAT=json`) and Prometheus metrics.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

pub fn init_logging(json: bool) {
    init(json, std::io::stdout);
}

/// For commands whose stdout is data (`events export`, `events tail`).
pub fn init_logging_to_stderr(json: bool) {
    init(json, std::io::stderr);
}

fn init<W>(json: bool, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(writer);
    let _ = if json { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
}

/// The process-wide metrics recorder (installed once, even with several apps in one test process).
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}
