//! Fetch on notify against a fake Stripe API on loopback: with `STRIPE_API_KEY`, MRR comes
//! from the subscription as Stripe has it now (discounts expanded), so every delivery order,
//! with duplicates, gives the same Σ `mrr_impact`; a Stripe outage answers 503 and sends
//! nothing; a 429 is waited out (`Retry-After`).
#![cfg(feature = "stripe-api")]

#[path = "support/fake_pulsora.rs"]
mod fake_pulsora;

use fake_pulsora::FakePulsora;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;
use stripe_read::fake::{FakeStripe, Fault};
use stripe_revenue::fixtures::{event, ApiShape};
use stripe_revenue::{RevenueSync, StripeApi};
use stripe_webhook_guard::VerifiedStripeEvent;

const KEY: &str = "rk_test_fetch_on_notify";
const T0: i64 = 1_700_000_000;

fn price() -> Value {
    json!({"id": "price_seat", "object": "price", "currency": "usd", "unit_amount": 2000,
        "unit_amount_decimal": "2000", "billing_scheme": "per_unit", "product": "prod_seat",
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}})
}

/// The subscription in a basil payload: discounts by id only.
fn sub(status: &str, quantity: i64, discounts: Value) -> Value {
    json!({"id": "sub_fetch", "object": "subscription", "customer": "cus_fetch", "currency": "usd",
        "status": status, "created": T0, "metadata": {},
        "items": {"object": "list", "data": [{"id": "si_fetch", "price": price(), "quantity": quantity}]},
        "discounts": discounts})
}

/// created (incomplete) → first invoice paid → active → 3 seats; a forever 50% coupon the
/// payloads only name by id (`di_half`).
fn life() -> Vec<Value> {
    let invoice = json!({"id": "in_fetch_1", "object": "invoice", "amount_paid": 1000, "currency": "usd",
        "customer": "cus_fetch", "billing_reason": "subscription_create", "metadata": {},
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_fetch", "metadata": {}}},
        "lines": {"object": "list", "data": [{"amount": 2000, "pricing": {"type": "price_details", "price_details": {"price": "price_seat"}},
            "period": {"start": T0, "end": T0 + 30 * 86_400},
            "parent": {"type": "subscription_item_details", "subscription_item_details": {"subscription": "sub_fetch", "proration": false}}}]}});
    let ev = |n: i64, kind: &str, object: Value, previous: Option<Value>| {
        event(
            &format!("evt_fetch_{n}"),
            kind,
            T0 + n,
            ApiShape::Basil,
            object,
            previous,
        )
    };
    vec![
        ev(
            0,
            "customer.subscription.created",
            sub("incomplete", 1, json!(["di_half"])),
            None,
        ),
        ev(1, "invoice.paid", invoice, None),
        ev(
            2,
            "customer.subscription.updated",
            sub("active", 1, json!(["di_half"])),
            Some(json!({"status": "incomplete"})),
        ),
        ev(
            3,
            "customer.subscription.updated",
            sub("active", 3, json!(["di_half"])),
            Some(
                json!({"items": {"object": "list", "data": [{"id": "si_fetch", "price": price(), "quantity": 1}]}}),
            ),
        ),
    ]
}

/// What the API answers: the current subscription with its discount expanded.
fn current() -> Value {
    let mut now = sub("active", 3, Value::Null);
    now["discounts"] = json!([{"id": "di_half", "object": "discount", "subscription": "sub_fetch",
        "end": null, "coupon": {"id": "HALF", "duration": "forever", "percent_off": 50.0}}]);
    now
}

fn verified(event: &Value) -> VerifiedStripeEvent {
    VerifiedStripeEvent::from_verified_bytes(bytes::Bytes::from(event.to_string())).unwrap()
}

async fn setup() -> (FakeStripe, RevenueSync, FakePulsora) {
    let stripe = FakeStripe::start(KEY).await.unwrap();
    stripe.put("subscriptions", current());
    let (pulsora, url) = FakePulsora::start(0).await;
    let client = pulsora::Revenue::builder("sec_test")
        .endpoint(url)
        .max_retries(0)
        .build()
        .unwrap();
    // The fixtures are test-mode events, as `stripe trigger` sends.
    let sync = RevenueSync::new(client)
        .policy(stripe_revenue::Policy::default().livemode(stripe_revenue::Livemode::Test))
        .stripe_api(StripeApi::with_base(KEY, stripe.base_url()));
    (stripe, sync, pulsora)
}

fn mrr_sum(pulsora: &FakePulsora) -> Decimal {
    pulsora
        .accepted()
        .values()
        .map(|bodies| &bodies[0])
        .filter(|b| b["customer_subscription_id"] == "sub_fetch")
        .filter_map(|b| b.get("mrr_impact"))
        .map(|m| Decimal::from_str(&m.to_string()).unwrap())
        .sum()
}

fn orders(events: &[Value]) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for r in 0..events.len() {
        let mut rotated = events.to_vec();
        rotated.rotate_left(r);
        out.push(rotated.clone());
        rotated.reverse();
        out.push(rotated);
    }
    out
}

#[tokio::test]
async fn every_order_with_duplicates_reports_stripes_current_mrr() {
    let events = life();
    for (i, order) in orders(&events).into_iter().enumerate() {
        let (_stripe, sync, pulsora) = setup().await;
        for event in order.iter().chain(order.iter()) {
            assert_eq!(
                sync.handle(&verified(event)).await.status(),
                200,
                "order {i}"
            );
        }
        // 3 seats × 20.00, half off forever: 30.00, though no payload carries the coupon.
        assert_eq!(
            mrr_sum(&pulsora),
            Decimal::from_str("30.00").unwrap(),
            "order {i}"
        );
    }
}

#[tokio::test]
async fn a_subscription_older_than_the_bridge_reports_its_movement() {
    // Only the seat change is seen: the baseline is 1 seat at half price (10.00).
    let (_stripe, sync, pulsora) = setup().await;
    let last = life().pop().unwrap();
    assert_eq!(sync.handle(&verified(&last)).await.status(), 200);
    assert_eq!(mrr_sum(&pulsora), Decimal::from_str("20.00").unwrap());
}

#[tokio::test]
async fn a_stripe_outage_answers_503_and_sends_nothing() {
    let (stripe, sync, pulsora) = setup().await;
    for _ in 0..3 {
        stripe.fail_next(Fault::ServerError);
    }
    let first = life().remove(0);
    assert_eq!(sync.handle(&verified(&first)).await.status(), 503);
    assert!(pulsora.accepted().is_empty());
    // Stripe delivers again once the API is back.
    assert_eq!(sync.handle(&verified(&first)).await.status(), 200);
}

#[tokio::test]
async fn a_429_is_waited_out_and_a_burst_reads_stripe_once() {
    let (stripe, sync, pulsora) = setup().await;
    stripe.fail_next(Fault::RateLimited {
        retry_after_secs: 1,
    });
    for event in life() {
        assert_eq!(sync.handle(&verified(&event)).await.status(), 200);
    }
    assert_eq!(mrr_sum(&pulsora), Decimal::from_str("30.00").unwrap());
    let reads: Vec<_> = stripe
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/subscriptions/sub_fetch")
        .collect();
    // The 429, its retry, then the cache answers the rest of the burst.
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert_eq!(reads[0].status, 429);
    assert!(reads[1]
        .query
        .contains(&("expand[]".to_owned(), "discounts".to_owned())));
}
