//! A fake Pulsora ingest endpoint for the outbox measurements (BENCHMARKS.md, "Outbox"):
//! `--mode accept` answers `202` at once and counts each transaction id; `--mode hang` accepts
//! the connection and never answers (Pulsora hanging). `GET /count` returns
//! `{"accepted":n,"distinct":d,"first_ms":…,"last_ms":…}` (Unix ms of the first and last
//! accepted request).
//!
//! ```sh
//! cargo run --release -p stripe-pulsora-bench --bin pulsora_sink -- --mode accept --bind 127.0.0.1:4100
//! ```

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Default)]
struct Seen {
    accepted: u64,
    ids: HashSet<String>,
    first_ms: u128,
    last_ms: u128,
}

#[derive(Clone)]
struct Sink {
    hang: bool,
    seen: Arc<Mutex<Seen>>,
}

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

async fn ingest(State(sink): State<Sink>, Json(body): Json<serde_json::Value>) -> StatusCode {
    if sink.hang {
        std::future::pending::<()>().await;
    }
    let tx = body["data"]["transaction_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut seen = sink.seen.lock().unwrap_or_else(|p| p.into_inner());
    let now = now_ms();
    if seen.accepted == 0 {
        seen.first_ms = now;
    }
    seen.accepted += 1;
    seen.last_ms = now;
    seen.ids.insert(tx);
    StatusCode::ACCEPTED
}

async fn count(State(sink): State<Sink>) -> Json<serde_json::Value> {
    let seen = sink.seen.lock().unwrap_or_else(|p| p.into_inner());
    Json(serde_json::json!({
        "accepted": seen.accepted,
        "distinct": seen.ids.len(),
        "first_ms": seen.first_ms as u64,
        "last_ms": seen.last_ms as u64,
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let bind = arg("--bind", "127.0.0.1:4100");
    let sink = Sink {
        hang: arg("--mode", "accept") == "hang",
        seen: Arc::default(),
    };
    let app = Router::new()
        .route("/api/ingest", post(ingest))
        .route("/count", get(count))
        .with_state(sink);
    let listener = tokio::net::TcpListener::bind(&bind).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
