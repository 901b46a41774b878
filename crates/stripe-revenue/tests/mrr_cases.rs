//! The cases of issue 13, each in every rotation, reversed and with every event delivered
//! twice, in both API shapes: Σ `mrr_impact` per subscription is Stripe's MRR now minus the MRR
//! when the bridge first saw it.

use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;
use stripe_revenue::fixtures::{event, ApiShape};
use stripe_revenue::state::MemoryState;
use stripe_revenue::{map_event, subjects, Policy};
use stripe_webhook_guard::VerifiedStripeEvent;

const T0: i64 = 1_700_000_000;

fn price(unit: i64, interval: &str) -> Value {
    json!({"id": format!("price_{unit}_{interval}"), "unit_amount": unit, "currency": "usd",
        "product": "prod_case", "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"}})
}

fn sub(id: &str, status: &str, price: Value, quantity: i64, extra: Value) -> Value {
    let mut s = json!({"id": id, "object": "subscription", "customer": "cus_case", "currency": "usd",
        "status": status, "metadata": {}, "items": {"object": "list", "data": [{"id": "si_case", "price": price, "quantity": quantity}]}});
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    s
}

fn invoice(id: &str, sub: &str, reason: &str, lines: Vec<(Value, i64)>, shape: ApiShape) -> Value {
    let paid: i64 = lines.iter().map(|(_, a)| a).sum();
    let lines: Vec<Value> = lines
        .into_iter()
        .map(|(price, amount)| {
            let recurring = !price["recurring"].is_null();
            let end = if recurring { T0 + 30 * 86_400 } else { T0 };
            match shape {
                ApiShape::Legacy => json!({"amount": amount, "price": price, "proration": false, "period": {"start": T0, "end": end}}),
                ApiShape::Basil => json!({"amount": amount, "period": {"start": T0, "end": end},
                    "pricing": {"type": "price_details", "price_details": {"price": price["id"]}},
                    "parent": {"type": "subscription_item_details", "subscription_item_details": {"subscription": sub, "proration": false}}}),
            }
        })
        .collect();
    let mut i = json!({"id": id, "object": "invoice", "amount_paid": paid, "currency": "usd", "customer": "cus_case",
        "billing_reason": reason, "metadata": {}, "lines": {"object": "list", "data": lines}});
    match shape {
        ApiShape::Legacy => i["subscription"] = json!(sub),
        ApiShape::Basil => {
            i["parent"] = json!({"type": "subscription_details", "subscription_details": {"subscription": sub, "metadata": {}}})
        }
    }
    i
}

fn verified(event: &Value) -> VerifiedStripeEvent {
    VerifiedStripeEvent::from_verified_bytes(bytes::Bytes::from(event.to_string())).unwrap()
}

fn sum(events: &[Value], subscription: &str) -> Decimal {
    let policy = Policy::default();
    let mut state = MemoryState::default();
    let mut total = Decimal::ZERO;
    for event in events {
        let event = verified(event);
        let context = state.context(&subjects(&event).unwrap());
        let mapping = map_event(&event, &context, &policy).unwrap();
        for draft in mapping.events {
            if state.mark_sent(&draft.transaction_id)
                && draft.customer_subscription_id.as_deref() == Some(subscription)
            {
                total += draft.mrr_impact.unwrap_or_default();
            }
        }
        state.apply(&mapping.updates);
    }
    total
}

/// Every rotation, each reversed, each with every event twice.
fn check(name: &str, events: &[Value], subscription: &str, want: &str) {
    let want = Decimal::from_str(want).unwrap();
    for r in 0..events.len() {
        let mut order = events.to_vec();
        order.rotate_left(r);
        for reversed in [false, true] {
            if reversed {
                order.reverse();
            }
            let twice: Vec<Value> = order.iter().flat_map(|e| [e.clone(), e.clone()]).collect();
            assert_eq!(
                sum(&order, subscription),
                want,
                "{name}: rotation {r} reversed {reversed}"
            );
            assert_eq!(
                sum(&twice, subscription),
                want,
                "{name}: rotation {r} reversed {reversed}, twice"
            );
        }
    }
}

fn ev(n: i64, kind: &str, shape: ApiShape, object: Value, previous: Option<Value>) -> Value {
    event(
        &format!("evt_case_{n}"),
        kind,
        T0 + n * 3600,
        shape,
        object,
        previous,
    )
}

