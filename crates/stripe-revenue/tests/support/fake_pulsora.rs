// Shared by several test crates, each using a subset.
#![allow(dead_code)]
//! A recording fake Pulsora ingest endpoint on 127.0.0.1: it stores every request and can be
//! told to fail the first N attempts of each transaction.

use axum::{extract::State, http::StatusCode, routing::post, Json, Router};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct FakePulsora {
    inner: Arc<Mutex<Recorded>>,
}

#[derive(Default)]
struct Recorded {
    /// Every request body, in arrival order, with the status it got.
    requests: Vec<(serde_json::Value, u16)>,
    /// Failures to answer per transaction id before accepting.
    fail_first: u32,
    failures_so_far: HashMap<String, u32>,
    /// How long to wait before answering; a request whose client gave up meanwhile is not
    /// recorded (as a real server's work would be abandoned).
    delay: std::time::Duration,
    /// Every request answered with this status (an outage: 503; a bad token: 401).
    forced: Option<u16>,
    /// Requests for these transaction ids answered with this status (a 422 refusal).
    refused: HashMap<String, u16>,
}

impl FakePulsora {
    /// Starts the server; returns it and its ingest URL.
    pub async fn start(fail_first: u32) -> (Self, String) {
        let fake = FakePulsora::default();
        fake.inner.lock().unwrap().fail_first = fail_first;
        let app = Router::new()
            .route("/api/ingest", post(ingest))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, format!("http://{addr}/api/ingest"))
    }

    /// Starts a server that answers every request after `delay`.
    pub async fn start_slow(delay: std::time::Duration) -> (Self, String) {
        let (fake, url) = Self::start(0).await;
        fake.set_delay(delay);
        (fake, url)
    }

    /// Changes the answer delay.
    pub fn set_delay(&self, delay: std::time::Duration) {
        self.inner.lock().unwrap().delay = delay;
    }

    /// Bodies Pulsora accepted (202), per transaction id.
    pub fn accepted(&self) -> HashMap<String, Vec<serde_json::Value>> {
        let mut out: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
        for (body, status) in &self.inner.lock().unwrap().requests {
            if *status == 202 {
                let tx = body["data"]["transaction_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                out.entry(tx).or_default().push(body["data"].clone());
            }
        }
        out
    }

    /// Answers every request with `status` from now on (`None`: back to normal).
    pub fn set_status(&self, status: Option<u16>) {
        self.inner.lock().unwrap().forced = status;
    }

    /// Answers requests for transaction `tx` with `status` (`None`: back to normal).
    pub fn refuse(&self, tx: &str, status: Option<u16>) {
        let mut recorded = self.inner.lock().unwrap();
        match status {
            Some(status) => recorded.refused.insert(tx.to_owned(), status),
            None => recorded.refused.remove(tx),
        };
    }

    /// The `data` of every accepted request, in arrival order.
    pub fn accepted_in_order(&self) -> Vec<serde_json::Value> {
        self.inner
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|(_, s)| *s == 202)
            .map(|(body, _)| body["data"].clone())
            .collect()
    }

    /// How many requests arrived (whatever the answer).
    pub fn request_count(&self) -> usize {
        self.inner.lock().unwrap().requests.len()
    }

    /// How many requests were refused with 500.
    pub fn failed(&self) -> usize {
        self.inner
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|(_, s)| *s == 500)
            .count()
    }
}

async fn ingest(
    State(fake): State<FakePulsora>,
    Json(body): Json<serde_json::Value>,
) -> (StatusCode, Json<serde_json::Value>) {
    let delay = fake.inner.lock().unwrap().delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut recorded = fake.inner.lock().unwrap();
    let tx = body["data"]["transaction_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let fail_first = recorded.fail_first;
    let forced = recorded.refused.get(&tx).copied().or(recorded.forced);
    let failures = recorded.failures_so_far.entry(tx).or_insert(0);
    let status = if let Some(status) = forced {
        status
    } else if *failures < fail_first {
        *failures += 1;
        500
    } else {
        202
    };
    recorded.requests.push((body, status));
    let code = StatusCode::from_u16(status).unwrap();
    let answer = match status {
        202 => serde_json::json!({ "status": "queued" }),
        401 => serde_json::json!({ "error": "Invalid API token" }),
        400 | 422 => serde_json::json!({ "message": "The data.amount field is invalid." }),
        _ => serde_json::json!({ "status": "error" }),
    };
    (code, Json(answer))
}
