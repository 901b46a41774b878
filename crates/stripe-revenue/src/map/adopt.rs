//! Adoption: a subscription read from Stripe's API (`stripe-pulsora adopt`) enters the MRR
//! ledger without an event from Stripe.
//!
//! The adopt command wraps each subscription in an event of the bridge's own namespaced types
//! ([`ADOPTED`], [`OPENING_BALANCE`]), so it takes the webhook's whole path (scope filter, replay
//! guard, subject lock, state, delivery) and its id (`adopt_<sub>`, `opening_<sub>`) makes a
//! second run a duplicate. The snapshot ranks as "fetched from the API" at the time it was read:
//! a later webhook replaces it, an older one does not.
//!
//! - [`ADOPTED`], a subscription the ledger never saw: its current MRR becomes the baseline
//!   (Pulsora is told nothing; the next change reports the right movement). One the ledger knows:
//!   the snapshot is applied like a fetch on notify, and any drift is reported.
//! - [`OPENING_BALANCE`]: the baseline is 0 and the current MRR is reported once, as an
//!   `upgrade` with `metadata.opening_balance = true` (an MRR movement, never money), so
//!   Pulsora's MRR equals Stripe's from day one. Transaction id `<sub>_opening`.

use super::subscription::{learn_expanded_coupons, movement};
use super::{Envelope, Mapped};
use crate::ledger::Origin;
use crate::state::{StateUpdate, SubscriptionLedger};
use crate::stripe::Subscription;
use rust_decimal::Decimal;
use serde_json::json;

/// Event type of an adoption without an opening balance.
pub const ADOPTED: &str = "stripe_pulsora.subscription.adopted";
/// Event type of an adoption that reports the current MRR as an opening balance.
pub const OPENING_BALANCE: &str = "stripe_pulsora.subscription.opening_balance";

/// Rank of a snapshot read from Stripe's API (newer than any event of the same second).
const FETCHED: u8 = 3;

pub(crate) fn map(
    subscription: &Subscription,
    stored: Option<&SubscriptionLedger>,
    opening: bool,
    event: &Envelope<'_>,
) -> Mapped {
    let mut out = Mapped::default();
    let mut ledger = SubscriptionLedger::load(stored);
    let currency = subscription.currency.as_deref().unwrap_or("usd").to_owned();
    learn_expanded_coupons(&mut ledger, subscription);
    ledger.observe_subscription(subscription.clone(), event.created, FETCHED);
    let current = ledger.current(&currency);
    if !ledger.seen {
        let origin = if opening {
            Origin::Birth
        } else {
            Origin::Before(current)
        };
        ledger.adopt(event.created, origin);
    } else if opening && !ledger.baseline().is_zero() {
        // Adopted earlier without an opening balance: Pulsora never heard of the baseline.
        ledger.baseline = Decimal::ZERO;
        ledger.baseline_from = None;
        ledger.adopted_at = None;
    }
    let before = ledger.reported_total();
    let delta = ledger.settle(&currency);
    let customer = subscription
        .customer
        .as_ref()
        .map_or_else(|| format!("guest_{}", subscription.id), |c| c.id.clone());
    let transaction_id = if opening {
        format!("{}_opening", subscription.id)
    } else {
        format!("{}_{}", subscription.id, event.event_id)
    };
    match movement(
        &subscription.id,
        &customer,
        &currency,
        before,
        delta,
        transaction_id,
        event,
    ) {
        Some(mut draft) => {
            draft.metadata["status"] = json!(subscription.status);
            if opening {
                draft.metadata["opening_balance"] = json!(true);
            }
            out.drafts.push(draft);
        }
        None => out.notes.push(format!(
            "subscription {} adopted: MRR {current} {currency}, nothing to report",
            subscription.id
        )),
    }
    out.updates
        .push(StateUpdate::Subscription(subscription.id.clone(), ledger));
    out
}
