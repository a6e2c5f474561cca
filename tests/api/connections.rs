//! Connection limits over real TCP: slow headers, a stalled body and idle
//! keep-alive connections are closed after their (here shortened) timeouts;
//! connections beyond the maximum wait; shutdown still drains.

use std::time::{Duration, Instant};

use roster::config::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::on_both_backends;

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: roster\r\n\r\n";

async fn app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(fresh_database(backend).await, configure).await
}

/// Reads until the server closes the connection (a reset counts); what came
/// and how long after `since`.
async fn read_until_closed(stream: &mut TcpStream, since: Instant, within: Duration) -> (String, Duration) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.saturating_sub(since.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => panic!("still open after {within:?}; received {:?}", String::from_utf8_lossy(&received)),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&received).into_owned(), since.elapsed()),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one response with a `Content-Length` body: (status, body).
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("a response in time")
            .expect("the connection stays readable");
        assert!(n > 0, "closed before a whole response: {:?}", String::from_utf8_lossy(&received));
        received.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&received).into_owned();
        let Some((head, body)) = text.split_once("\r\n\r\n") else { continue };
        let length: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
            .expect("a content-length");
        if body.len() >= length {
            let status = head.split(' ').nth(1).unwrap().parse().unwrap();
            return (status, body.to_string());
        }
    }
}

async fn health_is_served(app: &TestApp) {
    let reply = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(reply.status().as_u16(), 200);
}

async fn slow_headers_are_cut_off(backend: Backend) {
    let app = app_with(backend, |s| {
        s.connections.header_read_timeout_ms = 500;
        s.connections.keep_alive_timeout_ms = 60_000;
    })
    .await;
    // A trickle of header lines that never ends the headers.
    let started = Instant::now();
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: roster\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    slow.write_all(b"X-Slow: 1\r\n").await.unwrap();
    let (received, closed_after) = read_until_closed(&mut slow, started, Duration::from_secs(5)).await;
    assert!(received.is_empty(), "{received}");
    assert!(closed_after >= Duration::from_millis(450), "closed after {closed_after:?}");
    // A connection that never sends a byte.
    let started = Instant::now();
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    let (_, closed_after) = read_until_closed(&mut silent, started, Duration::from_secs(5)).await;
    assert!(closed_after >= Duration::from_millis(450), "closed after {closed_after:?}");
    health_is_served(&app).await;
    // Handlers still see the client's address (it goes into event metadata,
    // sealed: the log reader opens it).
    app.sign_up("Quick", "quick@example.com").await;
    let events = app.state.db.events_after(Default::default(), 100_000).await.unwrap();
    let registered = events.iter().find(|e| e.event.event_type == "UserRegistered").unwrap();
    assert_eq!(registered.event.metadata["client_addr"], "127.0.0.1", "{}", registered.event.metadata);
}

async fn a_stalled_body_gets_408_in_the_envelope(backend: Backend) {
    let app = app_with(backend, |s| {
        s.connections.body_read_timeout_ms = 500;
        s.connections.keep_alive_timeout_ms = 1_000;
    })
    .await;
    let started = Instant::now();
    let mut stalled = TcpStream::connect(app.addr).await.unwrap();
    stalled
        .write_all(
            b"POST /user/v1/account/create HTTP/1.1\r\nHost: roster\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"name\":",
        )
        .await
        .unwrap();
    let (received, closed_after) = read_until_closed(&mut stalled, started, Duration::from_secs(5)).await;
    assert!(received.starts_with("HTTP/1.1 408"), "{received}");
    let body: serde_json::Value = serde_json::from_str(received.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["responseCode"], "CLIENT_ERROR", "{body}");
    assert!(body["error"].is_array() && body["meta"]["correlation"].is_string(), "{body}");
    assert!(closed_after >= Duration::from_millis(450), "closed after {closed_after:?}");
    health_is_served(&app).await;
}

