//! What the webhook engine counts, through the [`metrics`] facade (the application chooses the
//! exporter; without one, every call is a no-op).

use crate::rejection::Rejection;

/// Requests refused or answered without the handler, by code (`duplicate`, `rate_limited`,
/// `signature_mismatch`, … the codes of [`Rejection::code`]).
pub const REJECTIONS: &str = "stripe_webhook_rejections_total";
/// Verified events handed to the handler, by result (`handled`: committed; `failed`: released
/// for Stripe's retry).
pub const DELIVERIES: &str = "stripe_webhook_deliveries_total";

/// Describes the series for exporters that print help texts. Call once after installing a
/// recorder.
pub fn describe_metrics() {
    metrics::describe_counter!(
        REJECTIONS,
        "Webhook requests answered without the handler, by rejection code."
    );
    metrics::describe_counter!(
        DELIVERIES,
        "Verified events handed to the handler, by result (handled, failed)."
    );
}

pub(crate) fn rejected(rejection: &Rejection) {
    metrics::counter!(REJECTIONS, "code" => rejection.code()).increment(1);
}

pub(crate) fn delivered(success: bool) {
    let result = if success { "handled" } else { "failed" };
    metrics::counter!(DELIVERIES, "result" => result).increment(1);
}
