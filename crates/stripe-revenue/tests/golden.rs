//! Golden tests: each supported Stripe event, in both API shapes (before and after
//! `2025-03-31.basil`), mapped with no prior state → the exact Pulsora request bodies.
//!
//! The expected files in `tests/golden/` were reviewed by hand against Stripe's and Pulsora's
//! documentation. After an intended change, regenerate with `UPDATE_GOLDEN=1 cargo test -p
//! stripe-revenue --test golden` and review the diff.

use std::collections::BTreeMap;
use std::path::PathBuf;
use stripe_revenue::fixtures::{single, ApiShape, EVENT_TYPES};
use stripe_revenue::state::{ChargeLedger, Context, RefundEntry};
use stripe_revenue::{map_event, Policy, UnreportedPayments};
use stripe_webhook_guard::VerifiedStripeEvent;

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.golden"))
}

/// A golden file: the Stripe event (pretty JSON), then each Pulsora `data` object exactly as the
/// client serializes it, one per line (exact decimal text, field order as sent).
fn check(name: &str, stripe_event: &serde_json::Value, events: &[pulsora::RevenueEvent]) {
    let path = golden_path(name);
    let mut pretty = serde_json::to_string_pretty(stripe_event).unwrap();
    pretty.push_str("\n=== Pulsora data ===\n");
    for event in events {
        pretty.push_str(&serde_json::to_string(event).unwrap());
        pretty.push('\n');
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &pretty).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert_eq!(pretty, expected, "{name} differs from {}", path.display());
}

fn bodies(event: &serde_json::Value, policy: &Policy) -> Vec<pulsora::RevenueEvent> {
    bodies_in(event, &Context::default(), policy)
}

fn bodies_in(
    event: &serde_json::Value,
    context: &Context,
    policy: &Policy,
) -> Vec<pulsora::RevenueEvent> {
    let verified =
        VerifiedStripeEvent::from_verified_bytes(bytes::Bytes::from(event.to_string())).unwrap();
    map_event(&verified, context, policy).unwrap().events
}

/// The payment of the fixtures' customer as the bridge knows it after the purchase and a 10.00
/// refund `re_demo_…` (reported as `…_refund_1`): the state the money-out events meet.
fn paid_and_partly_refunded(reported: bool) -> Context {
    let n = T0 % 1_000_000;
    Context {
        charge: Some(ChargeLedger {
            refunded_reported: if reported { 1000 } else { 0 },
            reported,
            currency: Some("usd".into()),
            customer: Some(format!("cus_demo_{n}")),
            refunds: BTreeMap::from([(
                format!("re_demo_{n}"),
                RefundEntry {
                    amount: 1000,
                    created: T0 - 86_400,
                    failed_at: None,
                },
            )]),
            adjustments: u32::from(reported),
            ..ChargeLedger::default()
        }),
        ..Context::default()
    }
}

#[test]
fn every_event_type_in_both_api_shapes() {
    for shape in [ApiShape::Basil, ApiShape::Legacy] {
        for event_type in EVENT_TYPES {
            let event = single(event_type, shape, T0).unwrap();
            // Money out meets a reported, partly refunded payment; an invoice payment meets one
            // whose refund waits for the link to its invoice.
            let context = match event_type {
                "charge.refunded"
                | "refund.failed"
                | "charge.refund.updated"
                | "charge.dispute.closed" => paid_and_partly_refunded(true),
                "invoice_payment.paid" => paid_and_partly_refunded(false),
                _ => Context::default(),
            };
            let name = format!(
                "{}-{}",
                event_type.replace('.', "_"),
                format!("{shape:?}").to_lowercase()
            );
            check(
                &name,
                &event,
                &bodies_in(&event, &context, &Policy::default()),
            );
        }
    }
}

#[test]
fn both_invoice_events_map_to_the_same_transaction() {
    let paid = single("invoice.paid", ApiShape::Basil, T0).unwrap();
    let succeeded = single("invoice.payment_succeeded", ApiShape::Basil, T0).unwrap();
    let a = bodies(&paid, &Policy::default());
    let b = bodies(&succeeded, &Policy::default());
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].transaction_id, b[0].transaction_id);
    assert_eq!(a[0].amount, b[0].amount);
}

