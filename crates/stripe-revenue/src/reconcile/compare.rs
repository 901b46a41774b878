//! Stripe's objects against what the bridge recorded, object by object, then per day and
//! currency. Pure: the Stripe side ([`Truth`]) and the state ([`Records`]) are read before.

use super::report::{day, Checked, Difference, Issue, Report, Row};
use super::truth::{ObjectKind, RefundFact, Truth};
use super::ReconcileWindow;
use crate::currency::{to_major, with_scale};
use crate::mrr::{mrr, Learned};
use crate::policy::{Policy, UnreportedPayments};
use crate::state::ChargeLedger;
use crate::store::{RecordQuery, Records};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};

/// The state entries the comparison reads: the journal of every payment's money in, the
/// money-out ledger of every payment with refunds or disputes, every subscription's ledger.
pub(crate) fn query(truth: &Truth) -> RecordQuery {
    let payments: BTreeSet<&str> = truth.money_in.iter().map(|m| m.key.as_str()).collect();
    let charges: BTreeSet<&str> = truth
        .refunds
        .iter()
        .map(|r| r.payment.as_str())
        .chain(truth.disputes.iter().map(|d| d.payment.as_str()))
        .collect();
    RecordQuery {
        payments: payments.into_iter().map(str::to_owned).collect(),
        charges: charges.into_iter().map(str::to_owned).collect(),
        subscriptions: truth.subscriptions.iter().map(|s| s.id.clone()).collect(),
    }
}

/// Whether a payment's money out is revenue: its Checkout Session or invoice (seen in the
/// window) decides; otherwise the bridge's ledger says whether it reported the money in, or the
/// policy counts every payment.
fn is_revenue(payment: &str, truth: &Truth, records: &Records, policy: &Policy) -> bool {
    match truth.payments.get(payment) {
        Some(in_scope) => *in_scope,
        None => {
            policy.unreported == UnreportedPayments::Count
                || records.charges.get(payment).is_some_and(|l| l.reported)
        }
    }
}

/// Revenue payments whose refunds in the window do not add up to what the bridge reported:
/// some of their refunds may predate the window, so all of them are read.
pub(crate) fn unexplained_refunds(
    truth: &Truth,
    records: &Records,
    policy: &Policy,
) -> Vec<String> {
    let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
    for refund in &truth.refunds {
        *sums.entry(&refund.payment).or_default() += refund.counted;
    }
    sums.into_iter()
        .filter(|(payment, sum)| {
            let reported = records
                .charges
                .get(*payment)
                .map_or(0, |l| l.refunded_reported);
            reported != *sum && is_revenue(payment, truth, records, policy)
        })
        .map(|(payment, _)| payment.to_owned())
        .collect()
}

/// Minor units per (day, currency): Stripe's, and the bridge's.
#[derive(Default)]
struct Tally(BTreeMap<(String, String), (i64, i64)>);

impl Tally {
    fn add(&mut self, at: i64, currency: &str, stripe: i64, recorded: i64) {
        let entry = self
            .0
            .entry((day(at), currency.to_ascii_uppercase()))
            .or_default();
        entry.0 += stripe;
        entry.1 += recorded;
    }
}

fn row(day: Option<String>, currency: &str, stripe: Decimal, recorded: Decimal) -> Row {
    Row {
        day,
        currency: currency.to_owned(),
        stripe,
        recorded,
        difference: with_scale(recorded - stripe, currency),
    }
}

#[derive(Default)]
struct Differ {
    out: Vec<Difference>,
}

impl Differ {
    #[allow(clippy::too_many_arguments)]
    fn money(
        &mut self,
        object: &str,
        kind: ObjectKind,
        currency: &str,
        at: i64,
        stripe: i64,
        recorded: i64,
        related: Option<&str>,
        detail: String,
    ) {
        if stripe == recorded {
            return;
        }
        self.out.push(Difference {
            object: object.to_owned(),
            kind,
            issue: if recorded == 0 {
                Issue::Missing
            } else {
                Issue::AmountDiffers
            },
            currency: currency.to_ascii_uppercase(),
            day: Some(day(at)),
            stripe: to_major(stripe, currency),
            recorded: to_major(recorded, currency),
            related: related.filter(|r| *r != object).map(str::to_owned),
            detail,
        });
    }
}

