//! What the mapping remembers between events: per-subscription MRR ledger, per-payment
//! money-out ledger (refunds by id, disputes), learned attribution. The mapping itself is pure: it reads a [`Context`] and
//! returns [`StateUpdate`]s, which [`RevenueSync`](crate::RevenueSync) persists once Pulsora
//! has accepted the events.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The MRR ledger of one subscription.
///
/// Pulsora's view of the subscription's MRR is `baseline + reported_mrr`: `baseline` is the MRR
/// it had when the ledger adopted it (0 when seen from birth), `reported_mrr` the sum of every
/// `mrr_impact` sent. Each event re-derives the current MRR from the newest snapshot (by the
/// `created` of the event that carried it) and what was learned, and reports
/// `current − (baseline + reported_mrr)`. So Σ `mrr_impact` = current MRR − MRR at adoption,
/// whatever the order and duplication of delivery. The rules live in `ledger.rs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionLedger {
    /// Sum of the `mrr_impact` reported to Pulsora, in major units.
    pub reported_mrr: Decimal,
    /// The subscription's MRR as last derived, in major units.
    pub known_mrr: Option<Decimal>,
    /// `created` of the event the snapshot came from.
    pub state_created: Option<i64>,
    /// A paid invoice has been seen for this subscription.
    pub invoiced: bool,
    /// The subscription was seen in `trialing` status.
    pub trialed: bool,
    /// The ledger has adopted the subscription (a discount event alone does not). Ledgers
    /// written before this field existed had.
    #[serde(default = "yes")]
    pub seen: bool,
    /// MRR when the ledger adopted the subscription (0 when seen from birth).
    #[serde(default)]
    pub baseline: Decimal,
    /// `created` of the event the baseline came from; `None` when seen from birth.
    #[serde(default)]
    pub adopted_at: Option<i64>,
    /// The subscription as it was when adopted (its MRR is the baseline, with what is learned).
    #[serde(default)]
    pub baseline_from: Option<Box<crate::stripe::Subscription>>,
    /// `baseline_from` is a canceled object: the baseline is the MRR it had until then.
    #[serde(default)]
    pub baseline_deleted: bool,
    /// Tie-break for snapshots of the same second: created 0, updated 1, deleted 2, fetched 3.
    #[serde(default)]
    pub state_rank: u8,
    /// The newest subscription state (metadata dropped).
    #[serde(default)]
    pub snapshot: Option<Box<crate::stripe::Subscription>>,
    /// Coupons and invoice lines learned for this subscription.
    #[serde(default)]
    pub learned: crate::mrr::Learned,
    /// `created` of the newest paid invoice event.
    #[serde(default)]
    pub paid_at: Option<i64>,
    /// MRR stated by the newest paid invoice (`created`, MRR), used while there is no snapshot.
    #[serde(default)]
    pub invoice_mrr: Option<(i64, Decimal)>,
    /// How many MRR movements were reported (part of their transaction ids, so a movement
    /// found on a re-delivery of an event is never mistaken for the one already sent).
    #[serde(default)]
    pub movements: u32,
    /// The newest paid invoice ids seen (at most 32): a re-delivered invoice's money is already
    /// sent, so an MRR movement it finds goes out on its own.
    #[serde(default)]
    pub recent_invoices: Vec<String>,
    /// With a currency converter: the one rate used for this subscription's MRR, and the sum
    /// of converted `mrr_impact` sent (the ledger in the reported currency).
    #[serde(default)]
    pub converted: Option<ConvertedLedger>,
}

/// The MRR ledger in the reported currency (see [`crate::CurrencyConverter`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvertedLedger {
    /// Target currency (upper case).
    pub currency: String,
    /// Converted units per unit of the subscription's currency, fixed at the first conversion.
    pub rate: Decimal,
    /// `round(reported_mrr × rate)` as last reported: Σ converted `mrr_impact`.
    pub total: Decimal,
}

fn yes() -> bool {
    true
}

impl Default for SubscriptionLedger {
    fn default() -> Self {
        Self {
            reported_mrr: Decimal::ZERO,
            known_mrr: None,
            state_created: None,
            invoiced: false,
            trialed: false,
            seen: true,
            baseline: Decimal::ZERO,
            adopted_at: None,
            baseline_from: None,
            baseline_deleted: false,
            state_rank: 0,
            snapshot: None,
            learned: crate::mrr::Learned::default(),
            paid_at: None,
            invoice_mrr: None,
            movements: 0,
            recent_invoices: Vec::new(),
            converted: None,
        }
    }
}

