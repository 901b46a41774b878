use super::*;
use serde_json::{json, Value};

fn sub(status: &str, currency: &str, items: Value) -> Subscription {
    serde_json::from_value(
        json!({"id": "sub_t", "status": status, "currency": currency, "items": {"data": items}}),
    )
    .unwrap()
}

fn with(mut base: Value, extra: Value) -> Subscription {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    serde_json::from_value(base).unwrap()
}

fn monthly(amount: i64) -> Value {
    json!({"id": "price_m", "product": "prod_a", "unit_amount": amount, "recurring": {"interval": "month"}})
}

fn base(items: Value) -> Value {
    json!({"id": "sub_t", "status": "active", "currency": "usd", "items": {"data": items}})
}

#[test]
fn normalises_intervals_and_counts() {
    let items = json!([
        {"quantity": 2, "price": {"unit_amount": 3000, "recurring": {"interval": "month", "interval_count": 3}}},
        {"price": {"unit_amount": 700, "recurring": {"interval": "week"}}},
        {"price": {"unit_amount": 100, "recurring": {"interval": "day"}}},
        {"price": {"unit_amount_decimal": "2400.5", "recurring": {"interval": "year", "interval_count": 2}}}
    ]);
    // 2×3000/3 = 2000; 700×52/12 = 3033.33…; 100×365/12 = 3041.66…; 2400.5/24 = 100.02…
    assert_eq!(
        subscription_mrr(&sub("active", "usd", items)).to_string(),
        "81.75"
    );
}

#[test]
fn excludes_metered_and_non_counting_statuses_and_tiered_without_tiers() {
    let items = json!([
        {"price": {"unit_amount": 1000, "recurring": {"interval": "month"}}},
        {"price": {"unit_amount": 5, "recurring": {"interval": "month", "usage_type": "metered"}}},
        {"price": {"billing_scheme": "tiered", "recurring": {"interval": "month"}}}
    ]);
    assert_eq!(
        subscription_mrr(&sub("active", "usd", items.clone())).to_string(),
        "10.00"
    );
    for status in [
        "trialing",
        "incomplete",
        "canceled",
        "unpaid",
        "paused",
        "incomplete_expired",
    ] {
        assert_eq!(
            subscription_mrr(&sub(status, "usd", items.clone())),
            Decimal::ZERO,
            "{status}"
        );
    }
    assert_eq!(
        subscription_mrr(&sub("past_due", "usd", items)).to_string(),
        "10.00"
    );
}

#[test]
fn paused_collection_keeps_counting() {
    let s = with(
        base(json!([{"price": monthly(1000)}])),
        json!({"pause_collection": {"behavior": "void", "resumes_at": null}}),
    );
    assert_eq!(subscription_mrr(&s).to_string(), "10.00");
}

#[test]
fn zero_and_three_decimal_currencies() {
    let items = json!([{"price": {"unit_amount": 12000, "recurring": {"interval": "year"}}}]);
    assert_eq!(
        subscription_mrr(&sub("active", "jpy", items.clone())).to_string(),
        "1000"
    );
    assert_eq!(
        subscription_mrr(&sub("active", "kwd", items)).to_string(),
        "1.000"
    );
}

#[test]
fn only_forever_coupons_reduce_mrr_in_every_discount_shape() {
    let items = json!([{"price": monthly(10000)}]);
    let coupon = |duration: &str| json!({"id": "c", "duration": duration, "percent_off": 50.0, "duration_in_months": 3});
    for duration in ["forever", "once", "repeating"] {
        let expected = if duration == "forever" {
            "50.00"
        } else {
            "100.00"
        };
        // Legacy singular `discount` with the coupon inline.
        let legacy = with(
            base(items.clone()),
            json!({"discount": {"id": "di_1", "coupon": coupon(duration)}}),
        );
        assert_eq!(
            subscription_mrr(&legacy).to_string(),
            expected,
            "legacy {duration}"
        );
        // Expanded `discounts`, coupon inline (pre-clover) or in `source` (clover).
        let expanded = with(
            base(items.clone()),
            json!({"discounts": [{"id": "di_1", "coupon": coupon(duration)}]}),
        );
        assert_eq!(
            subscription_mrr(&expanded).to_string(),
            expected,
            "expanded {duration}"
        );
        let source = with(
            base(items.clone()),
            json!({"discounts": [{"id": "di_1", "source": {"type": "coupon", "coupon": coupon(duration)}}]}),
        );
        assert_eq!(
            subscription_mrr(&source).to_string(),
            expected,
            "source {duration}"
        );
        // Ids only: unknown → list price; learned → applied.
        let ids = with(base(items.clone()), json!({"discounts": ["di_1"]}));
        assert_eq!(subscription_mrr(&ids).to_string(), "100.00");
        let mut learned = Learned::default();
        learned.coupons.insert(
            "di_1".into(),
            serde_json::from_value(coupon(duration)).unwrap(),
        );
        assert_eq!(
            mrr(&ids, &learned).to_string(),
            expected,
            "learned {duration}"
        );
    }
}