/// Compares everything; see the module docs of [`reconcile`](super).
pub(crate) fn compare(
    truth: &Truth,
    records: &Records,
    policy: &Policy,
    window: &ReconcileWindow,
) -> Report {
    let mut tally = Tally::default();
    let mut differ = Differ::default();
    let mut checked = Checked {
        payments: truth.money_in.len(),
        subscriptions: truth.subscriptions.len(),
        ..Checked::default()
    };

    // Money in: one journal entry per transaction.
    for m in &truth.money_in {
        tally.add(m.created, &m.currency, m.amount, 0);
        let (recorded, detail) = match records.payments.get(&m.key) {
            None => (0, format!("no money in recorded for transaction {}", m.key)),
            Some(r) if r.currency != m.currency => {
                tally.add(m.created, &r.currency, 0, r.amount);
                (
                    0,
                    format!(
                        "recorded as {} {} by {}",
                        to_major(r.amount, &r.currency),
                        r.currency.to_ascii_uppercase(),
                        r.event
                    ),
                )
            }
            Some(r) => {
                tally.add(m.created, &m.currency, 0, r.amount);
                (r.amount, format!("recorded by {}", r.event))
            }
        };
        differ.money(
            &m.object,
            m.kind,
            &m.currency,
            m.created,
            m.amount,
            recorded,
            Some(&m.key),
            detail,
        );
    }

    // Money out, per payment: refunds against its ledger's reported total, lost disputes by id.
    let mut refunds: BTreeMap<&str, Vec<&RefundFact>> = BTreeMap::new();
    for refund in &truth.refunds {
        refunds.entry(&refund.payment).or_default().push(refund);
    }
    let mut disputes: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for dispute in &truth.disputes {
        disputes.entry(&dispute.payment).or_default().push(dispute);
    }
    let payments: BTreeSet<&str> = refunds.keys().chain(disputes.keys()).copied().collect();
    for payment in payments {
        let its_refunds = refunds.remove(payment).unwrap_or_default();
        let its_disputes = disputes.remove(payment).unwrap_or_default();
        if !is_revenue(payment, truth, records, policy) {
            checked.not_revenue += its_refunds.len() + its_disputes.len();
            continue;
        }
        checked.refunds += its_refunds.len();
        checked.disputes += its_disputes.len();
        let ledger = records.charges.get(payment);
        money_out(payment, its_refunds, ledger, &mut tally, &mut differ);
        for d in its_disputes {
            let recorded = ledger
                .filter(|l| l.disputes_reported.contains(&d.id))
                .and_then(|l| l.disputes_lost.get(&d.id).copied())
                .unwrap_or(0);
            tally.add(d.created, &d.currency, -d.lost, -recorded);
            differ.money(
                &d.id,
                ObjectKind::Dispute,
                &d.currency,
                d.created,
                -d.lost,
                -recorded,
                Some(payment),
                if d.lost > 0 {
                    "lost dispute".into()
                } else {
                    "Stripe: not lost; recorded as lost".into()
                },
            );
        }
    }

    // MRR now: Stripe's by the mapping's definition against Σ mrr_impact sent.
    let mut mrr_totals: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    let no_learning = Learned::default();
    for subscription in &truth.subscriptions {
        let currency = subscription.currency.as_deref().unwrap_or("usd");
        let ledger = records.subscriptions.get(&subscription.id);
        // What the ledger learned from Stripe's invoices (tier amounts, inclusive tax ratios,
        // coupons named by id) completes the object, as in the mapping.
        let learned = ledger.map_or(&no_learning, |l| &l.learned);
        let stripe = with_scale(mrr(subscription, learned), currency);
        let recorded = with_scale(ledger.map_or(Decimal::ZERO, |l| l.reported_mrr), currency);
        let total = mrr_totals.entry(currency.to_ascii_uppercase()).or_default();
        total.0 += stripe;
        total.1 += recorded;
        if stripe == recorded {
            continue;
        }
        let detail = match ledger {
            None => "the bridge never saw this subscription (`stripe-pulsora adopt` brings it in)"
                .to_owned(),
            Some(l) if !l.baseline().is_zero() && recorded + l.baseline() == stripe => format!(
                "adopted with an MRR of {} that was never reported to Pulsora (`adopt --report-opening-mrr` reports it)",
                l.baseline()
            ),
            Some(_) => format!(
                "Stripe's {} is {}; Pulsora holds {recorded}",
                subscription.status.as_deref().unwrap_or("subscription"),
                stripe
            ),
        };
        differ.out.push(Difference {
            object: subscription.id.clone(),
            kind: ObjectKind::Subscription,
            issue: Issue::MrrDiffers,
            currency: currency.to_ascii_uppercase(),
            day: None,
            stripe,
            recorded,
            related: None,
            detail,
        });
    }

    let days: Vec<Row> = tally
        .0
        .iter()
        .filter(|(_, (s, r))| *s != 0 || *r != 0)
        .map(|((d, currency), (s, r))| {
            row(
                Some(d.clone()),
                currency,
                to_major(*s, currency),
                to_major(*r, currency),
            )
        })
        .collect();
    let mut money: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for ((_, currency), (s, r)) in &tally.0 {
        let total = money.entry(currency).or_default();
        total.0 += s;
        total.1 += r;
    }
    let mut differences = differ.out;
    differences.sort_by(|a, b| (&a.day, &a.object).cmp(&(&b.day, &b.object)));
    Report {
        since: window.since,
        until: window.until,
        days,
        money: money
            .into_iter()
            .filter(|(_, (s, r))| *s != 0 || *r != 0)
            .map(|(c, (s, r))| row(None, c, to_major(s, c), to_major(r, c)))
            .collect(),
        mrr: mrr_totals
            .into_iter()
            .filter(|(_, (s, r))| !s.is_zero() || !r.is_zero())
            .map(|(c, (s, r))| row(None, &c, s, r))
            .collect(),
        differences,
        checked,
    }
}

