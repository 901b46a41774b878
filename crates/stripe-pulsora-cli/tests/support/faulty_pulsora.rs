//! A Pulsora that fails 30% of calls on a fixed pseudo-random sequence: 10% 500, 10% 429, 10%
//! slow (longer than the client waits) and then 500, so a timed-out call is never also an
//! accepted one. Shared by the fault run and the crash run.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a slow call takes before its 500.
pub const SLOW_CALL: Duration = Duration::from_millis(300);

#[derive(Clone, Default)]
pub struct FaultyPulsora {
    /// Transaction id → (times accepted, amount text).
    pub accepted: Arc<Mutex<HashMap<String, (usize, String)>>>,
    pub calls: Arc<AtomicU64>,
    pub failures: Arc<AtomicU64>,
}

async fn ingest(
    State(p): State<FaultyPulsora>,
    Json(body): Json<serde_json::Value>,
) -> (StatusCode, [(&'static str, &'static str); 1]) {
    let n = p.calls.fetch_add(1, Ordering::Relaxed);
    // A fixed pseudo-random sequence: reproducible, spread over every transaction.
    let roll = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) % 10;
    let fail = |status| {
        p.failures.fetch_add(1, Ordering::Relaxed);
        (status, [("retry-after", "0")])
    };
    match roll {
        0 => fail(StatusCode::INTERNAL_SERVER_ERROR),
        1 => fail(StatusCode::TOO_MANY_REQUESTS),
        2 => {
            tokio::time::sleep(SLOW_CALL).await;
            fail(StatusCode::INTERNAL_SERVER_ERROR)
        }
        _ => {
            let tx = body["data"]["transaction_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let amount = body["data"]["amount"].to_string();
            p.accepted
                .lock()
                .unwrap()
                .entry(tx)
                .or_insert((0, amount))
                .0 += 1;
            (StatusCode::ACCEPTED, [("retry-after", "0")])
        }
    }
}

/// Starts it on a free loopback port; returns it and its ingest URL.
pub async fn start_pulsora() -> (FaultyPulsora, String) {
    let fake = FaultyPulsora::default();
    let app = Router::new()
        .route("/api/ingest", post(ingest))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, format!("http://{addr}/api/ingest"))
}