#[test]
fn amount_off_item_discounts_and_applies_to() {
    let items = json!([
        {"price": monthly(6000), "discounts": [{"id": "di_i", "coupon": {"duration": "forever", "amount_off": 1000, "currency": "usd"}}]},
        {"price": {"id": "price_y", "product": "prod_b", "unit_amount": 48000, "recurring": {"interval": "year"}}}
    ]);
    // Item: 60 − 10 = 50; plus 40 → 90. Subscription: 25% off prod_b only → 90 − 10 = 80.
    let s = with(
        base(items),
        json!({"discounts": [{"id": "di_s", "coupon": {"duration": "forever", "percent_off": 25.0, "applies_to": {"products": ["prod_b"]}}}]}),
    );
    assert_eq!(subscription_mrr(&s).to_string(), "80.00");
    // amount_off never takes MRR below 0; a coupon in another currency is not applied.
    let big = with(
        base(json!([{"price": monthly(1000)}])),
        json!({"discount": {"coupon": {"duration": "forever", "amount_off": 5000, "currency": "usd"}}}),
    );
    assert_eq!(subscription_mrr(&big).to_string(), "0.00");
    let eur = with(
        base(json!([{"price": monthly(1000)}])),
        json!({"discount": {"coupon": {"duration": "forever", "amount_off": 500, "currency": "eur"}}}),
    );
    assert_eq!(subscription_mrr(&eur).to_string(), "10.00");
}

#[test]
fn inclusive_tax_is_removed_from_rates_or_invoice_lines() {
    let rate = json!({"percentage": 20.0, "inclusive": true});
    let items = json!([{"price": monthly(12000), "tax_rates": [rate]}]);
    assert_eq!(
        subscription_mrr(&with(base(items), json!({}))).to_string(),
        "100.00"
    );
    let default = with(
        base(json!([{"price": monthly(12000)}])),
        json!({"default_tax_rates": [rate, {"percentage": 5.0, "inclusive": false}]}),
    );
    assert_eq!(subscription_mrr(&default).to_string(), "100.00");
    // Stripe Tax: the rate comes from an invoice line (120 with 20 inclusive tax).
    let mut price = monthly(12000);
    price["tax_behavior"] = json!("inclusive");
    let automatic = with(base(json!([{"price": price}])), json!({}));
    assert_eq!(
        subscription_mrr(&automatic).to_string(),
        "120.00",
        "no rate known yet"
    );
    let mut learned = Learned::default();
    learned.lines.insert(
        "price_m".into(),
        LineFacts {
            amount: 12000,
            inclusive_tax: 2000,
            created: 1,
        },
    );
    assert_eq!(mrr(&automatic, &learned).to_string(), "100.00");
    // A forever coupon comes off the inclusive amount, then the tax.
    let discounted = with(
        base(json!([{"price": monthly(12000), "tax_rates": [rate]}])),
        json!({"discount": {"coupon": {"duration": "forever", "amount_off": 6000, "currency": "usd"}}}),
    );
    assert_eq!(subscription_mrr(&discounted).to_string(), "50.00");
}

#[test]
fn transform_quantity_divides_and_rounds() {
    let price = |round: &str| json!({"unit_amount": 1000, "transform_quantity": {"divide_by": 1000, "round": round}, "recurring": {"interval": "month"}});
    let up = sub(
        "active",
        "usd",
        json!([{"quantity": 2500, "price": price("up")}]),
    );
    let down = sub(
        "active",
        "usd",
        json!([{"quantity": 2500, "price": price("down")}]),
    );
    assert_eq!(subscription_mrr(&up).to_string(), "30.00");
    assert_eq!(subscription_mrr(&down).to_string(), "20.00");
}

