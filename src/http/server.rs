//! The HTTP/1.1 server: an accept loop over hyper's connection builder, with
//! the limits `axum::serve` lacks, so slow or idle clients cannot hold
//! sockets for ever (GUIDE §11). Each connection is watched:
//! - until a request's headers are complete (from the connection's start,
//!   or from the first byte of a later request): the header read timeout;
//! - between requests: the keep-alive timeout (writing the last response
//!   counts as activity);
//! - while a request is in flight: the body read timeout bounds each wait
//!   for more of its body (`body_read_timeout`, answered 408), and the
//!   handlers bound their own work.
//!
//! A connection past its deadline is closed. At most `max_connections` are
//! served at once; the next one accepted waits for a free place (further
//! clients wait in the listen backlog), and while it waits the idle
//! connections (between requests, or not yet sent a byte) are closed to make
//! room. On shutdown the loop stops accepting, every connection finishes the
//! request it is serving and closes, and `serve` returns once all are gone.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tower_http::timeout::{TimeoutBody, TimeoutError};

use crate::config::ConnectionLimits;
use crate::http::refusal::EdgeRefusal;

fn millis(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}

#[derive(Clone, Copy)]
struct Timeouts {
    header: Option<Duration>,
    keep_alive: Option<Duration>,
}

/// What a connection is doing, as far as its timeouts care.
#[derive(Clone, Copy)]
enum Phase {
    /// Accepted, not a byte yet.
    Fresh { since: Instant },
    /// Part of a request's headers has arrived.
    Head { since: Instant },
    /// Serving `requests` (hyper serves one at a time per HTTP/1 connection).
    Busy { requests: usize },
    /// Between requests, since the last sign of life.
    Idle { since: Instant },
}

struct Activity {
    phase: Mutex<Phase>,
    /// Woken when a deadline may have moved earlier or appeared.
    changed: Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity { phase: Mutex::new(Phase::Fresh { since: Instant::now() }), changed: Notify::new() }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Phase) -> R) -> R {
        f(&mut self.phase.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    fn read_some(&self) {
        let started_head = self.with(|phase| match *phase {
            Phase::Fresh { since } => {
                *phase = Phase::Head { since };
                false
            }
            Phase::Idle { .. } => {
                *phase = Phase::Head { since: Instant::now() };
                true
            }
            Phase::Head { .. } | Phase::Busy { .. } => false,
        });
        if started_head {
            self.changed.notify_one();
        }
    }

    fn wrote_some(&self) {
        self.with(|phase| {
            if let Phase::Idle { since } = phase {
                *since = Instant::now();
            }
        });
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        self.with(|phase| {
            *phase = match *phase {
                Phase::Busy { requests } => Phase::Busy { requests: requests + 1 },
                _ => Phase::Busy { requests: 1 },
            }
        });
        InFlight(self.clone())
    }

    fn deadline(&self, timeouts: Timeouts) -> Option<Instant> {
        self.with(|phase| match *phase {
            Phase::Fresh { since } | Phase::Head { since } => timeouts.header.map(|t| since + t),
            Phase::Idle { since } => timeouts.keep_alive.map(|t| since + t),
            Phase::Busy { .. } => None,
        })
    }

    fn reclaimable(&self) -> bool {
        self.with(|phase| matches!(phase, Phase::Fresh { .. } | Phase::Idle { .. }))
    }
}

/// A request being served; the connection is idle once none is.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let idle = self.0.with(|phase| match phase {
            Phase::Busy { requests } if *requests > 1 => {
                *requests -= 1;
                false
            }
            _ => {
                *phase = Phase::Idle { since: Instant::now() };
                true
            }
        });
        if idle {
            self.0.changed.notify_one();
        }
    }
}