#[test]
fn predating_subscriptions_churn_and_upgrade() {
    for shape in [ApiShape::Basil, ApiShape::Legacy] {
        // 120/year × 2 seats, never seen, deleted: churn of 20/month.
        let deleted = sub("sub_old_a", "canceled", price(12_000, "year"), 2, json!({}));
        check(
            "deleted",
            &[ev(0, "customer.subscription.deleted", shape, deleted, None)],
            "sub_old_a",
            "-20.00",
        );
        // 10 → 30 a month, never seen before: +20 from previous_attributes.
        let now = sub("sub_old_b", "active", price(3000, "month"), 1, json!({}));
        let before = json!({"items": {"object": "list", "data": [{"id": "si_case", "price": price(1000, "month"), "quantity": 1}]}});
        let up = ev(
            1,
            "customer.subscription.updated",
            shape,
            now.clone(),
            Some(before),
        );
        // … and its renewal afterwards reports nothing more.
        let renewal = ev(
            2,
            "invoice.paid",
            shape,
            invoice(
                "in_old_b",
                "sub_old_b",
                "subscription_cycle",
                vec![(price(3000, "month"), 3000)],
                shape,
            ),
            None,
        );
        check("updated", &[up, renewal], "sub_old_b", "20.00");
        // A renewal alone: its MRR enters once.
        let alone = ev(
            3,
            "invoice.paid",
            shape,
            invoice(
                "in_old_c",
                "sub_old_c",
                "subscription_cycle",
                vec![(price(4500, "month"), 4500)],
                shape,
            ),
            None,
        );
        check("renewal", &[alone], "sub_old_c", "45.00");
    }
}

#[test]
fn a_forever_half_coupon_halves_mrr() {
    for shape in [ApiShape::Basil, ApiShape::Legacy] {
        let coupon = json!({"id": "HALF", "duration": "forever", "percent_off": 50.0});
        let discount = json!({"id": "di_half", "object": "discount", "subscription": "sub_coupon", "coupon": coupon, "end": null});
        let extra = match shape {
            ApiShape::Legacy => json!({"discount": discount, "discounts": ["di_half"]}),
            ApiShape::Basil => json!({"discounts": ["di_half"]}),
        };
        let mut events = vec![
            ev(
                0,
                "customer.subscription.created",
                shape,
                sub(
                    "sub_coupon",
                    "incomplete",
                    price(10_000, "month"),
                    1,
                    extra.clone(),
                ),
                None,
            ),
            ev(
                1,
                "invoice.paid",
                shape,
                invoice(
                    "in_coupon",
                    "sub_coupon",
                    "subscription_create",
                    vec![(price(10_000, "month"), 10_000)],
                    shape,
                ),
                None,
            ),
            ev(
                2,
                "customer.subscription.updated",
                shape,
                sub("sub_coupon", "active", price(10_000, "month"), 1, extra),
                Some(json!({"status": "incomplete"})),
            ),
        ];
        if shape == ApiShape::Basil {
            // Basil payloads name the discount by id: its coupon comes with customer.discount.created.
            events.push(ev(
                0,
                "customer.discount.created",
                shape,
                discount.clone(),
                None,
            ));
        }
        check("forever coupon", &events, "sub_coupon", "50.00");
    }
}

#[test]
fn a_trial_with_a_setup_fee_has_no_mrr_until_it_converts() {
    for shape in [ApiShape::Basil, ApiShape::Legacy] {
        let setup =
            json!({"id": "price_setup", "unit_amount": 5000, "currency": "usd", "recurring": null});
        let trialing = sub(
            "sub_trial",
            "trialing",
            price(2000, "month"),
            1,
            json!({"trial_end": T0 + 14 * 86_400}),
        );
        let first = invoice(
            "in_trial_1",
            "sub_trial",
            "subscription_create",
            vec![(setup, 5000), (price(2000, "month"), 0)],
            shape,
        );
        let trial = [
            ev(
                0,
                "customer.subscription.created",
                shape,
                trialing.clone(),
                None,
            ),
            ev(1, "invoice.paid", shape, first, None),
        ];
        check("trialing", &trial, "sub_trial", "0.00");
        // Converted early (billing_reason subscription_update): MRR starts.
        let active = sub(
            "sub_trial",
            "active",
            price(2000, "month"),
            1,
            json!({"trial_end": T0 + 2 * 3600}),
        );
        let mut converted = trial.to_vec();
        converted.push(ev(
            2,
            "customer.subscription.updated",
            shape,
            active,
            Some(json!({"status": "trialing", "trial_end": T0 + 14 * 86_400})),
        ));
        converted.push(ev(
            3,
            "invoice.paid",
            shape,
            invoice(
                "in_trial_2",
                "sub_trial",
                "subscription_update",
                vec![(price(2000, "month"), 2000)],
                shape,
            ),
            None,
        ));
        check("converted", &converted, "sub_trial", "20.00");
    }
}

