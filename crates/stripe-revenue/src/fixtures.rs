//! Realistic Stripe events for tests, demos and `trigger`: what `stripe trigger` would send,
//! without a Stripe account. Each builder returns the event as JSON; [`scenario`] strings them
//! into a customer's life (purchase and refunds, a subscription from checkout to cancellation,
//! a trial that converts then churns, JPY and KWD purchases).
//!
//! ```
//! use stripe_revenue::fixtures::{scenario, ApiShape};
//! let events = scenario("purchase_refunds", ApiShape::Basil, 1_700_000_000).unwrap();
//! assert_eq!(events[0]["type"], "checkout.session.completed");
//! ```

use serde_json::{json, Value};

/// Which Stripe API version the payloads are rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiShape {
    /// `2025-03-31.basil` and later: an invoice's subscription lives in `parent.subscription_details`,
    /// lines carry `pricing` instead of `price`.
    Basil,
    /// `2024-06-20`: `invoice.subscription`, `subscription_details`, `lines.data[].price`.
    Legacy,
}

impl ApiShape {
    fn version(self) -> &'static str {
        match self {
            Self::Basil => "2025-03-31.basil",
            Self::Legacy => "2024-06-20",
        }
    }
}

/// The attribution metadata every fixture customer arrived with.
pub fn attribution_metadata(n: u32) -> Value {
    json!({ "visitor_fingerprint": format!("fp_demo_{n}"), "session_id": format!("sess_demo_{n}") })
}

/// Wraps an object into a Stripe event envelope.
pub fn event(
    id: &str,
    event_type: &str,
    created: i64,
    shape: ApiShape,
    object: Value,
    previous: Option<Value>,
) -> Value {
    let mut data = json!({ "object": object });
    if let Some(previous) = previous {
        data["previous_attributes"] = previous;
    }
    json!({
        "id": id,
        "object": "event",
        "api_version": shape.version(),
        "created": created,
        "data": data,
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": event_type,
    })
}

/// A paid one-off Checkout Session.
pub fn checkout_payment(n: u32, amount: i64, currency: &str, created: i64) -> Value {
    checkout_payment_with(n, amount, 0, currency, created, None)
}

/// A paid one-off Checkout Session whose `amount_total` includes `tax`, optionally with invoice
/// creation (`invoice` names the invoice it created, as Payment Links with invoices do).
pub fn checkout_payment_with(
    n: u32,
    amount_total: i64,
    tax: i64,
    currency: &str,
    created: i64,
    invoice: Option<&str>,
) -> Value {
    let amount = amount_total;
    json!({
        "id": format!("cs_test_pay_{n}"),
        "object": "checkout.session",
        "amount_subtotal": amount - tax,
        "amount_total": amount,
        "client_reference_id": null,
        "created": created,
        "currency": currency,
        "customer": format!("cus_demo_{n}"),
        "customer_details": { "email": null, "name": "Demo Customer" },
        "livemode": false,
        "metadata": attribution_metadata(n),
        "mode": "payment",
        "payment_intent": format!("pi_demo_{n}"),
        "payment_status": "paid",
        "status": "complete",
        "subscription": null,
        "invoice": invoice,
        "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": tax },
    })
}

/// A completed subscription-mode Checkout Session.
pub fn checkout_subscription(n: u32, currency: &str, created: i64) -> Value {
    json!({
        "id": format!("cs_test_sub_{n}"),
        "object": "checkout.session",
        "amount_total": 0,
        "created": created,
        "currency": currency,
        "customer": format!("cus_demo_{n}"),
        "metadata": attribution_metadata(n),
        "mode": "subscription",
        "payment_status": "paid",
        "status": "complete",
        "subscription": format!("sub_demo_{n}"),
    })
}

/// A price object.
pub fn price(id: &str, unit_amount: i64, currency: &str, interval: &str) -> Value {
    json!({
        "id": id,
        "object": "price",
        "active": true,
        "billing_scheme": "per_unit",
        "currency": currency,
        "product": format!("prod_{id}"),
        "recurring": { "interval": interval, "interval_count": 1, "usage_type": "licensed", "trial_period_days": null },
        "type": "recurring",
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_amount.to_string(),
    })
}

