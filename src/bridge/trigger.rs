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
        let header = stripe_webhook::sign(body.as_bytes(), secret, unix_now());
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
