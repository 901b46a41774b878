//! `stripe-pulsora backfill` as a process: the bridge (`serve`) takes the first events by
//! webhook, is stopped while the rest of two days happens, then `backfill --since 3d` against a
//! fake Stripe API brings the recording Pulsora to what an uninterrupted bridge would have sent
//! (same transactions, same bodies, each once); a second run sends nothing. `reconcile` exits 1
//! and lists the missed objects before the backfill, 0 after it, 2 on errors.

#[path = "../../stripe-revenue/tests/support/fake_pulsora.rs"]
mod fake_pulsora;
#[path = "../../stripe-revenue/tests/support/stripe_account.rs"]
mod stripe_account;

use fake_pulsora::FakePulsora;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stripe_pulsora::stripe_revenue::fixtures::{scenario, ApiShape};
use stripe_pulsora_cli::trigger::deliver;
use stripe_read::fake::{FakeStripe, Fault};

const SECRET: &str = "whsec_backfill_binary_0123456789abcdef0123456789";
const KEY: &str = "rk_test_backfill_binary_key";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn bridge_env(command: &mut Command, store: &str, pulsora_url: &str) {
    command
        .env_clear()
        .env("STRIPE_WEBHOOK_SECRET", SECRET)
        .env("PULSORA_API_TOKEN", "sec_backfill_binary")
        .env("PULSORA_ENDPOINT", pulsora_url)
        .env("STRIPE_PULSORA_REPLAY_STORE", store)
        // The fixtures are test-mode events.
        .env("STRIPE_PULSORA_LIVEMODE", "any")
        .env("RUST_LOG", "warn");
}

