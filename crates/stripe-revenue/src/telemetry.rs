//! What the revenue sync counts, through the [`metrics`] facade (the application chooses the
//! exporter; without one, every call is a no-op).

use crate::sync::SyncOutcome;

/// Revenue events by delivery outcome: `sent`, `already_sent`, `transient_failure`,
/// `store_unavailable`, `configuration_fault`, `permanent_failure`.
pub const PULSORA_EVENTS: &str = "stripe_pulsora_pulsora_events_total";

/// Events outside the revenue scope, by `reason`: `test_mode`, `live_mode`, `connect_account`.
pub const IGNORED_EVENTS: &str = "stripe_pulsora_ignored_events_total";

/// Describes the series for exporters that print help texts. Call once after installing a
/// recorder.
pub fn describe_metrics() {
    metrics::describe_counter!(
        PULSORA_EVENTS,
        "Revenue events by delivery outcome (sent, already_sent, transient_failure, store_unavailable, configuration_fault, permanent_failure)."
    );
    metrics::describe_counter!(
        IGNORED_EVENTS,
        "Stripe events outside the revenue scope, acknowledged and not sent, by reason (test_mode, live_mode, connect_account)."
    );
}

pub(crate) fn record(outcome: &SyncOutcome) {
    let count = |outcome: &'static str, n: usize| {
        if n > 0 {
            metrics::counter!(PULSORA_EVENTS, "outcome" => outcome).increment(n as u64);
        }
    };
    match outcome {
        SyncOutcome::Delivered { sent, already_sent } => {
            count("sent", *sent);
            count("already_sent", *already_sent);
        }
        SyncOutcome::Transient(_) => count("transient_failure", 1),
        SyncOutcome::StoreUnavailable(_) => count("store_unavailable", 1),
        SyncOutcome::Misconfigured(_) => count("configuration_fault", 1),
        SyncOutcome::Permanent(_) => count("permanent_failure", 1),
        SyncOutcome::Ignored(reason) => {
            metrics::counter!(IGNORED_EVENTS, "reason" => reason.as_str()).increment(1);
        }
    }
}
