// Shared by the PostgreSQL bridge tests, each using a subset.
#![allow(dead_code)]
//! Bridge instances on one PostgreSQL, built the way `stripe-pulsora serve` builds them
//! (`EnvConfig` → `Bridge::from_config` → `server::app` → the accept loop with the configured
//! connection limits), each with its own pool, on its own loopback port; and a Stripe-like
//! sender that signs each delivery afresh and sorts every answer into what happened.

use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use stripe_pulsora::stripe_revenue::fixtures::{
    checkout_payment, event, price, subscription_invoice, ApiShape,
};
use stripe_pulsora_cli::server::{app, serve_with, ConnectionLimits};
use stripe_pulsora_cli::{Bridge, EnvConfig};

pub const SECRET: &str = "whsec_pg_bridge_0123456789abcdef0123456789abcdef";

/// Longest one answer may take: the replay store's timeout (2 s), the pool's connect and wait
/// timeouts (2 s each) and Pulsora's share, with room for a loaded 2-core machine.
pub const ANSWER_BOUND: Duration = Duration::from_secs(8);

/// One `serve` instance.
pub struct Instance {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Instance {
    /// The bridge on `postgres_url` sending to `pulsora_url`, as the binary configures it from
    /// these variables (the fixtures are test-mode events; limits off: the sender is one
    /// client sending thousands of deliveries).
    pub async fn start(postgres_url: &str, pulsora_url: &str) -> Self {
        Self::start_with(postgres_url, pulsora_url, |bridge| bridge).await
    }