#[test]
fn a_payment_after_cancellation_is_money_and_late_payment_never_rolls_back() {
    for shape in [ApiShape::Basil, ApiShape::Legacy] {
        let created = ev(
            0,
            "customer.subscription.created",
            shape,
            sub("sub_late", "incomplete", price(2000, "month"), 1, json!({})),
            None,
        );
        let first = ev(
            1,
            "invoice.paid",
            shape,
            invoice(
                "in_late_1",
                "sub_late",
                "subscription_create",
                vec![(price(2000, "month"), 2000)],
                shape,
            ),
            None,
        );
        let active = ev(
            2,
            "customer.subscription.updated",
            shape,
            sub("sub_late", "active", price(2000, "month"), 1, json!({})),
            Some(json!({"status": "incomplete"})),
        );
        let canceled = ev(
            3,
            "customer.subscription.deleted",
            shape,
            sub("sub_late", "canceled", price(2000, "month"), 1, json!({})),
            None,
        );
        // The customer pays the last open invoice after cancellation.
        let late = ev(
            4,
            "invoice.paid",
            shape,
            invoice(
                "in_late_2",
                "sub_late",
                "subscription_cycle",
                vec![(price(2000, "month"), 2000)],
                shape,
            ),
            None,
        );
        check(
            "paid after cancel",
            &[
                created.clone(),
                first.clone(),
                active.clone(),
                canceled,
                late,
            ],
            "sub_late",
            "0.00",
        );

        // Downgraded 20 → 5 while a 20 invoice was open; it is paid late: MRR stays 5.
        let down = ev(
            5,
            "customer.subscription.updated",
            shape,
            sub("sub_late", "active", price(500, "month"), 1, json!({})),
            Some(
                json!({"items": {"object": "list", "data": [{"id": "si_case", "price": price(2000, "month"), "quantity": 1}]}}),
            ),
        );
        let dunning = ev(
            6,
            "invoice.paid",
            shape,
            invoice(
                "in_late_3",
                "sub_late",
                "subscription_cycle",
                vec![(price(2000, "month"), 2000)],
                shape,
            ),
            None,
        );
        check(
            "late dunning",
            &[created, first, active, down, dunning],
            "sub_late",
            "5.00",
        );
    }
}

#[test]
fn an_older_update_after_a_newer_invoice_still_counts() {
    for shape in [ApiShape::Basil, ApiShape::Legacy] {
        let events = [
            ev(
                0,
                "customer.subscription.created",
                shape,
                sub(
                    "sub_stale",
                    "incomplete",
                    price(1000, "month"),
                    1,
                    json!({}),
                ),
                None,
            ),
            ev(
                1,
                "invoice.paid",
                shape,
                invoice(
                    "in_stale_1",
                    "sub_stale",
                    "subscription_create",
                    vec![(price(1000, "month"), 1000)],
                    shape,
                ),
                None,
            ),
            ev(
                2,
                "customer.subscription.updated",
                shape,
                sub("sub_stale", "active", price(1000, "month"), 4, json!({})),
                Some(
                    json!({"status": "incomplete", "items": {"object": "list", "data": [{"id": "si_case", "price": price(1000, "month"), "quantity": 1}]}}),
                ),
            ),
            ev(
                3,
                "invoice.paid",
                shape,
                invoice(
                    "in_stale_2",
                    "sub_stale",
                    "subscription_cycle",
                    vec![(price(1000, "month"), 4000)],
                    shape,
                ),
                None,
            ),
        ];
        check("stale update", &events, "sub_stale", "40.00");
    }
}

#[test]
fn tax_inclusive_packaged_and_tiered_prices() {
    for shape in [ApiShape::Basil, ApiShape::Legacy] {
        let mut p = price(12_000, "month");
        p["tax_behavior"] = json!("inclusive");
        let mut packaged = price(1000, "month");
        packaged["transform_quantity"] = json!({"divide_by": 1000, "round": "up"});
        let mut tiered = price(0, "month");
        tiered["billing_scheme"] = json!("tiered");
        tiered["tiers_mode"] = json!("graduated");
        tiered["tiers"] =
            json!([{"up_to": 10, "unit_amount": 500}, {"up_to": null, "unit_amount": 300}]);
        let items = json!({"object": "list", "data": [
            {"id": "si_a", "price": p, "quantity": 1, "tax_rates": [{"percentage": 20.0, "inclusive": true}]},
            {"id": "si_b", "price": packaged, "quantity": 2500},
            {"id": "si_c", "price": tiered, "quantity": 15}
        ]});
        let mut s = sub("sub_mix", "active", price(1, "month"), 1, json!({}));
        s["items"] = items;
        // Active from creation: its first invoice (paid at once) comes with it.
        let first = invoice(
            "in_mix",
            "sub_mix",
            "subscription_create",
            vec![(price(12_000, "month"), 21_500)],
            shape,
        );
        let events = [
            ev(0, "customer.subscription.created", shape, s, None),
            ev(1, "invoice.paid", shape, first, None),
        ];
        // 100 (120 with 20% inside) + 3 packages × 10 + (10 × 5 + 5 × 3) = 195.
        check("mix", &events, "sub_mix", "195.00");
    }
}