/// A subscription with one item.
pub fn subscription(n: u32, status: &str, price: Value, quantity: i64, created: i64) -> Value {
    let currency = price["currency"].clone();
    json!({
        "id": format!("sub_demo_{n}"),
        "object": "subscription",
        "billing_cycle_anchor": created,
        "cancel_at_period_end": false,
        "created": created,
        "currency": currency,
        "customer": format!("cus_demo_{n}"),
        "items": { "object": "list", "has_more": false, "data": [{
            "id": format!("si_demo_{n}"),
            "object": "subscription_item",
            "current_period_start": created,
            "current_period_end": created + 30 * 86_400,
            "price": price,
            "quantity": quantity,
        }]},
        "livemode": false,
        "metadata": attribution_metadata(n),
        "start_date": created,
        "status": status,
        "trial_end": null,
    })
}

/// A paid subscription invoice in the given API shape.
#[allow(clippy::too_many_arguments)]
pub fn subscription_invoice(
    n: u32,
    k: u32,
    reason: &str,
    amount: i64,
    price: &Value,
    quantity: i64,
    created: i64,
    shape: ApiShape,
) -> Value {
    let subscription = format!("sub_demo_{n}");
    let mut line = json!({
        "id": format!("il_demo_{n}_{k}"),
        "object": "line_item",
        "amount": amount,
        "currency": price["currency"],
        "description": format!("{quantity} × plan"),
        "metadata": {},
        "period": { "start": created, "end": created + 30 * 86_400 },
        "quantity": quantity,
    });
    let mut invoice = json!({
        "id": format!("in_demo_{n}_{k}"),
        "object": "invoice",
        "amount_due": amount,
        "amount_paid": amount,
        "amount_remaining": 0,
        "billing_reason": reason,
        "created": created,
        "currency": price["currency"],
        "customer": format!("cus_demo_{n}"),
        "livemode": false,
        "metadata": {},
        "status": "paid",
        "total": amount,
    });
    match shape {
        ApiShape::Basil => {
            line["pricing"] = json!({ "type": "price_details", "price_details": { "price": price["id"], "product": price["product"] }, "unit_amount_decimal": price["unit_amount_decimal"] });
            line["parent"] = json!({ "type": "subscription_item_details", "subscription_item_details": { "subscription": subscription, "subscription_item": format!("si_demo_{n}"), "proration": false } });
            invoice["parent"] = json!({ "type": "subscription_details", "subscription_details": { "subscription": subscription, "metadata": attribution_metadata(n) } });
        }
        ApiShape::Legacy => {
            line["price"] = price.clone();
            line["proration"] = json!(false);
            line["subscription"] = json!(subscription);
            invoice["subscription"] = json!(subscription);
            invoice["subscription_details"] = json!({ "metadata": attribution_metadata(n) });
            invoice["payment_intent"] = json!(format!("pi_demo_{n}_{k}"));
        }
    }
    invoice["lines"] = json!({ "object": "list", "has_more": false, "data": [line] });
    invoice
}

/// A charge with a cumulative refunded amount.
pub fn refunded_charge(n: u32, amount: i64, refunded: i64, currency: &str) -> Value {
    json!({
        "id": format!("ch_demo_{n}"),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": refunded,
        "captured": true,
        "currency": currency,
        "customer": format!("cus_demo_{n}"),
        "metadata": {},
        "paid": true,
        "payment_intent": format!("pi_demo_{n}"),
        "refunded": refunded == amount,
        "status": "succeeded",
    })
}

/// A paid one-off invoice (Checkout invoice creation, manual invoices): `amount_paid` includes
/// `tax`; `payment_intent` and `charge` appear before basil only, as in Stripe's payloads.
#[allow(clippy::too_many_arguments)]
pub fn one_off_invoice(
    id: &str,
    n: u32,
    amount_paid: i64,
    tax: i64,
    currency: &str,
    created: i64,
    shape: ApiShape,
    payment_intent: &str,
) -> Value {
    let mut invoice = json!({
        "id": id,
        "object": "invoice",
        "amount_due": amount_paid,
        "amount_paid": amount_paid,
        "amount_remaining": 0,
        "billing_reason": "manual",
        "created": created,
        "currency": currency,
        "customer": format!("cus_demo_{n}"),
        "livemode": false,
        "metadata": {},
        "paid_out_of_band": false,
        "status": "paid",
        "subtotal": amount_paid - tax,
        "total": amount_paid,
        "total_excluding_tax": amount_paid - tax,
        "lines": { "object": "list", "has_more": false, "data": [{
            "id": format!("il_{id}"), "object": "line_item", "amount": amount_paid - tax,
            "currency": currency, "description": "1 × product", "quantity": 1,
        }]},
    });
    match shape {
        ApiShape::Basil => {
            invoice["parent"] = Value::Null;
            invoice["total_taxes"] = if tax > 0 {
                json!([{ "amount": tax, "tax_behavior": "exclusive", "taxability_reason": "standard_rated", "type": "tax_rate_details" }])
            } else {
                json!([])
            };
        }
        ApiShape::Legacy => {
            invoice["subscription"] = Value::Null;
            invoice["payment_intent"] = json!(payment_intent);
            invoice["charge"] = json!(format!("ch_{}", &payment_intent[3..]));
            invoice["paid"] = json!(true);
            invoice["tax"] = if tax > 0 { json!(tax) } else { Value::Null };
            invoice["total_tax_amounts"] = if tax > 0 {
                json!([{ "amount": tax, "inclusive": false, "tax_rate": "txr_demo" }])
            } else {
                json!([])
            };
        }
    }
    invoice
}

