//! Checkout Sessions: `checkout.session.completed` and `…async_payment_succeeded`.

use super::charge::remember_payment;
use super::payment::settle;
use super::{Envelope, Mapped};
use crate::currency::to_major;
use crate::draft::Draft;
use crate::policy::Tax;
use crate::state::{ChargeLedger, StateUpdate};
use crate::stripe::{CheckoutSession, Expandable};
use pulsora::EventType as Kind;
use serde_json::json;

/// A paid `payment`-mode session is a purchase; a `subscription`-mode session only teaches
/// attribution (its invoice carries the money).
///
/// One payment, one transaction: a session that created an invoice (`invoice` set: invoice
/// creation, Payment Links) is keyed by that invoice, as its `invoice.paid` is, so whichever
/// arrives first counts and the other is a duplicate. Otherwise the PaymentIntent is the key.
/// The session's PaymentIntent is remembered as reported, so its refunds and disputes count.
pub(crate) fn map(
    session: &CheckoutSession,
    payment: Option<&ChargeLedger>,
    event: &Envelope<'_>,
) -> Mapped {
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
    let (Some(total), Some(currency)) = (session.amount_total, session.currency.as_deref()) else {
        return Mapped::note("checkout without amount_total or currency");
    };
    let tax = session
        .total_details
        .as_ref()
        .and_then(|t| t.amount_tax)
        .unwrap_or(0)
        .clamp(0, total.max(0));
    let amount = match event.policy.tax {
        Tax::Exclude => total - tax,
        Tax::Include => total,
    };
    if amount <= 0 {
        return Mapped::note("checkout total is zero");
    }
    let customer = session.customer.as_ref().map(Expandable::id);
    let payment_intent = session.payment_intent.as_ref().map(Expandable::id);
    let invoice = session.invoice.as_ref().map(Expandable::id);
    let transaction_id = invoice.or(payment_intent).unwrap_or(&session.id).to_owned();
    let customer_id = customer
        .map(str::to_owned)
        .or_else(|| session.client_reference_id.clone())
        .unwrap_or_else(|| format!("guest_{transaction_id}"));
    let mut metadata = json!({
        "checkout_session": session.id,
        "stripe_event": event.event_id,
        "tax": to_major(tax, currency).to_string(),
    });
    if let Some(pi) = payment_intent {
        metadata["payment_intent"] = json!(pi);
    }
    if let Some(invoice) = invoice {
        metadata["invoice"] = json!(invoice);
    }
    let mut out = Mapped::default();
    out.drafts.push(Draft {
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
    });
    if let Some(pi) = payment_intent {
        let mut ledger = payment.cloned().unwrap_or_default();
        ledger.reported = true;
        remember_payment(
            &mut ledger,
            Some(currency),
            session.customer.as_ref(),
            event,
        );
        // Refunds or disputes that arrived before the purchase go out now.
        let later = settle(pi, &mut ledger, event, &mut out.notes);
        out.drafts.extend(later);
        out.updates.push(StateUpdate::Charge(pi.to_owned(), ledger));
    }
    out
}
