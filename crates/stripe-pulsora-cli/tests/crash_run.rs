//! The crash run (issue 15): the `stripe-pulsora serve` process, acknowledging first on an
//! SQLite file, SIGKILLed at random moments while Stripe-like senders deliver events and a
//! fake Pulsora fails 30% of calls (10% 500, 10% 429, 10% slow then 500); restarted each time on
//! the same file and port. Every acknowledged event reaches Pulsora (0 lost); a transaction is
//! accepted twice only if its row was in flight at a kill (sent, not yet marked sent), so the
//! doubles are at most the worker's concurrency per kill. The run prints the counts.
//!
//! `STRIPE_PULSORA_CRASH_EVENTS` (default 600) and `STRIPE_PULSORA_CRASH_KILLS` (default 10) set
//! the size (BENCHMARKS.md reports 5,000 events and 50 kills); `STRIPE_PULSORA_CRASH_STORE`
//! replaces the SQLite file with another store (`postgres://…`).
#![cfg(feature = "sqlite")]

#[path = "support/faulty_pulsora.rs"]
mod faulty_pulsora;

use faulty_pulsora::start_pulsora;
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stripe_pulsora::stripe_revenue::fixtures::{scenario, ApiShape};
use stripe_pulsora_cli::trigger::deliver;

const SECRET: &str = "whsec_crash_run_0123456789abcdef0123456789abcdef";
/// The worker's default concurrency: rows in flight at one kill, at most.
const IN_FLIGHT_PER_KILL: usize = 8;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn spawn_bridge(port: u16, store: &str, pulsora_url: &str) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"))
        .arg("serve")
        .env_clear()
        .env("STRIPE_WEBHOOK_SECRET", SECRET)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("PULSORA_API_TOKEN", "sec_crash_run")
        .env("PULSORA_ENDPOINT", pulsora_url)
        .env("STRIPE_PULSORA_REPLAY_STORE", store)
        .env("STRIPE_PULSORA_LIVEMODE", "any")
        // One sender address, many connections: Stripe's own rate, not a flood.
        .env("STRIPE_PULSORA_RATE_LIMIT", "off")
        .env("STRIPE_PULSORA_MAX_CONNECTIONS_PER_CLIENT", "off")
        // Rows that failed come back within a second (the default, 10 minutes, is for days).
        .env("STRIPE_PULSORA_OUTBOX_MAX_BACKOFF", "1s")
        // An event being handled at a kill holds its replay claim this long (Stripe's retry
        // meanwhile gets 409); handlers that only commit take milliseconds.
        .env("STRIPE_PULSORA_REPLAY_LEASE", "3s")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start stripe-pulsora");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the bridge did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child
}