/// Runs `stripe-pulsora serve` on `store`, delivers `events` by webhook (each answered 200), and
/// stops it.
async fn serve_events(store: &str, pulsora_url: &str, events: &[serde_json::Value]) {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"));
    command.arg("serve");
    bridge_env(&mut command, store, pulsora_url);
    let mut child = command
        .env("BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/api/webhooks/stripe");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the bridge did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for event in events {
        let attempts = deliver(&client, &url, SECRET, event, 0, Duration::ZERO).await;
        assert_eq!(attempts.last().unwrap().status, Some(200), "{attempts:?}");
    }
    // Acknowledged first (the SQLite default): wait until the outbox worker delivered.
    loop {
        let mut outbox = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"));
        outbox.arg("outbox");
        bridge_env(&mut outbox, store, pulsora_url);
        let out = outbox.stderr(Stdio::inherit()).output().unwrap();
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        if out
            .lines()
            .any(|l| l.split_whitespace().eq(["pending", "0"]))
        {
            break;
        }
        assert!(Instant::now() < deadline, "not delivered: {out}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}

async fn run_backfill(store: &str, pulsora_url: &str, stripe: &FakeStripe) -> (i32, String) {
    run_command(&["backfill", "--since", "3d"], store, pulsora_url, stripe).await
}

/// Total of the `sent` column in the summary's `total` row.
fn total_sent(summary: &str) -> usize {
    let row = summary
        .lines()
        .find(|l| l.starts_with("total"))
        .unwrap_or_else(|| panic!("no total row in {summary}"));
    row.split_whitespace().nth(4).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_after_an_outage_equals_an_uninterrupted_bridge() {
    let t0 = now() - 2 * 86_400;
    let mut events = scenario("purchase_refunds", ApiShape::Basil, t0).unwrap();
    events.extend(scenario("subscription_lifecycle", ApiShape::Legacy, t0 + 10).unwrap());
    events.sort_by_key(|e| e["created"].as_i64());
    let dir = tempfile::tempdir().unwrap();

    // The reference: an uninterrupted bridge gets every event by webhook.
    let (reference, reference_url) = FakePulsora::start(0).await;
    let reference_store = format!("sqlite:{}", dir.path().join("reference.sqlite3").display());
    serve_events(&reference_store, &reference_url, &events).await;
    let want = reference.accepted();
    assert!(want.len() >= 6);

    // The bridge under test takes the first three events, then is down.
    let (pulsora, pulsora_url) = FakePulsora::start(0).await;
    let store = format!("sqlite:{}", dir.path().join("bridge.sqlite3").display());
    serve_events(&store, &pulsora_url, &events[..3]).await;
    let before = pulsora.accepted().len();
    // The state as the outage left it, for reconcile below.
    for suffix in ["", "-wal"] {
        let from = dir.path().join(format!("bridge.sqlite3{suffix}"));
        if from.exists() {
            std::fs::copy(&from, dir.path().join(format!("outage.sqlite3{suffix}"))).unwrap();
        }
    }
    let outage_store = format!("sqlite:{}", dir.path().join("outage.sqlite3").display());
    assert!(before > 0 && before < want.len());

    // Stripe still has every event (and an unrelated one); its API throttles once.
    let stripe = FakeStripe::start(KEY).await.unwrap();
    for event in &events {
        stripe.put("events", event.clone());
    }
    stripe.put(
        "events",
        serde_json::json!({"id": "evt_other", "object": "event", "type": "customer.created", "created": t0, "data": {"object": {"id": "cus_1"}}}),
    );
    stripe.fail_next(Fault::RateLimited {
        retry_after_secs: 1,
    });

    let (code, summary) = run_backfill(&store, &pulsora_url, &stripe).await;
    assert_eq!(code, 0, "{summary}");
    assert_eq!(total_sent(&summary) + before, want.len(), "{summary}");
    let got = pulsora.accepted();
    let mut got_ids: Vec<_> = got.keys().collect();
    let mut want_ids: Vec<_> = want.keys().collect();
    got_ids.sort();
    want_ids.sort();
    assert_eq!(got_ids, want_ids);
    for (tx, bodies) in &got {
        assert_eq!(bodies.len(), 1, "{tx} sent {} times", bodies.len());
        assert_eq!(bodies[0], want[tx][0], "{tx}");
    }

    // A second run: nothing new.
    let (code, summary) = run_backfill(&store, &pulsora_url, &stripe).await;
    assert_eq!(code, 0, "{summary}");
    assert_eq!(total_sent(&summary), 0, "{summary}");
    assert_eq!(
        pulsora.accepted().values().map(Vec::len).sum::<usize>(),
        want.len()
    );

    // Stripe's objects (put only now: with them, the backfill's fetch on notify would read each
    // subscription's final state, and its movements would differ from the reference's), with
    // the two refunds behind the purchase's refunded charge.
    for (collection, object) in stripe_account::objects(&events) {
        stripe.put(collection, object);
    }
    let pi = events[0]["data"]["object"]["payment_intent"]
        .as_str()
        .unwrap();
    for (k, amount) in [(1, 1_000), (2, 1_500)] {
        stripe.put(
            "refunds",
            serde_json::json!({"id": format!("re_bin_{k}"), "object": "refund", "amount": amount,
                "currency": "usd", "payment_intent": pi, "charge": format!("ch_{}", &pi[3..]),
                "status": "succeeded", "created": t0 + k * 86_400}),
        );
    }

    // The state as the outage left it: reconcile finds the drift (through one 500 from Stripe)
    // and names the missed objects: the refunds, the subscription's invoices.
    stripe.fail_next(Fault::ServerError);
    let (code, out) = run_command(
        &["reconcile", "--since", "3d", "--json"],
        &outage_store,
        &pulsora_url,
        &stripe,
    )
    .await;
    assert_eq!(code, 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(
        (report["format"].as_u64(), report["agree"].as_bool()),
        (Some(1), Some(false))
    );
    let objects: Vec<&str> = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["object"].as_str().unwrap())
        .collect();
    assert!(
        objects.contains(&"re_bin_1") && objects.contains(&"re_bin_2"),
        "{out}"
    );
    assert!(objects.iter().any(|o| o.starts_with("in_")), "{out}");
    assert!(
        objects
            .iter()
            .all(|o| ["re_", "in_", "sub_"].iter().any(|p| o.starts_with(p))),
        "{out}"
    );

    // After it, Stripe and the bridge agree: exit 0, as a table and as JSON.
    let (code, out) = run_command(
        &["reconcile", "--since", "3d"],
        &store,
        &pulsora_url,
        &stripe,
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Stripe and the bridge agree."), "{out}");
    assert!(out.contains("Net revenue per UTC day"), "{out}");
    let (code, out) = run_command(
        &["reconcile", "--since", "3d", "--json"],
        &store,
        &pulsora_url,
        &stripe,
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(report["agree"], true, "{out}");
    assert_eq!(report["differences"], serde_json::json!([]));
    // 49.99 − 25.00 refunded, and the subscription's invoices: recorded equals Stripe's.
    let money = &report["money"][0];
    assert_eq!(money["currency"], "USD");
    assert_eq!(money["stripe"], money["recorded"]);
    assert_eq!(money["difference"], "0.00");
}

#[tokio::test]
async fn reconcile_exits_2_on_errors() {
    let stripe = FakeStripe::start(KEY).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("errors.sqlite3").display());
    let pulsora = "http://127.0.0.1:9/api/ingest";

    // The in-memory store cannot know what the bridge recorded.
    let (code, _) = run_command(&["reconcile", "--since", "1d"], "memory", pulsora, &stripe).await;
    assert_eq!(code, 2);
    // No window.
    let (code, _) = run_command(&["reconcile"], &store, pulsora, &stripe).await;
    assert_eq!(code, 2);
    // Stripe refuses the key: an error, not a verdict; --json still prints one document.
    let mut command = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"));
    command.args(["reconcile", "--since", "1d", "--json"]);
    bridge_env(&mut command, &store, pulsora);
    command
        .env("STRIPE_API_KEY", "rk_test_not_the_fake_key")
        .env("STRIPE_API_BASE", stripe.base_url());
    // Off the runtime's thread: the fake Stripe answers on it.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["transient"], false);
    assert!(
        answer["error"].as_str().unwrap().contains("401"),
        "{answer}"
    );
    assert!(!String::from_utf8_lossy(&output.stderr).contains("rk_test_not_the_fake_key"));
    // An empty account agrees with an empty store.
    let (code, out) = run_command(&["reconcile", "--since", "1d"], &store, pulsora, &stripe).await;
    assert_eq!(code, 0, "{out}");
}

#[tokio::test]
async fn backfill_refuses_the_memory_store_and_a_missing_key() {
    let stripe = FakeStripe::start(KEY).await.unwrap();
    let (code, _) = run_backfill("memory", "http://127.0.0.1:9/api/ingest", &stripe).await;
    assert_eq!(code, 2, "memory cannot know what webhooks already sent");

    let output = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"))
        .args(["backfill", "--since", "yesterday"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("RFC 3339"));

    let help = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"))
        .args(["backfill", "--help"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--since"));
}

async fn run_command(
    args: &[&str],
    store: &str,
    pulsora_url: &str,
    stripe: &FakeStripe,
) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"));
    command.args(args);
    bridge_env(&mut command, store, pulsora_url);
    command
        .env("STRIPE_API_KEY", KEY)
        .env("STRIPE_API_BASE", stripe.base_url())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let child = command.spawn().expect("start command");
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_reports_opening_mrr_once() {
    let stripe = FakeStripe::start(KEY).await.unwrap();
    // 20 active monthly subscriptions of 10.00 × (1 + n % 3) seats, and 5 canceled ones.
    let mut want = 0i64;
    for n in 0..25i64 {
        let seats = 1 + n % 3;
        let status = if n < 20 { "active" } else { "canceled" };
        if n < 20 {
            want += 1_000 * seats;
        }
        stripe.put(
            "subscriptions",
            serde_json::json!({
                "id": format!("sub_bin_{n}"), "object": "subscription", "created": n,
                "currency": "usd", "customer": format!("cus_bin_{n}"), "livemode": false,
                "status": status, "metadata": {},
                "items": {"object": "list", "data": [{"id": format!("si_{n}"), "quantity": seats,
                    "price": {"id": "price_10", "currency": "usd", "unit_amount": 1_000,
                              "recurring": {"interval": "month", "interval_count": 1}}}]}
            }),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("adopt.sqlite3").display());
    let (pulsora, url) = FakePulsora::start(0).await;

    let (code, out) = run_command(&["adopt", "--report-opening-mrr"], &store, &url, &stripe).await;
    assert_eq!(code, 0, "{out}");
    let line = format!("MRR USD {}.{:02}", want / 100, want % 100);
    assert!(out.contains(&line), "{line} in {out}");
    let accepted = pulsora.accepted();
    assert_eq!(accepted.len(), 20);
    let total: f64 = accepted
        .values()
        .map(|b| b[0]["mrr_impact"].as_f64().unwrap())
        .sum();
    assert_eq!((total * 100.0).round() as i64, want);

    let (code, out) = run_command(&["adopt", "--report-opening-mrr"], &store, &url, &stripe).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("already adopted 25"), "{out}");
    assert_eq!(pulsora.accepted().values().map(Vec::len).sum::<usize>(), 20);
}
