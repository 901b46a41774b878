// Shared by the money property test and the reconcile acceptance test.
#![allow(dead_code)]
//! The money-history generator: random payments (Checkout purchases with and without invoice
//! creation, tax, partial refunds that may fail later, released authorisations, disputes won
//! and lost, test-mode and Connect noise), the events Stripe sends for each, and the simple
//! model of what each is worth.

use proptest::prelude::*;
use serde_json::Value;
use stripe_revenue::fixtures::{
    charge, checkout_payment_with, connected, dispute, event, invoice_payment, live,
    one_off_invoice, refund, ApiShape,
};

pub const DAY: i64 = 86_400;

/// Who a payment belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scope {
    Live,
    TestMode,
    Connected,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DisputeEnd {
    None,
    Won,
    Lost,
}

/// One payment's life, as the model sees it.
#[derive(Debug, Clone)]
pub struct Payment {
    pub scope: Scope,
    pub currency: &'static str,
    /// Minor units charged, tax included.
    pub amount: i64,
    pub tax: i64,
    /// `None`: no invoice; `Some((paid, payment_succeeded))`: which invoice events Stripe sends.
    pub invoice: Option<(bool, bool)>,
    /// Refunds in order: (amount, fails later).
    pub refunds: Vec<(i64, bool)>,
    pub dispute: DisputeEnd,
    /// An authorisation released without capture: no money at all.
    pub released: bool,
}

impl Payment {
    /// The simple model: what Stripe's net volume says this payment is worth, in minor units.
    pub fn truth(&self) -> i64 {
        if self.scope != Scope::Live || self.released {
            return 0;
        }
        let refunded: i64 = self
            .refunds
            .iter()
            .filter(|(_, f)| !f)
            .map(|(a, _)| a)
            .sum();
        let disputed = if self.dispute == DisputeEnd::Lost {
            self.amount - refunded
        } else {
            0
        };
        self.amount - self.tax - refunded - disputed
    }
}

pub fn payment() -> impl Strategy<Value = Payment> {
    let scope = prop_oneof![
        6 => Just(Scope::Live),
        1 => Just(Scope::TestMode),
        1 => Just(Scope::Connected)
    ];
    let currency = prop_oneof![Just("usd"), Just("eur"), Just("jpy")];
    let invoice = prop_oneof![
        Just(None),
        Just(Some((true, false))),
        Just(Some((false, true))),
        Just(Some((true, true)))
    ];
    let dispute = prop_oneof![
        4 => Just(DisputeEnd::None),
        1 => Just(DisputeEnd::Won),
        1 => Just(DisputeEnd::Lost)
    ];
    (
        scope,
        currency,
        1_000i64..50_000,
        invoice,
        proptest::collection::vec((1i64..=30, any::<bool>()), 0..3),
        dispute,
        0u8..10,
        0u8..4,
    )
        .prop_map(
            |(scope, currency, amount, invoice, refund_parts, dispute, released, taxed)| {
                let released = released == 0;
                // Tax only on payments without refunds or disputes: how a refund splits tax is a
                // rule of its own, outside this model.
                let plain = refund_parts.is_empty() && dispute == DisputeEnd::None;
                let tax = if plain && taxed == 0 { amount / 6 } else { 0 };
                // Refunds of a few percent each, so their sum never exceeds the amount.
                let refunds = refund_parts
                    .into_iter()
                    .map(|(percent, fails)| (amount * percent / 100, fails))
                    .filter(|(a, _)| *a > 0)
                    .collect();
                Payment {
                    scope,
                    currency,
                    amount,
                    tax,
                    invoice,
                    refunds: if released { Vec::new() } else { refunds },
                    dispute: if released { DisputeEnd::None } else { dispute },
                    released,
                }
            },
        )
}