/// An InvoicePayment (basil): `payment_intent` paid `invoice`.
pub fn invoice_payment(invoice: &str, amount: i64, currency: &str, payment_intent: &str) -> Value {
    json!({
        "id": format!("inpay_{}", &invoice[3..]),
        "object": "invoice_payment",
        "amount_paid": amount,
        "amount_requested": amount,
        "currency": currency,
        "invoice": invoice,
        "is_default": true,
        "livemode": false,
        "payment": { "type": "payment_intent", "payment_intent": payment_intent },
        "status": "paid",
        "status_transitions": { "canceled_at": null, "paid_at": 0 },
    })
}

/// A charge (`ch_…` of PaymentIntent `pi_…`) with its capture and cumulative refund state.
/// `invoice` is rendered before basil only (basil removed it from Charge).
#[allow(clippy::too_many_arguments)]
pub fn charge(
    payment_intent: &str,
    customer: Option<&str>,
    amount: i64,
    amount_captured: i64,
    amount_refunded: i64,
    currency: &str,
    shape: ApiShape,
    invoice: Option<&str>,
) -> Value {
    let captured = amount_captured > 0;
    let mut charge = json!({
        "id": format!("ch_{}", &payment_intent[3..]),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount_captured,
        "amount_refunded": amount_refunded,
        "captured": captured,
        "currency": currency,
        "customer": customer,
        "disputed": false,
        "livemode": false,
        "metadata": {},
        "paid": true,
        "payment_intent": payment_intent,
        "refunded": captured && amount_refunded >= amount_captured || !captured && amount_refunded >= amount,
        "status": "succeeded",
    });
    if shape == ApiShape::Legacy {
        charge["invoice"] = json!(invoice);
    }
    charge
}

/// A Refund of a PaymentIntent's charge.
pub fn refund(
    id: &str,
    payment_intent: &str,
    amount: i64,
    status: &str,
    currency: &str,
    created: i64,
) -> Value {
    json!({
        "id": id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": format!("txn_{id}"),
        "charge": format!("ch_{}", &payment_intent[3..]),
        "created": created,
        "currency": currency,
        "failure_balance_transaction": if status == "failed" { json!(format!("txn_fail_{id}")) } else { Value::Null },
        "failure_reason": if status == "failed" { json!("expired_or_canceled_card") } else { Value::Null },
        "metadata": {},
        "payment_intent": payment_intent,
        "reason": "requested_by_customer",
        "status": status,
    })
}

/// A Dispute of a PaymentIntent's charge.
pub fn dispute(id: &str, payment_intent: &str, amount: i64, status: &str, currency: &str) -> Value {
    json!({
        "id": id,
        "object": "dispute",
        "amount": amount,
        "charge": format!("ch_{}", &payment_intent[3..]),
        "currency": currency,
        "is_charge_refundable": false,
        "livemode": false,
        "metadata": {},
        "payment_intent": payment_intent,
        "reason": "fraudulent",
        "status": status,
    })
}

/// Marks an event (and its object) as live mode.
pub fn live(mut event: Value) -> Value {
    event["livemode"] = json!(true);
    if event["data"]["object"].get("livemode").is_some() {
        event["data"]["object"]["livemode"] = json!(true);
    }
    event
}

/// Marks an event as a connected account's (`account`, Connect).
pub fn connected(mut event: Value, account: &str) -> Value {
    event["account"] = json!(account);
    event
}

