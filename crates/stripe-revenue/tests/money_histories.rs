//! Property test of the money rules: random account histories — Checkout purchases with and
//! without invoice creation (the invoice announced by `invoice.paid`, `invoice.payment_succeeded`
//! or both), tax, partial refunds, refunds that fail later, authorisations released without
//! capture, disputes won and lost, test-mode and Connect noise — delivered in a random order with
//! duplicates, in either API shape. Σ money sent to Pulsora must equal a deliberately simple model
//! of Stripe: per payment, captured − tax − refunds that succeeded − lost disputes, live and
//! own-account only.

#[path = "support/money_history.rs"]
mod money_history;

use money_history::{events, payment};
use proptest::prelude::*;
use pulsora::{EventType as Kind, RevenueEvent as Draft};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;
use stripe_revenue::fixtures::ApiShape;
use stripe_revenue::state::MemoryState;
use stripe_revenue::{is_collected_money, map_event, subjects, Livemode, Policy};
use stripe_webhook_guard::VerifiedStripeEvent;

/// The pure mapping the way `RevenueSync` runs it: load context, map, skip transactions already
/// sent, remember the updates.
fn run(policy: &Policy, events: &[Value]) -> Vec<Draft> {
    let mut state = MemoryState::default();
    let mut sent = Vec::new();
    for event in events {
        let event = VerifiedStripeEvent::from_verified_bytes(bytes::Bytes::from(event.to_string()))
            .unwrap();
        let context = state.context(&subjects(&event).unwrap());
        let mapping = map_event(&event, &context, policy).unwrap();
        for draft in mapping.events {
            if state.mark_sent(&draft.transaction_id) {
                sent.push(draft);
            }
        }
        state.apply(&mapping.updates);
    }
    sent
}

fn minor_to_major(minor: i64, currency: &str) -> Decimal {
    let exponent = if currency == "jpy" { 0 } else { 2 };
    Decimal::new(minor, exponent)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn money_sent_equals_stripes_net_volume(
        payments in proptest::collection::vec(payment(), 1..6),
        basil in any::<bool>(),
        order in proptest::collection::vec(any::<u32>(), 80),
        duplicates in proptest::collection::vec(0u8..4, 80),
    ) {
        let shape = if basil { ApiShape::Basil } else { ApiShape::Legacy };
        let t0 = 1_700_000_000;
        let mut all = Vec::new();
        let mut truth: BTreeMap<String, Decimal> = BTreeMap::new();
        for (i, p) in payments.iter().enumerate() {
            let n = 900_000 + i as u32;
            all.extend(events(n, p, shape, t0 + i as i64 * 7));
            *truth.entry(p.currency.to_ascii_uppercase()).or_default() +=
                minor_to_major(p.truth(), p.currency);
        }
        // A random delivery order, with about a quarter of the events delivered twice.
        let mut delivery: Vec<(u32, Value)> = Vec::new();
        for (i, e) in all.iter().enumerate() {
            delivery.push((order[i % order.len()].wrapping_add(i as u32), e.clone()));
            if duplicates[i % duplicates.len()] == 0 {
                delivery.push((order[(i * 7 + 3) % order.len()], e.clone()));
            }
        }
        delivery.sort_by_key(|(key, _)| *key);
        let delivery: Vec<Value> = delivery.into_iter().map(|(_, e)| e).collect();

        let policy = Policy::default().livemode(Livemode::Live);
        let sent = run(&policy, &delivery);
        let mut money: BTreeMap<String, Decimal> = BTreeMap::new();
        for d in &sent {
            if d.event_type.is_some_and(|k| is_collected_money(k) || k == Kind::Refund) {
                *money.entry(d.currency.clone().unwrap_or_default()).or_default() += d.amount;
            }
        }
        money.retain(|_, v| !v.is_zero());
        truth.retain(|_, v| !v.is_zero());
        prop_assert_eq!(&money, &truth, "payments {:#?}", payments);
        let mut ids: Vec<&str> = sent.iter().map(|d| d.transaction_id.as_str()).collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        prop_assert_eq!(ids.len(), count, "a transaction id was sent twice");
    }
}
