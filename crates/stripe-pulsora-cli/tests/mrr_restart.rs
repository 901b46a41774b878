//! The binary on its default state store (SQLite under `$STATE_DIRECTORY`, nothing chosen),
//! restarted in the middle of subscription lives: MRR adds up exactly as without the restart,
//! for a subscription seen from birth (forever coupon, tax-inclusive price) and for one older
//! than the bridge (adopted from `previous_attributes`, then churned).
#![cfg(feature = "sqlite")]

#[path = "../../stripe-revenue/tests/support/fake_pulsora.rs"]
mod fake_pulsora;

use fake_pulsora::FakePulsora;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};
use stripe_pulsora::stripe_revenue::fixtures::{event, ApiShape};
use stripe_pulsora_cli::trigger::deliver;

const SECRET: &str = "whsec_mrr_restart_0123456789abcdef0123456789abcdef";
const T0: i64 = 1_700_300_000;

struct Server(Child);

impl Server {
    fn terminate(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start(port: u16, pulsora_url: &str, state: &std::path::Path) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"))
        .arg("serve")
        .env_clear()
        .env("STRIPE_WEBHOOK_SECRET", SECRET)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("PULSORA_API_TOKEN", "sec_mrr_restart")
        // The fixtures are test-mode events; with a token the bridge counts live ones only.
        .env("STRIPE_PULSORA_LIVEMODE", "test")
        .env("PULSORA_ENDPOINT", pulsora_url)
        .env("STATE_DIRECTORY", state)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start stripe-pulsora");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the binary did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server(child)
}

fn item(unit: i64, quantity: i64) -> Value {
    json!({"object": "list", "data": [{"id": "si_1", "quantity": quantity,
        "tax_rates": [{"percentage": 25.0, "inclusive": true}],
        "price": {"id": format!("price_{unit}"), "unit_amount": unit, "currency": "usd", "product": "prod_1",
            "tax_behavior": "inclusive", "recurring": {"interval": "month", "interval_count": 1}}}]})
}

/// A legacy-shape subscription with a forever 50% coupon and a 25% inclusive tax rate.
fn born(status: &str, quantity: i64) -> Value {
    json!({"id": "sub_born", "object": "subscription", "customer": "cus_born", "currency": "usd",
        "status": status, "items": item(2500, quantity), "metadata": {},
        "discount": {"id": "di_1", "coupon": {"id": "HALF", "duration": "forever", "percent_off": 50.0}}})
}

fn older(status: &str, unit: i64) -> Value {
    json!({"id": "sub_older", "object": "subscription", "customer": "cus_older", "currency": "usd",
        "status": status, "metadata": {},
        "items": {"object": "list", "data": [{"id": "si_2", "quantity": 1,
            "price": {"id": format!("price_{unit}"), "unit_amount": unit, "currency": "usd",
                "recurring": {"interval": "month", "interval_count": 1}}}]}})
}

fn invoice(n: u32, sub: &str, amount: i64) -> Value {
    json!({"id": format!("in_restart_{n}"), "object": "invoice", "amount_paid": amount, "currency": "usd",
        "customer": "cus_born", "billing_reason": if n == 1 { "subscription_create" } else { "subscription_cycle" },
        "subscription": sub, "metadata": {},
        "lines": {"object": "list", "data": [{"amount": amount, "proration": false,
            "price": {"id": "price_2500", "unit_amount": 2500, "recurring": {"interval": "month"}}}]}})
}

fn life() -> (Vec<Value>, Vec<Value>) {
    let ev = |n: i64, kind: &str, object: Value, previous: Option<Value>| {
        event(
            &format!("evt_restart_{n}"),
            kind,
            T0 + n * 60,
            ApiShape::Legacy,
            object,
            previous,
        )
    };
    let before = vec![
        ev(
            0,
            "customer.subscription.created",
            born("incomplete", 1),
            None,
        ),
        ev(1, "invoice.paid", invoice(1, "sub_born", 1250), None),
        ev(
            2,
            "customer.subscription.updated",
            born("active", 1),
            Some(json!({"status": "incomplete"})),
        ),
        // Older than the bridge: 10 → 30 a month.
        ev(
            3,
            "customer.subscription.updated",
            older("active", 3000),
            Some(json!({"items": older("active", 1000)["items"]})),
        ),
    ];
    let after = vec![
        ev(
            4,
            "customer.subscription.updated",
            born("active", 3),
            Some(json!({"items": item(2500, 1)})),
        ),
        ev(5, "invoice.paid", invoice(2, "sub_born", 3750), None),
        ev(
            6,
            "customer.subscription.deleted",
            older("canceled", 3000),
            None,
        ),
    ];
    (before, after)
}

/// Waits until the outbox in `file` has nothing pending.
async fn drained(file: &std::path::Path) {
    use stripe_pulsora::stripe_revenue::outbox::Outbox;
    let db = stripe_pulsora::stripe_webhook_guard::store::Sqlite::open(file).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while db.stats().await.unwrap().pending > 0 {
        assert!(Instant::now() < deadline, "the outbox did not drain");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn mrr_by_subscription(accepted: &HashMap<String, Vec<Value>>) -> HashMap<String, Decimal> {
    let mut out = HashMap::new();
    for (tx, bodies) in accepted {
        assert_eq!(bodies.len(), 1, "{tx} accepted {} times", bodies.len());
        if let (Some(sub), Some(mrr)) = (
            bodies[0]["customer_subscription_id"].as_str(),
            bodies[0].get("mrr_impact"),
        ) {
            *out.entry(sub.to_owned()).or_insert(Decimal::ZERO) +=
                Decimal::from_str(&mrr.to_string()).unwrap();
        }
    }
    out
}

async fn run(restart: bool) -> HashMap<String, Decimal> {
    let state = tempfile::tempdir().unwrap();
    let (pulsora, url) = FakePulsora::start(0).await;
    let client = reqwest::Client::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let webhook = format!("http://127.0.0.1:{port}/api/webhooks/stripe");
    let (before, after) = life();
    let mut server = start(port, &url, state.path()).await;
    for e in &before {
        assert_eq!(
            deliver(&client, &webhook, SECRET, e, 0, Duration::ZERO).await[0].status,
            Some(200)
        );
    }
    if restart {
        // A restart (SIGTERM): the outbox worker stops between rows and gives its leases back;
        // what was not delivered yet is delivered by the next process.
        server.terminate();
        drop(server);
        server = start(port, &url, state.path()).await;
    }
    // Stripe retries some of the first half after the restart, in another order.
    for e in after.iter().chain(before.iter().rev()) {
        assert_eq!(
            deliver(&client, &webhook, SECRET, e, 0, Duration::ZERO).await[0].status,
            Some(200)
        );
    }
    // Acknowledged first: the outbox worker delivers the last rows right after.
    drained(&state.path().join("stripe-pulsora.sqlite3")).await;
    drop(server);
    assert!(
        state.path().join("stripe-pulsora.sqlite3").exists(),
        "the SQLite default was used"
    );
    mrr_by_subscription(&pulsora.accepted())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_the_sqlite_default_changes_nothing() {
    let straight = run(false).await;
    let restarted = run(true).await;
    // 3 seats × 25.00 incl. 25% tax → 60.00 net, half off forever → 30.00.
    assert_eq!(straight["sub_born"], Decimal::from_str("30.00").unwrap());
    // Adopted at 10.00, churned: 0 − 10.00.
    assert_eq!(straight["sub_older"], Decimal::from_str("-10.00").unwrap());
    assert_eq!(restarted, straight);
}
