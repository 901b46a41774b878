//! Prometheus text metrics for the binary: webhook answers by outcome code, Pulsora calls by
//! outcome, and a latency histogram. Plain atomics: a scrape is rare, a request is not.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// The bridge's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Webhook answers by outcome code (`ok`, `duplicate`, `rate_limited`, `signature_mismatch`…).
    outcomes: Mutex<BTreeMap<String, u64>>,
    /// Pulsora calls: `sent`, `already_sent`, `transient_failure`, `permanent_failure`,
    /// `configuration_fault`.
    pulsora: Mutex<BTreeMap<&'static str, u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Metrics {
    /// Counts one webhook answer.
    pub fn record_request(&self, outcome: &str, elapsed: Duration) {
        *lock(&self.outcomes).entry(outcome.to_owned()).or_default() += 1;
        let secs = elapsed.as_secs_f64();
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Counts Pulsora calls.
    pub fn record_pulsora(&self, outcome: &'static str, n: u64) {
        if n > 0 {
            *lock(&self.pulsora).entry(outcome).or_default() += n;
        }
    }

    /// The Prometheus text exposition; `pulsora_fault`: Pulsora refused the token or endpoint
    /// and has not accepted an event since.
    pub fn render(&self, pulsora_fault: bool) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP stripe_pulsora_pulsora_configuration_fault 1 while Pulsora refuses the token or endpoint (401, 403, 404, 3xx); events are kept.\n",
        );
        out.push_str("# TYPE stripe_pulsora_pulsora_configuration_fault gauge\n");
        let _ = writeln!(
            out,
            "stripe_pulsora_pulsora_configuration_fault {}",
            u8::from(pulsora_fault)
        );
        out.push_str(
            "# HELP stripe_pulsora_webhook_requests_total Webhook answers by outcome code.\n",
        );
        out.push_str("# TYPE stripe_pulsora_webhook_requests_total counter\n");
        for (outcome, n) in lock(&self.outcomes).iter() {
            let _ = writeln!(
                out,
                "stripe_pulsora_webhook_requests_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP stripe_pulsora_pulsora_events_total Revenue events by delivery outcome.\n",
        );
        out.push_str("# TYPE stripe_pulsora_pulsora_events_total counter\n");
        for (outcome, n) in lock(&self.pulsora).iter() {
            let _ = writeln!(
                out,
                "stripe_pulsora_pulsora_events_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str("# HELP stripe_pulsora_webhook_duration_seconds Time to answer a webhook.\n");
        out.push_str("# TYPE stripe_pulsora_webhook_duration_seconds histogram\n");
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "stripe_pulsora_webhook_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "stripe_pulsora_webhook_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "stripe_pulsora_webhook_duration_seconds_sum {sum}");
        let _ = writeln!(out, "stripe_pulsora_webhook_duration_seconds_count {count}");
        out
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
