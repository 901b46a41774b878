//! Acknowledge first (issue 15): webhooks answered once their revenue events are committed to
//! the outbox, delivered by the worker over real HTTP to a recording fake Pulsora, on real
//! SQLite files (and PostgreSQL when `STRIPE_PULSORA_TEST_POSTGRES_URL` is set). A
//! [`ManualClock`] simulates days of outage.
#![cfg(feature = "sqlite")]

#[path = "support/fake_pulsora.rs"]
mod fake_pulsora;

use fake_pulsora::FakePulsora;
use std::collections::HashMap;
use std::time::Duration;
use stripe_pulsora_store::Outbox;
use stripe_revenue::fixtures::{scenario, ApiShape, SCENARIOS};
use stripe_revenue::outbox::{ManualClock, OutboxWorker, Retries};
use stripe_revenue::{KvStateStore, NotReady, RevenueSync, SqliteStateStore};
use stripe_webhook_guard::VerifiedStripeEvent;

const HOUR: Duration = Duration::from_secs(3600);

fn client(url: &str) -> pulsora::Revenue {
    pulsora::Revenue::builder("sec_outbox")
        .endpoint(url)
        .max_retries(0)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn policy() -> stripe_revenue::Policy {
    // The fixtures are test-mode events, as `stripe trigger` sends.
    stripe_revenue::Policy::default().livemode(stripe_revenue::Livemode::Test)
}

fn outbox_sync<B: Outbox>(url: &str, store: KvStateStore<B>) -> RevenueSync {
    RevenueSync::new(client(url)).policy(policy()).outbox(store)
}

/// Every scenario, in both API shapes, as Stripe would create them.
fn events(t0: i64) -> Vec<VerifiedStripeEvent> {
    let mut all = Vec::new();
    for (i, name) in SCENARIOS.iter().enumerate() {
        for (j, shape) in [ApiShape::Basil, ApiShape::Legacy].into_iter().enumerate() {
            let start = t0 + (i * 2 + j) as i64 * 7;
            for event in scenario(name, shape, start).unwrap() {
                all.push(
                    VerifiedStripeEvent::from_verified_bytes(bytes::Bytes::from(event.to_string()))
                        .unwrap(),
                );
            }
        }
    }
    all
}

/// What the inline path sends for `events` (memory store, Pulsora answering): the reference.
async fn reference(events: &[VerifiedStripeEvent]) -> FakePulsora {
    let (pulsora, url) = FakePulsora::start(0).await;
    let inline = RevenueSync::new(client(&url)).policy(policy());
    for event in events {
        assert_eq!(inline.handle(event).await.status(), 200);
    }
    pulsora
}

/// Acknowledges every event through the outbox: `200` with `queued`, whatever Pulsora does.
async fn acknowledge(sync: &RevenueSync, events: &[VerifiedStripeEvent]) -> usize {
    let mut queued = 0;
    for event in events {
        let outcome = sync.handle(event).await;
        assert_eq!(outcome.status(), 200, "{}", outcome.body());
        let body = outcome.body();
        assert_eq!(body["received"], true, "{body}");
        // Queued, or outside the revenue scope (the noise scenario's live and Connect events).
        match (body["queued"].as_u64(), body.get("ignored")) {
            (Some(n), None) => queued += n as usize,
            (None, Some(_)) => {}
            _ => panic!("{body}"),
        }
    }
    queued
}

/// Passes until nothing more is due now.
async fn drain(worker: &OutboxWorker) -> usize {
    let mut sent = 0;
    loop {
        let pass = worker.pass().await.unwrap();
        sent += pass.sent;
        if pass.leased == 0 {
            return sent;
        }
    }
}

/// Pulsora got exactly the reference's transactions, each once, with the same body, and each
/// subscription's in the reference's (ledger) order.
fn assert_same_delivery(reference: &FakePulsora, pulsora: &FakePulsora) {
    let (want, got) = (reference.accepted(), pulsora.accepted());
    let mut missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    missing.sort();
    assert!(missing.is_empty(), "lost: {missing:?}");
    for (tx, bodies) in &got {
        assert_eq!(bodies.len(), 1, "{tx} sent {} times", bodies.len());
        assert_eq!(Some(&bodies[0]), want.get(tx).map(|b| &b[0]), "{tx}");
    }
    assert_eq!(got.len(), want.len());
    assert_eq!(
        per_subscription(&reference.accepted_in_order()),
        per_subscription(&pulsora.accepted_in_order())
    );
}

fn per_subscription(accepted: &[serde_json::Value]) -> HashMap<String, Vec<String>> {
    let mut order: HashMap<String, Vec<String>> = HashMap::new();
    for data in accepted {
        if let Some(sub) = data["customer_subscription_id"].as_str() {
            order.entry(sub.to_owned()).or_default().push(
                data["transaction_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
    }
    order
}

/// Pulsora down for 4 days (beyond Stripe's 3-day retry window): every webhook is answered
/// `200` at once, nothing is dead-lettered within the 7-day horizon, and after recovery every
/// acknowledged event reaches Pulsora once, each subscription's in ledger order.
#[tokio::test]
async fn four_day_outage_loses_nothing_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = stripe_pulsora_store::Sqlite::open(dir.path().join("outbox.sqlite3")).unwrap();
    let events = events(1_700_100_000);
    let reference = reference(&events).await;

    let (pulsora, url) = FakePulsora::start(0).await;
    pulsora.set_status(Some(503));
    let clock = ManualClock::now();
    let sync = outbox_sync(&url, KvStateStore::over(db.clone()));
    let queued = acknowledge(&sync, &events).await;
    assert_eq!(queued, reference.accepted().len());
    // A redelivery of every event (Stripe retrying) adds nothing.
    assert_eq!(acknowledge(&sync, &events).await, 0);

    let worker = sync.outbox_worker().unwrap().clock(clock.clone());
    for _ in 0..96 {
        clock.advance(HOUR);
        assert_eq!(drain(&worker).await, 0);
    }
    assert!(pulsora.accepted().is_empty());
    assert!(pulsora.request_count() >= 96, "the worker kept trying");
    let stats = db.stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead), (queued as u64, 0));
    let oldest = stats.oldest_pending_enqueued_at_ms.unwrap();
    // Enqueued (system clock) just after the manual clock was set to the system's now.
    assert!(clock_ms(&clock) - oldest >= 4 * 24 * 3_600_000 - 60_000);

    // Pulsora is back: within one maximum backoff every row is due again.
    pulsora.set_status(None);
    clock.advance(Retries::default().max);
    assert_eq!(drain(&worker).await, queued);
    assert_same_delivery(&reference, &pulsora);
    let stats = db.stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead), (0, 0));
}