/// Names accepted by [`scenario`].
pub const SCENARIOS: [&str; 11] = [
    "purchase_refunds",
    "subscription_lifecycle",
    "trial_conversion",
    "jpy_kwd",
    "checkout_invoice",
    "dispute_lost",
    "dispute_won",
    "refund_failed",
    "uncaptured_release",
    "unreported_refund",
    "mode_and_connect_noise",
];

/// Names accepted by [`single`]: one event of each supported type.
pub const EVENT_TYPES: [&str; 12] = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "invoice.paid",
    "invoice.payment_succeeded",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "charge.refunded",
    "refund.failed",
    "charge.refund.updated",
    "charge.dispute.closed",
    "invoice_payment.paid",
];

/// A lifecycle scenario's events, in the order Stripe would create them, starting at `t0`.
/// Ids are derived from `t0` so two runs never collide in a replay store.
pub fn scenario(name: &str, shape: ApiShape, t0: i64) -> Option<Vec<Value>> {
    let n = u32::try_from(t0.rem_euclid(1_000_000)).unwrap_or(0);
    let day = 86_400;
    let ev = |k: u32, ty: &str, at: i64, object: Value, prev: Option<Value>| {
        event(&format!("evt_demo_{n}_{k}"), ty, at, shape, object, prev)
    };
    Some(match name {
        "purchase_refunds" => vec![
            ev(
                1,
                "checkout.session.completed",
                t0,
                checkout_payment(n, 4999, "usd", t0),
                None,
            ),
            ev(
                2,
                "charge.refunded",
                t0 + day,
                refunded_charge(n, 4999, 1000, "usd"),
                None,
            ),
            ev(
                3,
                "charge.refunded",
                t0 + 2 * day,
                refunded_charge(n, 4999, 2500, "usd"),
                None,
            ),
        ],
        "subscription_lifecycle" => {
            let basic = price("price_basic", 2000, "usd", "month");
            let cheap = price("price_cheap", 1500, "usd", "month");
            let month = 30 * day;
            vec![
                ev(
                    1,
                    "checkout.session.completed",
                    t0,
                    checkout_subscription(n, "usd", t0),
                    None,
                ),
                ev(
                    2,
                    "customer.subscription.created",
                    t0,
                    subscription(n, "incomplete", basic.clone(), 1, t0),
                    None,
                ),
                ev(
                    3,
                    "invoice.paid",
                    t0 + 1,
                    subscription_invoice(
                        n,
                        1,
                        "subscription_create",
                        2000,
                        &basic,
                        1,
                        t0 + 1,
                        shape,
                    ),
                    None,
                ),
                ev(
                    4,
                    "customer.subscription.updated",
                    t0 + 2,
                    subscription(n, "active", basic.clone(), 1, t0),
                    Some(json!({"status": "incomplete"})),
                ),
                ev(
                    5,
                    "invoice.paid",
                    t0 + month,
                    subscription_invoice(
                        n,
                        2,
                        "subscription_cycle",
                        2000,
                        &basic,
                        1,
                        t0 + month,
                        shape,
                    ),
                    None,
                ),
                ev(
                    6,
                    "invoice.paid",
                    t0 + 2 * month,
                    subscription_invoice(
                        n,
                        3,
                        "subscription_cycle",
                        2000,
                        &basic,
                        1,
                        t0 + 2 * month,
                        shape,
                    ),
                    None,
                ),
                ev(
                    7,
                    "customer.subscription.updated",
                    t0 + 2 * month + day,
                    subscription(n, "active", basic.clone(), 3, t0),
                    Some(json!({"items": {"data": [{"quantity": 1}]}})),
                ),
                ev(
                    8,
                    "customer.subscription.updated",
                    t0 + 2 * month + 2 * day,
                    subscription(n, "active", cheap, 2, t0),
                    Some(json!({"items": {"data": [{"quantity": 3, "price": basic}]}})),
                ),
                ev(
                    9,
                    "customer.subscription.deleted",
                    t0 + 3 * month,
                    subscription(
                        n,
                        "canceled",
                        price("price_cheap", 1500, "usd", "month"),
                        2,
                        t0,
                    ),
                    None,
                ),
            ]
        }
        "trial_conversion" => {
            let pro = price("price_pro", 1500, "usd", "month");
            let trial = 14 * day;
            vec![
                ev(
                    1,
                    "checkout.session.completed",
                    t0,
                    checkout_subscription(n, "usd", t0),
                    None,
                ),
                ev(
                    2,
                    "customer.subscription.created",
                    t0,
                    subscription(n, "trialing", pro.clone(), 1, t0),
                    None,
                ),
                ev(
                    3,
                    "invoice.paid",
                    t0 + 1,
                    subscription_invoice(n, 1, "subscription_create", 0, &pro, 1, t0 + 1, shape),
                    None,
                ),
                ev(
                    4,
                    "customer.subscription.updated",
                    t0 + trial,
                    subscription(n, "active", pro.clone(), 1, t0),
                    Some(json!({"status": "trialing"})),
                ),
                ev(
                    5,
                    "invoice.paid",
                    t0 + trial + 1,
                    subscription_invoice(
                        n,
                        2,
                        "subscription_cycle",
                        1500,
                        &pro,
                        1,
                        t0 + trial + 1,
                        shape,
                    ),
                    None,
                ),
                ev(
                    6,
                    "customer.subscription.deleted",
                    t0 + trial + 40 * day,
                    subscription(n, "canceled", pro, 1, t0),
                    None,
                ),
            ]
        }
        // Checkout with invoice creation: the session, the invoice's two paid events (and, from
        // basil on, the invoice payment) are one payment of 50.00 + 9.50 tax.
        "checkout_invoice" => {
            let invoice = format!("in_demo_{n}_co");
            let pi = format!("pi_demo_{n}");
            let paid = one_off_invoice(&invoice, n, 5950, 950, "eur", t0 + 1, shape, &pi);
            let mut events = vec![
                ev(
                    1,
                    "checkout.session.completed",
                    t0,
                    checkout_payment_with(n, 5950, 950, "eur", t0, Some(&invoice)),
                    None,
                ),
                ev(2, "invoice.paid", t0 + 1, paid.clone(), None),
                ev(3, "invoice.payment_succeeded", t0 + 1, paid, None),
            ];
            if shape == ApiShape::Basil {
                events.push(ev(
                    4,
                    "invoice_payment.paid",
                    t0 + 1,
                    invoice_payment(&invoice, 5950, "eur", &pi),
                    None,
                ));
            }
            events
        }
        // A purchase of 49.99 disputed and lost: Stripe's net volume is 0.
        "dispute_lost" | "dispute_won" => {
            let pi = format!("pi_demo_{n}");
            let dp = format!("dp_demo_{n}");
            let won = name == "dispute_won";
            let mut events = vec![
                ev(
                    1,
                    "checkout.session.completed",
                    t0,
                    checkout_payment(n, 4999, "usd", t0),
                    None,
                ),
                ev(
                    2,
                    "charge.dispute.created",
                    t0 + day,
                    dispute(&dp, &pi, 4999, "needs_response", "usd"),
                    None,
                ),
                ev(
                    3,
                    "charge.dispute.funds_withdrawn",
                    t0 + day + 1,
                    dispute(&dp, &pi, 4999, "needs_response", "usd"),
                    None,
                ),
            ];
            if won {
                events.push(ev(
                    4,
                    "charge.dispute.funds_reinstated",
                    t0 + 20 * day,
                    dispute(&dp, &pi, 4999, "won", "usd"),
                    None,
                ));
            }
            events.push(ev(
                5,
                "charge.dispute.closed",
                t0 + 20 * day + 1,
                dispute(&dp, &pi, 4999, if won { "won" } else { "lost" }, "usd"),
                None,
            ));
            events
        }
        // A purchase of 100.00, a refund of 20.00 that fails later: the merchant keeps 100.00.
        "refund_failed" => {
            let pi = format!("pi_demo_{n}");
            let re = format!("re_demo_{n}");
            let customer = format!("cus_demo_{n}");
            vec![
                ev(
                    1,
                    "checkout.session.completed",
                    t0,
                    checkout_payment(n, 10_000, "usd", t0),
                    None,
                ),
                ev(
                    2,
                    "charge.refunded",
                    t0 + day,
                    charge(
                        &pi,
                        Some(&customer),
                        10_000,
                        10_000,
                        2000,
                        "usd",
                        shape,
                        None,
                    ),
                    None,
                ),
                ev(
                    3,
                    "refund.created",
                    t0 + day,
                    refund(&re, &pi, 2000, "pending", "usd", t0 + day),
                    None,
                ),
                ev(
                    4,
                    "charge.refund.updated",
                    t0 + 3 * day,
                    refund(&re, &pi, 2000, "failed", "usd", t0 + day),
                    None,
                ),
                ev(
                    5,
                    "refund.failed",
                    t0 + 3 * day,
                    refund(&re, &pi, 2000, "failed", "usd", t0 + day),
                    None,
                ),
            ]
        }
        // An authorisation of 50.00 released without capture (before basil Stripe records the
        // release as a refund of the whole amount): no money in, no money out.
        "uncaptured_release" => {
            let pi = format!("pi_demo_{n}");
            vec![
                ev(
                    1,
                    "charge.refunded",
                    t0 + 3600,
                    charge(
                        &pi,
                        Some(&format!("cus_demo_{n}")),
                        5000,
                        0,
                        5000,
                        "usd",
                        shape,
                        None,
                    ),
                    None,
                ),
                ev(
                    2,
                    "refund.created",
                    t0 + 3600,
                    refund(
                        &format!("re_demo_{n}"),
                        &pi,
                        5000,
                        "succeeded",
                        "usd",
                        t0 + 3600,
                    ),
                    None,
                ),
            ]
        }
        // A refund of a Terminal / PaymentIntents API sale the bridge never reported.
        "unreported_refund" => {
            let pi = format!("pi_pos_{n}");
            vec![
                ev(
                    1,
                    "charge.refunded",
                    t0 + day,
                    charge(&pi, None, 8000, 8000, 3000, "usd", shape, None),
                    None,
                ),
                ev(
                    2,
                    "refund.created",
                    t0 + day,
                    refund(
                        &format!("re_pos_{n}"),
                        &pi,
                        3000,
                        "succeeded",
                        "usd",
                        t0 + day,
                    ),
                    None,
                ),
            ]
        }
        // One live purchase of 30.00 among a test-mode purchase and refund, and a connected
        // account's live purchase: only 30.00 is the platform's live revenue.
        "mode_and_connect_noise" => vec![
            live(ev(
                1,
                "checkout.session.completed",
                t0,
                checkout_payment(n, 3000, "usd", t0),
                None,
            )),
            ev(
                2,
                "checkout.session.completed",
                t0 + 1,
                checkout_payment(n + 1, 9900, "usd", t0 + 1),
                None,
            ),
            ev(
                3,
                "charge.refunded",
                t0 + 2,
                charge(
                    &format!("pi_demo_{}", n + 1),
                    None,
                    9900,
                    9900,
                    9900,
                    "usd",
                    shape,
                    None,
                ),
                None,
            ),
            connected(
                live(ev(
                    4,
                    "checkout.session.completed",
                    t0 + 3,
                    checkout_payment(n + 2, 7700, "usd", t0 + 3),
                    None,
                )),
                "acct_demo_connected",
            ),
        ],
        "jpy_kwd" => vec![
            ev(
                1,
                "checkout.session.completed",
                t0,
                checkout_payment(n, 5000, "jpy", t0),
                None,
            ),
            ev(
                2,
                "checkout.session.completed",
                t0 + 1,
                checkout_payment(n + 1, 12_340, "kwd", t0 + 1),
                None,
            ),
        ],
        _ => return None,
    })
}

