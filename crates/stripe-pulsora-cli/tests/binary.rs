//! The real `stripe-pulsora` binary as a process on loopback: it verifies, dedupes and forwards
//! to a recording fake Pulsora; health, readiness and metrics answer and move with traffic; a
//! SIGTERM during a slow Pulsora call ends cleanly and nothing is lost or doubled.

#[path = "../../stripe-revenue/tests/support/fake_pulsora.rs"]
mod fake_pulsora;

use fake_pulsora::FakePulsora;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use stripe_pulsora::stripe_revenue::fixtures::{scenario, ApiShape};
use stripe_pulsora_cli::trigger::deliver;

const SECRET: &str = "whsec_binary_test_0123456789abcdef0123456789abcdef";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(port: u16, pulsora_url: &str, extra: &[(&str, &str)]) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"));
    command
        .arg("serve")
        .env_clear()
        .env("STRIPE_WEBHOOK_SECRET", SECRET)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("PULSORA_API_TOKEN", "sec_binary_test")
        .env("PULSORA_ENDPOINT", pulsora_url)
        .env("RUST_LOG", "warn")
        // The SQLite default lands here, one directory per test (kept by the OS temp dir).
        .env("STATE_DIRECTORY", tempfile::tempdir().unwrap().keep())
        // The fixtures are test-mode events, as `stripe trigger` sends.
        .env("STRIPE_PULSORA_LIVEMODE", "test")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in extra {
        command.env(k, v);
    }
    let child = command.spawn().expect("start stripe-pulsora");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the binary did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server { child, base }
}

fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// `STRIPE_PULSORA_REPLAY_STORE` for a fresh SQLite file when the build has the store, else memory.
fn store_setting(dir: &std::path::Path) -> String {
    if cfg!(feature = "sqlite") {
        format!("sqlite:{}", dir.join("bridge.sqlite3").display())
    } else {
        "memory".to_owned()
    }
}

#[tokio::test]
async fn serves_verifies_dedupes_forwards_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_setting(dir.path());
    let (pulsora, pulsora_url) = FakePulsora::start(0).await;
    let server = start(
        free_port(),
        &pulsora_url,
        &[("STRIPE_PULSORA_REPLAY_STORE", &store)],
    )
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/webhooks/stripe", server.base);

    assert_eq!(
        client
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let events = scenario("purchase_refunds", ApiShape::Basil, 1_700_200_000).unwrap();
    for event in &events {
        let attempts = deliver(&client, &url, SECRET, event, 0, Duration::ZERO).await;
        assert_eq!(attempts[0].status, Some(200), "{attempts:?}");
    }
    // A redelivery is acknowledged and not forwarded again.
    let again = deliver(&client, &url, SECRET, &events[0], 0, Duration::ZERO).await;
    assert_eq!(again[0].body, r#"{"received":true,"duplicate":true}"#);
    // A forged request is refused.
    let forged = client
        .post(&url)
        .header("stripe-signature", "t=1,v1=00")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);

    // Acknowledged first (the SQLite default): the outbox worker delivers right after.
    let deadline = Instant::now() + Duration::from_secs(10);
    while pulsora.accepted().len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let accepted = pulsora.accepted();
    assert_eq!(accepted.len(), 3);
    assert!(accepted.values().all(|bodies| bodies.len() == 1));

    // The worker counts a delivery once it is marked sent, just after Pulsora's answer.
    let sent = "stripe_pulsora_pulsora_events_total{outcome=\"sent\"}";
    let metrics = loop {
        let metrics = client
            .get(format!("{}/metrics", server.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metric(&metrics, sent) >= 3 || Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        metric(
            &metrics,
            "stripe_pulsora_webhook_requests_total{outcome=\"ok\"}"
        ),
        3,
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "stripe_pulsora_webhook_requests_total{outcome=\"duplicate\"}"
        ),
        1,
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "stripe_pulsora_webhook_requests_total{outcome=\"no_v1_signature\"}"
        ),
        1,
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "stripe_pulsora_pulsora_events_total{outcome=\"sent\"}"
        ),
        3,
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "stripe_pulsora_webhook_duration_seconds_count"),
        5,
        "{metrics}"
    );
    // Series the libraries emit through the `metrics` facade, exported by the binary.
    assert_eq!(
        metric(
            &metrics,
            "stripe_webhook_rejections_total{code=\"duplicate\"}"
        ),
        1,
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "stripe_webhook_deliveries_total{result=\"handled\"}"
        ),
        3,
        "{metrics}"
    );
    assert!(
        metrics.contains("# HELP stripe_pulsora_pulsora_events_total"),
        "{metrics}"
    );
}

