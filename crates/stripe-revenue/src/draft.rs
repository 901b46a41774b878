//! A revenue event as the mapping decides it, before it becomes a Pulsora request.

use crate::attribution::Source;
use crate::state::Attribution;
use rust_decimal::Decimal;

/// Pulsora's `event_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// One-off money.
    Purchase,
    /// The first money of a subscription.
    Subscription,
    /// A subscription's cycle payment.
    Renewal,
    /// MRR went up.
    Upgrade,
    /// MRR went down.
    Downgrade,
    /// MRR went to zero.
    Churn,
    /// Money returned.
    Refund,
}

impl Kind {
    /// Whether `amount` of this kind is money Stripe collected (the "money once" invariant sums
    /// these; upgrade, downgrade and churn carry an MRR figure as their amount).
    pub fn is_collected_money(self) -> bool {
        matches!(self, Self::Purchase | Self::Subscription | Self::Renewal)
    }
}

/// One revenue event the mapping decided to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// Pulsora `event_type`.
    pub kind: Kind,
    /// Amount in major units (negative for refunds under the default policy).
    pub amount: Decimal,
    /// Upper-case ISO currency.
    pub currency: String,
    /// Stable across retries, unique per money movement.
    pub transaction_id: String,
    /// Stripe customer id, `client_reference_id`, or a guest id.
    pub customer_id: String,
    /// Visitor fingerprint and session id.
    pub attribution: Attribution,
    /// Where the attribution came from.
    pub attribution_source: Source,
    /// The Stripe subscription, if any.
    pub subscription_id: Option<String>,
    /// MRR change in major units.
    pub mrr_impact: Option<Decimal>,
    /// `true` for recurring charges.
    pub is_recurring: Option<bool>,
    /// Extra context (Stripe ids, status…).
    pub metadata: serde_json::Value,
}
