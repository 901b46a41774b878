//! What the mapping remembers between events: per-subscription MRR ledger, per-charge refund
//! high-water mark, learned attribution. The mapping itself is pure: it reads a [`Context`] and
//! returns [`StateUpdate`]s, which [`RevenueSync`](crate::RevenueSync) persists once Pulsora
//! has accepted the events.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The MRR ledger of one subscription.
///
/// `reported_mrr` is the sum of every `mrr_impact` sent so far, so each new event reports
/// `current − reported` and the sum over a subscription's life always equals its current MRR.
/// `state_created` is the `created` of the newest subscription state applied: an older event,
/// delivered late, does not roll the state back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionLedger {
    /// Sum of the `mrr_impact` reported to Pulsora, in major units.
    pub reported_mrr: Decimal,
    /// The subscription's MRR as last learned from Stripe, in major units.
    pub known_mrr: Option<Decimal>,
    /// The MRR the subscription's items are worth once it is active (whatever its status).
    pub list_mrr: Option<Decimal>,
    /// `created` of the event `known_mrr` came from.
    pub state_created: Option<i64>,
    /// A paid invoice with a positive amount has been reported.
    pub invoiced: bool,
    /// The subscription was seen in `trialing` status.
    pub trialed: bool,
}

/// The refund high-water mark of one charge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeLedger {
    /// The largest cumulative `amount_refunded` already reported, in minor units.
    pub refunded_reported: i64,
}

/// A visitor fingerprint and session id, as `@pulsora/core` produces them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attribution {
    /// `visitor_fingerprint`
    pub visitor_fingerprint: String,
    /// `session_id`
    pub session_id: String,
}

/// What the mapping knows before it looks at an event.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Ledger of the event's subscription, if any.
    pub subscription: Option<SubscriptionLedger>,
    /// Ledger of the event's charge, if any.
    pub charge: Option<ChargeLedger>,
    /// Attribution learned earlier for the event's customer or subscription.
    pub learned: Option<Attribution>,
}

/// A change to remember once the events have been delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateUpdate {
    /// New ledger for a subscription id.
    Subscription(String, SubscriptionLedger),
    /// New ledger for a charge id.
    Charge(String, ChargeLedger),
    /// Attribution learned for a customer or subscription id.
    Attribution(String, Attribution),
}

/// All the mapping state in memory: the reference implementation of what a persistent store
/// keeps, and the state of the pure scenario tests.
#[derive(Debug, Clone, Default)]
pub struct MemoryState {
    subscriptions: std::collections::HashMap<String, SubscriptionLedger>,
    charges: std::collections::HashMap<String, ChargeLedger>,
    attributions: std::collections::HashMap<String, Attribution>,
    sent: std::collections::HashSet<String>,
}

impl MemoryState {
    /// The context for an event about `subjects`.
    pub fn context(&self, subjects: &crate::Subjects) -> Context {
        let learned = [&subjects.customer, &subjects.subscription]
            .into_iter()
            .flatten()
            .find_map(|key| self.attributions.get(key).cloned());
        Context {
            subscription: subjects
                .subscription
                .as_ref()
                .and_then(|s| self.subscriptions.get(s).cloned()),
            charge: subjects
                .charge
                .as_ref()
                .and_then(|c| self.charges.get(c).copied()),
            learned,
        }
    }

    /// Remembers the updates of a mapping.
    pub fn apply(&mut self, updates: &[StateUpdate]) {
        for update in updates {
            match update {
                StateUpdate::Subscription(id, ledger) => {
                    self.subscriptions.insert(id.clone(), ledger.clone());
                }
                StateUpdate::Charge(id, ledger) => {
                    self.charges.insert(id.clone(), *ledger);
                }
                StateUpdate::Attribution(id, attribution) => {
                    self.attributions.insert(id.clone(), attribution.clone());
                }
            }
        }
    }

    /// Records a transaction id as delivered; `false` if it already was.
    pub fn mark_sent(&mut self, transaction_id: &str) -> bool {
        self.sent.insert(transaction_id.to_owned())
    }

    /// Whether a transaction id was delivered.
    pub fn was_sent(&self, transaction_id: &str) -> bool {
        self.sent.contains(transaction_id)
    }
}
