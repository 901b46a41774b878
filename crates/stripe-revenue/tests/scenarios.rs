//! Scenario tests of the invariants: money once, MRR adds up, exact money — in Stripe's order,
//! shuffled, and with every event delivered twice.

use pulsora::{EventType as Kind, RevenueEvent as Draft};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;
use stripe_revenue::fixtures::{scenario, ApiShape};
use stripe_revenue::state::MemoryState;
use stripe_revenue::{is_collected_money, map_event, subjects, Policy};
use stripe_webhook::VerifiedStripeEvent;

fn verified(event: &serde_json::Value) -> VerifiedStripeEvent {
    VerifiedStripeEvent::from_verified_bytes(bytes::Bytes::from(event.to_string())).unwrap()
}

/// Runs events through the pure mapping the way `RevenueSync` does: load context, map, skip
/// transactions already sent, remember the updates.
fn run(events: &[serde_json::Value]) -> Vec<Draft> {
    let policy = Policy::default();
    let mut state = MemoryState::default();
    let mut sent = Vec::new();
    for event in events {
        let event = verified(event);
        let context = state.context(&subjects(&event).unwrap());
        let mapping = map_event(&event, &context, &policy).unwrap();
        for draft in mapping.events {
            if state.mark_sent(&draft.transaction_id) {
                sent.push(draft);
            }
        }
        state.apply(&mapping.updates);
    }
    sent
}

/// Deterministic shuffles (no rand dependency): every rotation and its reverse.
fn orders(events: &[serde_json::Value]) -> Vec<Vec<serde_json::Value>> {
    let mut out = vec![events.to_vec()];
    for r in 1..events.len() {
        let mut rotated = events.to_vec();
        rotated.rotate_left(r);
        out.push(rotated);
    }
    let mut reversed = events.to_vec();
    reversed.reverse();
    out.push(reversed);
    // An interleaving: odd positions first, then even.
    out.push(
        events
            .iter()
            .skip(1)
            .step_by(2)
            .chain(events.iter().step_by(2))
            .cloned()
            .collect(),
    );
    out
}

fn doubled(events: &[serde_json::Value]) -> Vec<serde_json::Value> {
    events.iter().flat_map(|e| [e.clone(), e.clone()]).collect()
}

fn money(drafts: &[Draft], currency: &str) -> Decimal {
    drafts
        .iter()
        .filter(|d| {
            d.currency.as_deref() == Some(currency)
                && d.event_type
                    .is_some_and(|k| is_collected_money(k) || k == Kind::Refund)
        })
        .map(|d| d.amount)
        .sum()
}

fn mrr_by_subscription(drafts: &[Draft]) -> BTreeMap<String, Decimal> {
    let mut out = BTreeMap::new();
    for d in drafts {
        if let (Some(sub), Some(mrr)) = (&d.customer_subscription_id, d.mrr_impact) {
            *out.entry(sub.clone()).or_insert(Decimal::ZERO) += mrr;
        }
    }
    out
}

fn assert_unique_transactions(drafts: &[Draft]) {
    let mut seen = HashSet::new();
    for d in drafts {
        assert!(
            seen.insert(&d.transaction_id),
            "transaction id {} sent twice",
            d.transaction_id
        );
    }
}

fn every_delivery_of(name: &str, shape: ApiShape) -> Vec<(String, Vec<Draft>)> {
    let events = scenario(name, shape, 1_700_000_000).unwrap();
    let mut runs = Vec::new();
    for (i, order) in orders(&events).into_iter().enumerate() {
        runs.push((format!("order {i}"), run(&order)));
        runs.push((format!("order {i} doubled"), run(&doubled(&order))));
    }
    runs
}

#[test]
fn purchase_then_two_partial_refunds() {
    for shape in [ApiShape::Basil, ApiShape::Legacy] {
        for (label, drafts) in every_delivery_of("purchase_refunds", shape) {
            // Collected 49.99, refunded 25.00 in total (10.00 then 15.00).
            assert_eq!(
                money(&drafts, "USD"),
                Decimal::from_str("24.99").unwrap(),
                "{label}"
            );
            let refunds: Decimal = drafts
                .iter()
                .filter(|d| d.event_type == Some(Kind::Refund))
                .map(|d| d.amount)
                .sum();
            assert_eq!(refunds, Decimal::from_str("-25.00").unwrap(), "{label}");
            assert_unique_transactions(&drafts);
            assert!(
                drafts
                    .iter()
                    .all(|d| d.visitor_fingerprint.starts_with("fp_demo_")
                        || d.event_type == Some(Kind::Refund)),
                "{label}"
            );
        }
    }
}