/// The money-out ledger of one payment, keyed by its PaymentIntent (else its charge): what was
/// captured, every refund known by id, the newest charge snapshot, lost disputes, and what was
/// reported. Each event about the payment recomputes the refunded total from it and reports the
/// difference, so a failed refund gives money back once and a refund never exceeds the capture.
/// See [`map_event`](crate::map_event) and the README's "What counts as revenue".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeLedger {
    /// Net refunded amount reported to Pulsora (refunds minus reversals), minor units.
    pub refunded_reported: i64,
    /// The payment's money in was reported (a Checkout Session, or a charge linked to an
    /// invoice), so its money out is too.
    #[serde(default)]
    pub reported: bool,
    /// What can be refunded at most: `amount_captured` (0 for an authorisation never
    /// captured), from the newest charge snapshot.
    #[serde(default)]
    pub captured: Option<i64>,
    /// The refunded money per the newest `charge.refunded` snapshot.
    #[serde(default)]
    pub snapshot: Option<RefundSnapshot>,
    /// Refunds known by id (`re_…`).
    #[serde(default)]
    pub refunds: BTreeMap<String, RefundEntry>,
    /// Lost disputes by id (`dp_…`) and their amounts, minor units.
    #[serde(default)]
    pub disputes_lost: BTreeMap<String, i64>,
    /// Lost disputes already reported.
    #[serde(default)]
    pub disputes_reported: BTreeSet<String>,
    /// How many refund adjustments were reported (numbers their transaction ids).
    #[serde(default)]
    pub adjustments: u32,
    /// Lower-case ISO currency.
    #[serde(default)]
    pub currency: Option<String>,
    /// The paying customer, if known.
    #[serde(default)]
    pub customer: Option<String>,
    /// The attribution of the payment's purchase, for its refunds and disputes.
    #[serde(default)]
    pub attribution: Option<Attribution>,
}

/// What a `charge.refunded` snapshot says was refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundSnapshot {
    /// `created` of the event the snapshot came from.
    pub created: i64,
    /// Refunded money, minor units: `amount_refunded` less what was only released (never
    /// captured).
    pub refunded: i64,
}

/// One refund known by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundEntry {
    /// Amount, minor units.
    pub amount: i64,
    /// When the refund was created.
    pub created: i64,
    /// When it was seen failed or cancelled (sticky: a failed refund never succeeds again).
    pub failed_at: Option<i64>,
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
    /// Money-out ledger of the event's payment, if any.
    pub charge: Option<ChargeLedger>,
    /// Attribution learned earlier for the event's customer or subscription.
    pub learned: Option<Attribution>,
    /// Fetch on notify (feature `stripe-api`): the event's subscription as the Stripe API
    /// returned it, and when (Unix seconds). Newer than any event, so it decides the MRR.
    pub fetched: Option<(crate::stripe::Subscription, i64)>,
}

/// A change to remember once the events have been delivered.
// A mapping yields one or two of these per event: boxing the ledger would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum StateUpdate {
    /// New ledger for a subscription id.
    Subscription(String, SubscriptionLedger),
    /// New money-out ledger for a payment (PaymentIntent or charge id).
    Charge(String, ChargeLedger),
    /// Attribution learned for a customer or subscription id.
    Attribution(String, Attribution),
    /// The money in reported for a payment, by its transaction id (the journal
    /// `reconcile` compares with Stripe, feature `stripe-api`).
    Payment(String, PaymentRecord),
}

/// The journal of one payment's money in: what the bridge recorded for a Checkout Session or a
/// paid invoice, keyed by the payment's transaction id (the invoice, else the PaymentIntent).
/// Written in the same save as the ledgers, so it says what was committed, in both delivery
/// modes. Its money out is in the payment's [`ChargeLedger`] (refunds by id, lost disputes,
/// the refunded total reported); a subscription's MRR in its [`SubscriptionLedger`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    /// Lower-case ISO currency, as Stripe wrote it (before any currency conversion).
    pub currency: String,
    /// The revenue reported, minor units (tax excluded unless the policy includes it).
    pub amount: i64,
    /// `created` of the Stripe event that reported it.
    pub created: i64,
    /// That event's id.
    pub event: String,
}

/// All the mapping state in memory: the reference implementation of what a persistent store
/// keeps, and the state of the pure scenario tests.
#[derive(Debug, Clone, Default)]
pub struct MemoryState {
    subscriptions: std::collections::HashMap<String, SubscriptionLedger>,
    charges: std::collections::HashMap<String, ChargeLedger>,
    attributions: std::collections::HashMap<String, Attribution>,
    payments: std::collections::HashMap<String, PaymentRecord>,
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
                .and_then(|c| self.charges.get(c).cloned()),
            learned,
            fetched: None,
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
                    self.charges.insert(id.clone(), ledger.clone());
                }
                StateUpdate::Attribution(id, attribution) => {
                    self.attributions.insert(id.clone(), attribution.clone());
                }
                StateUpdate::Payment(id, record) => {
                    self.payments.insert(id.clone(), record.clone());
                }
            }
        }
    }

    /// Records a transaction id as delivered; `false` if it already was.
    pub fn mark_sent(&mut self, transaction_id: &str) -> bool {
        self.sent.insert(transaction_id.to_owned())
    }

    /// The money in recorded for a transaction id.
    pub fn payment(&self, transaction_id: &str) -> Option<&PaymentRecord> {
        self.payments.get(transaction_id)
    }

    /// Whether a transaction id was delivered.
    pub fn was_sent(&self, transaction_id: &str) -> bool {
        self.sent.contains(transaction_id)
    }
}
