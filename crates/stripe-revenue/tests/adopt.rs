//! Adopt against a fake Stripe API holding 500 subscriptions (three currencies, monthly and
//! annual, seats, forever and one-off coupons in both API shapes, every status): with an opening
//! balance, Pulsora's MRR per currency equals Stripe's as computed by a deliberately simple
//! independent model; a day of webhook changes keeps it equal; a second run changes nothing;
//! without an opening balance nothing is sent and the next change reports the right movement.
#![cfg(feature = "stripe-api")]

#[path = "support/fake_pulsora.rs"]
mod fake_pulsora;

use fake_pulsora::FakePulsora;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stripe_read::fake::{FakeStripe, Fault};
use stripe_read::StripeClient;
use stripe_revenue::adopt::adopt;
use stripe_revenue::{Policy, RevenueSync};
use stripe_webhook_guard::{StripeWebhookLayer, VerifiedStripeEvent};

const KEY: &str = "rk_test_adopt_fake_key";
const SECRET: &str = "whsec_adopt_test_0123456789abcdef0123456789abcd";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// One subscription of the generated account, as the simple model sees it.
#[derive(Debug, Clone)]
struct Plan {
    id: String,
    currency: &'static str,
    /// Price per interval, minor units.
    unit_amount: i64,
    annual: bool,
    quantity: i64,
    status: &'static str,
    /// A forever percent-off coupon (halves MRR); `once` coupons are modelled as no change.
    forever_half: bool,
    once_coupon: bool,
    basil: bool,
}

/// The independent model of Stripe's MRR: active and past_due count; price × seats, an annual
/// price over 12 months, a forever 50% coupon halves it, a `once` coupon changes nothing; minor
/// units to major with the currency's exponent.
fn model_mrr(plans: &[Plan]) -> BTreeMap<String, Decimal> {
    let mut out = BTreeMap::new();
    for plan in plans {
        if !matches!(plan.status, "active" | "past_due") {
            continue;
        }
        let mut minor = Decimal::from(plan.unit_amount * plan.quantity);
        if plan.annual {
            minor /= Decimal::from(12);
        }
        if plan.forever_half {
            minor /= Decimal::from(2);
        }
        let exponent = if plan.currency == "jpy" { 0 } else { 2 };
        let major = minor / Decimal::from(10i64.pow(exponent));
        *out.entry(plan.currency.to_ascii_uppercase())
            .or_insert(Decimal::ZERO) += major;
    }
    out
}

fn account(n: usize) -> Vec<Plan> {
    let currencies = ["usd", "eur", "jpy"];
    let statuses = [
        "active",
        "active",
        "active",
        "active",
        "active",
        "active",
        "past_due",
        "trialing",
        "canceled",
        "incomplete",
    ];
    (0..n)
        .map(|i| {
            let currency = currencies[i % 3];
            let annual = i % 4 == 0;
            // Amounts divisible by 24 so every model division is exact.
            let base = if currency == "jpy" { 2_400 } else { 1_200 };
            Plan {
                id: format!("sub_adopt_{i:04}"),
                currency,
                unit_amount: base * (1 + (i as i64 % 5)) * if annual { 10 } else { 1 },
                annual,
                quantity: 1 + (i as i64 % 3),
                status: statuses[(i * 7) % statuses.len()],
                forever_half: i % 5 == 1,
                once_coupon: i % 7 == 2,
                basil: i % 2 == 0,
            }
        })
        .collect()
}

/// The plan as Stripe's API returns it with `expand[]=data.discounts` (basil) or with the legacy
/// singular `discount`.
fn stripe_object(plan: &Plan, created: i64) -> Value {
    let coupon = if plan.forever_half {
        Some(
            json!({"id": "half_forever", "object": "coupon", "duration": "forever", "percent_off": 50.0}),
        )
    } else if plan.once_coupon {
        Some(json!({"id": "ten_once", "object": "coupon", "duration": "once", "percent_off": 10.0}))
    } else {
        None
    };
    let discount = coupon.map(|coupon| {
        json!({"id": format!("di_{}", plan.id), "object": "discount", "coupon": coupon, "subscription": plan.id})
    });
    let mut object = json!({
        "id": plan.id,
        "object": "subscription",
        "created": created,
        "currency": plan.currency,
        "customer": format!("cus_{}", plan.id),
        "livemode": false,
        "status": plan.status,
        "metadata": {},
        "items": {"object": "list", "has_more": false, "data": [{
            "id": format!("si_{}", plan.id),
            "object": "subscription_item",
            "quantity": plan.quantity,
            "price": {
                "id": format!("price_{}_{}", plan.currency, plan.unit_amount),
                "object": "price",
                "currency": plan.currency,
                "unit_amount": plan.unit_amount,
                "billing_scheme": "per_unit",
                "recurring": {"interval": if plan.annual { "year" } else { "month" }, "interval_count": 1, "usage_type": "licensed"}
            }
        }]}
    });
    if plan.basil {
        object["discounts"] = json!(discount.into_iter().collect::<Vec<_>>());
    } else {
        object["discount"] = discount.unwrap_or(Value::Null);
    }
    object
}

