//! "Already sent" is atomic per transaction id (issue 18 item 10): ten events that map to one
//! PaymentIntent (ten Checkout Sessions of different customers), delivered at once to two
//! instances, send it once, on every store. Deliveries that meet the id in flight answer 503
//! and find it sent on Stripe's retry.

#[path = "support/fake_pulsora.rs"]
mod fake_pulsora;

use fake_pulsora::FakePulsora;
use stripe_revenue::fixtures::{checkout_payment, event, ApiShape};
use stripe_revenue::{RevenueSync, StateStore};
use stripe_webhook_guard::VerifiedStripeEvent;

fn sync(url: &str, store: impl StateStore) -> RevenueSync {
    let client = pulsora::Revenue::builder("sec_state")
        .endpoint(url)
        .max_retries(0)
        .build()
        .unwrap();
    // The fixtures are test-mode events, as `stripe trigger` sends.
    RevenueSync::new(client)
        .policy(stripe_revenue::Policy::default().livemode(stripe_revenue::Livemode::Test))
        .state_store(store)
}

fn unavailable(what: &str) {
    assert!(std::env::var_os("CI").is_none(), "CI must provide {what}");
    eprintln!("note: {what} unset; skipping");
}

/// Ten sessions of ten customers, all paid by one PaymentIntent.
fn sessions(n: u32) -> Vec<VerifiedStripeEvent> {
    (0..10)
        .map(|i| {
            let mut session = checkout_payment(n * 100 + i, 4200, "usd", 1_700_000_000);
            session["payment_intent"] = serde_json::json!(format!("pi_shared_{n}"));
            let body = event(
                &format!("evt_shared_{n}_{i}"),
                "checkout.session.completed",
                1_700_000_000 + i64::from(i),
                if i % 2 == 0 {
                    ApiShape::Basil
                } else {
                    ApiShape::Legacy
                },
                session,
                None,
            );
            VerifiedStripeEvent::from_verified_bytes(bytes::Bytes::from(body.to_string())).unwrap()
        })
        .collect()
}

async fn sent_once(a: RevenueSync, b: RevenueSync, name: &str) {
    let n = 800_000 + std::process::id() % 100_000;
    let events = sessions(n);
    let tasks: Vec<_> = events
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, e)| {
            let instance = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { instance.handle(&e).await.status().as_u16() })
        })
        .collect();
    let mut retry = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            200 => {}
            503 => retry.push(i), // met the id in flight: Stripe retries
            other => panic!("{name}: unexpected {other}"),
        }
    }
    // Stripe's retries of the refused ones: all answered, none sends again.
    for i in retry {
        assert_eq!(a.handle(&events[i]).await.status(), 200, "{name}");
    }
}

async fn check(pulsora: &FakePulsora, name: &str) {
    let accepted = pulsora.accepted();
    let shared: Vec<_> = accepted
        .iter()
        .filter(|(tx, _)| tx.starts_with("pi_shared_"))
        .collect();
    assert_eq!(shared.len(), 1, "{name}: {:?}", accepted.keys());
    assert_eq!(
        shared[0].1.len(),
        1,
        "{name}: sent {} times",
        shared[0].1.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_sends_a_shared_payment_intent_once() {
    let (pulsora, url) = FakePulsora::start(0).await;
    let one = sync(&url, stripe_revenue::MemoryStateStore::new());
    sent_once(one.clone(), one, "memory").await;
    check(&pulsora, "memory").await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sends_a_shared_payment_intent_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = stripe_pulsora_store::Sqlite::open(dir.path().join("s.sqlite3")).unwrap();
    let (pulsora, url) = FakePulsora::start(0).await;
    let a = sync(&url, stripe_revenue::KvStateStore::over(db.clone()));
    let b = sync(&url, stripe_revenue::KvStateStore::over(db));
    sent_once(a, b, "sqlite").await;
    check(&pulsora, "sqlite").await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sends_a_shared_payment_intent_once() {
    let Ok(redis) = std::env::var("STRIPE_PULSORA_TEST_REDIS_URL") else {
        return unavailable("STRIPE_PULSORA_TEST_REDIS_URL");
    };
    let (pulsora, url) = FakePulsora::start(0).await;
    let a = sync(
        &url,
        stripe_revenue::RedisStateStore::connect(&redis)
            .await
            .unwrap(),
    );
    let b = sync(
        &url,
        stripe_revenue::RedisStateStore::connect(&redis)
            .await
            .unwrap(),
    );
    sent_once(a, b, "redis").await;
    check(&pulsora, "redis").await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sends_a_shared_payment_intent_once() {
    let Ok(pg) = std::env::var("STRIPE_PULSORA_TEST_POSTGRES_URL") else {
        return unavailable("STRIPE_PULSORA_TEST_POSTGRES_URL");
    };
    let (pulsora, url) = FakePulsora::start(0).await;
    let a = sync(
        &url,
        stripe_revenue::PostgresStateStore::connect(&pg)
            .await
            .unwrap(),
    );
    let b = sync(
        &url,
        stripe_revenue::PostgresStateStore::connect(&pg)
            .await
            .unwrap(),
    );
    sent_once(a, b, "postgres").await;
    check(&pulsora, "postgres").await;
}
