//! Shared by the `replay_*` tests: a real axum server on 127.0.0.1 behind a
//! `StripeWebhookLayer`, a scriptable handler that records what ran, freshly signed deliveries,
//! and Redis (the shared server from the environment, or a private one a test can kill).
#![allow(dead_code)] // each test file uses a different part

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stripe_webhook_guard::{sign, StripeWebhookLayer, VerifiedStripeEvent};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const SECRET: &str = "whsec_replay_test_secret_0123456789abcdef0123456789abcdef";
pub const PATH: &str = "/api/webhooks/stripe";
/// Longest a test waits for one answer; a hang fails the test instead of stalling CI.
pub const PATIENCE: Duration = Duration::from_secs(10);
/// What a handler that ran answers, to tell it from `{"received":true,"duplicate":true}`.
pub const HANDLED: &str = r#"{"handled":true}"#;
pub const DUPLICATE: &str = r#"{"received":true,"duplicate":true}"#;

/// What the handler does on its next calls, in order; after the script, it answers 200.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// Answer 500.
    Fail,
    /// Panic (the connection task dies; the client sees the connection close).
    Panic,
    /// Sleep this long before answering 200 (the client gives up first).
    Hang(Duration),
}

/// A handler shared by one or more servers, recording every execution.
#[derive(Default)]
pub struct Probe {
    script: Mutex<VecDeque<Step>>,
    delay: Duration,
    started: AtomicUsize,
    completed: AtomicUsize,
    cancelled: AtomicUsize,
    per_event: Mutex<HashMap<String, usize>>,
}

impl Probe {
    /// Answers 200 after `delay`.
    pub fn new(delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            delay,
            ..Self::default()
        })
    }

    /// Runs `steps` first, then answers 200.
    pub fn scripted(steps: &[Step]) -> Arc<Self> {
        Arc::new(Self {
            script: Mutex::new(steps.iter().copied().collect()),
            ..Self::default()
        })
    }

    /// Handler executions that started.
    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// Handler executions that answered 200.
    pub fn completed(&self) -> usize {
        self.completed.load(Ordering::SeqCst)
    }

    /// Handler executions dropped before they finished (the client hung up).
    pub fn cancelled(&self) -> usize {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// How many times the handler started for each event id.
    pub fn per_event(&self) -> HashMap<String, usize> {
        self.per_event.lock().expect("probe lock").clone()
    }
}

/// Counts a handler future dropped before it finished.
struct CancelWatch {
    probe: Arc<Probe>,
    finished: bool,
}

impl Drop for CancelWatch {
    fn drop(&mut self) {
        if !self.finished {
            self.probe.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn handler(
    State(probe): State<Arc<Probe>>,
    event: VerifiedStripeEvent,
) -> (StatusCode, &'static str) {
    probe.started.fetch_add(1, Ordering::SeqCst);
    *probe
        .per_event
        .lock()
        .expect("probe lock")
        .entry(event.id().to_owned())
        .or_default() += 1;
    let step = probe.script.lock().expect("probe lock").pop_front();
    let mut watch = CancelWatch {
        probe: Arc::clone(&probe),
        finished: false,
    };
    match step {
        Some(Step::Fail) => {
            watch.finished = true;
            return (StatusCode::INTERNAL_SERVER_ERROR, r#"{"failed":true}"#);
        }
        Some(Step::Panic) => {
            watch.finished = true;
            panic!("handler panics on purpose (replay test)");
        }
        Some(Step::Hang(wait)) => tokio::time::sleep(wait).await,
        None => tokio::time::sleep(probe.delay).await,
    }
    watch.finished = true;
    probe.completed.fetch_add(1, Ordering::SeqCst);
    (StatusCode::OK, HANDLED)
}

/// The layer under test. Every delivery in these tests comes from 127.0.0.1, so hundreds of
/// them per second must not be mistaken for abuse.
pub fn layer() -> StripeWebhookLayer {
    StripeWebhookLayer::new(SECRET).no_rate_limit()
}

/// A server on a fresh loopback port; dropping it stops the server.
pub struct App {
    pub url: String,
    pub addr: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl App {
    /// Stops the server and waits until its task, and with it the router, the layer and the
    /// layer's store, is gone (a process restart, as far as the store can tell).
    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// Serves `POST PATH` behind `layer` with `probe` as the handler.
pub async fn serve(layer: StripeWebhookLayer, probe: Arc<Probe>) -> App {
    let app = Router::new()
        .route(PATH, post(handler))
        .layer(layer)
        .with_state(probe)
        .into_make_service_with_connect_info::<SocketAddr>();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    App {
        url: format!("http://{addr}{PATH}"),
        addr,
        task: Some(task),
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(PATIENCE)
        .build()
        .expect("client")
}

/// A snapshot event as Stripe sends it.
pub fn event_body(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","object":"event","api_version":"2025-03-31.basil","created":1700000000,"data":{{"object":{{"id":"in_{id}","object":"invoice","amount_paid":4900,"currency":"usd"}}}},"livemode":false,"pending_webhooks":1,"type":"invoice.paid"}}"#
    )
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Answer {
    pub fn is_handled(&self) -> bool {
        self.status == 200 && self.body == HANDLED
    }

    pub fn is_duplicate(&self) -> bool {
        self.status == 200 && self.body == DUPLICATE
    }

    pub fn code(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// Delivers event `id` to `url`, signed now (as each of Stripe's retries is).
pub async fn deliver_with(
    client: &reqwest::Client,
    url: &str,
    id: &str,
) -> Result<Answer, reqwest::Error> {
    let body = event_body(id);
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("stripe-signature", sign(body.as_bytes(), SECRET, now()))
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.text().await?;
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// [`deliver_with`] a fresh client, expecting an answer.
pub async fn deliver(url: &str, id: &str) -> Answer {
    deliver_with(&client(), url, id).await.expect("an answer")
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// Polls `check` every 10 ms until it holds, failing after [`PATIENCE`].
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A name no earlier run used, so repeated runs against one Redis do not see each other.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        stripe_webhook_guard::ClaimToken::new()
    )
}

/// Missing test infrastructure: a failure in CI, a note and a skip on a developer machine.
pub fn unavailable(what: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} (CI is set, so this is a failure, not a skip)");
    }
    eprintln!("note: skipping: {what}");
}

/// The shared Redis started by `scripts/test` (`STRIPE_PULSORA_TEST_REDIS_URL`).
pub fn redis_url() -> Option<String> {
    match std::env::var("STRIPE_PULSORA_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            unavailable("STRIPE_PULSORA_TEST_REDIS_URL is not set (scripts/test sets it)");
            None
        }
    }
}

/// A private redis-server (no persistence) that a test may kill and restart on the same port.
pub struct OwnRedis {
    binary: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl OwnRedis {
    /// Starts one on a free loopback port: the binary from `STRIPE_PULSORA_TEST_REDIS_SERVER`,
    /// else `redis-server` on `PATH`.
    pub fn start() -> Option<Self> {
        let binary = std::env::var_os("STRIPE_PULSORA_TEST_REDIS_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("redis-server"));
        if Command::new(&binary)
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            unavailable(&format!("cannot run {}", binary.display()));
            return None;
        }
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut redis = Self {
            binary,
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        redis.restart();
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server (again) on the same port and waits until it accepts connections.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        while StdStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the server (SIGKILL: no goodbye to clients) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
