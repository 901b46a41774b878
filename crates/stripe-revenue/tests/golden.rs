//! Golden tests: each supported Stripe event, in both API shapes (before and after
//! `2025-03-31.basil`), mapped with no prior state → the exact Pulsora request bodies.
//!
//! The expected files in `tests/golden/` were reviewed by hand against Stripe's and Pulsora's
//! documentation. After an intended change, regenerate with `UPDATE_GOLDEN=1 cargo test -p
//! stripe-revenue --test golden` and review the diff.

use std::path::PathBuf;
use stripe_revenue::fixtures::{single, ApiShape, EVENT_TYPES};
use stripe_revenue::state::Context;
use stripe_revenue::{map_event, InvoiceEvent, Policy};
use stripe_webhook::VerifiedStripeEvent;

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
    let verified =
        VerifiedStripeEvent::from_verified_bytes(bytes::Bytes::from(event.to_string())).unwrap();
    map_event(&verified, &Context::default(), policy)
        .unwrap()
        .events
}

#[test]
fn every_event_type_in_both_api_shapes() {
    for shape in [ApiShape::Basil, ApiShape::Legacy] {
        for event_type in EVENT_TYPES {
            let event = single(event_type, shape, T0).unwrap();
            // invoice.payment_succeeded is only counted under its policy (never both invoice events).
            let policy = if event_type == "invoice.payment_succeeded" {
                Policy::default().invoice_event(InvoiceEvent::PaymentSucceeded)
            } else {
                Policy::default()
            };
            let name = format!(
                "{}-{}",
                event_type.replace('.', "_"),
                format!("{shape:?}").to_lowercase()
            );
            check(&name, &event, &bodies(&event, &policy));
        }
    }
}

#[test]
fn invoice_payment_succeeded_is_ignored_under_the_default_policy() {
    let event = single("invoice.payment_succeeded", ApiShape::Basil, T0).unwrap();
    assert!(bodies(&event, &Policy::default()).is_empty());
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