/// With a Pulsora token the binary counts live mode only (no STRIPE_PULSORA_LIVEMODE): a
/// test-mode and a Connect event are answered 200 with the reason, counted by reason in
/// `/metrics`, and never forwarded; the live sale is. A bad value exits 2 naming the variable.
#[tokio::test]
async fn live_by_default_ignores_test_mode_and_connect_events_and_counts_them() {
    use stripe_pulsora::stripe_revenue::fixtures::{connected, live};
    let (pulsora, pulsora_url) = FakePulsora::start(0).await;
    let server = start(
        free_port(),
        &pulsora_url,
        &[("STRIPE_PULSORA_LIVEMODE", "")], // unset: the default applies
    )
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/webhooks/stripe", server.base);
    let events = scenario("mode_and_connect_noise", ApiShape::Basil, 1_700_600_000).unwrap();
    let mut bodies = Vec::new();
    for event in &events {
        let attempts = deliver(&client, &url, SECRET, event, 0, Duration::ZERO).await;
        assert_eq!(attempts[0].status, Some(200), "{attempts:?}");
        bodies.push(attempts[0].body.clone());
    }
    let mut other = connected(live(events[0].clone()), "acct_other");
    other["id"] = "evt_binary_connect".into();
    deliver(&client, &url, SECRET, &other, 0, Duration::ZERO).await;
    assert!(bodies[1].contains(r#""ignored":"test_mode""#), "{bodies:?}");
    let accepted = pulsora.accepted();
    assert_eq!(accepted.keys().collect::<Vec<_>>(), ["pi_demo_600000"]);
    let metrics = client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ignored = |reason: &str| {
        metric(
            &metrics,
            &format!("stripe_pulsora_ignored_events_total{{reason=\"{reason}\"}}"),
        )
    };
    assert_eq!(ignored("test_mode"), 2, "{metrics}");
    assert_eq!(ignored("connect_account"), 2, "{metrics}");

    let output = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"))
        .arg("serve")
        .env_clear()
        .env("STRIPE_WEBHOOK_SECRET", SECRET)
        .env("STRIPE_PULSORA_LIVEMODE", "production")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("STRIPE_PULSORA_LIVEMODE") && stderr.contains("live, test or any"),
        "{stderr}"
    );
}

#[tokio::test]
async fn bad_configuration_exits_2_naming_the_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"))
        .arg("serve")
        .env_clear()
        .env("STRIPE_WEBHOOK_SECRET", SECRET)
        .env("STRIPE_PULSORA_RATE_LIMIT", "lots")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("STRIPE_PULSORA_RATE_LIMIT") && stderr.contains("for example"),
        "{stderr}"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"))
        .arg("serve")
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("STRIPE_WEBHOOK_SECRET"));
}