fn clock_ms(clock: &ManualClock) -> i64 {
    use stripe_revenue::outbox::Clock;
    clock.now_ms()
}

/// Past the horizon a row becomes a dead letter with the reason; `retry_dead(None)` (the
/// `dead-letters retry --all` command) sends them all once Pulsora is back.
#[tokio::test]
async fn rows_past_the_horizon_become_dead_letters_and_retry_all_sends_them_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = stripe_pulsora_store::Sqlite::open(dir.path().join("outbox.sqlite3")).unwrap();
    let events = events(1_700_200_000);
    let reference = reference(&events).await;
    let (pulsora, url) = FakePulsora::start(0).await;
    pulsora.set_status(Some(500));
    let clock = ManualClock::now();
    let sync = outbox_sync(&url, KvStateStore::over(db.clone()));
    let queued = acknowledge(&sync, &events).await;
    let horizon = Duration::from_secs(2 * 86_400);
    let worker = sync
        .outbox_worker()
        .unwrap()
        .clock(clock.clone())
        .retries(Retries {
            horizon,
            ..Retries::default()
        });
    // Rows behind a dead head move up and die in turn, so keep passing past the horizon.
    for _ in 0..60 {
        clock.advance(HOUR);
        drain(&worker).await;
    }
    let stats = db.stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead), (0, queued as u64));
    let dead = db.dead_letters(1_000).await.unwrap();
    assert_eq!(dead.len(), queued);
    for row in &dead {
        assert!(row.reason.contains("horizon"), "{}", row.reason);
        assert!(row.reason.contains("500"), "{}", row.reason);
    }
    // Heads were tried all along; rows queued behind them get their first try once they move
    // up, which is past the horizon for them too.
    assert!(dead.iter().any(|row| row.attempts > 10));
    pulsora.set_status(None);
    let now = clock_ms(&clock);
    assert_eq!(db.retry_dead(None, now).await.unwrap(), queued as u64);
    assert_eq!(drain(&worker).await, queued);
    assert_eq!(db.stats().await.unwrap().dead, 0);
    // Each once; dead letters retried together are no longer in ledger order per queue, so
    // only the set and the bodies are compared.
    let (want, got) = (reference.accepted(), pulsora.accepted());
    assert_eq!(got.len(), want.len());
    for (tx, bodies) in &got {
        assert_eq!(bodies.len(), 1, "{tx}");
        assert_eq!(Some(&bodies[0]), want.get(tx).map(|b| &b[0]));
    }
}

