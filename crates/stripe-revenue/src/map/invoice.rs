//! Invoices: `invoice.paid` / `invoice.payment_succeeded`.

use super::{Envelope, Mapped};
use crate::currency::{to_major, with_scale};
use crate::draft::Draft;
use crate::state::{StateUpdate, SubscriptionLedger};
use crate::stripe::{Expandable, Invoice};
use pulsora::EventType as Kind;
use rust_decimal::Decimal;
use serde_json::json;

/// A paid invoice is money: `subscription` (first invoice), `renewal` (cycle) or `purchase`
/// (anything else). Subscription invoices also move the subscription's MRR ledger.
pub(crate) fn map(
    invoice: &Invoice,
    ledger: Option<&SubscriptionLedger>,
    event: &Envelope<'_>,
) -> Mapped {
    let subscription_id = invoice.subscription_id().map(str::to_owned);
    let customer = invoice.customer.as_ref().map(Expandable::id);
    let Some(currency) = invoice.currency.as_deref() else {
        return Mapped::note("invoice without currency");
    };
    if invoice.amount_paid <= 0 {
        return Mapped::note("invoice paid nothing (trial, credit or 100% discount)");
    }
    let reason = invoice.billing_reason.as_deref().unwrap_or("manual");
    let mut out = Mapped::default();
    let mut draft = Draft {
        kind: Kind::Purchase,
        amount: to_major(invoice.amount_paid, currency),
        currency: currency.to_ascii_uppercase(),
        transaction_id: invoice.id.clone(),
        customer_id: customer.map_or_else(|| format!("guest_{}", invoice.id), str::to_owned),
        attribution: event.attribution.clone(),
        attribution_source: event.source,
        subscription_id: None,
        mrr_impact: None,
        is_recurring: None,
        metadata: json!({ "invoice": invoice.id, "billing_reason": reason, "stripe_event": event.event_id }),
    };
    if let Some(subscription_id) = subscription_id {
        let mut ledger = ledger.cloned().unwrap_or_default();
        draft.kind = match reason {
            "subscription_create" => Kind::Subscription,
            // The first paid invoice after a trial starts the subscription's revenue.
            "subscription_cycle" | "subscription" if !ledger.invoiced && ledger.trialed => {
                Kind::Subscription
            }
            "subscription_cycle" | "subscription" => Kind::Renewal,
            // Prorations and manual invoices on a subscription are one-off money.
            _ => Kind::Purchase,
        };
        draft.subscription_id = Some(subscription_id.clone());
        draft.is_recurring = Some(draft.kind != Kind::Purchase);
        if draft.kind != Kind::Purchase {
            // Older API versions carry the price on each line, so the invoice states the MRR
            // itself. From basil on, lines only name the price: the items' MRR learned from
            // the subscription's own events is used instead.
            // A paid cycle means the subscription is active, so it is worth its items' MRR.
            let stated = invoice_lines_mrr(invoice, currency).or(ledger.list_mrr);
            if let Some(stated) = stated {
                if ledger.state_created.is_none_or(|c| event.created >= c) {
                    ledger.known_mrr = Some(stated);
                    ledger.state_created = Some(event.created);
                }
            }
            let delta = ledger
                .known_mrr
                .map_or(Decimal::ZERO, |known| known - ledger.reported_mrr);
            let delta = with_scale(delta, currency);
            draft.mrr_impact = Some(delta);
            ledger.reported_mrr += delta;
        }
        ledger.invoiced = true;
        out.updates
            .push(StateUpdate::Subscription(subscription_id, ledger));
    }
    out.drafts.push(draft);
    out
}

/// MRR stated by an invoice's own lines (older API versions, where each line has its price).
fn invoice_lines_mrr(invoice: &Invoice, currency: &str) -> Option<Decimal> {
    let lines = invoice.lines.as_ref()?;
    let mut total = Decimal::ZERO;
    let mut any = false;
    for line in lines.data.iter().filter(|l| l.proration != Some(true)) {
        let price = line.price.as_ref()?;
        if let Ok(monthly) = crate::mrr::price_monthly_minor(price) {
            total += monthly * Decimal::from(line.quantity.unwrap_or(1));
            any = true;
        }
    }
    any.then(|| crate::currency::minor_decimal_to_major(total, currency))
}