#[test]
fn subscription_from_checkout_to_cancel() {
    for shape in [ApiShape::Basil, ApiShape::Legacy] {
        for (label, drafts) in every_delivery_of("subscription_lifecycle", shape) {
            // Three paid invoices of 20.00.
            assert_eq!(
                money(&drafts, "USD"),
                Decimal::from_str("60.00").unwrap(),
                "{label} {shape:?}"
            );
            // Canceled: MRR over the subscription's life sums to 0.
            assert_eq!(
                mrr_by_subscription(&drafts)
                    .values()
                    .copied()
                    .sum::<Decimal>(),
                Decimal::ZERO,
                "{label} {shape:?}"
            );
            assert_unique_transactions(&drafts);
        }
    }
}

#[test]
fn subscription_lifecycle_in_order_tells_the_story() {
    let drafts = run(&scenario("subscription_lifecycle", ApiShape::Basil, 1_700_000_000).unwrap());
    let kinds: Vec<_> = drafts
        .iter()
        .map(|d| (d.event_type.unwrap(), d.mrr_impact.map(|m| m.to_string())))
        .collect();
    assert_eq!(
        kinds,
        vec![
            // The first invoice starts the MRR; `incomplete → active` then has nothing to add.
            (Kind::Subscription, Some("20.00".into())),
            (Kind::Renewal, Some("0.00".into())),
            (Kind::Renewal, Some("0.00".into())),
            (Kind::Upgrade, Some("40.00".into())),
            (Kind::Downgrade, Some("-30.00".into())),
            (Kind::Churn, Some("-30.00".into())),
        ]
    );
}

#[test]
fn trial_converts_then_churns() {
    for shape in [ApiShape::Basil, ApiShape::Legacy] {
        for (label, drafts) in every_delivery_of("trial_conversion", shape) {
            assert_eq!(
                money(&drafts, "USD"),
                Decimal::from_str("15.00").unwrap(),
                "{label} {shape:?}"
            );
            assert_eq!(
                mrr_by_subscription(&drafts)
                    .values()
                    .copied()
                    .sum::<Decimal>(),
                Decimal::ZERO,
                "{label} {shape:?}"
            );
            assert_unique_transactions(&drafts);
        }
    }
}

#[test]
fn trial_conversion_in_order_reports_mrr_once_with_the_first_payment() {
    let drafts = run(&scenario("trial_conversion", ApiShape::Legacy, 1_700_000_000).unwrap());
    let kinds: Vec<_> = drafts
        .iter()
        .map(|d| (d.event_type.unwrap(), d.mrr_impact.map(|m| m.to_string())))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Kind::Subscription, Some("15.00".into())),
            (Kind::Churn, Some("-15.00".into()))
        ]
    );
}

#[test]
fn zero_and_three_decimal_purchases_are_exact() {
    for (label, drafts) in every_delivery_of("jpy_kwd", ApiShape::Basil) {
        assert_eq!(money(&drafts, "JPY").to_string(), "5000", "{label}");
        assert_eq!(money(&drafts, "KWD").to_string(), "12.340", "{label}");
        assert_eq!(drafts.len(), 2, "{label}");
    }
}

#[test]
fn refunds_learn_attribution_from_the_purchase_and_get_unique_ids() {
    let drafts = run(&scenario("purchase_refunds", ApiShape::Basil, 1_700_000_000).unwrap());
    let n = 1_700_000_000 % 1_000_000;
    let ids: Vec<_> = drafts.iter().map(|d| d.transaction_id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            format!("pi_demo_{n}"),
            format!("ch_demo_{n}_refund_1000"),
            format!("ch_demo_{n}_refund_2500"),
        ]
    );
    for d in &drafts {
        assert_eq!(d.visitor_fingerprint, format!("fp_demo_{n}"));
        assert_eq!(d.session_id, format!("sess_demo_{n}"));
    }
    let amounts: Vec<_> = drafts.iter().map(|d| d.amount.to_string()).collect();
    assert_eq!(amounts, vec!["49.99", "-10.00", "-15.00"]);
}