/// One event of a supported type (`checkout.session.completed`, `invoice.paid`, …).
pub fn single(event_type: &str, shape: ApiShape, t0: i64) -> Option<Value> {
    let n = u32::try_from(t0.rem_euclid(1_000_000)).unwrap_or(0);
    let basic = price("price_basic", 2000, "usd", "month");
    let object = match event_type {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            checkout_payment(n, 2999, "usd", t0)
        }
        "invoice.paid" | "invoice.payment_succeeded" => {
            subscription_invoice(n, 1, "subscription_create", 2000, &basic, 1, t0, shape)
        }
        "customer.subscription.created" | "customer.subscription.updated" => {
            subscription(n, "active", basic, 1, t0)
        }
        "customer.subscription.deleted" => subscription(n, "canceled", basic, 1, t0),
        "charge.refunded" => refunded_charge(n, 2999, 2999, "usd"),
        "refund.failed" | "charge.refund.updated" => refund(
            &format!("re_demo_{n}"),
            &format!("pi_demo_{n}"),
            1000,
            "failed",
            "usd",
            t0 - 86_400,
        ),
        "charge.dispute.closed" => dispute(
            &format!("dp_demo_{n}"),
            &format!("pi_demo_{n}"),
            2999,
            "lost",
            "usd",
        ),
        "invoice_payment.paid" => invoice_payment(
            &format!("in_demo_{n}_1"),
            2000,
            "usd",
            &format!("pi_demo_{n}"),
        ),
        _ => return None,
    };
    Some(event(
        &format!("evt_single_{n}"),
        event_type,
        t0,
        shape,
        object,
        None,
    ))
}