/// The events Stripe would send for payment `n`, in the order it creates them.
pub fn events(n: u32, p: &Payment, shape: ApiShape, t0: i64) -> Vec<Value> {
    let pi = format!("pi_demo_{n}");
    let customer = format!("cus_demo_{n}");
    let mut k = 0;
    let mut out = Vec::new();
    let mut ev = |ty: &str, at: i64, object: Value| {
        k += 1;
        out.push(event(
            &format!("evt_h_{n}_{k}"),
            ty,
            at,
            shape,
            object,
            None,
        ));
    };
    if p.released {
        ev(
            "charge.refunded",
            t0 + 3600,
            charge(
                &pi,
                Some(&customer),
                p.amount,
                0,
                p.amount,
                p.currency,
                shape,
                None,
            ),
        );
        ev(
            "refund.created",
            t0 + 3600,
            refund(
                &format!("re_h_{n}_0"),
                &pi,
                p.amount,
                "succeeded",
                p.currency,
                t0 + 3600,
            ),
        );
    } else {
        let invoice = p.invoice.map(|_| format!("in_h_{n}"));
        ev(
            "checkout.session.completed",
            t0,
            checkout_payment_with(n, p.amount, p.tax, p.currency, t0, invoice.as_deref()),
        );
        if let (Some(id), Some((paid, succeeded))) = (&invoice, p.invoice) {
            let object = one_off_invoice(id, n, p.amount, p.tax, p.currency, t0 + 1, shape, &pi);
            if paid {
                ev("invoice.paid", t0 + 1, object.clone());
            }
            if succeeded {
                ev("invoice.payment_succeeded", t0 + 1, object);
            }
            if shape == ApiShape::Basil {
                ev(
                    "invoice_payment.paid",
                    t0 + 1,
                    invoice_payment(id, p.amount, p.currency, &pi),
                );
            }
        }
        // Refund i at day i+1; a failing one fails half a day later, before the next snapshot.
        let mut standing = 0;
        for (i, (amount, fails)) in p.refunds.iter().enumerate() {
            let at = t0 + (i as i64 + 1) * DAY;
            let id = format!("re_h_{n}_{i}");
            standing += amount;
            let snapshot = charge(
                &pi,
                Some(&customer),
                p.amount,
                p.amount,
                standing,
                p.currency,
                shape,
                invoice.as_deref().filter(|_| shape == ApiShape::Legacy),
            );
            ev("charge.refunded", at, snapshot);
            ev(
                "refund.created",
                at,
                refund(&id, &pi, *amount, "pending", p.currency, at),
            );
            if *fails {
                let failed = refund(&id, &pi, *amount, "failed", p.currency, at);
                ev("charge.refund.updated", at + DAY / 2, failed.clone());
                ev("refund.failed", at + DAY / 2, failed);
                standing -= amount;
            } else {
                ev(
                    "refund.updated",
                    at + 60,
                    refund(&id, &pi, *amount, "succeeded", p.currency, at),
                );
            }
        }
        if p.dispute != DisputeEnd::None {
            let refunded: i64 = p.refunds.iter().filter(|(_, f)| !f).map(|(a, _)| a).sum();
            let disputed = p.amount - refunded;
            let dp = format!("dp_h_{n}");
            let at = t0 + 10 * DAY;
            ev(
                "charge.dispute.created",
                at,
                dispute(&dp, &pi, disputed, "needs_response", p.currency),
            );
            ev(
                "charge.dispute.funds_withdrawn",
                at + 1,
                dispute(&dp, &pi, disputed, "needs_response", p.currency),
            );
            let won = p.dispute == DisputeEnd::Won;
            if won {
                ev(
                    "charge.dispute.funds_reinstated",
                    at + 20 * DAY,
                    dispute(&dp, &pi, disputed, "won", p.currency),
                );
            }
            ev(
                "charge.dispute.closed",
                at + 20 * DAY + 1,
                dispute(
                    &dp,
                    &pi,
                    disputed,
                    if won { "won" } else { "lost" },
                    p.currency,
                ),
            );
        }
    }
    match p.scope {
        Scope::Live => out.into_iter().map(live).collect(),
        Scope::TestMode => out,
        Scope::Connected => out
            .into_iter()
            .map(|e| connected(live(e), "acct_h_connected"))
            .collect(),
    }
}
