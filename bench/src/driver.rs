//! The load driver: N workers issue requests for a fixed time, either back to
//! back (closed loop) or on a fixed schedule (open loop). In the open loop a
//! request's latency counts from when it was due, not when it was sent, so a
//! slow server cannot hide its queueing (no coordinated omission).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::Mutex;

#[derive(Clone)]
pub struct Load {
    pub concurrency: usize,
    pub duration: Duration,
    pub rate: Option<f64>,
}

pub struct Report {
    pub name: String,
    pub ok: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub latency_us: Histogram<u64>,
}

impl Report {
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    pub fn p(&self, quantile: f64) -> f64 {
        self.latency_us.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn print(&self) {
        println!(
            "{:<28} {:>8} ok {:>5} err {:>10.1}/s   p50 {:>7.2} ms   p99 {:>7.2} ms   p999 {:>7.2} ms",
            self.name,
            self.ok,
            self.errors,
            self.throughput(),
            self.p(0.50),
            self.p(0.99),
            self.p(0.999),
        );
    }
}

/// Runs `request(worker, iteration)` under `load`; `Ok` counts as a success.
pub async fn run<F, Fut>(name: &str, load: &Load, request: F) -> Report
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let request = Arc::new(request);
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new(3).expect("valid precision")));
    let counts = Arc::new(Mutex::new((0u64, 0u64, None::<String>)));
    let started = Instant::now();
    let deadline = started + load.duration;
    // Open loop: each worker takes every `concurrency`-th slot of the schedule.
    let concurrency = load.concurrency;
    let interval = load.rate.map(|rate| Duration::from_secs_f64(load.concurrency as f64 / rate));
    let workers: Vec<_> = (0..load.concurrency)
        .map(|worker| {
            let (request, histogram, counts) = (request.clone(), histogram.clone(), counts.clone());
            tokio::spawn(async move {
                let mut local = Histogram::<u64>::new(3).expect("valid precision");
                let (mut ok, mut errors, mut first_error) = (0u64, 0u64, None);
                let offset = interval.map(|i| i.mul_f64(worker as f64 / concurrency as f64));
                let mut due = started + offset.unwrap_or_default();
                let mut iteration = 0u64;
                loop {
                    if interval.is_some() {
                        let now = Instant::now();
                        if due > now {
                            tokio::time::sleep(due - now).await;
                        }
                    }
                    let sent = if interval.is_some() { due } else { Instant::now() };
                    if sent >= deadline {
                        break;
                    }
                    match request(worker, iteration).await {
                        Ok(()) => {
                            ok += 1;
                            let _ = local.record(sent.elapsed().as_micros() as u64);
                        }
                        Err(error) => {
                            errors += 1;
                            first_error.get_or_insert(error);
                        }
                    }
                    iteration += 1;
                    if let Some(interval) = interval {
                        due += interval;
                    }
                }
                histogram.lock().await.add(&local).expect("same precision");
                let mut counts = counts.lock().await;
                counts.0 += ok;
                counts.1 += errors;
                if counts.2.is_none() {
                    counts.2 = first_error;
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    let elapsed = started.elapsed();
    let (ok, errors, first_error) = counts.lock().await.clone();
    if let Some(error) = first_error {
        eprintln!("{name}: first error: {error}");
    }
    let latency_us = histogram.lock().await.clone();
    Report { name: name.to_string(), ok, errors, elapsed, latency_us }
}
