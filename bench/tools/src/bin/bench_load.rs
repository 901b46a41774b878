//! The load generator of the benchmarks (see BENCHMARKS.md): N keep-alive HTTP/1.1 connections
//! on loopback, each sending freshly signed ~4 KiB Stripe events with unique ids as fast as the
//! server answers, for a fixed time. Prints one JSON line: requests/s, latency percentiles,
//! non-200 answers and the server's peak RSS.
//!
//! ```sh
//! taskset -c 1 cargo run --release -p stripe-pulsora-bench --bin bench_load -- --url http://127.0.0.1:4000/wh \
//!     --connections 32 --seconds 10 --label axum --pid <server pid>
//! ```
//!
//! `--unique-payments`: each event is also a payment of its own customer (its PaymentIntent and
//! customer ids are in the varying tail), so every webhook maps to a new revenue event on its
//! own subject: the load of the outbox measurements ("Outbox" in BENCHMARKS.md). Without it,
//! every event is about `pi_bench` (sent once, then "already sent").
//!
//! Signing must not make the client the bottleneck: the event id is the *last* field of the body,
//! so the HMAC state after `t.` and the fixed 4 KiB prefix is computed once per second and each
//! request only hashes its last bytes. Every request is still a correctly signed, never-seen event.

use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use sha2::Sha256;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const DEFAULT_SECRET: &str = "whsec_benchmark_secret_0123456789abcdef0123456789abcdef";

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

/// A realistic `checkout.session.completed` padded to `size` bytes, with the id last (and,
/// with `unique`, the payment and customer ids just before it).
fn body_prefix(size: usize, unique: bool) -> Vec<u8> {
    let mut prefix = String::from(
        r#"{"object":"event","api_version":"2025-03-31.basil","created":1767225600,"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"type":"checkout.session.completed","data":{"object":{"id":"cs_test_bench","object":"checkout.session","amount_total":4999,"currency":"usd","customer":"cus_bench","mode":"payment","payment_status":"paid","status":"complete","payment_intent":"pi_bench","metadata":{"visitor_fingerprint":"fp_bench","session_id":"sess_bench"},"line_items_description":""#,
    );
    if unique {
        prefix = prefix
            .replace(r#""customer":"cus_bench","#, "")
            .replace(r#""payment_intent":"pi_bench","#, "");
    }
    // Pad inside a string field up to the wanted size (minus the tail `"}},"id":"evt_…"}`).
    let tail = if unique { 120 } else { 48 };
    while prefix.len() < size.saturating_sub(tail) {
        prefix.push_str("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ");
    }
    if !unique {
        prefix.push_str(r#""}},"id":""#);
    }
    prefix.into_bytes()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

struct Signer {
    prefix: Arc<Vec<u8>>,
    unique: bool,
    key: Hmac<Sha256>,
    cached: Option<(i64, Hmac<Sha256>)>,
}

impl Signer {
    fn new(prefix: Arc<Vec<u8>>, secret: &str, unique: bool) -> Self {
        let key = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        Self {
            prefix,
            unique,
            key,
            cached: None,
        }
    }

    /// A unique event (`evt_bench_<run>_<n>`) and its `Stripe-Signature`.
    fn next(&mut self, run: u64, n: u64) -> (Bytes, String) {
        let t = unix_now();
        if self.cached.as_ref().is_none_or(|(ct, _)| *ct != t) {
            let mut mac = self.key.clone();
            mac.update(t.to_string().as_bytes());
            mac.update(b".");
            mac.update(&self.prefix);
            self.cached = Some((t, mac));
        }
        let tail = if self.unique {
            format!(
                r#"","payment_intent":"pi_bench_{run}_{n}","customer":"cus_bench_{run}_{n}"}}}},"id":"evt_bench_{run}_{n}"}}"#
            )
        } else {
            format!("evt_bench_{run}_{n}\"}}")
        };
        let mut mac = self
            .cached
            .as_ref()
            .map(|(_, m)| m.clone())
            .expect("cached above");
        mac.update(tail.as_bytes());
        let sig = mac.finalize().into_bytes();
        let mut body = Vec::with_capacity(self.prefix.len() + tail.len());
        body.extend_from_slice(&self.prefix);
        body.extend_from_slice(tail.as_bytes());
        let hex: String = sig.iter().map(|b| format!("{b:02x}")).collect();
        (Bytes::from(body), format!("t={t},v1={hex}"))
    }
}

fn peak_rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url: hyper::Uri = arg("--url", "http://127.0.0.1:4000/wh")
        .parse()
        .expect("--url");
    let connections: usize = arg("--connections", "32").parse().expect("--connections");
    let seconds: u64 = arg("--seconds", "10").parse().expect("--seconds");
    let size: usize = arg("--size", "4096").parse().expect("--size");
    let secret = arg("--secret", DEFAULT_SECRET);
    let label = arg("--label", "run");
    let pid = arg("--pid", "");
    let unique = std::env::args().any(|a| a == "--unique-payments");
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);

    let prefix = Arc::new(body_prefix(size, unique));
    let authority = url.authority().expect("host:port").clone();
    let counter = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (prefix, secret, authority, url, counter) = (
            prefix.clone(),
            secret.clone(),
            authority.clone(),
            url.clone(),
            counter.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(authority.as_str())
                .await
                .expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .expect("handshake");
            tokio::spawn(connection);
            let mut signer = Signer::new(prefix, &secret, unique);
            let mut latencies: Vec<u32> = Vec::with_capacity(1 << 16);
            let mut failures = 0u64;
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let (body, signature) = signer.next(run, n);
                let request = hyper::Request::post(url.clone())
                    .header("host", authority.as_str())
                    .header("content-type", "application/json")
                    .header("stripe-signature", signature)
                    .body(Full::new(body))
                    .expect("request");
                let sent = Instant::now();
                if sender.ready().await.is_err() {
                    failures += 1;
                    break;
                }
                match sender.send_request(request).await {
                    Ok(response) => {
                        let ok = response.status() == 200;
                        let _ = response.into_body().collect().await;
                        latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        if !ok {
                            failures += 1;
                        }
                    }
                    Err(_) => {
                        failures += 1;
                        break;
                    }
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (l, f) = task.await.expect("connection task");
        latencies.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let line = serde_json::json!({
        "label": label,
        "connections": connections,
        "seconds": elapsed,
        "requests": latencies.len(),
        "rps": (latencies.len() as f64 / elapsed).round(),
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "p999_us": pct(0.999),
        "non_200": failures,
        "server_peak_rss_kib": peak_rss_kib(&pid),
        "body_bytes": prefix.len() + 40,
    });
    println!("{line}");
}
