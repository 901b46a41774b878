//! Issue 18 §4, §5, §8: what the bridge answers Stripe for each answer Pulsora can give, over
//! real sockets (the bridge as `stripe-pulsora serve` builds it, a scripted Pulsora on loopback).
//!
//! - 400/422 refuse this payload: dead letter, `200`;
//! - 401/403/404/3xx are configuration faults: the event is kept (`503 pulsora_misconfigured`,
//!   nothing marked sent), `/readyz` is not ready and a gauge says so until Pulsora accepts;
//! - 408/409/413/425 and unknown statuses are transient: `503 pulsora_unavailable`;
//! - a hanging Pulsora or `429 Retry-After: 59` is answered inside the inline budget;
//! - a store failure is `state_store_unavailable`, and `/readyz` checks the SQLite file.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stripe_pulsora::stripe_revenue::fixtures::{scenario, ApiShape};
use stripe_pulsora_cli::trigger::deliver;
use stripe_pulsora_cli::{server, Bridge, EnvConfig};

const SECRET: &str = "whsec_pulsora_answers_test_0123456789abcdef";

/// A Pulsora that answers whatever status it is told (0: never answers).
#[derive(Clone, Default)]
struct Scripted {
    status: Arc<AtomicU16>,
    requests: Arc<AtomicUsize>,
}

async fn ingest(
    State(s): State<Scripted>,
) -> (StatusCode, [(&'static str, &'static str); 2], &'static str) {
    s.requests.fetch_add(1, Ordering::SeqCst);
    let status = s.status.load(Ordering::SeqCst);
    if status == 0 {
        std::future::pending::<()>().await;
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
        [("retry-after", "59"), ("location", "/moved")],
        r#"{"message":"scripted"}"#,
    )
}

impl Scripted {
    async fn start(status: u16) -> (Self, String) {
        let scripted = Scripted::default();
        scripted.status.store(status, Ordering::SeqCst);
        let app = Router::new()
            .route("/api/ingest", post(ingest))
            .with_state(scripted.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (scripted, format!("http://{addr}/api/ingest"))
    }

    fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }
}

/// The bridge exactly as `serve` builds it from these variables; its base URL.
async fn start_bridge(vars: &[(&str, &str)]) -> String {
    let mut all = vec![
        ("STRIPE_WEBHOOK_SECRET".to_owned(), SECRET.to_owned()),
        (
            "PULSORA_API_TOKEN".to_owned(),
            "sec_pulsora_answers".to_owned(),
        ),
        // A token makes the SQLite file the default store: one directory per bridge.
        (
            "STATE_DIRECTORY".to_owned(),
            tempfile::tempdir().unwrap().keep().display().to_string(),
        ),
        // The fixtures are test-mode events, as `stripe trigger` sends.
        ("STRIPE_PULSORA_LIVEMODE".to_owned(), "test".to_owned()),
        // What the webhook answers for each Pulsora answer when it waits for Pulsora; the
        // outbox's handling of the same answers: crates/stripe-revenue/tests/outbox.rs.
        ("STRIPE_PULSORA_DELIVERY".to_owned(), "inline".to_owned()),
    ];
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = EnvConfig::from_vars(all).unwrap();
    let bridge = Bridge::from_config(&config).await.unwrap();
    let app = server::app(bridge);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve_until(
        listener,
        app,
        Duration::from_secs(1),
        std::future::pending(),
    ));
    format!("http://{addr}")
}

fn purchase() -> serde_json::Value {
    scenario("purchase_refunds", ApiShape::Basil, 1_700_300_000)
        .unwrap()
        .remove(0)
}

async fn post_once(base: &str, event: &serde_json::Value) -> (u16, serde_json::Value) {
    let client = reqwest::Client::new();
    let url = format!("{base}/api/webhooks/stripe");
    let attempt = deliver(&client, &url, SECRET, event, 0, Duration::ZERO)
        .await
        .remove(0);
    let body = serde_json::from_str(&attempt.body).unwrap_or(serde_json::Value::Null);
    (attempt.status.unwrap_or(0), body)
}

async fn get(base: &str, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("{base}{path}")).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn token_and_endpoint_faults_keep_the_event_and_make_the_bridge_not_ready() {
    for status in [401, 403, 404, 301, 302, 308] {
        let (pulsora, url) = Scripted::start(status).await;
        let base = start_bridge(&[("PULSORA_ENDPOINT", &url)]).await;
        let event = purchase();

        let (code, body) = post_once(&base, &event).await;
        assert_eq!(code, 503, "{status}: {body}");
        assert_eq!(body["error"], "pulsora_misconfigured", "{status}: {body}");
        assert_eq!(
            pulsora.requests.load(Ordering::SeqCst),
            1,
            "{status}: not retried, not followed"
        );
        let (ready, why) = get(&base, "/readyz").await;
        assert_eq!(ready, 503, "{status}: {why}");
        assert!(why.contains("Pulsora refused the configuration"), "{why}");
        let (_, metrics) = get(&base, "/metrics").await;
        assert!(
            metrics.contains("stripe_pulsora_pulsora_configuration_fault 1"),
            "{metrics}"
        );

        // The operator fixes the token; Stripe's retry of the same event is sent, not
        // answered `already_sent` (nothing was marked sent) nor `duplicate`.
        pulsora.answer(202);
        let (code, body) = post_once(&base, &event).await;
        assert_eq!(
            (code, body["sent"].as_u64()),
            (200, Some(1)),
            "{status}: {body}"
        );
        assert_eq!(get(&base, "/readyz").await.0, 200);
        let (_, metrics) = get(&base, "/metrics").await;
        assert!(
            metrics.contains("stripe_pulsora_pulsora_configuration_fault 0"),
            "{metrics}"
        );
    }
}