/// One payment's refunds: the refunded total the bridge reported is assigned to Stripe's
/// refunds, first to those its ledger knows by id, then to the others in order (a total learned
/// from a charge snapshot names no refund); what is left over, or missing, is a difference.
fn money_out(
    payment: &str,
    mut refunds: Vec<&RefundFact>,
    ledger: Option<&ChargeLedger>,
    tally: &mut Tally,
    differ: &mut Differ,
) {
    refunds.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    let mut budget = ledger.map_or(0, |l| l.refunded_reported);
    let mut assigned = vec![0i64; refunds.len()];
    for (i, refund) in refunds.iter().enumerate() {
        let known = ledger
            .and_then(|l| l.refunds.get(&refund.id))
            .filter(|entry| entry.failed_at.is_none())
            .map_or(0, |entry| entry.amount);
        let give = known.min(budget).max(0);
        assigned[i] = give;
        budget -= give;
    }
    for (i, refund) in refunds.iter().enumerate() {
        let give = (refund.counted - assigned[i]).min(budget).max(0);
        assigned[i] += give;
        budget -= give;
    }
    for (refund, recorded) in refunds.iter().zip(&assigned) {
        tally.add(refund.created, &refund.currency, -refund.counted, -recorded);
        let detail = match (refund.counted, *recorded) {
            (0, _) => "Stripe: failed or cancelled; recorded as refunded".to_owned(),
            (_, 0) => format!("refund of {payment} not recorded"),
            _ => format!("refund of {payment} recorded with another amount"),
        };
        differ.money(
            &refund.id,
            ObjectKind::Refund,
            &refund.currency,
            refund.created,
            -refund.counted,
            -recorded,
            Some(payment),
            detail,
        );
    }
    if budget != 0 {
        let currency = ledger
            .and_then(|l| l.currency.clone())
            .or_else(|| refunds.first().map(|r| r.currency.clone()))
            .unwrap_or_default();
        let at = ledger
            .and_then(|l| l.snapshot.map(|s| s.created))
            .or_else(|| refunds.last().map(|r| r.created))
            .unwrap_or(0);
        tally.add(at, &currency, 0, -budget);
        differ.money(
            payment,
            ObjectKind::Payment,
            &currency,
            at,
            0,
            -budget,
            Some(payment),
            "refunded total recorded beyond Stripe's refunds of this payment".into(),
        );
    }
}
