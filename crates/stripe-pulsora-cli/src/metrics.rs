//! `/metrics`: the libraries emit through the [`metrics`] facade (webhook rejections by code,
//! deliveries, Pulsora events by outcome, ignored events by reason); the bridge installs
//! `metrics-exporter-prometheus` as the process's recorder and serves its text. The same split
//! as `tracing` / `tracing-subscriber`: a library user picks any exporter, or none (then every
//! counter is a no-op).
//!
//! Series the bridge itself records: `stripe_pulsora_webhook_requests_total{outcome}` (every
//! webhook answer by outcome code), `stripe_pulsora_webhook_duration_seconds` (histogram of
//! answer times) and `stripe_pulsora_pulsora_configuration_fault` (1 while Pulsora refuses the
//! token or endpoint).

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Upper bounds of the answer-time histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// Answer times of the webhook route.
pub const WEBHOOK_DURATION: &str = "stripe_pulsora_webhook_duration_seconds";
/// Webhook answers by outcome code.
pub const WEBHOOK_REQUESTS: &str = "stripe_pulsora_webhook_requests_total";
/// 1 while Pulsora refuses the token or endpoint.
pub const CONFIGURATION_FAULT: &str = "stripe_pulsora_pulsora_configuration_fault";

/// The process's Prometheus recorder, installed once: every bridge in a process (tests run
/// several) shares it, as they share the process.
static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// A handle on the exporter behind `/metrics`.
#[derive(Debug, Clone)]
pub struct Metrics {
    handle: Option<PrometheusHandle>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::install()
    }
}

impl Metrics {
    /// Installs the Prometheus recorder for this process, or reuses the one installed earlier.
    /// When the application installed another recorder first, `/metrics` says so instead.
    pub fn install() -> Self {
        let handle = RECORDER.get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(WEBHOOK_DURATION.to_owned()), &BUCKETS)
                .ok()?;
            let handle = builder.install_recorder().ok()?;
            describe();
            Some(handle)
        });
        Self {
            handle: handle.clone(),
        }
    }

    /// Counts one webhook answer and its time.
    pub fn record_request(&self, outcome: &str, elapsed: Duration) {
        metrics::counter!(WEBHOOK_REQUESTS, "outcome" => outcome.to_owned()).increment(1);
        metrics::histogram!(WEBHOOK_DURATION).record(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition; `pulsora_fault`: Pulsora refused the token or endpoint
    /// and has not accepted an event since.
    pub fn render(&self, pulsora_fault: bool) -> String {
        metrics::gauge!(CONFIGURATION_FAULT).set(f64::from(u8::from(pulsora_fault)));
        match &self.handle {
            Some(handle) => handle.render(),
            None => {
                "# another metrics recorder was installed before the bridge's; export from it\n"
                    .to_owned()
            }
        }
    }
}

fn describe() {
    metrics::describe_counter!(WEBHOOK_REQUESTS, "Webhook answers by outcome code.");
    metrics::describe_histogram!(
        WEBHOOK_DURATION,
        metrics::Unit::Seconds,
        "Time to answer a webhook."
    );
    metrics::describe_gauge!(
        CONFIGURATION_FAULT,
        "1 while Pulsora refuses the token or endpoint (401, 403, 404, 3xx); events are kept."
    );
    stripe_revenue::describe_metrics();
    stripe_webhook_guard::describe_metrics();
}
