//! A revenue event as the mapping decides it, turned into a Pulsora request in one place.

use crate::attribution::Source;
use crate::state::Attribution;
use pulsora::{EventType, RevenueEvent};
use rust_decimal::Decimal;

/// Whether `amount` of this type is money Stripe collected. The "money once" invariant sums
/// these (and refunds); upgrade, downgrade and churn carry an MRR figure as their amount.
pub fn is_collected_money(event_type: EventType) -> bool {
    matches!(
        event_type,
        EventType::Purchase | EventType::Subscription | EventType::Renewal
    )
}

pub(crate) struct Draft {
    pub(crate) kind: EventType,
    pub(crate) amount: Decimal,
    pub(crate) currency: String,
    pub(crate) transaction_id: String,
    pub(crate) customer_id: String,
    pub(crate) attribution: Attribution,
    pub(crate) attribution_source: Source,
    pub(crate) subscription_id: Option<String>,
    pub(crate) mrr_impact: Option<Decimal>,
    pub(crate) is_recurring: Option<bool>,
    pub(crate) metadata: serde_json::Value,
}

impl Draft {
    pub(crate) fn into_revenue_event(self, payment_processor: &str) -> RevenueEvent {
        let mut metadata = self.metadata;
        metadata["attribution_source"] = serde_json::json!(self.attribution_source.as_str());
        let mut event = RevenueEvent::new(self.kind, self.amount)
            .visitor_fingerprint(self.attribution.visitor_fingerprint)
            .session_id(self.attribution.session_id)
            .customer_id(self.customer_id)
            .currency(self.currency)
            .transaction_id(self.transaction_id)
            .payment_processor(payment_processor)
            .metadata(metadata);
        if let Some(subscription) = self.subscription_id {
            event = event.customer_subscription_id(subscription);
        }
        if let Some(mrr) = self.mrr_impact {
            event = event.mrr_impact(mrr);
        }
        if let Some(recurring) = self.is_recurring {
            event = event.is_recurring(recurring);
        }
        event
    }
}
