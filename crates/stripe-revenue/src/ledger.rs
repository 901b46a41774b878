//! The rules of the MRR ledger ([`SubscriptionLedger`]): what each Stripe fact changes, and
//! what the subscription's MRR is now.
//!
//! - **Newest state wins.** A subscription event replaces the snapshot only if its `created` is
//!   not older than the snapshot's (ties: created < updated < deleted < fetched from the API), so
//!   a late `customer.subscription.updated` never rolls MRR back, in either API shape.
//! - **Invoices move no prices.** A paid invoice only says that the subscription was paid at
//!   that time: an `incomplete` snapshot older than the payment, or a `trialing` one whose trial
//!   had ended by then, counts as active. Its lines teach the amounts of tiered prices without
//!   tiers and the tax ratio of inclusive prices; they give the whole MRR only while there is
//!   no snapshot at all. A late-paid dunning invoice with old prices therefore changes nothing,
//!   and an invoice paid after cancellation is money, never MRR.
//! - **Adoption.** The first event about a subscription the ledger never saw fixes the baseline,
//!   the MRR it had before that event: `customer.subscription.created` and the
//!   `subscription_create` invoice mean birth (0); an `updated` event the object with its
//!   `previous_attributes` applied; a `deleted` event the MRR it had until then; any other paid
//!   invoice 0 (its MRR is reported once as it enters). An event older than the adopting one
//!   moves the baseline to what it says, so the result does not depend on the order.
//! - **Invariant.** Σ `mrr_impact` = current MRR − baseline, after every event.

use crate::currency::with_scale;
use crate::mrr::{counts, invoice_mrr, learn_lines, mrr, mrr_before_cancel, value};
use crate::state::SubscriptionLedger;
use crate::stripe::{Coupon, Invoice, Subscription};
use rust_decimal::Decimal;

/// How the event that adopts or re-baselines a subscription relates to its life.
pub(crate) enum Origin {
    /// Birth: `customer.subscription.created`, the `subscription_create` invoice.
    Birth,
    /// A paid invoice of a subscription never seen: it enters with its MRR (baseline 0).
    Invoice,
    /// `updated`: the subscription as it was before (the object with `previous_attributes`).
    Updated(Subscription),
    /// `deleted`: the canceled object; the baseline is the MRR it had until then.
    Deleted(Subscription),
    /// A known MRR (adoption from the API: the current MRR).
    Before(Decimal),
}

impl SubscriptionLedger {
    /// A ledger for a subscription: the stored one, or a new one marked unseen.
    pub(crate) fn load(stored: Option<&Self>) -> Self {
        stored.cloned().unwrap_or(Self {
            seen: false,
            ..Self::default()
        })
    }

    /// Adopts the subscription (first event) or moves the baseline (an older event than the
    /// one that adopted it).
    pub(crate) fn adopt(&mut self, created: i64, origin: Origin) {
        let first = !self.seen;
        let older = self.adopted_at.is_some_and(|at| created < at);
        if !(first || older) {
            return;
        }
        self.seen = true;
        self.baseline = Decimal::ZERO;
        self.adopted_at = Some(created);
        // The state is kept, not its MRR: a coupon learned later changes what it was worth.
        (self.baseline_from, self.baseline_deleted) = match origin {
            Origin::Birth => {
                self.adopted_at = None;
                (None, false)
            }
            Origin::Invoice => (None, false),
            Origin::Updated(before) => (Some(Box::new(before)), false),
            Origin::Deleted(before) => (Some(Box::new(before)), true),
            Origin::Before(mrr) => {
                self.baseline = mrr;
                (None, false)
            }
        };
    }

    /// The MRR at adoption (0 when seen from birth).
    pub(crate) fn baseline(&self) -> Decimal {
        match &self.baseline_from {
            Some(s) if self.baseline_deleted => mrr_before_cancel(s, &self.learned),
            Some(s) => mrr(s, &self.learned),
            None => self.baseline,
        }
    }

    /// A subscription state carried by an event (`rank` breaks ties of the same second).
    pub(crate) fn observe_subscription(
        &mut self,
        subscription: Subscription,
        created: i64,
        rank: u8,
    ) {
        if subscription.status.as_deref() == Some("trialing") {
            self.trialed = true;
        }
        let newer = self
            .state_created
            .is_none_or(|c| (created, rank) >= (c, self.state_rank));
        if newer {
            self.snapshot = Some(Box::new(subscription));
            self.state_created = Some(created);
            self.state_rank = rank;
        }
    }

    /// A paid invoice of the subscription, paid at `created`. Returns whether it was seen
    /// before (a re-delivery).
    pub(crate) fn observe_paid_invoice(
        &mut self,
        invoice: &Invoice,
        created: i64,
        currency: &str,
    ) -> bool {
        let again = self.recent_invoices.contains(&invoice.id);
        if !again {
            self.recent_invoices.push(invoice.id.clone());
            if self.recent_invoices.len() > 32 {
                self.recent_invoices.remove(0);
            }
        }
        learn_lines(&mut self.learned, invoice, created);
        self.invoiced = true;
        self.paid_at = Some(self.paid_at.map_or(created, |p| p.max(created)));
        if let Some(stated) = invoice_mrr(invoice, currency) {
            if self.invoice_mrr.is_none_or(|(c, _)| created >= c) {
                self.invoice_mrr = Some((created, stated));
            }
        }
        again
    }