/// A small deterministic generator (seeded from the clock, printed) for the kill moments.
fn kill_points(total: usize, kills: usize, seed: u64) -> Vec<usize> {
    let mut state = seed | 1;
    let mut points: Vec<usize> = (0..kills)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            total / 20 + (state as usize) % (total * 9 / 10).max(1)
        })
        .collect();
    points.sort_unstable();
    points
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_fifty_times_loses_nothing() {
    let events_wanted: usize = env_or("STRIPE_PULSORA_CRASH_EVENTS", 600);
    let kills: usize = env_or("STRIPE_PULSORA_CRASH_KILLS", 10);
    let dir = tempfile::tempdir().unwrap();
    let store = std::env::var("STRIPE_PULSORA_CRASH_STORE")
        .unwrap_or_else(|_| format!("sqlite:{}", dir.path().join("bridge.sqlite3").display()));
    let (pulsora, pulsora_url) = start_pulsora().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;

    // purchase → two partial refunds per customer; ids unique per run (a shared PostgreSQL).
    let scenarios = events_wanted.div_ceil(3);
    let base = 1_000_000_000_000 + (seed % 300) as i64 * 3_000;
    let mut events = Vec::new();
    for i in 0..scenarios {
        events.extend(scenario("purchase_refunds", ApiShape::Basil, base + i as i64).unwrap());
    }
    let total = events.len();
    let points = kill_points(total, kills, seed);
    eprintln!(
        "crash run: {total} events, {kills} kills, seed {seed}, store {}",
        if store.starts_with("sqlite:") {
            "SQLite"
        } else {
            "other"
        }
    );

    let mut child = spawn_bridge(port, &store, &pulsora_url).await;
    let url = format!("http://127.0.0.1:{port}/api/webhooks/stripe");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let redeliveries = Arc::new(AtomicUsize::new(0));
    let queue = Arc::new(Mutex::new(events.into_iter()));
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..32 {
        let (queue, client, url, done, redeliveries) = (
            queue.clone(),
            client.clone(),
            url.clone(),
            done.clone(),
            redeliveries.clone(),
        );
        senders.push(tokio::spawn(async move {
            loop {
                let Some(event) = queue.lock().unwrap().next() else {
                    break;
                };
                let attempts = deliver(
                    &client,
                    &url,
                    SECRET,
                    &event,
                    400,
                    Duration::from_millis(10),
                )
                .await;
                let last = attempts.last().unwrap();
                assert_eq!(last.status, Some(200), "{} never acknowledged", event["id"]);
                redeliveries.fetch_add(attempts.len() - 1, Ordering::Relaxed);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // SIGKILL at each point, restart on the same store and port.
    for point in &points {
        while done.load(Ordering::Relaxed) < *point {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        child = spawn_bridge(port, &store, &pulsora_url).await;
    }
    for sender in senders {
        sender.await.unwrap();
    }
    let acknowledged = started.elapsed();

    // Every customer's purchase and refunds: wait for the outbox to drain (rows leased by a
    // killed process come back when their 30 s lease ends).
    let complete = |accepted: &HashMap<String, (usize, String)>| {
        (0..scenarios).all(|i| {
            let n = (base + i as i64).rem_euclid(1_000_000);
            let refunded: f64 = accepted
                .iter()
                .filter(|(tx, _)| tx.starts_with(&format!("pi_demo_{n}_refund_")))
                .map(|(_, (_, amount))| amount.parse::<f64>().unwrap())
                .sum();
            accepted.contains_key(&format!("pi_demo_{n}")) && (refunded + 25.0).abs() < 1e-9
        })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while !complete(&pulsora.accepted.lock().unwrap()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained = started.elapsed();
    child.kill().unwrap();
    child.wait().unwrap();

    let accepted = pulsora.accepted.lock().unwrap().clone();
    let doubled: Vec<(&String, usize)> = accepted
        .iter()
        .filter(|(_, (n, _))| *n > 1)
        .map(|(tx, (n, _))| (tx, *n))
        .collect();
    let lost: Vec<usize> = (0..scenarios)
        .filter(|i| {
            let n = (base + *i as i64).rem_euclid(1_000_000);
            !accepted.contains_key(&format!("pi_demo_{n}"))
        })
        .collect();
    eprintln!(
        "crash run: {total} events acknowledged in {:.1} s ({} redeliveries), {} kills; {} Pulsora calls ({} failed on purpose); {} transactions; lost {}; doubled {} (at most {} rows in flight at the kills); drained after {:.1} s",
        acknowledged.as_secs_f64(),
        redeliveries.load(Ordering::Relaxed),
        points.len(),
        pulsora.calls.load(Ordering::Relaxed),
        pulsora.failures.load(Ordering::Relaxed),
        accepted.len(),
        lost.len(),
        doubled.len(),
        IN_FLIGHT_PER_KILL * points.len(),
        drained.as_secs_f64()
    );
    assert!(lost.is_empty(), "lost purchases of customers {lost:?}");
    assert!(complete(&accepted), "some refunds never arrived");
    assert!(
        doubled.len() <= IN_FLIGHT_PER_KILL * points.len(),
        "doubled beyond the rows in flight at the kills: {doubled:?}"
    );
    assert!(doubled.iter().all(|(_, n)| *n <= 1 + points.len()));
    assert!(pulsora.failures.load(Ordering::Relaxed) > 0);
}
