//! How much memory replay protection costs per event id.
//!
//! ```text
//! cargo run --release -p stripe-webhook-guard --example replay_memory [ids]
//! ```
//!
//! Each scenario runs in its own child process (memory freed by one scenario would otherwise
//! be reused by the next and hide its cost) and reports the growth of the resident set
//! (`VmRSS` in `/proc/self/status`, so Linux only) divided by the number of ids (default
//! 1,000,000, Stripe-length ids such as `evt_1NG8Du2eZvKYlo2CUI4HkSBP`):
//!
//! - `store`: a `MemoryStore` alone, the part that grows with event rate × retention;
//! - `guard`: the whole guard with default settings, through the real pipeline
//!   (`StripeWebhookLayer` as a tower service, every event signed and verified): the store
//!   plus the cache capped at its default 10,000 entries;
//! - `guard-uncapped`: the same with a cache large enough for every id, which shows the cache's
//!   own cost per entry.
//!
//! The budget is 250 bytes per id for the default guard; the exit code is 1 when it is exceeded.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use std::convert::Infallible;
use std::process::Command;
use std::time::{Duration, Instant};
use stripe_webhook_guard::{sign, ClaimToken, MemoryStore, ReplayStore, StripeWebhookLayer};
use tower::{Layer, Service, ServiceExt};

const SECRET: &str = "whsec_replay_memory_0123456789abcdef0123456789abcdef";
const BUDGET: f64 = 250.0;
const SCENARIOS: [&str; 3] = ["store", "guard", "guard-uncapped"];

fn main() {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if let Some(scenario) = first.as_deref().filter(|s| SCENARIOS.contains(s)) {
        let ids = args
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000_000);
        run_scenario(scenario, ids);
        return;
    }
    let ids: usize = first.and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let exe = std::env::current_exe().expect("own path");
    let mut over_budget = false;
    println!("{ids} ids of 28 bytes each");
    for scenario in SCENARIOS {
        let output = Command::new(&exe)
            .args([scenario, &ids.to_string()])
            .output()
            .expect("run scenario");
        let text = String::from_utf8_lossy(&output.stdout);
        print!("{text}");
        if !output.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&output.stderr));
            std::process::exit(2);
        }
        if scenario == "guard" {
            let words: Vec<&str> = text.split_whitespace().collect();
            let per_id: f64 = words
                .windows(2)
                .find(|pair| pair[1] == "B/id")
                .and_then(|pair| pair[0].parse().ok())
                .unwrap_or(f64::INFINITY);
            over_budget = per_id > BUDGET;
        }
    }
    if over_budget {
        println!("the default guard is OVER the {BUDGET} B/id budget");
        std::process::exit(1);
    }
    println!("the default guard is within the {BUDGET} B/id budget");
}

fn run_scenario(scenario: &str, ids: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = Instant::now();
    let grown = match scenario {
        "store" => runtime.block_on(store_only(ids)),
        "guard" => runtime.block_on(through_layer(ids, None)),
        _ => runtime.block_on(through_layer(ids, Some(ids as u64))),
    };
    println!(
        "{scenario:>15}: {:>7.1} B/id  ({:.1} MiB resident growth, {:.1} s)",
        grown as f64 / ids as f64,
        grown as f64 / 1048576.0,
        started.elapsed().as_secs_f64()
    );
}

/// A Stripe-length id (`evt_` + 24 characters), distinct for each `i`.
fn event_id(i: usize) -> String {
    format!("evt_{i:024}")
}

async fn store_only(ids: usize) -> u64 {
    let store = MemoryStore::new();
    let before = rss_bytes();
    let (lease, keep) = (Duration::from_secs(300), Duration::from_secs(4 * 86_400));
    for i in 0..ids {
        let (id, token) = (event_id(i), ClaimToken::new());
        store.claim(&id, token, lease).await.expect("memory store");
        store.commit(&id, token, keep).await.expect("memory store");
    }
    let grown = rss_bytes().saturating_sub(before);
    assert_eq!(store.len(), ids);
    grown
}

async fn through_layer(ids: usize, cache: Option<u64>) -> u64 {
    // Every request comes from one place here; a rate limit would refuse most of them.
    let mut layer = StripeWebhookLayer::new(SECRET).no_rate_limit();
    if let Some(entries) = cache {
        layer = layer.replay_cache_capacity(entries);
    }
    let mut service = layer.layer(tower::service_fn(|_: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    }));
    // One request first, so lazily built parts (the engine, the cache) are not counted per id.
    deliver(&mut service, "evt_warm_up").await;
    let before = rss_bytes();
    for i in 0..ids {
        deliver(&mut service, &event_id(i)).await;
    }
    rss_bytes().saturating_sub(before)
}

async fn deliver<S>(service: &mut S, id: &str)
where
    S: Service<
        Request<Full<Bytes>>,
        Response = Response<stripe_webhook_guard::tower::ResponseBody<Full<Bytes>>>,
    >,
    S::Error: std::fmt::Debug,
{
    let body = format!(
        r#"{{"id":"{id}","object":"event","type":"invoice.paid","created":1700000000,"data":{{"object":{{"id":"in_1","object":"invoice"}}}}}}"#
    );
    let header = sign(body.as_bytes(), SECRET, unix_now());
    let request = Request::post("/webhook")
        .header("stripe-signature", header)
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let response = service
        .ready()
        .await
        .expect("ready")
        .call(request)
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK, "{id}");
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Resident set size in bytes (Linux).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux)");
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}
