//! Scenario tests of the invariants: money once, MRR adds up, exact money — in Stripe's order,
//! shuffled, and with every event delivered twice.

use pulsora::{EventType as Kind, RevenueEvent as Draft};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;
use stripe_revenue::fixtures::{scenario, ApiShape};
use stripe_revenue::state::MemoryState;
use stripe_revenue::{is_collected_money, map_event, subjects, Policy};
use stripe_webhook_guard::VerifiedStripeEvent;

fn verified(event: &serde_json::Value) -> VerifiedStripeEvent {
    VerifiedStripeEvent::from_verified_bytes(bytes::Bytes::from(event.to_string())).unwrap()
}

/// Runs events through the pure mapping the way `RevenueSync` does: load context, map, skip
/// transactions already sent, remember the updates.
fn run(events: &[serde_json::Value]) -> Vec<Draft> {
    run_with(&Policy::default(), events)
}

fn run_with(policy: &Policy, events: &[serde_json::Value]) -> Vec<Draft> {
    let mut state = MemoryState::default();
    let mut sent = Vec::new();
    for event in events {
        let event = verified(event);
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
    every_delivery_with(name, shape, &Policy::default())
}

fn every_delivery_with(name: &str, shape: ApiShape, policy: &Policy) -> Vec<(String, Vec<Draft>)> {
    let events = scenario(name, shape, 1_700_000_000).unwrap();
    every_order_of(&events, policy)
}

/// Stripe's order, every rotation, reversed, interleaved — each also with every event twice.
fn every_order_of(events: &[serde_json::Value], policy: &Policy) -> Vec<(String, Vec<Draft>)> {
    let mut runs = Vec::new();
    for (i, order) in orders(events).into_iter().enumerate() {
        runs.push((format!("order {i}"), run_with(policy, &order)));
        runs.push((
            format!("order {i} doubled"),
            run_with(policy, &doubled(&order)),
        ));
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
            format!("pi_demo_{n}_refund_1"),
            format!("pi_demo_{n}_refund_2"),
        ]
    );
    for d in &drafts {
        assert_eq!(d.visitor_fingerprint, format!("fp_demo_{n}"));
        assert_eq!(d.session_id, format!("sess_demo_{n}"));
    }
    let amounts: Vec<_> = drafts.iter().map(|d| d.amount.to_string()).collect();
    assert_eq!(amounts, vec!["49.99", "-10.00", "-15.00"]);
}

// ---- Money truth for real accounts (issue 12): each case in Stripe's order, every rotation,
// reversed, interleaved, and with every event delivered twice; Σ money = Stripe's ground truth.

use stripe_revenue::fixtures::{charge, checkout_payment, connected, event, live, refund};
use stripe_revenue::{Connect, Livemode, Tax, UnreportedPayments};

const BOTH: [ApiShape; 2] = [ApiShape::Basil, ApiShape::Legacy];

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn assert_money(name: &str, policy: &Policy, currency: &str, truth: &str) {
    for shape in BOTH {
        for (label, drafts) in every_delivery_with(name, shape, policy) {
            assert_eq!(
                money(&drafts, currency),
                dec(truth),
                "{name} {shape:?} {label}: {:#?}",
                drafts
                    .iter()
                    .map(|d| (&d.transaction_id, d.amount))
                    .collect::<Vec<_>>()
            );
            assert_unique_transactions(&drafts);
        }
    }
}

#[test]
fn checkout_with_invoice_creation_is_one_payment_excluding_tax() {
    // 59.50 paid, 9.50 of it tax: session, invoice.paid, invoice.payment_succeeded (and the
    // basil invoice payment) are one transaction, keyed by the invoice.
    assert_money("checkout_invoice", &Policy::default(), "EUR", "50.00");
    for shape in BOTH {
        for (label, drafts) in every_delivery_of("checkout_invoice", shape) {
            let n = 1_700_000_000 % 1_000_000;
            assert_eq!(drafts.len(), 1, "{label}");
            assert_eq!(
                drafts[0].transaction_id,
                format!("in_demo_{n}_co"),
                "{label}"
            );
            assert_eq!(
                drafts[0].metadata.as_ref().unwrap()["tax"],
                "9.50",
                "{label}"
            );
        }
    }
    // The gross setting keeps the tax in the revenue.
    assert_money(
        "checkout_invoice",
        &Policy::default().tax(Tax::Include),
        "EUR",
        "59.50",
    );
}

