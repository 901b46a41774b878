//! Charges: `charge.refunded`.

use super::{Envelope, Mapped};
use crate::currency::to_major;
use crate::draft::Draft;
use crate::policy::RefundSign;
use crate::state::{ChargeLedger, StateUpdate};
use crate::stripe::{Charge, Expandable};
use pulsora::EventType as Kind;
use serde_json::json;

/// Each new refunded amount of a charge is one refund.
pub(crate) fn map(charge: &Charge, ledger: Option<ChargeLedger>, event: &Envelope<'_>) -> Mapped {
    let ledger = ledger.unwrap_or_default();
    let Some(currency) = charge.currency.as_deref() else {
        return Mapped::note("charge without currency");
    };
    // `amount_refunded` is cumulative and only grows, so the newest total minus the largest
    // total already reported is the new money, whatever order the events arrive in.
    let new_minor = charge.amount_refunded - ledger.refunded_reported;
    if new_minor <= 0 {
        return Mapped::note("no refunded amount beyond what was already reported");
    }
    let updates = vec![StateUpdate::Charge(
        charge.id.clone(),
        ChargeLedger {
            refunded_reported: charge.amount_refunded,
        },
    )];
    let amount = to_major(new_minor, currency);
    let amount = match event.policy.refund_sign {
        RefundSign::Negative => -amount,
        RefundSign::Positive => amount,
    };
    let payment = charge
        .payment_intent
        .as_ref()
        .map(Expandable::id)
        .unwrap_or(&charge.id);
    let customer_id = charge
        .customer
        .as_ref()
        .map(|c| c.id.clone())
        .unwrap_or_else(|| format!("guest_{payment}"));
    Mapped {
        drafts: vec![Draft {
            kind: Kind::Refund,
            amount,
            currency: currency.to_ascii_uppercase(),
            transaction_id: format!("{}_refund_{}", charge.id, charge.amount_refunded),
            customer_id,
            attribution: event.attribution.clone(),
            attribution_source: event.source,
            subscription_id: None,
            mrr_impact: None,
            is_recurring: None,
            metadata: json!({
                "original_charge": charge.id,
                "partial": charge.amount_refunded < charge.amount,
                "refunded_total": to_major(charge.amount_refunded, currency).to_string(),
                "stripe_event": event.event_id,
            }),
        }],
        updates,
        notes: Vec::new(),
    }
}