#[tokio::test]
async fn help_version_and_sign() {
    let help = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for command in ["serve", "trigger", "sign", "backfill", "adopt"] {
        assert!(
            help.contains(command),
            "{command} missing from --help:\n{help}"
        );
    }
    let version = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("stripe-pulsora {}", env!("CARGO_PKG_VERSION"))
    );

    let mut sign = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"))
        .args([
            "sign",
            "--secret",
            "whsec_test_secret",
            "--timestamp",
            "1700000000",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    sign.stdin.take().unwrap().write_all(b"{}").unwrap();
    let out = sign.wait_with_output().unwrap();
    // Vector C6 of the reference: t=1700000000, payload `{}`.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "t=1700000000,v1=ceb8863f7208fa249a6cd8f951e993c7563412aca65866f6272283debe143ab3"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_during_a_slow_pulsora_call_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_setting(dir.path());
    let (pulsora, pulsora_url) = FakePulsora::start_slow(Duration::from_secs(3)).await;
    let port = free_port();
    let server = start(
        port,
        &pulsora_url,
        &[
            ("STRIPE_PULSORA_SHUTDOWN_DEADLINE", "1"),
            ("STRIPE_PULSORA_REPLAY_STORE", &store),
            // The inline path's cut delivery (acknowledge first answers before Pulsora is
            // called: tests/outbox_binary.rs).
            ("STRIPE_PULSORA_DELIVERY", "inline"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/webhooks/stripe", server.base);
    let event = scenario("jpy_kwd", ApiShape::Basil, 1_700_300_000)
        .unwrap()
        .remove(0);

    let in_flight = {
        let (client, url, event) = (client.clone(), url.clone(), event.clone());
        tokio::spawn(async move { deliver(&client, &url, SECRET, &event, 0, Duration::ZERO).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let mut server = server;
    let status = tokio::task::spawn_blocking(move || {
        let status = server.child.wait().unwrap();
        drop(server);
        status
    })
    .await
    .unwrap();
    assert!(status.success(), "clean exit expected, got {status}");
    // The delivery was cut at the deadline: Stripe saw no 2xx and will retry.
    let first = in_flight.await.unwrap();
    assert_ne!(first[0].status, Some(200), "{first:?}");
    assert!(
        pulsora.accepted().is_empty(),
        "Pulsora never finished answering the cut call"
    );

    // After a restart on the same store, the retry is processed (the cut delivery's claim was
    // released, not left to block it for the lease time): exactly one accepted payload.
    pulsora.set_delay(Duration::ZERO);
    let _server = start(
        port,
        &pulsora_url,
        &[
            ("STRIPE_PULSORA_REPLAY_STORE", &store),
            ("STRIPE_PULSORA_DELIVERY", "inline"),
        ],
    )
    .await;
    let retry = deliver(&client, &url, SECRET, &event, 0, Duration::ZERO).await;
    assert_eq!(retry[0].status, Some(200), "{retry:?}");
    let accepted = pulsora.accepted();
    assert_eq!(accepted.len(), 1);
    assert!(accepted.values().all(|b| b.len() == 1));
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn processed_ids_survive_a_restart_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_setting(dir.path());
    let (pulsora, pulsora_url) = FakePulsora::start(0).await;
    let port = free_port();
    let client = reqwest::Client::new();
    let event = scenario("jpy_kwd", ApiShape::Basil, 1_700_500_000)
        .unwrap()
        .remove(0);
    {
        let server = start(
            port,
            &pulsora_url,
            &[("STRIPE_PULSORA_REPLAY_STORE", &store)],
        )
        .await;
        let url = format!("{}/api/webhooks/stripe", server.base);
        assert_eq!(
            deliver(&client, &url, SECRET, &event, 0, Duration::ZERO).await[0].status,
            Some(200)
        );
        // Acknowledged first: the outbox worker delivers right after (a kill before that
        // would hold the row for its lease; crash_run.rs covers kills).
        let deadline = Instant::now() + Duration::from_secs(10);
        while pulsora.accepted().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let server = start(
        port,
        &pulsora_url,
        &[("STRIPE_PULSORA_REPLAY_STORE", &store)],
    )
    .await;
    let url = format!("{}/api/webhooks/stripe", server.base);
    let again = deliver(&client, &url, SECRET, &event, 0, Duration::ZERO).await;
    assert_eq!(again[0].body, r#"{"received":true,"duplicate":true}"#);
    assert_eq!(pulsora.accepted().len(), 1);
}