/// A 422 lands in the dead-letter table with Pulsora's message; `retry` sends it once after
/// the cause is fixed; `drop` removes another for good. The rest of the queue is not held up.
#[tokio::test]
async fn a_refused_row_is_a_dead_letter_that_can_be_retried_or_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let db = stripe_pulsora_store::Sqlite::open(dir.path().join("outbox.sqlite3")).unwrap();
    let events = events(1_700_300_000);
    let reference = reference(&events).await;
    let mut ids: Vec<String> = reference.accepted().keys().cloned().collect();
    ids.sort();
    let (retried, dropped) = (ids[0].clone(), ids[1].clone());

    let (pulsora, url) = FakePulsora::start(0).await;
    pulsora.refuse(&retried, Some(422));
    pulsora.refuse(&dropped, Some(400));
    let sync = outbox_sync(&url, KvStateStore::over(db.clone()));
    let queued = acknowledge(&sync, &events).await;
    let worker = sync.outbox_worker().unwrap();
    assert_eq!(drain(&worker).await, queued - 2);

    let dead = db.dead_letters(10).await.unwrap();
    let mut dead_ids: Vec<&str> = dead.iter().map(|d| d.row.id.as_str()).collect();
    dead_ids.sort();
    assert_eq!(dead_ids, [retried.as_str(), dropped.as_str()]);
    for row in &dead {
        assert!(
            row.reason.contains("The data.amount field is invalid."),
            "{}",
            row.reason
        );
        assert_eq!(row.attempts, 0, "a refusal is not retried");
        assert!(row.row.stripe_event_id.starts_with("evt_"));
    }
    assert!(!pulsora.accepted().contains_key(&retried));

    // The cause is fixed (say, a policy change on Pulsora's side): retry sends it once.
    pulsora.refuse(&retried, None);
    let now = stripe_revenue::outbox::Clock::now_ms(&stripe_revenue::outbox::SystemClock);
    assert_eq!(db.retry_dead(Some(&retried), now).await.unwrap(), 1);
    assert_eq!(drain(&worker).await, 1);
    assert_eq!(pulsora.accepted()[&retried].len(), 1);
    // Retrying again finds nothing: it was sent.
    assert_eq!(db.retry_dead(Some(&retried), now).await.unwrap(), 0);

    assert!(db.drop_dead(&dropped).await.unwrap());
    assert!(db.dead_letters(10).await.unwrap().is_empty());
    assert_eq!(drain(&worker).await, 0);
    assert!(!pulsora.accepted().contains_key(&dropped));
    assert_eq!(pulsora.accepted().len(), reference.accepted().len() - 1);
}

