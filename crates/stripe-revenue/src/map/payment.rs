//! The money-out ledger of one payment, shared by the charge, refund, dispute and checkout
//! mappings: each event updates what it knows, then [`settle`] reports the difference between
//! what Stripe says left the account and what was already reported.
//!
//! Rules (README, "What counts as revenue"):
//! - refunded = the larger of the refunds known by id that did not fail, and the newest
//!   `charge.refunded` snapshot (less refunds known to have failed after it), never more than
//!   what was captured less lost disputes;
//! - a failed or cancelled refund lowers that total: the difference goes out once, as a refund of
//!   the opposite sign;
//! - a lost dispute goes out once, as a refund with the dispute's id;
//! - nothing goes out for a payment whose money in was never reported, unless the policy says
//!   [`UnreportedPayments::Count`].

use super::Envelope;
use crate::currency::to_major;
use crate::draft::Draft;
use crate::policy::{RefundSign, UnreportedPayments};
use crate::state::ChargeLedger;
use pulsora::EventType as Kind;
use serde_json::json;

/// The refunded total the ledger supports, minor units.
pub(crate) fn refund_target(ledger: &ChargeLedger) -> i64 {
    let known: i64 = ledger
        .refunds
        .values()
        .filter(|r| r.failed_at.is_none())
        .map(|r| r.amount)
        .sum();
    let from_snapshot = ledger.snapshot.map_or(0, |snapshot| {
        // A refund in the snapshot that failed after it: the snapshot still counts it.
        let failed_since: i64 = ledger
            .refunds
            .values()
            .filter(|r| {
                r.created <= snapshot.created && r.failed_at.is_some_and(|f| f > snapshot.created)
            })
            .map(|r| r.amount)
            .sum();
        snapshot.refunded - failed_since
    });
    let mut target = known.max(from_snapshot).max(0);
    if let Some(captured) = ledger.captured {
        let disputed: i64 = ledger.disputes_lost.values().sum();
        target = target.min((captured - disputed).max(0));
    }
    target
}

/// Reports what the ledger owes Pulsora: lost disputes not yet reported, and the change of the
/// refunded total. Updates the ledger to match.
pub(crate) fn settle(
    key: &str,
    ledger: &mut ChargeLedger,
    event: &Envelope<'_>,
    notes: &mut Vec<String>,
) -> Vec<Draft> {
    if !ledger.reported && event.policy.unreported == UnreportedPayments::Skip {
        if !ledger.refunds.is_empty()
            || ledger.snapshot.is_some()
            || !ledger.disputes_lost.is_empty()
        {
            notes.push(format!(
                "money out of {key} held: the bridge has not reported this payment (policy: skip unreported payments)"
            ));
        }
        return Vec::new();
    }
    let Some(currency) = ledger.currency.clone() else {
        notes.push(format!("payment {key}: no currency known yet"));
        return Vec::new();
    };
    let sign = |minor: i64| {
        let amount = to_major(minor, &currency);
        match event.policy.refund_sign {
            RefundSign::Negative => -amount,
            RefundSign::Positive => amount,
        }
    };
    let customer_id = ledger
        .customer
        .clone()
        .unwrap_or_else(|| format!("guest_{key}"));
    let draft = |amount, transaction_id: String, metadata| Draft {
        kind: Kind::Refund,
        amount,
        currency: currency.to_ascii_uppercase(),
        transaction_id,
        customer_id: customer_id.clone(),
        attribution: event.attribution.clone(),
        attribution_source: event.source,
        subscription_id: None,
        mrr_impact: None,
        is_recurring: None,
        metadata,
    };
    let mut drafts = Vec::new();
    let lost: Vec<(String, i64)> = ledger
        .disputes_lost
        .iter()
        .filter(|(id, _)| !ledger.disputes_reported.contains(*id))
        .map(|(id, amount)| (id.clone(), *amount))
        .collect();
    for (id, amount) in lost {
        drafts.push(draft(
            sign(amount),
            id.clone(),
            json!({ "payment": key, "dispute": id, "reason": "dispute_lost", "stripe_event": event.event_id }),
        ));
        ledger.disputes_reported.insert(id);
    }
    let target = refund_target(ledger);
    let delta = target - ledger.refunded_reported;
    if delta != 0 {
        ledger.adjustments += 1;
        let reversal = delta < 0;
        drafts.push(draft(
            sign(delta),
            format!("{key}_refund_{}", ledger.adjustments),
            json!({
                "payment": key,
                "refunded_total": to_major(target, &currency).to_string(),
                "reversal": reversal,
                "stripe_event": event.event_id,
            }),
        ));
        ledger.refunded_reported = target;
    }
    drafts
}
