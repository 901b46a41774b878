//! `trigger`: signs bundled Stripe fixtures and delivers them like Stripe does, re-signing each
//! retry with a fresh timestamp. Used by `examples/trigger.rs`, the binary and the end-to-end
//! tests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stripe_revenue::fixtures::{scenario, single, ApiShape, EVENT_TYPES, SCENARIOS};

/// Every target name `events_for` accepts, for help texts.
pub fn targets_help() -> String {
    format!("all, {}, {}", SCENARIOS.join(", "), EVENT_TYPES.join(", "))
}

/// The events of a target: `all`, a scenario name, or an event type.
pub fn events_for(target: &str, shape: ApiShape, t0: i64) -> Option<Vec<serde_json::Value>> {
    if target == "all" {
        let mut all = Vec::new();
        for (i, name) in SCENARIOS.iter().enumerate() {
            all.extend(scenario(name, shape, t0 + i as i64 * 1_000).unwrap_or_default());
        }
        for (i, name) in EVENT_TYPES.iter().enumerate() {
            all.extend(single(name, shape, t0 + 10_000 + i as i64));
        }
        return Some(all);
    }
    scenario(target, shape, t0).or_else(|| single(target, shape, t0).map(|e| vec![e]))
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// One attempt's result.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// HTTP status, `None` when the request failed to get an answer.
    pub status: Option<u16>,
    /// Response body or transport error.
    pub body: String,
}

/// Delivers one event: sign, POST, and while the answer is not 2xx, wait and re-sign (up to
/// `retries` more times). Returns every attempt; the last one is 2xx when it succeeded.
pub async fn deliver(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    event: &serde_json::Value,
    retries: u32,
    backoff: Duration,
) -> Vec<Attempt> {
    let body = event.to_string();
    let mut attempts = Vec::new();
    for attempt in 0..=retries {
        if attempt > 0 {
            tokio::time::sleep(backoff * attempt).await;
        }
        let header = stripe_webhook_guard::sign(body.as_bytes(), secret, unix_now());
        let result = client
            .post(url)
            .header("content-type", "application/json; charset=utf-8")
            .header("stripe-signature", header)
            .body(body.clone())
            .send()
            .await;
        let answer = match result {
            Ok(response) => {
                let status = response.status().as_u16();
                Attempt {
                    status: Some(status),
                    body: response.text().await.unwrap_or_default(),
                }
            }
            Err(error) => Attempt {
                status: None,
                body: error.to_string(),
            },
        };
        let done = answer.status.is_some_and(|s| (200..300).contains(&s));
        attempts.push(answer);
        if done {
            break;
        }
    }
    attempts
}

/// The Stripe API version the fixtures are rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// `2025-03-31.basil` and later.
    Basil,
    /// `2024-06-20` (before basil).
    Legacy,
}

impl From<Shape> for ApiShape {
    fn from(shape: Shape) -> Self {
        match shape {
            Shape::Basil => ApiShape::Basil,
            Shape::Legacy => ApiShape::Legacy,
        }
    }
}

/// `trigger <target>… [--url URL] [--secret whsec_…] [--shape basil|legacy] [--retries N]
/// [--list]`, shared by `examples/trigger.rs` and `stripe-pulsora trigger`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Targets: all, a scenario or an event type (--list prints them).")]
pub struct TriggerArgs {
    /// What to send: all, a scenario (purchase_refunds, subscription_lifecycle, …) or an event
    /// type (invoice.paid, …).
    #[arg(required_unless_present = "list")]
    pub targets: Vec<String>,
    /// The webhook endpoint.
    #[arg(long, default_value = "http://127.0.0.1:3000/api/webhooks/stripe")]
    pub url: String,
    /// Signing secret. Default: the first of STRIPE_WEBHOOK_SECRET, else the examples'
    /// development secret.
    #[arg(long, value_name = "WHSEC")]
    pub secret: Option<String>,
    /// The Stripe API version the payloads are rendered in.
    #[arg(long, value_enum, default_value = "basil")]
    pub shape: Shape,
    /// Resend a delivery that did not get a 2xx this many times, re-signed, as Stripe does.
    #[arg(long, default_value = "3")]
    pub retries: u32,
    /// Print the targets and exit.
    #[arg(long)]
    pub list: bool,
}

/// The example's command line: parses `args` as [`TriggerArgs`] and runs them.
pub async fn run_cli(args: impl IntoIterator<Item = String>) -> u8 {
    #[derive(clap::Parser)]
    #[command(
        name = "trigger",
        about = "Sign realistic Stripe events and POST them, like `stripe trigger`"
    )]
    struct Cli {
        #[command(flatten)]
        args: TriggerArgs,
    }
    use clap::Parser;
    match Cli::try_parse_from(std::iter::once("trigger".to_owned()).chain(args)) {
        Ok(cli) => run(cli.args).await,
        Err(error) => {
            let _ = error.print();
            if error.use_stderr() {
                2
            } else {
                0
            }
        }
    }
}

/// Sends the targets; prints one line per attempt. Returns the process exit code (0 all
/// delivered, 1 some never got a 2xx, 2 an unknown target).
pub async fn run(args: TriggerArgs) -> u8 {
    if args.list {
        println!("targets: {}", targets_help());
        return 0;
    }
    let secret = args
        .secret
        .or_else(|| {
            std::env::var("STRIPE_WEBHOOK_SECRET")
                .ok()
                .and_then(|s| s.split(',').next().map(|s| s.trim().to_owned()))
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| super::DEV_SECRET.to_owned());
    let (url, shape, retries, targets) = (
        args.url,
        ApiShape::from(args.shape),
        args.retries,
        args.targets,
    );
    let usage = || format!("targets: {}", targets_help());
    let client = reqwest::Client::new();
    let mut failed = 0;
    for (i, target) in targets.iter().enumerate() {
        // Fixture ids derive from the start time; space the targets so their ids never collide.
        let Some(events) = events_for(target, shape, unix_now() + 100_000 * i as i64) else {
            eprintln!("unknown target {target:?}\n{}", usage());
            return 2;
        };
        for event in events {
            let attempts = deliver(
                &client,
                &url,
                &secret,
                &event,
                retries,
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
        return 1;
    }
    0
}
