//! What the revenue sync counts, through the [`metrics`] facade (the application chooses the
//! exporter; without one, every call is a no-op).

use crate::sync::SyncOutcome;

/// Revenue events by delivery outcome: `sent`, `already_sent`, `queued` (committed to the
/// outbox), `transient_failure`, `store_unavailable`, `configuration_fault`, `permanent_failure`.
pub const PULSORA_EVENTS: &str = "stripe_pulsora_pulsora_events_total";

/// Events outside the revenue scope, by `reason`: `test_mode`, `live_mode`, `connect_account`.
pub const IGNORED_EVENTS: &str = "stripe_pulsora_ignored_events_total";

/// Outbox deliveries by outcome: `sent` (Pulsora answered 2xx, marked sent), `retry`
/// (transient failure, rescheduled with backoff), `dead_letter` (refused for good, or past the
/// horizon), `configuration_fault` (token or endpoint refused: delivery stops, the row stays
/// pending), `lease_lost` (sent, but another worker had taken the row over: may have been sent
/// twice), `store_error`.
pub const OUTBOX_DELIVERIES: &str = "stripe_pulsora_outbox_deliveries_total";

/// Rows waiting in the outbox (gauge, refreshed by the worker).
pub const OUTBOX_PENDING: &str = "stripe_pulsora_outbox_pending";

/// Age in seconds of the oldest pending row, 0 when none (gauge).
pub const OUTBOX_OLDEST_AGE: &str = "stripe_pulsora_outbox_oldest_pending_age_seconds";

/// Rows in the dead-letter table (gauge).
pub const OUTBOX_DEAD_LETTERS: &str = "stripe_pulsora_outbox_dead_letters";

/// 1 while the worker has stopped delivering because Pulsora refused the token or endpoint,
/// else 0 (gauge).
pub const OUTBOX_BLOCKED: &str = "stripe_pulsora_outbox_blocked";

/// Describes the series for exporters that print help texts. Call once after installing a
/// recorder.
pub fn describe_metrics() {
    metrics::describe_counter!(
        PULSORA_EVENTS,
        "Revenue events by delivery outcome (sent, already_sent, queued, transient_failure, store_unavailable, configuration_fault, permanent_failure)."
    );
    metrics::describe_counter!(
        OUTBOX_DELIVERIES,
        "Outbox deliveries by outcome (sent, retry, dead_letter, configuration_fault, lease_lost, store_error)."
    );
    metrics::describe_gauge!(OUTBOX_PENDING, "Rows waiting in the outbox.");
    metrics::describe_gauge!(
        OUTBOX_OLDEST_AGE,
        "Age in seconds of the oldest pending outbox row (0 when empty)."
    );
    metrics::describe_gauge!(OUTBOX_DEAD_LETTERS, "Rows in the dead-letter table.");
    metrics::describe_gauge!(
        OUTBOX_BLOCKED,
        "1 while outbox delivery is stopped because Pulsora refused the token or endpoint."
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
        SyncOutcome::Queued { queued, already } => {
            count("queued", *queued);
            count("already_sent", *already);
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

/// Counts one outbox delivery by outcome, and in [`PULSORA_EVENTS`] what Pulsora answered
/// (`sent`, `permanent_failure`, `transient_failure`, `configuration_fault`), so that series
/// reads the same in both delivery modes.
pub(crate) fn delivery(outcome: &'static str) {
    metrics::counter!(OUTBOX_DELIVERIES, "outcome" => outcome).increment(1);
    let answered = match outcome {
        "sent" | "lease_lost" => "sent",
        "dead_letter" => "permanent_failure",
        "retry" => "transient_failure",
        "configuration_fault" => "configuration_fault",
        _ => return,
    };
    metrics::counter!(PULSORA_EVENTS, "outcome" => answered).increment(1);
}

pub(crate) fn outbox_blocked(blocked: bool) {
    metrics::gauge!(OUTBOX_BLOCKED).set(if blocked { 1.0 } else { 0.0 });
}

pub(crate) fn outbox_stats(stats: &stripe_pulsora_store::OutboxStats, now_ms: i64) {
    metrics::gauge!(OUTBOX_PENDING).set(stats.pending as f64);
    metrics::gauge!(OUTBOX_DEAD_LETTERS).set(stats.dead as f64);
    let age_ms = stats
        .oldest_pending_enqueued_at_ms
        .map_or(0, |at| now_ms.saturating_sub(at).max(0));
    metrics::gauge!(OUTBOX_OLDEST_AGE).set(age_ms as f64 / 1000.0);
}
