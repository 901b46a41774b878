//! Invoices: `invoice.paid` / `invoice.payment_succeeded`.

use super::charge::{payment_key, remember_payment};
use super::payment::settle;
use super::subscription::movement;
use super::{Envelope, Mapped};
use crate::currency::to_major;
use crate::draft::Draft;
use crate::ledger::Origin;
use crate::policy::Tax;
use crate::state::{ChargeLedger, StateUpdate, SubscriptionLedger};
use crate::stripe::{Expandable, Invoice};
use pulsora::EventType as Kind;
use rust_decimal::Decimal;
use serde_json::json;

/// A paid invoice is money: `subscription` (first invoice, or the first paid invoice that
/// starts a known subscription's MRR, whatever its `billing_reason`), `renewal` (cycle) or
/// `purchase` (anything else, and any invoice paid after cancellation). Subscription invoices
/// also settle the subscription's MRR ledger (see `ledger.rs`); an invoice that paid nothing
/// still does, and reports an MRR movement alone if it moved anything.
///
/// Money: the invoice id is the transaction id, so `invoice.paid` and
/// `invoice.payment_succeeded` (and the Checkout Session that created the invoice) count once
/// together. Revenue excludes tax by default ([`Tax`]). An invoice paid out of band
/// (`paid_out_of_band`, both API shapes) moved no money through Stripe: it counts as one that
/// paid nothing. Before basil the invoice names its PaymentIntent, which is remembered as
/// reported, so that payment's refunds and disputes count.
pub(crate) fn map(
    invoice: &Invoice,
    stored: Option<&SubscriptionLedger>,
    payment: Option<&ChargeLedger>,
    event: &Envelope<'_>,
) -> Mapped {
    let subscription_id = invoice.subscription_id().map(str::to_owned);
    let customer = invoice.customer.as_ref().map(Expandable::id);
    let Some(currency) = invoice.currency.as_deref() else {
        return Mapped::note("invoice without currency");
    };
    let reason = invoice.billing_reason.as_deref().unwrap_or("manual");
    let customer_id = customer.map_or_else(|| format!("guest_{}", invoice.id), str::to_owned);
    let mut out = Mapped::default();
    let out_of_band = invoice.paid_out_of_band == Some(true);
    if out_of_band {
        out.notes
            .push("invoice paid out of band: no money moved through Stripe".into());
    }
    let tax = invoice.tax_amount().clamp(0, invoice.amount_paid.max(0));
    let amount = match event.policy.tax {
        Tax::Exclude => invoice.amount_paid - tax,
        Tax::Include => invoice.amount_paid,
    };
    // Money out of this invoice's payment (before basil the invoice names it).
    let mut money_out = Vec::new();
    if let Some(key) = payment_key(invoice.payment_intent.as_ref(), invoice.charge.as_ref()) {
        if !out_of_band && invoice.amount_paid > 0 {
            let mut payment = payment.cloned().unwrap_or_default();
            payment.reported = true;
            remember_payment(
                &mut payment,
                Some(currency),
                invoice.customer.as_ref(),
                event,
            );
            money_out = settle(key, &mut payment, event, &mut out.notes);
            out.updates
                .push(StateUpdate::Charge(key.to_owned(), payment));
        }
    }
    let mut draft = (amount > 0 && !out_of_band).then(|| Draft {
        kind: Kind::Purchase,
        amount: to_major(amount, currency),
        currency: currency.to_ascii_uppercase(),
        transaction_id: invoice.id.clone(),
        customer_id: customer_id.clone(),
        attribution: event.attribution.clone(),
        attribution_source: event.source,
        subscription_id: None,
        mrr_impact: None,
        is_recurring: None,
        metadata: json!({
            "invoice": invoice.id,
            "billing_reason": reason,
            "stripe_event": event.event_id,
            "tax": to_major(tax, currency).to_string(),
        }),
    });
    let Some(subscription_id) = subscription_id else {
        return match draft {
            Some(draft) => {
                out.drafts.push(draft);
                out.drafts.extend(money_out);
                out
            }
            None => {
                out.notes
                    .push("invoice paid nothing (credit or 100% discount)".into());
                out
            }
        };
    };
    let mut ledger = SubscriptionLedger::load(stored);
    let known = ledger.seen;
    let origin = if reason == "subscription_create" {
        Origin::Birth
    } else {
        // A subscription first heard of through a paid invoice enters with its MRR reported
        // once, by this invoice.
        Origin::Invoice
    };
    ledger.adopt(event.created, origin);
    let again = ledger.observe_paid_invoice(invoice, event.created, currency);
    if let Some((fetched, at)) = event.fetched {
        ledger.observe_subscription(fetched.clone(), at, 3);
    }
    let before = ledger.reported_total();
    let delta = ledger.settle(currency);
    let canceled = ledger.canceled();
    let movement_id = ledger.movement_id(&subscription_id, &invoice.id);
    out.updates
        .push(StateUpdate::Subscription(subscription_id.clone(), ledger));

    // A re-delivered invoice's money went out already (same transaction id): an MRR movement
    // found now goes out on its own.
    let money = if again { None } else { draft.take() };
    let Some(mut money) = money else {
        out.drafts.extend(draft);
        out.drafts.extend(movement(
            &subscription_id,
            &customer_id,
            currency,
            before,
            delta,
            movement_id,
            event,
        ));
        if out.drafts.is_empty() {
            out.notes
                .push("invoice paid nothing (trial, credit or 100% discount)".into());
        }
        return out;
    };
    let starts = known && before.is_zero() && delta > Decimal::ZERO;
    money.kind = match reason {
        _ if canceled => Kind::Purchase,
        "subscription_create" => Kind::Subscription,
        _ if starts => Kind::Subscription,
        "subscription_cycle" | "subscription" => Kind::Renewal,
        // Prorations and manual invoices on a subscription are one-off money.
        _ => Kind::Purchase,
    };
    money.subscription_id = Some(subscription_id);
    money.is_recurring = Some(money.kind != Kind::Purchase);
    if money.kind != Kind::Purchase || !delta.is_zero() {
        money.mrr_impact = Some(delta);
    }
    out.drafts.push(money);
    out.drafts.extend(money_out);
    out
}