    /// A discount's coupon, learned from a `customer.discount.*` event or an expanded object.
    pub(crate) fn observe_coupon(&mut self, discount: &str, coupon: Coupon) {
        self.learned.coupons.insert(discount.to_owned(), coupon);
    }

    /// The snapshot's status as the payments seen make it (see the module docs).
    fn effective_status(&self, snapshot: &Subscription) -> String {
        let status = snapshot.status.as_deref().unwrap_or("active");
        let paid = |since: Option<i64>| match (self.paid_at, since) {
            (Some(paid), Some(since)) => paid >= since,
            _ => false,
        };
        // Paying the open invoice activates an incomplete, past_due or unpaid subscription.
        let implied = match status {
            "incomplete" | "past_due" | "unpaid" => paid(self.state_created),
            "trialing" => paid(snapshot.trial_end),
            _ => false,
        };
        if implied { "active" } else { status }.to_owned()
    }

    /// The subscription's MRR now, by what the ledger knows.
    pub(crate) fn current(&self, currency: &str) -> Decimal {
        let mrr = match &self.snapshot {
            Some(snapshot) => {
                if counts(&self.effective_status(snapshot)) {
                    value(snapshot, &self.learned)
                } else {
                    Decimal::ZERO
                }
            }
            None => self
                .invoice_mrr
                .map(|(_, m)| m)
                .or(self.known_mrr)
                .unwrap_or(Decimal::ZERO),
        };
        with_scale(mrr, currency)
    }

    /// What Pulsora holds for this subscription: baseline plus every reported impact.
    pub(crate) fn reported_total(&self) -> Decimal {
        self.baseline() + self.reported_mrr
    }

    /// Whether the snapshot is canceled (an invoice paid now is money, never MRR).
    pub(crate) fn canceled(&self) -> bool {
        self.snapshot
            .as_ref()
            .is_some_and(|s| s.status.as_deref() == Some("canceled"))
    }

    /// An `active` subscription seen from birth starting its MRR from a subscription event,
    /// with no paid invoice since that state: its first paid invoice will carry the start with
    /// its money. (An adopted one reports at once: its invoice may predate the bridge.)
    pub(crate) fn awaits_first_invoice(&self, current: Decimal) -> bool {
        if self.adopted_at.is_some() {
            return false;
        }
        let active = self
            .snapshot
            .as_ref()
            .is_some_and(|s| s.status.as_deref() == Some("active"));
        let paid_since = match (self.paid_at, self.state_created) {
            (Some(paid), Some(state)) => paid >= state,
            _ => false,
        };
        active && !paid_since && self.reported_total().is_zero() && current > Decimal::ZERO
    }

    /// Brings Pulsora to the current MRR: returns the impact to report (already counted).
    pub(crate) fn settle(&mut self, currency: &str) -> Decimal {
        let current = self.current(currency);
        self.known_mrr = Some(current);
        let delta = with_scale(current - self.reported_total(), currency);
        self.reported_mrr += delta;
        if !delta.is_zero() {
            self.movements += 1;
        }
        delta
    }

    /// The transaction id of the movement just settled by `event` (unique per movement, the
    /// same when the same event is retried before its state was saved).
    pub(crate) fn movement_id(&self, subscription: &str, event: &str) -> String {
        format!("{subscription}_{event}_m{}", self.movements)
    }
}

/// Currency conversion of MRR keeps Σ `mrr_impact` = 0 after churn: each subscription's ledger
/// is also kept in the reported currency, at one rate fixed the first time its MRR is
/// converted (`convert(1,000,000) ÷ 1,000,000`). Each movement reports
/// `round(Σ mrr_impact so far × rate) − what was reported in that currency`, so a churn brings
/// the converted sum back to exactly 0, whatever the day's rates did meanwhile.
pub(crate) fn convert_mrr(
    drafts: &mut [crate::draft::Draft],
    updates: &mut [crate::state::StateUpdate],
    converter: &dyn crate::CurrencyConverter,
) {
    for draft in drafts.iter_mut() {
        let (Some(subscription), Some(delta)) = (&draft.subscription_id, draft.mrr_impact) else {
            continue;
        };
        let ledger = updates.iter_mut().find_map(|u| match u {
            crate::state::StateUpdate::Subscription(id, ledger) if id == subscription => {
                Some(ledger)
            }
            _ => None,
        });
        let Some(ledger) = ledger else { continue };
        // What Pulsora summed so far for this subscription, in its own currency.
        let after = ledger.reported_mrr;
        let converted = match ledger.converted.clone() {
            Some(c) => c,
            None => {
                let million = Decimal::from(1_000_000);
                let Some((unit, currency)) = converter.convert(million, &draft.currency) else {
                    continue;
                };
                let rate = unit / million;
                let total = with_scale(
                    ((after - delta) * rate).round_dp(crate::currency::exponent(&currency)),
                    &currency,
                );
                crate::state::ConvertedLedger {
                    currency,
                    rate,
                    total,
                }
            }
        };
        let scale = crate::currency::exponent(&converted.currency);
        let total = with_scale(
            (after * converted.rate).round_dp(scale),
            &converted.currency,
        );
        let impact = total - converted.total;
        draft.metadata["mrr_impact_converted"] = serde_json::json!(impact.to_string());
        ledger.converted = Some(crate::state::ConvertedLedger { total, ..converted });
    }
}