    /// [`start`](Self::start), with a change to the built pieces before serving.
    pub async fn start_with(
        postgres_url: &str,
        pulsora_url: &str,
        adjust: impl FnOnce(Bridge) -> Bridge,
    ) -> Self {
        let vars = [
            ("STRIPE_WEBHOOK_SECRET", SECRET),
            ("BIND", "127.0.0.1:0"),
            ("PULSORA_API_TOKEN", "sec_pg_bridge"),
            ("PULSORA_ENDPOINT", pulsora_url),
            ("STRIPE_PULSORA_REPLAY_STORE", postgres_url),
            ("STRIPE_PULSORA_LIVEMODE", "test"),
            ("STRIPE_PULSORA_RATE_LIMIT", "off"),
            ("STRIPE_PULSORA_FAILURE_LIMIT", "off"),
            ("STRIPE_PULSORA_MAX_CONNECTIONS_PER_CLIENT", "off"),
            ("STRIPE_PULSORA_SHUTDOWN_DEADLINE", "5"),
            // These tests read what the handler did from its answer (`sent`, `already_sent`):
            // the inline path. Acknowledge first on PostgreSQL (two workers, one outbox):
            // crates/stripe-revenue/tests/outbox.rs.
            ("STRIPE_PULSORA_DELIVERY", "inline"),
        ];
        let config = EnvConfig::from_vars(vars.map(|(k, v)| (k.to_owned(), v.to_owned())))
            .expect("configuration");
        let bridge = Bridge::from_config(&config).await.expect("bridge starts");
        let app = app(adjust(bridge));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = ConnectionLimits::from_config(&config);
        let deadline = config.shutdown_deadline;
        let task = tokio::spawn(async move {
            serve_with(listener, app, deadline, limits, async {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
        });
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn webhook_url(&self) -> String {
        format!("http://{}/api/webhooks/stripe", self.addr)
    }

    /// `GET /readyz`: its status, within [`ANSWER_BOUND`].
    pub async fn ready(&self, client: &reqwest::Client) -> u16 {
        let started = Instant::now();
        let status = client
            .get(format!("http://{}/readyz", self.addr))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        let took = started.elapsed();
        assert!(took <= ANSWER_BOUND, "/readyz took {took:?}");
        status
    }

    /// Stops like SIGTERM does (in-flight deliveries finish) and waits until it has.
    pub async fn stop(mut self) {
        self.stop_now().await;
    }

    async fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .expect("instance stops within its shutdown deadline")
                .expect("serve task");
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// How one delivery was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The handler ran and answered `200`: `{"received":true,"sent":…,"already_sent":…}`.
    Ran { sent: u64, already_sent: u64 },
    /// `200 {"received":true,"duplicate":true}`: the handler did not run.
    Duplicate,
    /// The layer refused before the handler: `409 in_flight` or `503 store_unavailable`, with
    /// `Retry-After`.
    Refused { status: u16, code: String },
    /// The handler ran and answered `503` (state store or Pulsora unavailable).
    HandlerFailed { code: String, retry_after: bool },
    /// Anything else (a bug, or no answer at all: status 0).
    Other { status: u16, body: String },
}

impl Answer {
    pub fn handler_ran(&self) -> bool {
        matches!(self, Self::Ran { .. } | Self::HandlerFailed { .. })
    }
}

/// One signed delivery (a fresh `t=`, as each Stripe retry is signed anew), sorted. Panics
/// when the answer takes longer than [`ANSWER_BOUND`] or a refusal lacks `Retry-After`.
pub async fn deliver(client: &reqwest::Client, url: &str, body: &str) -> Answer {
    let header = stripe_webhook_guard::sign(
        body.as_bytes(),
        SECRET,
        stripe_pulsora_cli::trigger::unix_now(),
    );
    let started = Instant::now();
    let sent = client
        .post(url)
        .header("content-type", "application/json; charset=utf-8")
        .header("stripe-signature", header)
        .body(body.to_owned())
        .send();
    let response = match tokio::time::timeout(ANSWER_BOUND, sent).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => {
            return Answer::Other {
                status: 0,
                body: error.to_string(),
            }
        }
        Err(_) => panic!("no answer within {ANSWER_BOUND:?} from {url}"),
    };
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    let text = response.text().await.unwrap_or_default();
    let took = started.elapsed();
    assert!(
        took <= ANSWER_BOUND,
        "answer took {took:?}: {status} {text}"
    );
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let code = json["error"].as_str().unwrap_or_default().to_owned();
    match status {
        200 if json["duplicate"] == true => Answer::Duplicate,
        200 if json.get("sent").is_some() => Answer::Ran {
            sent: json["sent"].as_u64().unwrap_or_default(),
            already_sent: json["already_sent"].as_u64().unwrap_or_default(),
        },
        409 | 503 if ["in_flight", "store_unavailable"].contains(&code.as_str()) => {
            assert!(retry_after, "{status} {code} without Retry-After");
            Answer::Refused { status, code }
        }
        503 if ["state_store_unavailable", "pulsora_unavailable"].contains(&code.as_str()) => {
            Answer::HandlerFailed { code, retry_after }
        }
        _ => Answer::Other { status, body: text },
    }
}

/// A client with bounded waits everywhere.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(ANSWER_BOUND)
        .connect_timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(64)
        .build()
        .expect("client")
}

/// A reproducible shuffle (xorshift), so a failing order can be run again.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

/// How long one delivery is retried (Stripe-style, after `409`/`503`) before the test fails.
pub const RETRY_FOR: Duration = Duration::from_secs(30);

/// Event `i`: a paid Checkout Session (one-off, transaction `pi_demo_<n>`) or a subscription's
/// first paid invoice (transaction `in_demo_<n>_1`, with its MRR movement), alternating API
/// shapes. Returns the event and the transaction it must produce.
pub fn revenue_event(base: u32, i: u32) -> (Value, String) {
    let n = base + i;
    let created = 1_700_000_000 + i64::from(i);
    let shape = if i % 4 < 2 {
        ApiShape::Basil
    } else {
        ApiShape::Legacy
    };
    if i.is_multiple_of(2) {
        let session = checkout_payment(n, 4_200 + i64::from(i), "usd", created);
        let id = format!("evt_pg_pay_{n}");
        (
            event(
                &id,
                "checkout.session.completed",
                created,
                shape,
                session,
                None,
            ),
            format!("pi_demo_{n}"),
        )
    } else {
        let plan = price("price_pg", 2_000, "usd", "month");
        let invoice =
            subscription_invoice(n, 1, "subscription_create", 2_000, &plan, 1, created, shape);
        let id = format!("evt_pg_inv_{n}");
        (
            event(&id, "invoice.paid", created, shape, invoice, None),
            format!("in_demo_{n}_1"),
        )
    }
}

/// Delivers `body` until the handler ran or the answer is a duplicate, retrying refusals
/// Stripe-style; returns every answer.
pub async fn deliver_until_settled(client: &reqwest::Client, url: &str, body: &str) -> Vec<Answer> {
    let started = Instant::now();
    let mut answers = Vec::new();
    loop {
        let answer = deliver(client, url, body).await;
        let settled = matches!(answer, Answer::Ran { .. } | Answer::Duplicate);
        if let Answer::Other { .. } = answer {
            panic!("unexpected answer {answer:?} for {body:.80}");
        }
        answers.push(answer);
        if settled {
            return answers;
        }
        assert!(
            started.elapsed() < RETRY_FOR,
            "still refused after {RETRY_FOR:?}: {answers:?}"
        );
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}
