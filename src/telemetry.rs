//! Logs (text, or JSON with `ROSTER_LOG_FORMAT=json`) and Prometheus metrics.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
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

/// Commit to visible in every read model, as a write's caller waits it out:
/// a true histogram (cumulative counts since start), so a benchmark can take
/// the difference over its run.
pub const READ_YOUR_WRITES_WAIT: &str = "roster_read_your_writes_wait_seconds";
const READ_YOUR_WRITES_WAIT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5,
    1.0, 2.0,
];

/// Every request's time in the service, by route and method: a histogram,
/// so quantiles can be aggregated across instances.
pub const HTTP_REQUEST_DURATION: &str = "roster_http_request_duration_seconds";
const HTTP_REQUEST_DURATION_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Events in the log beyond a projection's checkpoint (label `projection`),
/// as its runner last saw the end of the log: set after every read of a
/// batch and after applying it, so no query is added for it.
pub const PROJECTION_LAG: &str = "roster_projection_lag_events";

/// Events in the log the Kafka publisher has not had acknowledged yet.
pub const PUBLISHER_LAG: &str = "roster_publisher_lag_events";

/// The process-wide metrics recorder (installed once, even with several apps in one test process).
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(READ_YOUR_WRITES_WAIT.into()), READ_YOUR_WRITES_WAIT_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(HTTP_REQUEST_DURATION.into()), HTTP_REQUEST_DURATION_BUCKETS)
            })
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        // Histogram samples pile up until upkeep drains them; without a
        // scraper nobody would, so a thread of its own does (whatever runtime
        // the app runs on: tests start one per test).
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_secs(5));
            upkeep.run_upkeep();
        });
        handle
    })
}
