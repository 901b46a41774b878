// Shared by the MRR property test and the reconcile acceptance test.
#![allow(dead_code)]
//! The subscription-life generator: a random sequence of what happens to a subscription, played
//! against a small model of Stripe's MRR definition ([`Model::mrr`]), rendered as the events
//! Stripe would send in either API shape.

use proptest::prelude::*;
use rust_decimal::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use stripe_revenue::fixtures::{event, ApiShape};

pub const DAY: i64 = 86_400;

#[derive(Debug, Clone)]
pub enum Op {
    Convert,
    Quantity(i64),
    Price(i64, usize),
    Coupon { percent: u32, forever: bool },
    RemoveCoupon,
    Pause(bool),
    CancelAtPeriodEnd(bool),
    PastDue,
    Unpaid,
    LatePay,
    Renew,
    CancelNow,
}

pub const INTERVALS: [&str; 3] = ["month", "year", "week"];

#[derive(Debug, Clone)]
pub struct Start {
    pub trial: bool,
    pub setup_fee: bool,
    pub unit: i64,
    pub interval: usize,
    pub quantity: i64,
    /// `transform_quantity`: (divide_by, round up).
    pub package: Option<(i64, bool)>,
    /// Inclusive tax rate, percent.
    pub tax: Option<u32>,
}

/// The model: only what Stripe's MRR definition reads.
#[derive(Debug, Clone)]
pub struct Model {
    pub status: &'static str,
    pub unit: i64,
    pub interval: usize,
    pub quantity: i64,
    pub package: Option<(i64, bool)>,
    pub tax: Option<u32>,
    /// (discount number, percent, forever)
    pub coupon: Option<(u32, u32, bool)>,
    pub paused: bool,
    pub cancel_at_period_end: bool,
    pub trial_end: Option<i64>,
    pub canceled_at: Option<i64>,
}

impl Model {
    /// Stripe's MRR of this state, in dollars, rounded to cents.
    pub fn mrr(&self) -> Decimal {
        if !matches!(self.status, "active" | "past_due") {
            return Decimal::new(0, 2);
        }
        let billed = match self.package {
            Some((by, up)) => {
                if up {
                    (self.quantity + by - 1) / by
                } else {
                    self.quantity / by
                }
            }
            None => self.quantity,
        };
        let per_interval = Decimal::from(self.unit * billed);
        let monthly = match INTERVALS[self.interval] {
            "month" => per_interval,
            "year" => per_interval / Decimal::from(12),
            _ => per_interval * Decimal::from(52) / Decimal::from(12),
        };
        let discounted = match self.coupon {
            Some((_, percent, true)) => {
                monthly * Decimal::from(100 - percent) / Decimal::ONE_HUNDRED
            }
            _ => monthly,
        };
        let net = match self.tax {
            Some(rate) => discounted * Decimal::ONE_HUNDRED / Decimal::from(100 + rate),
            None => discounted,
        };
        let mut dollars = (net / Decimal::ONE_HUNDRED)
            .round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
        dollars.rescale(2);
        dollars
    }

    fn price_id(&self) -> String {
        format!("price_{}_{}", self.unit, INTERVALS[self.interval])
    }

    /// One interval's line amount (before discounts, with inclusive tax), cents.
    fn line_amount(&self) -> i64 {
        let billed = match self.package {
            Some((by, true)) => (self.quantity + by - 1) / by,
            Some((by, false)) => self.quantity / by,
            None => self.quantity,
        };
        self.unit * billed
    }
}

/// One event of the life, and what the model says about adoption by it.
pub struct Rendered {
    pub json: Value,
    pub created: i64,
    /// `None`: the event does not adopt (a discount event); else the MRR at adoption by it.
    pub adopts_at: Option<Decimal>,
    /// A basil discount was active before this event (its coupon only came in an event).
    pub coupon_known_only_by_event: bool,
    pub subscription_event: bool,
}

pub struct Sim {
    /// Names the subscription and every id of its life.
    pub name: String,
    /// When the life starts (Unix seconds).
    pub born: i64,
    pub shape: ApiShape,
    pub t: i64,
    pub model: Model,
    pub events: Vec<Rendered>,
    pub next_id: u32,
    /// The open invoice (dunning): its JSON, rendered when it was finalised.
    pub open: Option<Value>,
}