#[test]
fn a_lost_dispute_takes_the_money_out_once_a_won_one_does_not() {
    assert_money("dispute_lost", &Policy::default(), "USD", "0.00");
    assert_money("dispute_won", &Policy::default(), "USD", "49.99");
    let drafts = run(&scenario("dispute_lost", ApiShape::Basil, 1_700_000_000).unwrap());
    let n = 1_700_000_000 % 1_000_000;
    assert_eq!(
        drafts.last().unwrap().transaction_id,
        format!("dp_demo_{n}")
    );
    assert_eq!(drafts.last().unwrap().event_type, Some(Kind::Refund));
}

#[test]
fn a_failed_refund_gives_the_money_back_once() {
    assert_money("refund_failed", &Policy::default(), "USD", "100.00");
    // In Stripe's order: the refund goes out, then comes back as a refund of the opposite sign.
    let drafts = run(&scenario("refund_failed", ApiShape::Legacy, 1_700_000_000).unwrap());
    let story: Vec<_> = drafts
        .iter()
        .map(|d| (d.event_type.unwrap(), d.amount.to_string()))
        .collect();
    assert_eq!(
        story,
        vec![
            (Kind::Purchase, "100.00".into()),
            (Kind::Refund, "-20.00".into()),
            (Kind::Refund, "20.00".into()),
        ]
    );
    assert_eq!(drafts[2].metadata.as_ref().unwrap()["reversal"], true);
}

#[test]
fn a_released_authorisation_is_not_a_refund() {
    // Even when refunds of unreported payments are counted, nothing was captured.
    let count = Policy::default().unreported_payments(UnreportedPayments::Count);
    assert_money("uncaptured_release", &count, "USD", "0.00");
    assert_money("uncaptured_release", &Policy::default(), "USD", "0.00");
}

#[test]
fn refunds_never_exceed_what_was_captured() {
    // 100.00 authorised, 60.00 captured, then 60.00 refunded. Before basil Stripe also records
    // the released 40.00 as refunded (amount_refunded 100.00, plus its own refund object);
    // from basil on it does not.
    let count = Policy::default().unreported_payments(UnreportedPayments::Count);
    let pi = "pi_partial_1";
    for (shape, refunded) in [(ApiShape::Legacy, 10_000), (ApiShape::Basil, 6000)] {
        let mut events = vec![
            event(
                "evt_partial_1",
                "charge.refunded",
                1_700_000_100,
                shape,
                charge(pi, None, 10_000, 6000, refunded, "usd", shape, None),
                None,
            ),
            event(
                "evt_partial_2",
                "refund.created",
                1_700_000_100,
                shape,
                refund("re_partial_b", pi, 6000, "succeeded", "usd", 1_700_000_100),
                None,
            ),
        ];
        if shape == ApiShape::Legacy {
            events.push(event(
                "evt_partial_3",
                "refund.created",
                1_700_000_050,
                shape,
                refund("re_partial_a", pi, 4000, "succeeded", "usd", 1_700_000_050),
                None,
            ));
        }
        for (label, drafts) in every_order_of(&events, &count) {
            assert_eq!(money(&drafts, "USD"), dec("-60.00"), "{shape:?} {label}");
        }
    }
}

#[test]
fn refunds_of_payments_the_bridge_never_reported_follow_the_policy() {
    // Default: Pulsora never saw the sale, so it never sees its refund.
    assert_money("unreported_refund", &Policy::default(), "USD", "0.00");
    for shape in BOTH {
        for (label, drafts) in every_delivery_of("unreported_refund", shape) {
            assert!(drafts.is_empty(), "{label}: {drafts:?}");
        }
    }
    // Counted: the refund goes out once, as Stripe reports it.
    let count = Policy::default().unreported_payments(UnreportedPayments::Count);
    assert_money("unreported_refund", &count, "USD", "-30.00");
}

