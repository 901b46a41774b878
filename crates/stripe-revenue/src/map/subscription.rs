//! Subscriptions: `customer.subscription.created` / `.updated` / `.deleted`, and the coupons of
//! `customer.discount.*`.

use super::{Envelope, Mapped};
use crate::draft::Draft;
use crate::ledger::Origin;
use crate::state::{StateUpdate, SubscriptionLedger};
use crate::stripe::{Discount, Subscription};
use pulsora::EventType as Kind;
use rust_decimal::Decimal;
use serde_json::json;
use stripe_webhook_guard::EventType;

/// A subscription's new state moves its MRR ledger; a change is reported as `upgrade`,
/// `downgrade` or `churn` carrying `current − reported` (see `ledger.rs` for the rules).
pub(crate) fn map(
    subscription: &Subscription,
    stored: Option<&SubscriptionLedger>,
    event: &Envelope<'_>,
) -> Mapped {
    let mut out = Mapped::default();
    let mut ledger = SubscriptionLedger::load(stored);
    let currency = subscription.currency.as_deref().unwrap_or("usd").to_owned();
    // Whether this event is the subscription's start (created, or out of trial/incomplete).
    let mut starts = true;
    let (rank, origin) = match event.event_type {
        EventType::CustomerSubscriptionCreated => (0, Origin::Birth),
        EventType::CustomerSubscriptionDeleted => (2, Origin::Deleted(subscription.clone())),
        _ => {
            let before = previous_state(subscription, event);
            starts = matches!(before.status.as_deref(), Some("trialing" | "incomplete"));
            (1, Origin::Updated(before))
        }
    };
    ledger.adopt(event.created, origin);
    let mut state = subscription.clone();
    if rank == 2 {
        state.status = Some("canceled".into());
    }
    learn_expanded_coupons(&mut ledger, &state);
    ledger.observe_subscription(state, event.created, rank);
    if let Some((fetched, at)) = event.fetched {
        // Fetch on notify: Stripe's current object is newer than any event so far.
        learn_expanded_coupons(&mut ledger, fetched);
        ledger.observe_subscription(fetched.clone(), at, 3);
    }
    let current = ledger.current(&currency);
    if starts && ledger.awaits_first_invoice(current) {
        out.notes
            .push("MRR starts with the first paid invoice of this state".into());
        out.updates
            .push(StateUpdate::Subscription(subscription.id.clone(), ledger));
        return out;
    }
    let before = ledger.reported_total();
    let delta = ledger.settle(&currency);
    let customer = subscription
        .customer
        .as_ref()
        .map_or_else(|| format!("guest_{}", subscription.id), |c| c.id.clone());
    let draft = movement(
        &subscription.id,
        &customer,
        &currency,
        before,
        delta,
        ledger.movement_id(&subscription.id, event.event_id),
        event,
    );
    match draft {
        Some(mut draft) => {
            if let Some(interval) = first_interval(subscription) {
                draft.metadata["interval"] = json!(interval);
            }
            draft.metadata["status"] = json!(subscription.status);
            out.drafts.push(draft);
        }
        None => out.notes.push(format!(
            "subscription {}: no MRR change to report",
            subscription.status.as_deref().unwrap_or("?")
        )),
    }
    out.updates
        .push(StateUpdate::Subscription(subscription.id.clone(), ledger));
    out
}

/// `customer.discount.created/updated/deleted` about a subscription: the coupon behind a
/// discount id (webhook payloads of subscriptions name discounts by id only from basil on).
pub(crate) fn discount(
    discount: &Discount,
    stored: Option<&SubscriptionLedger>,
    event: &Envelope<'_>,
) -> Mapped {
    let mut out = Mapped::default();
    let (Some(subscription), Some(id), Some(coupon)) = (
        discount.subscription.as_deref(),
        discount.id.as_deref(),
        discount.coupon(),
    ) else {
        return Mapped::note("discount without subscription, id or coupon: nothing to learn");
    };
    let mut ledger = SubscriptionLedger::load(stored);
    ledger.observe_coupon(id, coupon.clone());
    if ledger.seen {
        let currency = ledger
            .snapshot
            .as_ref()
            .and_then(|s| s.currency.clone())
            .unwrap_or_else(|| "usd".into());
        {
            let before = ledger.reported_total();
            let delta = ledger.settle(&currency);
            let customer = ledger
                .snapshot
                .as_ref()
                .and_then(|s| s.customer.as_ref().map(|c| c.id.clone()))
                .unwrap_or_else(|| format!("guest_{subscription}"));
            out.drafts.extend(movement(
                subscription,
                &customer,
                &currency,
                before,
                delta,
                ledger.movement_id(subscription, event.event_id),
                event,
            ));
        }
    }
    out.updates
        .push(StateUpdate::Subscription(subscription.to_owned(), ledger));
    out
}

/// The subscription before an `updated` event: the object with its `previous_attributes`.
fn previous_state(subscription: &Subscription, event: &Envelope<'_>) -> Subscription {
    let mut object = event.raw.object_value();
    if let Some(Ok(serde_json::Value::Object(previous))) =
        event.raw.previous_attributes::<serde_json::Value>()
    {
        for (key, value) in previous {
            object[key] = value;
        }
    }
    serde_json::from_value::<Subscription>(object).unwrap_or_else(|_| subscription.clone())
}

/// Coupons of expanded discounts (legacy `discount`, expanded `discounts`) are remembered by
/// discount id, for later payloads that name them by id only.
pub(super) fn learn_expanded_coupons(ledger: &mut SubscriptionLedger, subscription: &Subscription) {
    let expanded = subscription
        .discounts
        .iter()
        .flatten()
        .chain(
            subscription
                .items
                .iter()
                .flat_map(|l| &l.data)
                .flat_map(|i| i.discounts.iter().flatten()),
        )
        .filter_map(|d| match d {
            crate::stripe::DiscountRef::Object(d) => Some(d.as_ref()),
            crate::stripe::DiscountRef::Id(_) => None,
        })
        .chain(subscription.discount.as_ref());
    let learned: Vec<_> = expanded
        .filter_map(|d| Some((d.id.clone()?, d.coupon()?.clone())))
        .collect();
    for (id, coupon) in learned {
        ledger.observe_coupon(&id, coupon);
    }
}

/// The revenue event of an MRR movement, or `None` when nothing moved: `churn` when MRR falls
/// to 0, `upgrade` when it rises (also when it starts outside an invoice), else `downgrade`.
/// The amount is the new MRR (the MRR lost for a churn).
pub(crate) fn movement(
    subscription: &str,
    customer: &str,
    currency: &str,
    before: Decimal,
    delta: Decimal,
    transaction_id: String,
    event: &Envelope<'_>,
) -> Option<Draft> {
    if delta.is_zero() {
        return None;
    }
    let current = before + delta;
    let kind = if current.is_zero() {
        Kind::Churn
    } else if delta > Decimal::ZERO {
        Kind::Upgrade
    } else {
        Kind::Downgrade
    };
    let amount = if current.is_zero() {
        delta.abs()
    } else {
        current
    };
    Some(Draft {
        kind,
        amount,
        currency: currency.to_ascii_uppercase(),
        transaction_id,
        customer_id: customer.to_owned(),
        attribution: event.attribution.clone(),
        attribution_source: event.source,
        subscription_id: Some(subscription.to_owned()),
        mrr_impact: Some(delta),
        is_recurring: Some(true),
        metadata: json!({
            "stripe_event": event.event_id,
            "previous_mrr": before.to_string(),
            "new_mrr": current.to_string(),
        }),
    })
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
