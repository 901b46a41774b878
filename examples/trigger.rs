//! `stripe trigger` without a Stripe account: signs realistic bundled events and POSTs them to
//! your webhook endpoint, the way Stripe would.
//!
//! ```sh
//! cargo run --example trigger -- all                       # every scenario, then every event type
//! cargo run --example trigger -- subscription_lifecycle    # one scenario
//! cargo run --example trigger -- invoice.paid --shape legacy
//! cargo run --example trigger -- --list
//! ```
//!
//! Options: `--url` (default `http://127.0.0.1:3000/api/webhooks/stripe`), `--secret` (default
//! `$STRIPE_WEBHOOK_SECRET`, else the examples' development secret), `--shape basil|legacy`
//! (the Stripe API version the payloads are rendered in; default basil), `--retries N` (re-sign
//! and resend a delivery that did not get a 2xx, as Stripe does; default 3).

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stripe_pulsora::stripe_revenue::fixtures::{
    scenario, single, ApiShape, EVENT_TYPES, SCENARIOS,
};

const DEV_SECRET: &str = "whsec_dev_secret_for_local_testing_only";

struct Options {
    url: String,
    secret: String,
    shape: ApiShape,
    retries: u32,
    targets: Vec<String>,
}

fn usage() -> String {
    format!(
        "usage: trigger [--url URL] [--secret whsec_…] [--shape basil|legacy] [--retries N] <target>…\n\
         targets: all, {}, {}",
        SCENARIOS.join(", "),
        EVENT_TYPES.join(", ")
    )
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        url: "http://127.0.0.1:3000/api/webhooks/stripe".to_owned(),
        secret: std::env::var("STRIPE_WEBHOOK_SECRET")
            .ok()
            .and_then(|s| s.split(',').next().map(|s| s.trim().to_owned()))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEV_SECRET.to_owned()),
        shape: ApiShape::Basil,
        retries: 3,
        targets: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value\n{}", usage()))
        };
        match arg.as_str() {
            "--url" => options.url = value("--url")?,
            "--secret" => options.secret = value("--secret")?,
            "--shape" => {
                options.shape = match value("--shape")?.as_str() {
                    "basil" => ApiShape::Basil,
                    "legacy" => ApiShape::Legacy,
                    other => return Err(format!("--shape must be basil or legacy, not {other:?}")),
                }
            }
            "--retries" => {
                options.retries = value("--retries")?
                    .parse()
                    .map_err(|e| format!("--retries: {e}"))?
            }
            "--list" | "-h" | "--help" => return Err(usage()),
            target => options.targets.push(target.to_owned()),
        }
    }
    if options.targets.is_empty() {
        return Err(usage());
    }
    Ok(options)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn events_for(target: &str, shape: ApiShape, t0: i64) -> Result<Vec<serde_json::Value>, String> {
    if target == "all" {
        let mut all = Vec::new();
        for (i, name) in SCENARIOS.iter().enumerate() {
            all.extend(scenario(name, shape, t0 + i as i64 * 1_000).unwrap_or_default());
        }
        for (i, name) in EVENT_TYPES.iter().enumerate() {
            all.extend(single(name, shape, t0 + 10_000 + i as i64));
        }
        return Ok(all);
    }
    scenario(target, shape, t0)
        .or_else(|| single(target, shape, t0).map(|e| vec![e]))
        .ok_or_else(|| format!("unknown target {target:?}\n{}", usage()))
}

#[tokio::main]
async fn main() {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let client = reqwest::Client::new();
    let mut failed = 0;
    for (i, target) in options.targets.iter().enumerate() {
        // Fixture ids derive from the start time; space the targets so their ids never collide.
        let events = match events_for(target, options.shape, now() + 100_000 * i as i64) {
            Ok(events) => events,
            Err(message) => {
                eprintln!("{message}");
                std::process::exit(2);
            }
        };
        for event in events {
            let body = event.to_string();
            let mut attempt = 0;
            loop {
                // Stripe signs every attempt anew, with a fresh timestamp.
                let header = stripe_pulsora::sign(body.as_bytes(), &options.secret, now());
                let result = client
                    .post(&options.url)
                    .header("content-type", "application/json; charset=utf-8")
                    .header("stripe-signature", header)
                    .body(body.clone())
                    .send()
                    .await;
                let (status, text) = match result {
                    Ok(response) => (
                        Some(response.status()),
                        response.text().await.unwrap_or_default(),
                    ),
                    Err(error) => (None, error.to_string()),
                };
                println!(
                    "{} {:<42} {} {}",
                    event["id"].as_str().unwrap_or("?"),
                    event["type"].as_str().unwrap_or("?"),
                    status.map_or("---".to_owned(), |s| s.as_u16().to_string()),
                    text
                );
                if status.is_some_and(|s| s.is_success()) {
                    break;
                }
                attempt += 1;
                if attempt > options.retries {
                    failed += 1;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} deliveries never got a 2xx");
        std::process::exit(1);
    }
}