impl Sim {
    /// The subscription's id.
    pub fn sub(&self) -> String {
        format!("sub_{}", self.name)
    }

    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_{}_{}", self.name, self.next_id)
    }

    fn subscription_json(&self) -> Value {
        let m = &self.model;
        let mut price = json!({
            "id": m.price_id(), "object": "price", "billing_scheme": "per_unit", "currency": "usd",
            "product": format!("prod_{}", self.name), "type": "recurring",
            "recurring": {"interval": INTERVALS[m.interval], "interval_count": 1, "usage_type": "licensed"},
            "unit_amount": m.unit, "unit_amount_decimal": m.unit.to_string(),
            "tax_behavior": if m.tax.is_some() { "inclusive" } else { "exclusive" },
            "transform_quantity": null,
        });
        if let Some((by, up)) = m.package {
            price["transform_quantity"] =
                json!({"divide_by": by, "round": if up { "up" } else { "down" }});
        }
        let tax_rates = match m.tax {
            Some(rate) => {
                json!([{"id": "txr_life", "object": "tax_rate", "percentage": rate, "inclusive": true, "active": true}])
            }
            None => json!([]),
        };
        let mut sub = json!({
            "id": self.sub(), "object": "subscription", "currency": "usd", "customer": format!("cus_{}", self.name),
            "created": self.born, "status": m.status,
            "items": {"object": "list", "data": [{"id": format!("si_{}", self.name), "object": "subscription_item",
                "price": price, "quantity": m.quantity, "tax_rates": tax_rates, "discounts": []}]},
            "trial_end": m.trial_end, "cancel_at_period_end": m.cancel_at_period_end,
            "canceled_at": m.canceled_at, "ended_at": m.canceled_at,
            "pause_collection": if m.paused { json!({"behavior": "void", "resumes_at": null}) } else { Value::Null },
            "metadata": {"visitor_fingerprint": format!("fp_{}", self.name), "session_id": format!("sess_{}", self.name)},
            "discounts": [],
        });
        if let Some((n, _, _)) = m.coupon {
            sub["discounts"] = json!([format!("di_{}_{n}", self.name)]);
        }
        if self.shape == ApiShape::Legacy {
            sub["discount"] = m.coupon.map_or(Value::Null, |c| self.discount_json(c));
        }
        sub
    }

    fn discount_json(&self, (n, percent, forever): (u32, u32, bool)) -> Value {
        json!({
            "id": format!("di_{}_{n}", self.name), "object": "discount", "customer": format!("cus_{}", self.name),
            "subscription": self.sub(), "start": self.t, "end": if forever { Value::Null } else { json!(self.t + 90 * DAY) },
            "coupon": {"id": format!("co_{}_{n}", self.name), "object": "coupon", "percent_off": percent,
                "duration": if forever { "forever" } else { "repeating" },
                "duration_in_months": if forever { Value::Null } else { json!(3) }},
        })
    }

    fn push(&mut self, json: Value, adopts_at: Option<Decimal>, subscription_event: bool) {
        let basil_coupon = self.shape == ApiShape::Basil && self.model.coupon.is_some();
        let created = json["created"].as_i64().unwrap_or_default();
        self.events.push(Rendered {
            json,
            created,
            adopts_at,
            coupon_known_only_by_event: basil_coupon,
            subscription_event,
        });
    }

    fn sub_event(&mut self, kind: &str, before: Option<(Value, Decimal)>) {
        let id = self.id("evt");
        let object = self.subscription_json();
        let (previous, adopts) = match before {
            Some((old, mrr)) => {
                let mut previous = serde_json::Map::new();
                for (key, value) in old.as_object().unwrap() {
                    if object.get(key) != Some(value) {
                        previous.insert(key.clone(), value.clone());
                    }
                }
                (Some(Value::Object(previous)), mrr)
            }
            None => (None, Decimal::ZERO),
        };
        let json = event(&id, kind, self.t, self.shape, object, previous);
        self.push(json, Some(adopts), true);
    }

    /// Applies a change to the model and sends `customer.subscription.updated`.
    fn update(&mut self, change: impl FnOnce(&mut Model)) {
        let old = self.subscription_json();
        let before = self.model.mrr();
        let had_coupon = self.model.coupon.is_some();
        change(&mut self.model);
        self.sub_event("customer.subscription.updated", Some((old, before)));
        // Its `previous_attributes` name the old discount by id too.
        if let Some(last) = self.events.last_mut() {
            last.coupon_known_only_by_event |= self.shape == ApiShape::Basil && had_coupon;
        }
    }

    fn invoice(&mut self, reason: &str, lines: Vec<(Value, i64, bool)>) -> Value {
        let id = self.id("in");
        let discount = match self.model.coupon {
            Some((_, percent, _)) => lines
                .iter()
                .filter(|(_, _, proration)| !proration)
                .map(|(_, amount, _)| amount * i64::from(percent) / 100)
                .sum(),
            None => 0,
        };
        let total: i64 = lines.iter().map(|(_, a, _)| a).sum::<i64>() - discount;
        let tax = self.model.tax;
        let rendered: Vec<Value> = lines
            .into_iter()
            .map(|(price, amount, proration)| {
                let recurring = !price["recurring"].is_null();
                let end = if recurring { self.t + 30 * DAY } else { self.t };
                let inclusive = tax.map_or(0, |r| amount * i64::from(r) / i64::from(100 + r));
                let mut line = json!({"id": format!("il_{}", amount), "object": "line_item", "amount": amount,
                    "currency": "usd", "quantity": 1, "period": {"start": self.t, "end": end}, "metadata": {}});
                match self.shape {
                    ApiShape::Basil => {
                        line["pricing"] = json!({"type": "price_details", "price_details": {"price": price["id"], "product": format!("prod_{}", self.name)}});
                        line["parent"] = json!({"type": "subscription_item_details", "subscription_item_details": {"subscription": self.sub(), "proration": proration}});
                        line["taxes"] = json!([{"amount": inclusive, "tax_behavior": "inclusive", "taxable_amount": amount - inclusive, "type": "tax_rate_details"}]);
                    }
                    ApiShape::Legacy => {
                        line["price"] = price;
                        line["proration"] = json!(proration);
                        line["tax_amounts"] = json!([{"amount": inclusive, "inclusive": true, "taxable_amount": amount - inclusive}]);
                    }
                }
                line
            })
            .collect();
        let mut invoice = json!({"id": id, "object": "invoice", "amount_paid": total.max(0), "currency": "usd",
            "customer": format!("cus_{}", self.name), "billing_reason": reason, "status": "paid", "metadata": {},
            "lines": {"object": "list", "data": rendered}});
        match self.shape {
            ApiShape::Basil => {
                invoice["parent"] = json!({"type": "subscription_details", "subscription_details": {"subscription": self.sub(), "metadata": {}}})
            }
            ApiShape::Legacy => invoice["subscription"] = json!(self.sub()),
        }
        invoice
    }

    fn recurring_line(&self) -> (Value, i64, bool) {
        let price = self.subscription_json()["items"]["data"][0]["price"].clone();
        (price, self.model.line_amount(), false)
    }

    fn pay(&mut self, mut invoice: Value) {
        invoice["created"] = json!(self.t);
        let id = self.id("evt");
        let json = event(&id, "invoice.paid", self.t, self.shape, invoice, None);
        self.push(json, Some(Decimal::ZERO), false);
    }

    pub fn start(shape: ApiShape, s: &Start) -> Self {
        Self::start_named(shape, s, "life", 1_700_000_000)
    }

    /// A life of subscription `sub_<name>` (ids `evt_<name>_…`, `in_<name>_…`) from `born`.
    pub fn start_named(shape: ApiShape, s: &Start, name: &str, born: i64) -> Self {
        let mut sim = Sim {
            name: name.to_owned(),
            born,
            shape,
            t: born,
            model: Model {
                status: if s.trial { "trialing" } else { "incomplete" },
                unit: s.unit,
                interval: s.interval,
                quantity: s.quantity,
                package: s.package,
                tax: s.tax,
                coupon: None,
                paused: false,
                cancel_at_period_end: false,
                // Far enough that no life outlives its trial without converting (Stripe would end it).
                trial_end: s.trial.then_some(born + 365 * DAY),
                canceled_at: None,
            },
            events: Vec::new(),
            next_id: 0,
            open: None,
        };
        sim.sub_event("customer.subscription.created", None);
        sim.t += 1;
        let mut lines = Vec::new();
        if s.setup_fee {
            lines.push((
                json!({"id": "price_setup", "unit_amount": 5000, "recurring": null}),
                5000,
                false,
            ));
        }
        let (price, amount, _) = sim.recurring_line();
        lines.push((price, if s.trial { 0 } else { amount }, false));
        let invoice = sim.invoice("subscription_create", lines);
        sim.pay(invoice);
        if !s.trial {
            sim.t += 1;
            sim.update(|m| m.status = "active");
        }
        sim
    }

    pub fn apply(&mut self, op: &Op) {
        self.t += DAY;
        let status = self.model.status;
        if status == "canceled" && !matches!(op, Op::LatePay) {
            return;
        }
        match op {
            Op::Convert if status == "trialing" => {
                let t = self.t;
                self.update(|m| {
                    m.status = "active";
                    m.trial_end = Some(t);
                });
                self.t += 1;
                let line = self.recurring_line();
                let invoice = self.invoice("subscription_cycle", vec![line]);
                self.pay(invoice);
            }
            Op::Quantity(q) => self.change(|m| m.quantity = *q),
            Op::Price(unit, interval) => self.change(|m| {
                m.unit = *unit;
                m.interval = *interval;
            }),
            Op::Coupon { percent, forever } => {
                let n = self.next_id + 1;
                self.next_id += 1;
                let coupon = (n, *percent, *forever);
                if self.shape == ApiShape::Basil {
                    let id = self.id("evt");
                    let json = event(
                        &id,
                        "customer.discount.created",
                        self.t,
                        self.shape,
                        self.discount_json(coupon),
                        None,
                    );
                    self.push(json, None, false);
                    self.t += 1;
                }
                self.update(|m| m.coupon = Some(coupon));
            }
            Op::RemoveCoupon if self.model.coupon.is_some() => self.update(|m| m.coupon = None),
            Op::Pause(on) => self.update(|m| m.paused = *on),
            Op::CancelAtPeriodEnd(on) => self.update(|m| m.cancel_at_period_end = *on),
            Op::PastDue if status == "active" && self.open.is_none() => {
                let line = self.recurring_line();
                self.open = Some(self.invoice("subscription_cycle", vec![line]));
                self.update(|m| m.status = "past_due");
            }
            Op::Unpaid if status == "past_due" => self.update(|m| m.status = "unpaid"),
            Op::LatePay => {
                if let Some(open) = self.open.take() {
                    self.pay(open);
                    if matches!(status, "past_due" | "unpaid") {
                        self.t += 1;
                        self.update(|m| m.status = "active");
                    }
                }
            }
            Op::Renew if status == "active" && self.open.is_none() => {
                let line = self.recurring_line();
                let invoice = self.invoice("subscription_cycle", vec![line]);
                self.pay(invoice);
            }
            // Canceling an unpaid subscription: its deletion alone cannot tell it was unpaid
            // (documented); not generated.
            Op::CancelNow if status != "unpaid" => {
                let before = self.model.mrr();
                let old = self.subscription_json();
                let t = self.t;
                self.model.status = "canceled";
                self.model.canceled_at = Some(t);
                let _ = old;
                let id = self.id("evt");
                let object = self.subscription_json();
                let json = event(
                    &id,
                    "customer.subscription.deleted",
                    self.t,
                    self.shape,
                    object,
                    None,
                );
                self.push(json, Some(before), true);
            }
            _ => {}
        }
    }

    /// A price or quantity change: the update, then the proration invoice when collecting.
    fn change(&mut self, change: impl FnOnce(&mut Model)) {
        self.update(change);
        if self.model.status == "active" && self.open.is_none() {
            self.t += 1;
            let (price, _, _) = self.recurring_line();
            let invoice = self.invoice("subscription_update", vec![(price, 137, true)]);
            self.pay(invoice);
        }
    }
}

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Convert),
        2 => (1i64..40).prop_map(Op::Quantity),
        2 => (100i64..20_000, 0usize..3).prop_map(|(u, i)| Op::Price(u, i)),
        2 => (1u32..100, any::<bool>()).prop_map(|(percent, forever)| Op::Coupon { percent, forever }),
        1 => Just(Op::RemoveCoupon),
        1 => any::<bool>().prop_map(Op::Pause),
        1 => any::<bool>().prop_map(Op::CancelAtPeriodEnd),
        1 => Just(Op::PastDue),
        1 => Just(Op::Unpaid),
        2 => Just(Op::LatePay),
        2 => Just(Op::Renew),
        1 => Just(Op::CancelNow),
    ]
}

pub fn start() -> impl Strategy<Value = Start> {
    (
        any::<bool>(),
        any::<bool>(),
        100i64..20_000,
        0usize..3,
        1i64..3000,
        prop::option::of((
            prop_oneof![Just(10i64), Just(100), Just(1000)],
            any::<bool>(),
        )),
        prop::option::of(prop_oneof![Just(7u32), Just(19), Just(20), Just(25)]),
    )
        .prop_map(
            |(trial, setup_fee, unit, interval, quantity, package, tax)| Start {
                trial,
                setup_fee,
                unit,
                interval,
                quantity,
                package,
                tax,
            },
        )
}
