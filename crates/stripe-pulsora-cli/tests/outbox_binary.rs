//! Acknowledge first through the `stripe-pulsora` binary: `serve` on an SQLite file answers
//! webhooks at once and its worker delivers; `stripe-pulsora outbox` and `dead-letters list |
//! retry | drop` read and change the same file; a refused token keeps rows pending and `/readyz`
//! not ready until a restart with the right token delivers them.
#![cfg(feature = "sqlite")]

#[path = "../../stripe-revenue/tests/support/fake_pulsora.rs"]
mod fake_pulsora;

use fake_pulsora::FakePulsora;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use stripe_pulsora::stripe_revenue::fixtures::{scenario, ApiShape};
use stripe_pulsora_cli::trigger::deliver;

const SECRET: &str = "whsec_outbox_binary_0123456789abcdef0123456789";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn bridge_env(command: &mut Command, store: &str, pulsora_url: &str) {
    command
        .env_clear()
        .env("STRIPE_WEBHOOK_SECRET", SECRET)
        .env("PULSORA_API_TOKEN", "sec_outbox_binary")
        .env("PULSORA_ENDPOINT", pulsora_url)
        .env("STRIPE_PULSORA_REPLAY_STORE", store)
        // The fixtures are test-mode events.
        .env("STRIPE_PULSORA_LIVEMODE", "any")
        .env("RUST_LOG", "warn");
}

struct Bridge {
    child: Child,
    base: String,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(store: &str, pulsora_url: &str) -> Bridge {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"));
    command.arg("serve");
    bridge_env(&mut command, store, pulsora_url);
    let child = command
        .env("BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(Instant::now() < deadline, "the bridge did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Bridge { child, base }
}

/// Runs a command on the same store; its exit code and standard output.
async fn command(args: &[&str], store: &str, pulsora_url: &str) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"));
    command.args(args);
    bridge_env(&mut command, store, pulsora_url);
    command.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let child = command.spawn().unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn line<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label:?} in {text}"))
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within 30 s");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Webhooks are answered `200 queued` while Pulsora refuses two payloads (422, 400); both land
/// in the dead letters with Pulsora's message; `retry` sends the fixed one once, `drop` removes
/// the other; the counts follow in `stripe-pulsora outbox`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_through_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("bridge.sqlite3").display());
    let (pulsora, url) = FakePulsora::start(0).await;
    // purchase → two partial refunds: transactions pi_demo_<n>, pi_demo_<n>_refund_1, _2.
    let events = scenario("purchase_refunds", ApiShape::Basil, 1_700_700_000).unwrap();
    let n = 1_700_700_000 % 1_000_000;
    let (refused, dropped) = (format!("pi_demo_{n}"), format!("pi_demo_{n}_refund_2"));
    pulsora.refuse(&refused, Some(422));
    pulsora.refuse(&dropped, Some(400));

    let bridge = serve(&store, &url).await;
    let client = reqwest::Client::new();
    let webhook = format!("{}/api/webhooks/stripe", bridge.base);
    for event in &events {
        let attempts = deliver(&client, &webhook, SECRET, event, 0, Duration::ZERO).await;
        let answer = &attempts[0];
        assert_eq!(answer.status, Some(200), "{answer:?}");
        assert!(answer.body.contains(r#""queued":"#), "{}", answer.body);
    }
    // The refund in between is delivered; the two refused rows are dead.
    wait_for("the refund delivered", || pulsora.accepted().len() == 1).await;
    let (code, out) = command(&["outbox"], &store, &url).await;
    assert_eq!(code, 0, "{out}");
    wait_for("both refusals answered", || pulsora.request_count() >= 3).await;
    let (_, out) = command(&["outbox"], &store, &url).await;
    assert_eq!(line(&out, "pending"), "0", "{out}");
    assert_eq!(line(&out, "dead letters"), "2", "{out}");

    let (code, list) = command(&["dead-letters", "list"], &store, &url).await;
    assert_eq!(code, 0);
    assert!(list.contains(&refused) && list.contains(&dropped), "{list}");
    assert!(list.contains("(422)") && list.contains("(400)"), "{list}");
    assert!(list.contains("The data.amount field is invalid."), "{list}");
    assert!(list.contains("2 dead letter(s)"), "{list}");

    // Cause fixed: retry sends it once.
    pulsora.refuse(&refused, None);
    let (code, out) = command(&["dead-letters", "retry", &refused], &store, &url).await;
    assert_eq!(code, 0, "{out}");
    wait_for("the retried row delivered", || {
        pulsora.accepted().contains_key(&refused)
    })
    .await;
    // Unknown ids are an error, not a silent success.
    let (code, _) = command(&["dead-letters", "retry", &refused], &store, &url).await;
    assert_eq!(code, 1);
    let (code, _) = command(&["dead-letters", "retry"], &store, &url).await;
    assert_eq!(code, 2, "an id or --all is required");

    let (code, out) = command(&["dead-letters", "drop", &dropped], &store, &url).await;
    assert_eq!(code, 0, "{out}");
    let (code, _) = command(&["dead-letters", "drop", &dropped], &store, &url).await;
    assert_eq!(code, 1);
    let (_, out) = command(&["outbox"], &store, &url).await;
    assert_eq!(line(&out, "dead letters"), "0", "{out}");
    assert_eq!(line(&out, "pending"), "0", "{out}");

    let accepted = pulsora.accepted();
    assert_eq!(accepted.len(), 2, "{:?}", accepted.keys());
    assert_eq!(accepted[&refused].len(), 1);
    assert!(!accepted.contains_key(&dropped));
}

/// A refused token (401): webhooks are still acknowledged, rows stay pending (no dead letter),
/// `/readyz` says why and `/metrics` shows the block; a restart with the token fixed delivers
/// every row once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_keeps_rows_pending_until_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("bridge.sqlite3").display());
    let (pulsora, url) = FakePulsora::start(0).await;
    pulsora.set_status(Some(401));
    let events = scenario("purchase_refunds", ApiShape::Basil, 1_700_800_000).unwrap();

    let bridge = serve(&store, &url).await;
    let client = reqwest::Client::new();
    let webhook = format!("{}/api/webhooks/stripe", bridge.base);
    for event in &events {
        let attempts = deliver(&client, &webhook, SECRET, event, 0, Duration::ZERO).await;
        assert_eq!(attempts[0].status, Some(200), "{attempts:?}");
    }
    wait_for("Pulsora asked", || pulsora.request_count() >= 1).await;
    let ready = client
        .get(format!("{}/readyz", bridge.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let why = ready.text().await.unwrap();
    assert!(
        why.contains("Pulsora refused the configuration") && why.contains("401"),
        "{why}"
    );
    let metrics = client
        .get(format!("{}/metrics", bridge.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("stripe_pulsora_outbox_blocked 1"),
        "{metrics}"
    );
    let (_, out) = command(&["outbox"], &store, &url).await;
    assert_eq!(line(&out, "pending"), "3", "{out}");
    assert_eq!(line(&out, "dead letters"), "0", "{out}");
    drop(bridge);

    // The token is fixed and the bridge restarted: everything goes out once.
    pulsora.set_status(None);
    let bridge = serve(&store, &url).await;
    wait_for("all delivered", || pulsora.accepted().len() == 3).await;
    let (_, out) = command(&["outbox"], &store, &url).await;
    assert_eq!(line(&out, "pending"), "0", "{out}");
    assert!(pulsora.accepted().values().all(|bodies| bodies.len() == 1));
    let ready = client
        .get(format!("{}/readyz", bridge.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}
