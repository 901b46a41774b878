//! The fault run: thousands of events through the full bridge (verify → SQLite replay store →
//! map → Pulsora) to a fake Pulsora that fails 30% of calls (5xx, 429, timeouts), sent by a
//! Stripe-like sender that re-signs and retries every non-2xx delivery, with a server restart on
//! the same SQLite files half way. Every purchase arrives once, every charge's refunds add up to
//! what was refunded (one or two refund transactions, depending on delivery order), nothing twice.
//!
//! `STRIPE_PULSORA_FAULT_EVENTS` sets the number of events (default 1,500 so `cargo test` stays
//! quick; BENCHMARKS.md reports a 10,000-event run).
#![cfg(feature = "sqlite")]

#[path = "support/faulty_pulsora.rs"]
mod faulty_pulsora;

use axum::routing::post;
use axum::Router;
use faulty_pulsora::start_pulsora;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stripe_pulsora::revenue_handler;
use stripe_pulsora::stripe_revenue::fixtures::{scenario, ApiShape};
use stripe_pulsora::stripe_revenue::{RevenueSync, SqliteStateStore};
use stripe_pulsora::stripe_webhook_guard::SqliteStore;
use stripe_pulsora::StripeWebhookLayer;
use stripe_pulsora_cli::server::serve_until;
use stripe_pulsora_cli::trigger::deliver;

const SECRET: &str = "whsec_fault_run_0123456789abcdef0123456789abcdef";
const PULSORA_TIMEOUT: Duration = Duration::from_millis(150);
// A slow call must outlast the client's timeout, so it is never also an accepted one.
const _: () = assert!(faulty_pulsora::SLOW_CALL.as_millis() > PULSORA_TIMEOUT.as_millis());

/// One bridge instance on `addr` with its stores on `dir`, until `stop` fires (then it finishes
/// in-flight deliveries, like a SIGTERM).
fn start_bridge(
    addr: SocketAddr,
    dir: &std::path::Path,
    pulsora_url: &str,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<()> {
    let db = dir.join("bridge.sqlite3");
    let client = pulsora::Revenue::builder("sec_fault")
        .endpoint(pulsora_url)
        .timeout(PULSORA_TIMEOUT)
        .max_retries(1)
        .base_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20))
        .build()
        .unwrap();
    // The fixtures are test-mode events, as `stripe trigger` sends.
    let sync = RevenueSync::new(client)
        .policy(
            stripe_pulsora::stripe_revenue::Policy::default()
                .livemode(stripe_pulsora::stripe_revenue::Livemode::Test),
        )
        .state_store(SqliteStateStore::open(&db).unwrap());
    let layer = StripeWebhookLayer::new(SECRET)
        .no_rate_limit()
        .no_failure_limit()
        .replay_store(SqliteStore::open(&db).unwrap());
    let app = Router::new()
        .route("/api/webhooks/stripe", post(revenue_handler))
        .layer(layer)
        .with_state(sync);
    tokio::spawn(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        serve_until(listener, app, Duration::from_secs(10), async {
            let _ = stop.await;
        })
        .await
        .unwrap();
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transaction_once_through_faults_and_a_restart() {
    let events_wanted: usize = std::env::var("STRIPE_PULSORA_FAULT_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_500);
    let scenarios = events_wanted.div_ceil(3);
    let dir = tempfile::tempdir().unwrap();
    let (pulsora, pulsora_url) = start_pulsora().await;
    let addr: SocketAddr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let (stop_first, stop_rx) = tokio::sync::oneshot::channel();
    let first = start_bridge(addr, dir.path(), &pulsora_url, stop_rx);
    tokio::time::sleep(Duration::from_millis(100)).await;

    // purchase → partial refund → second partial refund, per customer: 3 transactions each.
    let mut events = Vec::new();
    for i in 0..scenarios {
        let t0 = 1_000_000_000_000 + i as i64; // n = t0 % 1e6 = i
        events.extend(scenario("purchase_refunds", ApiShape::Basil, t0).unwrap());
    }
    let total = events.len();
    let url = format!("http://{addr}/api/webhooks/stripe");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let redeliveries = Arc::new(AtomicUsize::new(0));
    let queue = Arc::new(Mutex::new(events.into_iter()));
    let started = Instant::now();

    let mut senders = Vec::new();
    for _ in 0..48 {
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
                let attempts =
                    deliver(&client, &url, SECRET, &event, 60, Duration::from_millis(20)).await;
                let last = attempts.last().unwrap();
                assert_eq!(
                    last.status,
                    Some(200),
                    "{} never delivered: {:?}",
                    event["id"],
                    &attempts[attempts.len().saturating_sub(3)..]
                );
                redeliveries.fetch_add(attempts.len() - 1, Ordering::Relaxed);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // Restart half way: the first instance finishes its in-flight deliveries and stops; a new
    // one opens the same SQLite files on the same port. Deliveries in between are refused
    // (connection errors) and retried by the senders.
    while done.load(Ordering::Relaxed) < total / 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop_first.send(()).unwrap();
    first.await.unwrap();
    let (_stop_second, stop_rx) = tokio::sync::oneshot::channel();
    let _second = start_bridge(addr, dir.path(), &pulsora_url, stop_rx);

    for sender in senders {
        sender.await.unwrap();
    }
    let accepted = pulsora.accepted.lock().unwrap().clone();
    eprintln!(
        "fault run: {total} events, {} Pulsora calls ({} failed on purpose), {} redeliveries, {} transactions, {:.1} s",
        pulsora.calls.load(Ordering::Relaxed),
        pulsora.failures.load(Ordering::Relaxed),
        redeliveries.load(Ordering::Relaxed),
        accepted.len(),
        started.elapsed().as_secs_f64()
    );
    let doubled: Vec<_> = accepted
        .iter()
        .filter(|(_, (n, _))| *n > 1)
        .take(5)
        .collect();
    assert!(doubled.is_empty(), "accepted more than once: {doubled:?}");
    for i in 0..scenarios {
        // The purchase: 49.99, once.
        let purchase = accepted
            .get(&format!("pi_demo_{i}"))
            .map(|(_, a)| a.as_str());
        assert_eq!(purchase, Some("49.99"), "customer {i}: purchase");
        // The refunds: 10.00 then 15.00 more; in order that is two adjustments, out of order
        // the later total (25.00) comes first and the earlier one adds nothing. Either way the
        // money refunded is 25.00 exactly.
        let prefix = format!("pi_demo_{i}_refund_");
        let refunded: f64 = accepted
            .iter()
            .filter(|(tx, _)| tx.starts_with(&prefix))
            .map(|(_, (_, amount))| amount.parse::<f64>().unwrap())
            .sum();
        assert!(
            (refunded + 25.0).abs() < 1e-9,
            "customer {i}: refunded {refunded}"
        );
    }
    let known = |tx: &String| {
        tx.strip_prefix("pi_demo_").is_some_and(|rest| {
            let mut parts = rest.split('_');
            let customer = parts.next().is_some_and(|n| n.parse::<u64>().is_ok());
            match (parts.next(), parts.next(), parts.next()) {
                (None, ..) => customer,
                (Some("refund"), Some("1" | "2"), None) => customer,
                _ => false,
            }
        })
    };
    let unexpected: Vec<_> = accepted.keys().filter(|tx| !known(tx)).take(5).collect();
    assert!(unexpected.is_empty(), "unexpected: {unexpected:?}");
    assert!(pulsora.failures.load(Ordering::Relaxed) > 0);
}