/// A bad token (401) dead-letters nothing: rows stay pending with no attempt counted, readiness
/// says why, one row is probed per pass; once the token is fixed everything goes out once.
#[tokio::test]
async fn a_refused_token_stops_delivery_and_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = stripe_pulsora_store::Sqlite::open(dir.path().join("outbox.sqlite3")).unwrap();
    let events = events(1_700_400_000);
    let reference = reference(&events).await;
    let (pulsora, url) = FakePulsora::start(0).await;
    pulsora.set_status(Some(401));
    let sync = outbox_sync(&url, KvStateStore::over(db.clone()));
    let queued = acknowledge(&sync, &events).await;
    assert!(sync.readiness().await.is_ok());

    let worker = sync.outbox_worker().unwrap();
    let first = worker.pass().await.unwrap();
    assert!(first.blocked);
    assert_eq!(first.sent + first.retried + first.dead_lettered, 0);
    assert_eq!(first.released, first.leased);
    match sync.readiness().await {
        Err(NotReady::PulsoraMisconfigured(reason)) => {
            assert!(
                reason.contains("401") && reason.contains("Invalid API token"),
                "{reason}"
            );
            assert!(!reason.contains("sec_outbox"), "never the token");
        }
        other => panic!("{other:?}"),
    }
    // While blocked, each pass is one probe.
    for _ in 0..3 {
        let probe = worker.pass().await.unwrap();
        assert_eq!((probe.leased, probe.released), (1, 1));
    }
    let stats = db.stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead), (queued as u64, 0));
    assert!(pulsora.accepted().is_empty());

    // Fixed: the next probe is accepted, delivery resumes, readiness recovers.
    pulsora.set_status(None);
    assert_eq!(drain(&worker).await, queued);
    assert!(sync.readiness().await.is_ok());
    assert_same_delivery(&reference, &pulsora);
    // No attempt was counted while blocked: nothing was rescheduled or dead.
    assert_eq!(db.stats().await.unwrap().dead, 0);
}

/// Pulsora failing every transaction twice before accepting it (transient 500s): still once
/// each, in each subscription's ledger order.
#[tokio::test]
async fn transient_failures_keep_each_subscription_in_ledger_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = stripe_pulsora_store::Sqlite::open(dir.path().join("outbox.sqlite3")).unwrap();
    let events = events(1_700_500_000);
    let reference = reference(&events).await;
    let (pulsora, url) = FakePulsora::start(2).await;
    let clock = ManualClock::now();
    let sync = outbox_sync(&url, KvStateStore::over(db.clone()));
    let queued = acknowledge(&sync, &events).await;
    let worker = sync.outbox_worker().unwrap().clock(clock.clone());
    let mut sent = 0;
    for _ in 0..200 {
        clock.advance(Duration::from_secs(60));
        sent += drain(&worker).await;
        if sent == queued {
            break;
        }
    }
    assert_eq!(sent, queued);
    assert_eq!(pulsora.failed(), 2 * queued);
    assert_same_delivery(&reference, &pulsora);
}

/// `run` delivers what is committed while it runs (woken by the commit), stops between rows on
/// shutdown, and a new worker on the same file resumes what was left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_delivers_stops_on_shutdown_and_a_restart_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.sqlite3");
    let events = events(1_700_600_000);
    let reference = reference(&events).await;
    let (half, rest) = events.split_at(events.len() / 2);
    let (pulsora, url) = FakePulsora::start(0).await;
    let sync = outbox_sync(&url, SqliteStateStore::open(&path).unwrap());
    let worker = sync.outbox_worker().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    let first = acknowledge(&sync, half).await;
    wait_for(|| pulsora.accepted().len() == first).await;
    // Pulsora goes away; the rest is acknowledged, the worker is stopped.
    pulsora.set_status(Some(503));
    let second = acknowledge(&sync, rest).await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the worker stops")
        .unwrap();
    drop(sync);

    // "Restart": a new process on the same file, Pulsora back.
    pulsora.set_status(None);
    let db = stripe_pulsora_store::Sqlite::open(&path).unwrap();
    let sync = outbox_sync(&url, KvStateStore::over(db.clone()));
    let worker = sync
        .outbox_worker()
        .unwrap()
        .retries(Retries {
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
            ..Retries::default()
        })
        .poll_interval(Duration::from_millis(20));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    // Rows the first worker rescheduled wait out their backoff (a few seconds: they failed
    // once or twice).
    wait_for(|| pulsora.accepted().len() == first + second).await;
    stop.send(()).unwrap();
    running.await.unwrap();
    assert_same_delivery(&reference, &pulsora);
    assert_eq!(db.stats().await.unwrap().pending, 0);
}