#[test]
fn refunds_held_for_an_unlinked_payment_go_out_when_its_purchase_arrives() {
    // Refunds first, purchase last (a rotation the scenario tests also cover): nothing is lost.
    let mut events = scenario("purchase_refunds", ApiShape::Basil, 1_700_000_000).unwrap();
    events.rotate_left(1);
    let drafts = run(&events);
    assert_eq!(money(&drafts, "USD"), dec("24.99"));
}

#[test]
fn test_mode_and_connect_events_are_not_the_platforms_live_revenue() {
    let live_only = Policy::default().livemode(Livemode::Live);
    assert_money("mode_and_connect_noise", &live_only, "USD", "30.00");
    // Test mode only: the test purchase and its refund.
    let test_only = Policy::default().livemode(Livemode::Test);
    assert_money("mode_and_connect_noise", &test_only, "USD", "0.00");
    for (label, drafts) in
        every_delivery_with("mode_and_connect_noise", ApiShape::Basil, &test_only)
    {
        assert_eq!(drafts.len(), 2, "{label}");
    }
    // Connect included: the connected account's sale counts, and says whose it is.
    let include = Policy::default()
        .livemode(Livemode::Live)
        .connect(Connect::Include);
    assert_money("mode_and_connect_noise", &include, "USD", "107.00");
    let drafts = run_with(
        &include,
        &scenario("mode_and_connect_noise", ApiShape::Basil, 1_700_000_000).unwrap(),
    );
    let connected_sale = drafts.iter().find(|d| d.amount == dec("77.00")).unwrap();
    assert_eq!(
        connected_sale.metadata.as_ref().unwrap()["stripe_account"],
        "acct_demo_connected"
    );
}

#[test]
fn scope_filter_reports_the_reason() {
    let n = 1_700_000_000 % 1_000_000;
    let test_event = event(
        "evt_scope_1",
        "checkout.session.completed",
        1_700_000_000,
        ApiShape::Basil,
        checkout_payment(n, 100, "usd", 1_700_000_000),
        None,
    );
    let live_event = live(test_event.clone());
    let connect_event = connected(live_event.clone(), "acct_1");
    let cases = [
        (Livemode::Live, &test_event, Some("test_mode")),
        (Livemode::Test, &live_event, Some("live_mode")),
        (Livemode::Live, &connect_event, Some("connect_account")),
        (Livemode::Any, &test_event, None),
    ];
    for (mode, raw, reason) in cases {
        let mapping = map_event(
            &verified(raw),
            &Default::default(),
            &Policy::default().livemode(mode),
        )
        .unwrap();
        assert_eq!(mapping.ignored.map(|r| r.as_str()), reason, "{mode:?}");
        assert_eq!(mapping.events.is_empty(), reason.is_some());
    }
}

#[test]
fn the_seed_guides_invoice_payment_succeeded_counts_and_both_invoice_events_count_once() {
    for shape in BOTH {
        let events = scenario("subscription_lifecycle", shape, 1_700_000_000).unwrap();
        let renamed: Vec<_> = events
            .iter()
            .map(|e| {
                let mut e = e.clone();
                if e["type"] == "invoice.paid" {
                    e["type"] = "invoice.payment_succeeded".into();
                }
                e
            })
            .collect();
        let mut both = events.clone();
        for (i, e) in events.iter().enumerate() {
            if e["type"] == "invoice.paid" {
                let mut twin = e.clone();
                twin["type"] = "invoice.payment_succeeded".into();
                twin["id"] = format!("evt_twin_{i}").into();
                both.push(twin);
            }
        }
        // The seed's list alone: money and MRR as with invoice.paid.
        for (label, drafts) in every_order_of(&renamed, &Policy::default()) {
            assert_eq!(money(&drafts, "USD"), dec("60.00"), "{shape:?} {label}");
            assert_eq!(
                mrr_by_subscription(&drafts)
                    .values()
                    .copied()
                    .sum::<Decimal>(),
                Decimal::ZERO,
                "{shape:?} {label}"
            );
        }
        // Both events for every invoice: each invoice's money once (MRR across such twins is
        // the MRR ledger's business, issue 13).
        for (label, drafts) in every_order_of(&both, &Policy::default()) {
            assert_eq!(money(&drafts, "USD"), dec("60.00"), "{shape:?} {label}");
            assert_unique_transactions(&drafts);
        }
    }
}