#[tokio::test]
async fn not_now_answers_are_transient_and_the_event_is_sent_later() {
    for status in [408, 409, 413, 425, 418] {
        let (pulsora, url) = Scripted::start(status).await;
        let base = start_bridge(&[("PULSORA_ENDPOINT", &url)]).await;
        let event = purchase();
        let (code, body) = post_once(&base, &event).await;
        assert_eq!(code, 503, "{status}: {body}");
        assert_eq!(body["error"], "pulsora_unavailable", "{status}: {body}");
        assert_eq!(get(&base, "/readyz").await.0, 200, "{status}");
        pulsora.answer(202);
        let (code, body) = post_once(&base, &event).await;
        assert_eq!(
            (code, body["sent"].as_u64()),
            (200, Some(1)),
            "{status}: {body}"
        );
    }
}

#[tokio::test]
async fn only_a_refusal_of_the_payload_is_dead_lettered() {
    for status in [400, 422] {
        let (_pulsora, url) = Scripted::start(status).await;
        let base = start_bridge(&[("PULSORA_ENDPOINT", &url)]).await;
        let (code, body) = post_once(&base, &purchase()).await;
        assert_eq!(code, 200, "{status}: {body}");
        assert!(body["dead_lettered"].is_string(), "{status}: {body}");
        assert_eq!(get(&base, "/readyz").await.0, 200);
    }
}

/// Issue 18 §4: with the default configuration, Stripe's answer comes inside 10 s whether
/// Pulsora hangs or asks to wait a minute. Prints both times (the report's numbers).
#[tokio::test]
async fn stripe_is_answered_within_ten_seconds_whatever_pulsora_does() {
    for (status, label) in [(0, "hanging"), (429, "429 Retry-After: 59")] {
        let (_pulsora, url) = Scripted::start(status).await;
        let base = start_bridge(&[("PULSORA_ENDPOINT", &url)]).await;
        let started = Instant::now();
        let (code, body) =
            tokio::time::timeout(Duration::from_secs(15), post_once(&base, &purchase()))
                .await
                .expect("answered within 15 s");
        let took = started.elapsed();
        eprintln!("Pulsora {label}: webhook answered {code} in {took:?}");
        assert_eq!(code, 503, "{label}: {body}");
        assert_eq!(body["error"], "pulsora_unavailable", "{label}: {body}");
        assert!(took <= Duration::from_secs(10), "{label}: {took:?}");
    }
}

/// Issue 18 §8: `/readyz` checks what a delivery needs, and a store failure has its own code.
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_deleted_or_corrupt_store_is_not_ready_and_named_as_such() {
    let (_pulsora, url) = Scripted::start(202).await;

    // Deleted while running: the open connection would keep writing to the unlinked file.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bridge.sqlite3");
    let store = format!("sqlite:{}", db.display());
    let base = start_bridge(&[
        ("PULSORA_ENDPOINT", &url),
        ("STRIPE_PULSORA_REPLAY_STORE", &store),
    ])
    .await;
    assert_eq!(get(&base, "/readyz").await.0, 200);
    std::fs::remove_file(&db).unwrap();
    let (ready, why) = get(&base, "/readyz").await;
    assert_eq!(ready, 503, "{why}");
    assert!(why.contains("state store unavailable"), "{why}");

    // Corrupt: garbage over the whole file.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bridge.sqlite3");
    let store = format!("sqlite:{}", db.display());
    let base = start_bridge(&[
        ("PULSORA_ENDPOINT", &url),
        ("STRIPE_PULSORA_REPLAY_STORE", &store),
    ])
    .await;
    assert_eq!(get(&base, "/readyz").await.0, 200);
    let len = std::fs::metadata(&db).unwrap().len().max(8192) as usize;
    std::fs::write(&db, vec![0xA5u8; len]).unwrap();
    for wal in ["-wal", "-shm"] {
        let _ = std::fs::write(format!("{}{wal}", db.display()), vec![0xA5u8; 4096]);
    }
    let (ready, why) = get(&base, "/readyz").await;
    assert_eq!(ready, 503, "{why}");
    let (code, body) = post_once(&base, &purchase()).await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body["error"] == "state_store_unavailable" || body["error"] == "store_unavailable",
        "{body}"
    );
    assert_ne!(body["error"], "pulsora_unavailable", "{body}");
}