async fn an_idle_keep_alive_connection_is_closed(backend: Backend) {
    let app = app_with(backend, |s| {
        s.connections.keep_alive_timeout_ms = 500;
        s.connections.header_read_timeout_ms = 5_000;
    })
    .await;
    let mut client = TcpStream::connect(app.addr).await.unwrap();
    // Requests closer together than the timeout keep it open past it.
    for _ in 0..4 {
        client.write_all(HEALTH).await.unwrap();
        assert_eq!(read_response(&mut client).await.0, 200);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let idle_since = Instant::now() - Duration::from_millis(250);
    let (received, closed_after) = read_until_closed(&mut client, idle_since, Duration::from_secs(5)).await;
    assert!(received.is_empty(), "{received}");
    assert!(closed_after >= Duration::from_millis(450), "closed after {closed_after:?}");
    health_is_served(&app).await;
}

async fn connections_beyond_the_maximum_wait(backend: Backend) {
    let app = app_with(backend, |s| {
        s.connections.max_connections = 2;
        s.connections.header_read_timeout_ms = 10_000;
        s.connections.keep_alive_timeout_ms = 60_000;
    })
    .await;
    // Two clients mid-headers hold both places.
    let mut first = TcpStream::connect(app.addr).await.unwrap();
    first.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let mut second = TcpStream::connect(app.addr).await.unwrap();
    second.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(app.addr).await.unwrap();
    third.write_all(HEALTH).await.unwrap();
    let mut byte = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await.is_err(),
        "a third connection was served beyond the maximum of two"
    );
    // One leaves: the waiting one is served.
    drop(first);
    assert_eq!(read_response(&mut third).await.0, 200);

    // The places are now held by a client mid-headers and an idle one; a
    // newcomer makes the idle one close, not the busy one.
    let started = Instant::now();
    let mut fourth = TcpStream::connect(app.addr).await.unwrap();
    fourth.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut fourth).await.0, 200);
    let (received, _) = read_until_closed(&mut third, started, Duration::from_secs(3)).await;
    assert!(received.is_empty(), "{received}");
    second.write_all(b"Host: roster\r\n\r\n").await.unwrap();
    assert_eq!(read_response(&mut second).await.0, 200);
}

/// Shutdown closes idle connections at once and lets a request in flight
/// finish.
async fn shutdown_drains_and_closes_idle_connections(backend: Backend) {
    let running = spawn_stoppable(fresh_database(backend).await, |s| {
        s.connections.keep_alive_timeout_ms = 60_000;
        s.connections.header_read_timeout_ms = 60_000;
        s.connections.body_read_timeout_ms = 60_000;
    })
    .await;
    let addr = running.app.addr;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut idle).await.0, 200);
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let body = format!(r#"{{"name": "Late Comer", "email": "late@example.com", "password": "{PASSWORD}"}}"#);
    let (start, rest) = body.split_at(10);
    let mut in_flight = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /user/v1/account/create HTTP/1.1\r\nHost: roster\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    in_flight.write_all(format!("{head}{start}").as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let stopping = tokio::spawn(running.stop());
    for connection in [&mut idle, &mut silent] {
        let (received, closed_after) = read_until_closed(connection, started, Duration::from_secs(3)).await;
        assert!(received.is_empty(), "{received}");
        assert!(closed_after < Duration::from_secs(2), "closed after {closed_after:?}");
    }
    assert!(!stopping.is_finished(), "stopped before the request in flight was answered");
    in_flight.write_all(rest.as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut in_flight).await.0, 200);
    let _database = tokio::time::timeout(Duration::from_secs(10), stopping).await.expect("drained in time").unwrap();
}

/// A client that shuts its write side once the request is sent still gets
/// the answer: a login (an argon2 hash, so the request is in flight when the
/// EOF arrives) over a raw socket, then `shutdown`.
async fn a_half_closed_client_gets_its_answer(backend: Backend) {
    let app = app_with(backend, |_| {}).await;
    app.sign_up("Half Closed", "half@example.com").await;
    let body = serde_json::json!({"email": "half@example.com", "password": PASSWORD}).to_string();
    let request = format!(
        "POST /user/v1/account/login HTTP/1.1\r\nHost: roster\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.shutdown().await.unwrap();
    let (received, _) = read_until_closed(&mut stream, Instant::now(), Duration::from_secs(10)).await;
    assert!(received.starts_with("HTTP/1.1 "), "no answer to a half-closed client: {received:?}");
    assert!(received.contains("\"responseCode\""), "{received}");
}

on_both_backends!(
    slow_headers_are_cut_off,
    a_stalled_body_gets_408_in_the_envelope,
    an_idle_keep_alive_connection_is_closed,
    connections_beyond_the_maximum_wait,
    shutdown_drains_and_closes_idle_connections,
    a_half_closed_client_gets_its_answer,
);