fn pulsora_mrr(pulsora: &FakePulsora) -> BTreeMap<String, Decimal> {
    let mut out = BTreeMap::new();
    for (tx, bodies) in pulsora.accepted() {
        assert_eq!(bodies.len(), 1, "{tx} sent {} times", bodies.len());
        if let Some(impact) = bodies[0].get("mrr_impact") {
            let impact = Decimal::from_str(&impact.to_string()).unwrap();
            let currency = bodies[0]["currency"].as_str().unwrap().to_owned();
            *out.entry(currency).or_insert(Decimal::ZERO) += impact;
        }
    }
    out.retain(|_, v| !v.is_zero());
    out
}

fn nonzero(mut mrr: BTreeMap<String, Decimal>) -> BTreeMap<String, Decimal> {
    mrr.retain(|_, v| !v.is_zero());
    mrr
}

struct Bridge {
    layer: StripeWebhookLayer,
    sync: RevenueSync,
    pulsora: FakePulsora,
}

async fn bridge() -> Bridge {
    let (pulsora, url) = FakePulsora::start(0).await;
    let client = pulsora::Revenue::builder("sec_adopt")
        .endpoint(&url)
        .max_retries(0)
        .build()
        .unwrap();
    Bridge {
        layer: StripeWebhookLayer::new(SECRET),
        // The fake account is in test mode (livemode false), as a test key reads it.
        sync: RevenueSync::new(client)
            .policy(Policy::default().livemode(stripe_revenue::Livemode::Test)),
        pulsora,
    }
}

async fn webhook(bridge: &Bridge, event: Value) {
    let sync = bridge.sync.clone();
    let verified =
        VerifiedStripeEvent::from_verified_bytes(bytes::Bytes::from(event.to_string())).unwrap();
    bridge
        .layer
        .deliver_trusted(verified, |e| async move {
            let outcome = sync.handle(&e).await;
            outcome
                .status()
                .is_success()
                .then_some(())
                .ok_or(outcome.body())
        })
        .await
        .unwrap()
        .unwrap();
}

