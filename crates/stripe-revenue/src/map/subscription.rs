//! Subscriptions: `customer.subscription.created` / `.updated` / `.deleted`.

use super::{Envelope, Mapped};
use crate::currency::with_scale;
use crate::draft::Draft;
use crate::mrr::{list_mrr, subscription_mrr};
use crate::state::{StateUpdate, SubscriptionLedger};
use crate::stripe::{Expandable, Subscription};
use pulsora::EventType as Kind;
use rust_decimal::Decimal;
use serde_json::json;
use stripe_webhook::EventType;

/// A subscription's new state moves its MRR ledger; a change is reported as `upgrade`,
/// `downgrade` or `churn` carrying `current − reported`.
pub(crate) fn map(
    subscription: &Subscription,
    ledger: Option<&SubscriptionLedger>,
    event: &Envelope<'_>,
) -> Mapped {
    let customer = subscription.customer.as_ref().map(Expandable::id);
    let mut out = Mapped::default();
    let mut ledger = ledger.cloned().unwrap_or_default();
    let status = subscription.status.clone().unwrap_or_default();
    if status == "trialing" {
        ledger.trialed = true;
    }
    if ledger.state_created.is_some_and(|c| event.created < c) {
        out.updates
            .push(StateUpdate::Subscription(subscription.id.clone(), ledger));
        out.notes
            .push("older than the subscription state already applied; MRR unchanged".into());
        return out;
    }
    let currency = subscription.currency.as_deref().unwrap_or("usd");
    let deleted = event.event_type == &EventType::CustomerSubscriptionDeleted;
    let current = if deleted {
        with_scale(Decimal::ZERO, currency)
    } else {
        subscription_mrr(subscription)
    };
    ledger.known_mrr = Some(current);
    ledger.list_mrr = Some(list_mrr(subscription));
    ledger.state_created = Some(event.created);
    let delta = with_scale(current - ledger.reported_mrr, currency);

    let kind = if delta.is_zero() {
        None
    } else if current.is_zero() {
        Some(Kind::Churn)
    } else if ledger.reported_mrr.is_zero() {
        // MRR starting (trial or incomplete → active): the first paid invoice reports it with
        // its money. Only when that invoice was already reported without MRR (basil payloads
        // name prices without amounts) does the start go out here, as net-new MRR.
        ledger.invoiced.then_some(Kind::Upgrade)
    } else if delta > Decimal::ZERO {
        Some(Kind::Upgrade)
    } else {
        Some(Kind::Downgrade)
    };
    let Some(kind) = kind else {
        out.updates
            .push(StateUpdate::Subscription(subscription.id.clone(), ledger));
        out.notes.push(format!(
            "subscription {status}: no MRR change to report now"
        ));
        return out;
    };
    ledger.reported_mrr += delta;
    let customer_id = customer
        .map(str::to_owned)
        .unwrap_or_else(|| format!("guest_{}", subscription.id));
    let amount = if kind == Kind::Churn || current.is_zero() {
        delta.abs()
    } else {
        current
    };
    let mut metadata = json!({ "status": status, "stripe_event": event.event_id, "previous_mrr": (current - delta).to_string(), "new_mrr": current.to_string() });
    if let Some(interval) = first_interval(subscription) {
        metadata["interval"] = json!(interval);
    }
    out.updates
        .push(StateUpdate::Subscription(subscription.id.clone(), ledger));
    out.drafts.push(Draft {
        kind,
        amount,
        currency: currency.to_ascii_uppercase(),
        transaction_id: format!("{}_{}", subscription.id, event.event_id),
        customer_id,
        attribution: event.attribution.clone(),
        attribution_source: event.source,
        subscription_id: Some(subscription.id.clone()),
        mrr_impact: Some(delta),
        is_recurring: Some(true),
        metadata,
    });
    out
}

fn first_interval(subscription: &Subscription) -> Option<String> {
    subscription
        .items
        .as_ref()?
        .data
        .first()?
        .price
        .as_ref()?
        .recurring
        .as_ref()?
        .interval
        .clone()
}
