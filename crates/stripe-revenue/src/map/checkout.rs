//! Checkout Sessions: `checkout.session.completed` and `…async_payment_succeeded`.

use super::{Envelope, Mapped};
use crate::currency::to_major;
use crate::draft::Draft;
use crate::stripe::{CheckoutSession, Expandable};
use pulsora::EventType as Kind;
use serde_json::json;

/// A paid `payment`-mode session is a purchase keyed by its PaymentIntent; a `subscription`-mode
/// session only teaches attribution (its invoice carries the money).
pub(crate) fn map(session: &CheckoutSession, event: &Envelope<'_>) -> Mapped {
    match session.mode.as_deref() {
        Some("payment") => {}
        Some("subscription") => {
            return Mapped::note(
                "subscription checkout: attribution learned; money comes from the invoice",
            )
        }
        other => return Mapped::note(format!("checkout mode {other:?} carries no revenue")),
    }
    if session.payment_status.as_deref() != Some("paid") {
        return Mapped::note("checkout not paid yet; waiting for async_payment_succeeded");
    }
    let (Some(amount), Some(currency)) = (session.amount_total, session.currency.as_deref()) else {
        return Mapped::note("checkout without amount_total or currency");
    };
    if amount <= 0 {
        return Mapped::note("checkout total is zero");
    }
    let customer = session.customer.as_ref().map(Expandable::id);
    let payment_intent = session.payment_intent.as_ref().map(Expandable::id);
    let transaction_id = payment_intent.unwrap_or(&session.id).to_owned();
    let customer_id = customer
        .map(str::to_owned)
        .or_else(|| session.client_reference_id.clone())
        .unwrap_or_else(|| format!("guest_{transaction_id}"));
    let mut metadata = json!({ "checkout_session": session.id, "stripe_event": event.event_id });
    if let Some(pi) = payment_intent {
        metadata["payment_intent"] = json!(pi);
    }
    Mapped {
        drafts: vec![Draft {
            kind: Kind::Purchase,
            amount: to_major(amount, currency),
            currency: currency.to_ascii_uppercase(),
            transaction_id,
            customer_id,
            attribution: event.attribution.clone(),
            attribution_source: event.source,
            subscription_id: None,
            mrr_impact: None,
            is_recurring: None,
            metadata,
        }],
        ..Mapped::default()
    }
}
