//! Charges and refunds: `charge.refunded` (the charge, with its cumulative `amount_refunded`),
//! `refund.created` / `refund.updated` / `refund.failed` / `charge.refund.updated` (one refund
//! by id), and `invoice_payment.paid` (basil: which PaymentIntent paid an invoice).

use super::payment::settle;
use super::{Envelope, Mapped};
use crate::state::{ChargeLedger, RefundEntry, RefundSnapshot, StateUpdate};
use crate::stripe::{Charge, Expandable, InvoicePayment, Refund};

/// The ledger key of a payment: its PaymentIntent, else its charge.
pub(crate) fn payment_key<'a>(
    payment_intent: Option<&'a Expandable>,
    charge: Option<&'a Expandable>,
) -> Option<&'a str> {
    payment_intent.or(charge).map(Expandable::id)
}

/// The API versions before `2025-03-31.basil` record the released, never-captured part of a
/// charge (partial capture, cancelled authorisation) as refunded; basil and later do not.
fn releases_count_as_refunds(api_version: Option<&str>) -> bool {
    api_version.is_some_and(|v| v.get(..10).is_some_and(|date| date < "2025-03-31"))
}

/// A `charge.refunded` snapshot.
pub(crate) fn map_charge(
    charge: &Charge,
    ledger: Option<&ChargeLedger>,
    event: &Envelope<'_>,
) -> Mapped {
    let key = charge
        .payment_intent
        .as_ref()
        .map_or(charge.id.as_str(), Expandable::id)
        .to_owned();
    let mut ledger = ledger.cloned().unwrap_or_default();
    let mut out = Mapped::default();
    remember_payment(
        &mut ledger,
        charge.currency.as_deref(),
        charge.customer.as_ref(),
        event,
    );
    // Before basil a charge names its invoice: the invoice's money was reported.
    ledger.reported |= charge.invoice.is_some();
    if ledger.snapshot.is_none_or(|s| event.created >= s.created) {
        let captured_flag = charge.captured.unwrap_or(true);
        let captured = if captured_flag {
            charge.amount_captured.unwrap_or(charge.amount)
        } else {
            0
        };
        let released = if !captured_flag {
            charge.amount
        } else if releases_count_as_refunds(event.api_version) {
            charge.amount - captured
        } else {
            0
        };
        ledger.captured = Some(captured);
        ledger.snapshot = Some(RefundSnapshot {
            created: event.created,
            refunded: (charge.amount_refunded - released).max(0),
        });
    } else {
        out.notes
            .push("charge snapshot older than the one applied; refunds by id still merged".into());
    }
    for refund in charge.refunds.iter().flat_map(|l| l.data.iter()) {
        merge_refund(&mut ledger, refund, event.created);
    }
    out.drafts = settle(&key, &mut ledger, event, &mut out.notes);
    out.updates.push(StateUpdate::Charge(key, ledger));
    out
}

/// One refund, by id.
pub(crate) fn map_refund(
    refund: &Refund,
    ledger: Option<&ChargeLedger>,
    event: &Envelope<'_>,
) -> Mapped {
    let Some(key) = payment_key(refund.payment_intent.as_ref(), refund.charge.as_ref()) else {
        return Mapped::note("refund without charge or payment_intent");
    };
    let key = key.to_owned();
    let mut ledger = ledger.cloned().unwrap_or_default();
    remember_payment(&mut ledger, refund.currency.as_deref(), None, event);
    merge_refund(&mut ledger, refund, event.created);
    let mut out = Mapped::default();
    out.drafts = settle(&key, &mut ledger, event, &mut out.notes);
    out.updates.push(StateUpdate::Charge(key, ledger));
    out
}

/// `invoice_payment.paid`: the PaymentIntent or charge paid an invoice, whose money the invoice
/// events report; its refunds and disputes count from now on.
pub(crate) fn map_invoice_payment(
    payment: &InvoicePayment,
    ledger: Option<&ChargeLedger>,
    event: &Envelope<'_>,
) -> Mapped {
    if payment.status.as_deref() != Some("paid") {
        return Mapped::note("invoice payment not paid");
    }
    let details = payment.payment.as_ref();
    let Some(key) = payment_key(
        details.and_then(|d| d.payment_intent.as_ref()),
        details.and_then(|d| d.charge.as_ref()),
    ) else {
        return Mapped::note("invoice payment without a PaymentIntent or charge");
    };
    let key = key.to_owned();
    let mut ledger = ledger.cloned().unwrap_or_default();
    ledger.reported = true;
    let mut out = Mapped::default();
    out.drafts = settle(&key, &mut ledger, event, &mut out.notes);
    out.updates.push(StateUpdate::Charge(key, ledger));
    out
}

/// Learns the currency, customer and attribution of a payment.
pub(crate) fn remember_payment(
    ledger: &mut ChargeLedger,
    currency: Option<&str>,
    customer: Option<&Expandable>,
    event: &Envelope<'_>,
) {
    if ledger.currency.is_none() {
        ledger.currency = currency.map(str::to_ascii_lowercase);
    }
    if ledger.customer.is_none() {
        ledger.customer = customer.map(|c| c.id.clone());
    }
    if ledger.attribution.is_none()
        && !matches!(
            event.source,
            crate::attribution::Source::Placeholder | crate::attribution::Source::Learned
        )
    {
        ledger.attribution = Some(event.attribution.clone());
    }
}

fn merge_refund(ledger: &mut ChargeLedger, refund: &Refund, seen_at: i64) {
    let entry = ledger
        .refunds
        .entry(refund.id.clone())
        .or_insert(RefundEntry {
            amount: refund.amount,
            created: refund.created.unwrap_or(seen_at),
            failed_at: None,
        });
    if refund.amount > 0 {
        entry.amount = refund.amount;
    }
    if refund.reversed() {
        // The first failure seen is kept: a failed refund never succeeds again.
        entry.failed_at = Some(entry.failed_at.map_or(seen_at, |f| f.min(seen_at)));
    }
}
