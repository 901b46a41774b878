//! Any valid event survives JSON exactly: same values back, and the amounts' exact decimal text
//! on the wire.

use proptest::prelude::*;
use pulsora::{Decimal, EventType, Revenue, RevenueEvent};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// A non-blank id: an ASCII start, then any printable text.
fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_]{1,8}\\PC{0,12}"
}

/// Any decimal a `Decimal` can hold (96-bit mantissa, scale 0..=28), never negative zero.
fn decimal() -> impl Strategy<Value = Decimal> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
        0u32..=28,
    )
        .prop_map(|(lo, mid, hi, negative, scale)| {
            let zero = lo == 0 && mid == 0 && hi == 0;
            Decimal::from_parts(lo, mid, hi, negative && !zero, scale)
        })
}

fn metadata() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(2, 16, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(Value::from)
    });
    prop::collection::btree_map("[a-z_]{1,8}", value, 0..5)
        .prop_map(|map| Value::Object(map.into_iter().collect()))
}

prop_compose! {
    fn valid_event()(
        event_type in prop::option::of(prop::sample::select(EventType::ALL.to_vec())),
        magnitude in decimal().prop_filter("non-zero", |d| !d.is_zero()),
        visitor_fingerprint in id(),
        session_id in id(),
        customer_id in id(),
        transaction_id in id(),
        currency in prop::option::of("[A-Za-z]{3}"),
        payment_processor in prop::option::of(id()),
        customer_subscription_id in prop::option::of(id()),
        mrr_impact in prop::option::of(decimal()),
        is_recurring in prop::option::of(any::<bool>()),
        metadata in prop::option::of(metadata()),
    ) -> RevenueEvent {
        // Negative amounts are valid for refunds only.
        let amount = if event_type == Some(EventType::Refund) { magnitude } else { magnitude.abs() };
        let mut event = RevenueEvent::new(EventType::Purchase, amount)
            .visitor_fingerprint(visitor_fingerprint)
            .session_id(session_id)
            .customer_id(customer_id)
            .transaction_id(transaction_id);
        event.event_type = event_type;
        event.currency = currency;
        event.payment_processor = payment_processor;
        event.customer_subscription_id = customer_subscription_id;
        event.mrr_impact = mrr_impact;
        event.is_recurring = is_recurring;
        event.metadata = metadata;
        event
    }
}

/// The money fields as the raw JSON text that was written.
#[derive(Deserialize)]
struct RawMoney {
    amount: Box<RawValue>,
    mrr_impact: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    data: RevenueEvent,
}

proptest! {
    #[test]
    fn valid_events_round_trip_with_exact_amount_text(event in valid_event()) {
        prop_assert_eq!(event.validate(), Ok(()));

        let json = serde_json::to_string(&event).unwrap();
        let back: RevenueEvent = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &event);
        prop_assert_eq!(back.amount.to_string(), event.amount.to_string());
        prop_assert_eq!(back.mrr_impact.map(|d| d.to_string()), event.mrr_impact.map(|d| d.to_string()));

        let raw: RawMoney = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(raw.amount.get(), event.amount.to_string());
        let mrr_text = event.mrr_impact.map(|d| d.to_string());
        prop_assert_eq!(raw.mrr_impact.as_deref().map(RawValue::get), mrr_text.as_deref());

        // The money is a JSON number, not a string.
        let value: Value = serde_json::from_str(&json).unwrap();
        prop_assert!(value["amount"].is_number());

        // Absent optional fields are omitted, never null.
        let object = value.as_object().unwrap();
        prop_assert!(object.values().all(|v| !v.is_null()));
        prop_assert_eq!(object.contains_key("currency"), event.currency.is_some());
        prop_assert_eq!(object.contains_key("mrr_impact"), event.mrr_impact.is_some());

        // The request body carries the same event.
        let body = Revenue::dry_run().request_body(&event).unwrap();
        let envelope: Envelope = serde_json::from_str(&body).unwrap();
        prop_assert_eq!(envelope.kind, "revenue");
        prop_assert_eq!(envelope.data, event);
    }
}

#[test]
fn float_traps_stay_exact() {
    // Values whose f64 forms print with noise.
    for text in [
        "19.99",
        "0.30",
        "1.1",
        "4.35",
        "100.10",
        "0.000000000000000000000000001",
    ] {
        let amount: Decimal = text.parse().unwrap();
        let event = RevenueEvent::new(EventType::Purchase, amount)
            .visitor_fingerprint("fp")
            .session_id("s")
            .customer_id("c")
            .transaction_id("t");
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.contains(&format!(r#""amount":{text},"#)), "{json}");
    }
    // 0.1 + 0.2 computed in decimals is 0.3 on the wire (0.30000000000000004 in f64).
    let sum = Decimal::new(1, 1) + Decimal::new(2, 1);
    let event = RevenueEvent::new(EventType::Purchase, sum)
        .visitor_fingerprint("fp")
        .session_id("s")
        .customer_id("c")
        .transaction_id("t")
        .metadata(json!({}));
    let json = serde_json::to_string(&event).unwrap();
    assert!(json.contains(r#""amount":0.3,"#), "{json}");
}