/// The fields the money rules read, in both API shapes: tax (`total_details.amount_tax`,
/// `total_excluding_tax`, `total_taxes` / `tax`), invoice creation (`invoice`), the invoice
/// payment link, capture (`captured`, `amount_captured`), refunds by id and disputes.
#[test]
fn money_rules_read_both_api_shapes() {
    use stripe_revenue::fixtures::scenario;
    let count = Policy::default().unreported_payments(UnreportedPayments::Count);
    for shape in [ApiShape::Basil, ApiShape::Legacy] {
        let lower = format!("{shape:?}").to_lowercase();
        for (name, policy) in [
            ("checkout_invoice", Policy::default()),
            ("uncaptured_release", count.clone()),
            ("unreported_refund", Policy::default()),
            ("dispute_lost", Policy::default()),
        ] {
            // Each event on its own, as the first the bridge sees.
            for (k, event) in scenario(name, shape, T0).unwrap().iter().enumerate() {
                let file = format!("{name}_{}-{lower}", k + 1);
                check(&file, event, &bodies(event, &policy));
            }
        }
    }
}

#[test]
fn subscription_changes_against_a_known_ledger() {
    use rust_decimal::Decimal;
    use stripe_revenue::fixtures::{event, price, subscription};
    use stripe_revenue::state::SubscriptionLedger;

    let n = u32::try_from(T0 % 1_000_000).unwrap();
    let paying = Context {
        subscription: Some(SubscriptionLedger {
            reported_mrr: Decimal::new(2000, 2),
            known_mrr: Some(Decimal::new(2000, 2)),
            state_created: Some(T0 - 86_400),
            invoiced: true,
            ..SubscriptionLedger::default()
        }),
        ..Context::default()
    };
    let basic = price("price_basic", 2000, "usd", "month");
    let yearly = price("price_yearly", 12_000, "usd", "year");
    let cases = [
        (
            "upgrade",
            "customer.subscription.updated",
            subscription(n, "active", basic.clone(), 3, T0),
        ),
        (
            "downgrade",
            "customer.subscription.updated",
            subscription(n, "active", yearly, 1, T0),
        ),
        (
            "churn",
            "customer.subscription.deleted",
            subscription(n, "canceled", basic, 1, T0),
        ),
    ];
    for shape in [ApiShape::Basil, ApiShape::Legacy] {
        for (label, event_type, object) in &cases {
            let stripe_event = event("evt_golden", event_type, T0, shape, object.clone(), None);
            let verified = VerifiedStripeEvent::from_verified_bytes(bytes::Bytes::from(
                stripe_event.to_string(),
            ))
            .unwrap();
            let mapping = map_event(&verified, &paying, &Policy::default()).unwrap();
            let name = format!("ledger_{label}-{}", format!("{shape:?}").to_lowercase());
            check(&name, &stripe_event, &mapping.events);
        }
    }
}

#[test]
fn currency_conversion_hook_converts_amount_and_mrr_and_keeps_the_original() {
    use rust_decimal::Decimal;
    use stripe_revenue::CurrencyConverter;

    /// 1 EUR = 1.10 USD; everything else is left alone.
    struct EurToUsd;
    impl CurrencyConverter for EurToUsd {
        fn convert(&self, amount: Decimal, currency: &str) -> Option<(Decimal, String)> {
            (currency == "EUR").then(|| {
                (
                    (amount * Decimal::new(110, 2)).round_dp(2),
                    "USD".to_owned(),
                )
            })
        }
    }
    let policy = Policy::default().currency_converter(EurToUsd);
    let mut event = single("checkout.session.completed", ApiShape::Basil, T0).unwrap();
    event["data"]["object"]["currency"] = serde_json::json!("eur");
    let sent = bodies(&event, &policy);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].amount.to_string(), "32.99"); // 29.99 × 1.10 = 32.989 → 32.99
    assert_eq!(sent[0].currency.as_deref(), Some("USD"));
    let metadata = sent[0].metadata.as_ref().unwrap();
    assert_eq!(metadata["original_amount"], "29.99");
    assert_eq!(metadata["original_currency"], "EUR");

    // A currency the hook declines keeps its own figures.
    let usd = single("checkout.session.completed", ApiShape::Basil, T0).unwrap();
    let sent = bodies(&usd, &policy);
    assert_eq!(
        (
            sent[0].amount.to_string().as_str(),
            sent[0].currency.as_deref()
        ),
        ("29.99", Some("USD"))
    );
    assert!(sent[0]
        .metadata
        .as_ref()
        .unwrap()
        .get("original_amount")
        .is_none());
}