async fn wait_for(mut done: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "condition not reached within 60 s");
}

/// Two instances on one PostgreSQL, each with its own worker, drain one outbox: no row sent
/// twice, none lost, per-subscription order kept.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_postgres_send_each_row_once() {
    let Some(url) = shared_store_url("STRIPE_PULSORA_TEST_POSTGRES_URL") else {
        return;
    };
    let connect = || async {
        stripe_revenue::PostgresStateStore::connect(&url)
            .await
            .unwrap()
    };
    two_workers_send_each_row_once(connect().await, connect().await, 1_710_000_000).await;
}

/// The same on one Redis (the outbox in one atomic script per step).
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_redis_send_each_row_once() {
    let Some(url) = shared_store_url("STRIPE_PULSORA_TEST_REDIS_URL") else {
        return;
    };
    let connect = || async {
        stripe_revenue::RedisStateStore::connect(&url)
            .await
            .unwrap()
    };
    two_workers_send_each_row_once(connect().await, connect().await, 1_720_000_000).await;
}

#[cfg(any(feature = "postgres", feature = "redis"))]
fn shared_store_url(variable: &str) -> Option<String> {
    let url = std::env::var(variable).ok();
    if url.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide {variable}"
        );
        eprintln!("note: {variable} unset; skipping");
    }
    url
}

#[cfg(any(feature = "postgres", feature = "redis"))]
async fn two_workers_send_each_row_once<B: Outbox>(
    a: KvStateStore<B>,
    b: KvStateStore<B>,
    base: i64,
) {
    let t0 = base + i64::from(std::process::id() % 100_000) * 1_000;
    let events = events(t0);
    let reference = reference(&events).await;
    let (pulsora, ingest) = FakePulsora::start(1).await;
    let a = outbox_sync(&ingest, a);
    let b = outbox_sync(&ingest, b);
    let fast = Retries {
        base: Duration::from_millis(10),
        max: Duration::from_millis(50),
        ..Retries::default()
    };
    let mut stops = Vec::new();
    let mut runs = Vec::new();
    for sync in [&a, &b] {
        let worker = sync
            .outbox_worker()
            .unwrap()
            .retries(fast)
            .batch(4)
            .poll_interval(Duration::from_millis(10));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        runs.push(tokio::spawn(worker.run(async move {
            let _ = stopped.await;
        })));
    }
    // Both instances acknowledge, alternating events (as a load balancer would).
    for (i, event) in events.iter().enumerate() {
        let sync = if i % 2 == 0 { &a } else { &b };
        assert_eq!(sync.handle(event).await.status(), 200);
    }
    wait_for(|| {
        let got = pulsora.accepted();
        reference.accepted().keys().all(|tx| got.contains_key(tx))
    })
    .await;
    for stop in stops {
        stop.send(()).unwrap();
    }
    for run in runs {
        run.await.unwrap();
    }
    // The database may hold rows of earlier runs (also delivered here): compare this run's.
    let (want, got) = (reference.accepted(), pulsora.accepted());
    for (tx, bodies) in &got {
        assert_eq!(bodies.len(), 1, "{tx} sent {} times", bodies.len());
    }
    for (tx, bodies) in &want {
        assert_eq!(got.get(tx), Some(bodies), "{tx}");
    }
    let ours = |accepted: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
        accepted
            .into_iter()
            .filter(|d| want.contains_key(d["transaction_id"].as_str().unwrap_or_default()))
            .collect()
    };
    assert_eq!(
        per_subscription(&ours(reference.accepted_in_order())),
        per_subscription(&ours(pulsora.accepted_in_order()))
    );
}
