//! The flood run of BENCHMARKS.md: a Stripe-like sender on 127.0.0.2 delivers valid events at a
//! steady pace while an attacker on 127.0.0.3 sends forged requests as fast as it can, against
//! the bridge's webhook layer with its default rate limits. Reports the valid deliveries'
//! first-time success rate and latency, what the attacker got, and the server's peak memory.
//!
//! ```sh
//! cargo run --release -p stripe-pulsora-bench --bin flood_run -- --seconds 10 --rate 200
//! ```

use axum::{http::StatusCode, routing::post, Router};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stripe_pulsora::{sign, StripeWebhookLayer, VerifiedStripeEvent};
use stripe_pulsora_cli::trigger::unix_now;

const SECRET: &str = "whsec_flood_run_0123456789abcdef0123456789abcdef";

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .map(|v| v.trim().trim_end_matches("kB").trim().to_owned())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn event(n: u64) -> String {
    format!(
        r#"{{"id":"evt_flood_{n}","object":"event","type":"invoice.paid","created":{},"data":{{"object":{{"id":"in_{n}","object":"invoice","amount_paid":2000,"currency":"usd"}}}}}}"#,
        unix_now()
    )
}

#[tokio::main]
async fn main() {
    let seconds: u64 = arg("--seconds", "10").parse().expect("--seconds");
    let rate: u64 = arg("--rate", "200").parse().expect("--rate");
    let attackers: usize = arg("--attackers", "64").parse().expect("--attackers");

    let app = Router::new()
        .route(
            "/wh",
            post(|event: VerifiedStripeEvent| async move {
                if event.id().is_empty() {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::OK
                }
            }),
        )
        .layer(StripeWebhookLayer::new(SECRET)); // default limits: 100/s burst 200, 20 failures/min
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let url = format!("http://{addr}/wh");
    let rss_before = peak_rss_kib();

    let stop = Arc::new(AtomicBool::new(false));
    let attacker_answers: Arc<Mutex<BTreeMap<u16, u64>>> = Arc::default();
    let mut attack = Vec::new();
    for i in 0..attackers {
        let client = reqwest::Client::builder()
            .local_address(Some("127.0.0.3".parse().expect("ip")))
            .build()
            .expect("client");
        let (url, stop, answers) = (url.clone(), stop.clone(), attacker_answers.clone());
        attack.push(tokio::spawn(async move {
            let forged = "t=1700000000,v1=".to_owned() + &"ab".repeat(32);
            let body = event(1_000_000_000 + i as u64).repeat(8); // ~2 KiB of junk per request
            while !stop.load(Ordering::Relaxed) {
                let status = match client
                    .post(&url)
                    .header("stripe-signature", &forged)
                    .body(body.clone())
                    .send()
                    .await
                {
                    Ok(response) => response.status().as_u16(),
                    Err(_) => 0,
                };
                *answers.lock().expect("lock").entry(status).or_default() += 1;
            }
        }));
    }

    let valid = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().expect("ip")))
        .build()
        .expect("client");
    let mut latencies = Vec::new();
    let mut first_time_ok = 0u64;
    let mut sent = 0u64;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    while started.elapsed() < Duration::from_secs(seconds) {
        tick.tick().await;
        let body = event(sent);
        let header = sign(body.as_bytes(), SECRET, unix_now());
        let t = Instant::now();
        let status = valid
            .post(&url)
            .header("stripe-signature", header)
            .body(body)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        latencies.push(t.elapsed().as_micros() as u64);
        sent += 1;
        if status == 200 {
            first_time_ok += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in attack {
        let _ = task.await;
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let answers = attacker_answers.lock().expect("lock").clone();
    let forged_total: u64 = answers.values().sum();
    println!(
        "{}",
        serde_json::json!({
            "seconds": seconds,
            "valid_sent": sent,
            "valid_ok_first_time": first_time_ok,
            "valid_success_rate": first_time_ok as f64 / sent.max(1) as f64,
            "valid_p50_us": pct(0.5),
            "valid_p99_us": pct(0.99),
            "forged_requests": forged_total,
            "forged_per_second": forged_total as f64 / seconds as f64,
            "forged_answers_by_status": answers,
            "process_peak_rss_kib": peak_rss_kib(),
            "process_rss_before_kib": rss_before,
        })
    );
}
