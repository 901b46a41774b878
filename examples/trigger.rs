//! `stripe trigger` without a Stripe account: signs realistic bundled events and POSTs them to
//! your webhook endpoint, the way Stripe would.
//!
//! ```sh
//! cargo run --example trigger -- all                       # every scenario, then every event type
//! cargo run --example trigger -- subscription_lifecycle    # one scenario
//! cargo run --example trigger -- invoice.paid --shape legacy
//! ```
//!
//! Options: `--url` (default `http://127.0.0.1:3000/api/webhooks/stripe`), `--secret` (default
//! `$STRIPE_WEBHOOK_SECRET`, else the examples' development secret), `--shape basil|legacy`
//! (the Stripe API version the payloads are rendered in; default basil), `--retries N` (re-sign
//! and resend a delivery that did not get a 2xx, as Stripe does; default 3).

use std::time::Duration;
use stripe_pulsora::bridge::trigger::{deliver, events_for, targets_help, unix_now};
use stripe_pulsora::bridge::DEV_SECRET;
use stripe_pulsora::stripe_revenue::fixtures::ApiShape;

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
         targets: {}",
        targets_help()
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

#[tokio::main]
async fn main() {
    let options = parse_args().unwrap_or_else(|message| {
        eprintln!("{message}");
        std::process::exit(2);
    });
    let client = reqwest::Client::new();
    let mut failed = 0;
    for (i, target) in options.targets.iter().enumerate() {
        // Fixture ids derive from the start time; space the targets so their ids never collide.
        let Some(events) = events_for(target, options.shape, unix_now() + 100_000 * i as i64)
        else {
            eprintln!("unknown target {target:?}\n{}", usage());
            std::process::exit(2);
        };
        for event in events {
            let attempts = deliver(
                &client,
                &options.url,
                &options.secret,
                &event,
                options.retries,
                Duration::from_millis(500),
            )
            .await;
            for attempt in &attempts {
                println!(
                    "{} {:<42} {} {}",
                    event["id"].as_str().unwrap_or("?"),
                    event["type"].as_str().unwrap_or("?"),
                    attempt.status.map_or("---".to_owned(), |s| s.to_string()),
                    attempt.body
                );
            }
            if !attempts
                .last()
                .is_some_and(|a| a.status.is_some_and(|s| (200..300).contains(&s)))
            {
                failed += 1;
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} deliveries never got a 2xx");
        std::process::exit(1);
    }
}