#[test]
fn tiered_licensed_prices_from_tiers_or_invoice_lines() {
    let tiers = json!([{"up_to": 10, "unit_amount": 500}, {"up_to": null, "unit_amount": 300, "flat_amount": 1000}]);
    let tiered = |mode: &str, tiers: Value| json!([{"quantity": 15, "price": {"id": "price_t", "billing_scheme": "tiered", "tiers_mode": mode, "tiers": tiers, "recurring": {"interval": "month"}}}]);
    // graduated: 10×5 + 5×3 + 10 flat = 75; volume: 15×3 + 10 = 55.
    assert_eq!(
        subscription_mrr(&sub("active", "usd", tiered("graduated", tiers.clone()))).to_string(),
        "75.00"
    );
    assert_eq!(
        subscription_mrr(&sub("active", "usd", tiered("volume", tiers))).to_string(),
        "55.00"
    );
    let unexpanded = sub("active", "usd", tiered("graduated", Value::Null));
    assert_eq!(subscription_mrr(&unexpanded).to_string(), "0.00");
    let mut learned = Learned::default();
    learned.lines.insert(
        "price_t".into(),
        LineFacts {
            amount: 7500,
            inclusive_tax: 0,
            created: 1,
        },
    );
    assert_eq!(mrr(&unexpanded, &learned).to_string(), "75.00");
}

#[test]
fn before_cancel_is_the_value_unless_it_ended_in_trial() {
    let items = json!([{"price": monthly(2000)}]);
    let mut canceled = base(items);
    canceled["status"] = json!("canceled");
    canceled["ended_at"] = json!(1_000);
    let plain: Subscription = serde_json::from_value(canceled.clone()).unwrap();
    assert_eq!(
        mrr_before_cancel(&plain, &Learned::default()).to_string(),
        "20.00"
    );
    canceled["trial_end"] = json!(2_000);
    let trial: Subscription = serde_json::from_value(canceled).unwrap();
    assert_eq!(
        mrr_before_cancel(&trial, &Learned::default()).to_string(),
        "0.00"
    );
}

#[test]
fn invoice_states_mrr_in_both_shapes() {
    let legacy: Invoice = serde_json::from_value(json!({
        "id": "in_1", "currency": "usd",
        "lines": {"data": [
            {"amount": 12000, "price": {"id": "price_y", "unit_amount": 12000, "recurring": {"interval": "year"}},
             "tax_amounts": [{"amount": 2000, "inclusive": true}], "proration": false},
            {"amount": 500, "price": {"id": "price_p", "unit_amount": 500, "recurring": {"interval": "month"}}, "proration": true}
        ]}
    }))
    .unwrap();
    assert_eq!(invoice_mrr(&legacy, "usd").unwrap().to_string(), "8.33");
    let basil: Invoice = serde_json::from_value(json!({
        "id": "in_2", "currency": "usd",
        "lines": {"data": [
            {"amount": 3000, "pricing": {"type": "price_details", "price_details": {"price": "price_m"}},
             "period": {"start": 1_700_000_000, "end": 1_700_000_000 + 30 * 86_400},
             "taxes": [{"amount": 500, "tax_behavior": "inclusive"}],
             "parent": {"type": "subscription_item_details", "subscription_item_details": {"proration": false}}},
            {"amount": 900, "pricing": {"type": "price_details", "price_details": {"price": "price_q"}},
             "period": {"start": 1_700_000_000, "end": 1_700_000_000 + 91 * 86_400}}
        ]}
    }))
    .unwrap();
    // 25.00 a month + 9.00 a quarter.
    assert_eq!(invoice_mrr(&basil, "usd").unwrap().to_string(), "28.00");
    let mut learned = Learned::default();
    learn_lines(&mut learned, &basil, 5);
    assert_eq!(
        learned.lines["price_m"],
        LineFacts {
            amount: 3000,
            inclusive_tax: 500,
            created: 5
        }
    );
}