/// The socket, reporting reads and writes to the connection's activity.
struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.read_some();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote_some();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote_some();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let timeouts =
        Timeouts { header: millis(limits.header_read_timeout_ms), keep_alive: millis(limits.keep_alive_timeout_ms) };
    let places = Arc::new(Semaphore::new(limits.max_connections));
    // Each round asks the idle connections to close.
    let (reclaim, reclaiming) = watch::channel(0u64);
    let closing = CancellationToken::new();
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
        };
        let place = match places.clone().try_acquire_owned() {
            Ok(place) => place,
            Err(_) => {
                tracing::debug!("every connection is taken; closing idle ones to make room");
                reclaim.send_modify(|round| *round += 1);
                tokio::select! {
                    _ = &mut shutdown => break,
                    place = places.clone().acquire_owned() => match place {
                        Ok(place) => place,
                        Err(_) => break,
                    },
                }
            }
        };
        // Rounds asked before this connection are not for it.
        let mut reclaiming = reclaiming.clone();
        reclaiming.mark_unchanged();
        let watch = Watch { timeouts, closing: closing.clone(), reclaiming, _place: place };
        connections.spawn(serve_connection(stream, addr, router.clone(), watch));
    }
    drop(listener);
    closing.cancel();
    connections.close();
    connections.wait().await;
}

/// What the accept loop hands a connection: its limits, the server's
/// signals, and its place among the `max_connections`.
struct Watch {
    timeouts: Timeouts,
    closing: CancellationToken,
    reclaiming: watch::Receiver<u64>,
    _place: OwnedSemaphorePermit,
}

/// As hyper and axum do: a client that gave up is nothing; anything else
/// (e.g. out of file descriptors) waits a moment before accepting again.
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(error.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn serve_connection(stream: TcpStream, addr: SocketAddr, router: Router, mut watch: Watch) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked { stream, activity: activity.clone() });
    let tracker = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let in_flight = tracker.request_started();
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(addr));
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await;
            drop(in_flight);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // hyper's own header timeout also runs between requests; ours tells
    // idle time (keep-alive) from a request's headers.
    builder.timer(TokioTimer::new()).header_read_timeout(None);
    // A client may shut its write side once its request is sent (curl -T,
    // a raw socket, the oversized-body test): without this hyper drops the
    // request in flight at that EOF and the client reads nothing.
    builder.half_close(true);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        let deadline = activity.deadline(watch.timeouts);
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            _ = watch.closing.cancelled(), if !draining => {
                // hyper would wait for the first request of a fresh connection.
                if activity.reclaimable() {
                    return;
                }
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
            Ok(()) = watch.reclaiming.changed() => {
                if activity.reclaimable() {
                    return;
                }
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                if activity.deadline(watch.timeouts).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!(%addr, "closing a connection past its header or keep-alive timeout");
                    return;
                }
            }
            _ = activity.changed.notified() => {}
        }
    }
}

/// A request body must keep arriving: a wait longer than `timeout` for its
/// next piece fails the read, and the request is answered 408 in its dialect's envelope.
pub async fn body_read_timeout(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    let timed_out = Arc::new(AtomicBool::new(false));
    let over_limit = Arc::new(AtomicBool::new(false));
    let (timed_flag, limit_flag) = (timed_out.clone(), over_limit.clone());
    let request = request.map(|body| {
        Body::new(TimeoutBody::new(timeout, body).map_err(move |error| {
            if error.is::<TimeoutError>() {
                timed_flag.store(true, Ordering::Relaxed);
            }
            if exceeds_body_limit(&*error) {
                limit_flag.store(true, Ordering::Relaxed);
            }
            error
        }))
    });
    let response = next.run(request).await;
    if timed_out.load(Ordering::Relaxed) {
        return EdgeRefusal::BodyTimeout { after: timeout }.into_response();
    }
    // Wrapped here, the body limit's error no longer reads as one to the
    // JSON extractors (a chunked body has no length to refuse up front):
    // the dialect's envelope words the 413 instead of a "bad body" 400.
    if over_limit.load(Ordering::Relaxed) {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    response
}

/// Whether `error`, or an error it wraps, is the body size limit's.
fn exceeds_body_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = error.source();
    }
    false
}

/// The body read timeout from the settings (`None`: off).
pub fn body_timeout(limits: &ConnectionLimits) -> Option<Duration> {
    millis(limits.body_read_timeout_ms)
}