fn client(fake: &FakeStripe) -> StripeClient {
    StripeClient::builder(KEY)
        .base_url(fake.base_url())
        .base_backoff(Duration::from_millis(5))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_balance_makes_pulsora_mrr_equal_stripe_and_webhooks_keep_it() {
    let t0 = now() - 90 * 86_400;
    let mut plans = account(500);
    let fake = FakeStripe::start(KEY).await.unwrap();
    for (i, plan) in plans.iter().enumerate() {
        fake.put("subscriptions", stripe_object(plan, t0 + i as i64));
    }
    fake.fail_next(Fault::ServerError);
    let stripe = client(&fake);
    let bridge = bridge().await;

    let summary = adopt(&stripe, &bridge.layer, &bridge.sync, true, false, |_| {})
        .await
        .expect("adopt");
    let want = nonzero(model_mrr(&plans));
    assert_eq!(summary.read, 500, "{summary}");
    assert_eq!(nonzero(summary.mrr.clone()), want, "{summary}");
    assert_eq!(pulsora_mrr(&bridge.pulsora), want);
    let list = fake
        .requests()
        .into_iter()
        .find(|r| r.status == 200)
        .unwrap();
    assert!(list.query.contains(&("status".into(), "all".into())));
    assert!(list
        .query
        .contains(&("expand[]".into(), "data.discounts".into())));
    // Opening balances are MRR movements, never money.
    for bodies in bridge.pulsora.accepted().values() {
        assert_eq!(bodies[0]["event_type"], "upgrade");
        assert_eq!(bodies[0]["metadata"]["opening_balance"], true);
        assert!(bodies[0]["transaction_id"]
            .as_str()
            .unwrap()
            .ends_with("_opening"));
    }

    // A second run changes nothing.
    let sent_before = bridge.pulsora.accepted().len();
    let again = adopt(&stripe, &bridge.layer, &bridge.sync, true, false, |_| {})
        .await
        .unwrap();
    assert_eq!((again.already, again.sent), (500, 0), "{again}");
    assert_eq!(bridge.pulsora.accepted().len(), sent_before);

    // A day of changes by webhook (after the read: an event of the same second as the read
    // ranks below the API's snapshot): seat changes, cancellations, a past-due one paid.
    let day = now() + 60;
    for (k, i) in (0..500).step_by(17).enumerate() {
        let before = plans[i].clone();
        let mut after = before.clone();
        let kind = match k % 3 {
            0 if before.status == "active" => {
                after.quantity += 2;
                "customer.subscription.updated"
            }
            1 if before.status != "canceled" => {
                after.status = "canceled";
                "customer.subscription.deleted"
            }
            _ if before.status == "past_due" => {
                after.status = "active";
                "customer.subscription.updated"
            }
            _ => continue,
        };
        let mut object = stripe_object(&after, t0 + i as i64);
        let previous = if kind == "customer.subscription.updated" {
            let mut previous = json!({});
            if before.quantity != after.quantity {
                previous["items"] = stripe_object(&before, 0)["items"].clone();
                previous["quantity"] = json!(before.quantity);
            }
            if before.status != after.status {
                previous["status"] = json!(before.status);
            }
            Some(previous)
        } else {
            object["ended_at"] = json!(day + k as i64);
            None
        };
        let mut data = json!({"object": object});
        if let Some(previous) = previous {
            data["previous_attributes"] = previous;
        }
        let event = json!({
            "id": format!("evt_day_{k}"), "object": "event", "type": kind,
            "created": day + k as i64, "livemode": false, "api_version": "2025-03-31.basil",
            "data": data,
        });
        webhook(&bridge, event).await;
        // Stripe's own record changes with it.
        let mut current = stripe_object(&after, t0 + i as i64);
        if kind == "customer.subscription.deleted" {
            current["ended_at"] = json!(day + k as i64);
        }
        fake.put("subscriptions", current);
        plans[i] = after;
    }
    assert_eq!(pulsora_mrr(&bridge.pulsora), nonzero(model_mrr(&plans)));

    // Reconcile agrees: MRR per currency is the model's on both sides, no object differs.
    let report = bridge
        .sync
        .reconcile(
            &stripe,
            stripe_revenue::reconcile::ReconcileWindow {
                since: t0,
                until: None,
            },
        )
        .await
        .unwrap();
    assert!(report.agrees(), "{report}");
    assert_eq!(report.checked.subscriptions, 500);
    let column = |recorded: bool| {
        nonzero(
            report
                .mrr
                .iter()
                .map(|r| {
                    (
                        r.currency.clone(),
                        if recorded { r.recorded } else { r.stripe },
                    )
                })
                .collect(),
        )
    };
    assert_eq!(column(false), nonzero(model_mrr(&plans)));
    assert_eq!(column(true), nonzero(model_mrr(&plans)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adoption_without_opening_sends_nothing_and_reports_the_next_movement() {
    let t0 = now() - 30 * 86_400;
    let plans = account(60);
    let fake = FakeStripe::start(KEY).await.unwrap();
    for (i, plan) in plans.iter().enumerate() {
        fake.put("subscriptions", stripe_object(plan, t0 + i as i64));
    }
    let stripe = client(&fake);
    let bridge = bridge().await;

    let dry = adopt(&stripe, &bridge.layer, &bridge.sync, false, true, |_| {})
        .await
        .unwrap();
    assert!(dry.dry_run && dry.adopted == 0);
    let summary = adopt(&stripe, &bridge.layer, &bridge.sync, false, false, |_| {})
        .await
        .unwrap();
    assert_eq!((summary.adopted, summary.sent), (60, 0), "{summary}");
    assert!(bridge.pulsora.accepted().is_empty());
    // Pulsora was told nothing: reconcile shows each counting subscription's unreported MRR.
    let report = bridge
        .sync
        .reconcile(
            &stripe,
            stripe_revenue::reconcile::ReconcileWindow {
                since: t0,
                until: None,
            },
        )
        .await
        .unwrap();
    let counting = model_mrr(
        &plans
            .iter()
            .filter(|p| p.status != "canceled")
            .cloned()
            .collect::<Vec<_>>(),
    );
    let listed: Vec<_> = report
        .differences
        .iter()
        .map(|d| d.object.as_str())
        .collect();
    let want: Vec<_> = plans
        .iter()
        .filter(|p| matches!(p.status, "active" | "past_due"))
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(listed, want, "{report}");
    assert!(report
        .differences
        .iter()
        .all(|d| d.detail.contains("never reported")));
    assert_eq!(
        nonzero(
            report
                .mrr
                .iter()
                .map(|r| (r.currency.clone(), r.stripe))
                .collect()
        ),
        nonzero(counting)
    );

    // An active monthly subscription adds a seat: only the movement is reported.
    let plan = plans
        .iter()
        .find(|p| p.status == "active" && !p.annual && !p.forever_half && p.currency == "usd")
        .unwrap()
        .clone();
    let mut after = plan.clone();
    after.quantity += 1;
    let event = json!({
        "id": "evt_seat", "object": "event", "type": "customer.subscription.updated",
        "created": now() + 60, "livemode": false, "api_version": "2025-03-31.basil",
        "data": {"object": stripe_object(&after, t0), "previous_attributes": {"items": stripe_object(&plan, t0)["items"]}},
    });
    webhook(&bridge, event).await;
    let sent = bridge.pulsora.accepted();
    assert_eq!(sent.len(), 1);
    let body = &sent.values().next().unwrap()[0];
    assert_eq!(body["event_type"], "upgrade");
    let impact = Decimal::from_str(&body["mrr_impact"].to_string()).unwrap();
    assert_eq!(impact, Decimal::from(plan.unit_amount) / Decimal::from(100));
}
