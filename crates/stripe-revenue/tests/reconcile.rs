//! Acceptance of backfill and reconcile (issue 16) on account histories from the property-test
//! generators, over loopback: a fake Stripe API (real pagination, one `429` with `Retry-After`,
//! one `500`) holding every event and the final state of every object, and a recording
//! Pulsora.
//!
//! - The bridge takes the events by webhook until two days ago, then is down; `backfill` from
//!   three days ago, cut half way (Ctrl-C) and rerun, brings Σ money per currency and each
//!   subscription's Σ `mrr_impact` to the models' ground truth; a further run sends nothing.
//! - `reconcile` then agrees, and its Stripe-side figures equal the models.
//! - A bridge from which every event of one payment and one subscription was withheld:
//!   `reconcile` lists exactly those objects.
#![cfg(feature = "stripe-api")]

#[path = "support/fake_pulsora.rs"]
mod fake_pulsora;
#[path = "support/lives.rs"]
mod lives;
#[path = "support/money_history.rs"]
mod money_history;
#[path = "support/stripe_account.rs"]
mod stripe_account;

use fake_pulsora::FakePulsora;
use lives::Sim;
use money_history::{DisputeEnd, Payment, Scope, DAY};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow::{Break, Continue};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stripe_read::fake::{FakeStripe, Fault};
use stripe_read::StripeClient;
use stripe_revenue::backfill::{backfill, BackfillError, BackfillWindow, Progress};
use stripe_revenue::fixtures::{live, ApiShape};
use stripe_revenue::reconcile::{Issue, ReconcileWindow};
use stripe_revenue::{Livemode, Policy, RevenueSync};
use stripe_webhook_guard::{StripeWebhookLayer, VerifiedStripeEvent};

const KEY: &str = "rk_live_reconcile_fake_key";
const SECRET: &str = "whsec_reconcile_test_0123456789abcdef0123456789";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn sample<S: Strategy>(strategy: S, runner: &mut TestRunner) -> S::Value {
    strategy.new_tree(runner).unwrap().current()
}

/// A generated account: payments (their number `n`, model, shape), subscription lives, and
/// every event Stripe sent, in order of creation.
struct Account {
    payments: Vec<(u32, Payment)>,
    lives: Vec<Sim>,
    events: Vec<Value>,
    first: i64,
}

/// A random account each run (as the property tests), reproducible: the seed is printed, and
/// `RECONCILE_SEED=<seed>` replays it.
fn runner() -> TestRunner {
    let seed: u64 = std::env::var("RECONCILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            u64::from(nanos) ^ u64::from(std::process::id()) << 32
        });
    eprintln!("account seed {seed} (RECONCILE_SEED={seed} replays it)");
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        proptest::test_runner::Config::default(),
        proptest::test_runner::TestRng::from_seed(
            proptest::test_runner::RngAlgorithm::ChaCha,
            &bytes,
        ),
    )
}

fn generate(now: i64) -> Account {
    let mut runner = runner();
    let mut payments = Vec::new();
    let mut events = Vec::new();
    // Older payments: refunds in the following days, disputes closing a month later (just
    // before the outage ends).
    for i in 0..12u32 {
        let p = sample(money_history::payment(), &mut runner);
        payments.push((900_000 + i, p, now - 31 * DAY - 3_600 + i as i64 * 60));
    }
    // Payments just before the outage (inside the backfill's window: delivered by webhook, then
    // met again by the backfill), refunded during it: at most one refund, no dispute (it would
    // close in a month).
    for i in 0..6u32 {
        let mut p = sample(money_history::payment(), &mut runner);
        p.refunds.truncate(1);
        p.dispute = DisputeEnd::None;
        payments.push((910_000 + i, p, now - 5 * DAY / 2 + i as i64 * 60));
    }
    for (n, p, t0) in &payments {
        let shape = if n % 2 == 0 {
            ApiShape::Basil
        } else {
            ApiShape::Legacy
        };
        events.extend(money_history::events(*n, p, shape, *t0));
    }
    // Subscription lives of eight steps of a day each, the last ones during the outage.
    let mut lives = Vec::new();
    for k in 0..4 {
        let start = sample(lives::start(), &mut runner);
        let ops = sample(proptest::collection::vec(lives::op(), 8), &mut runner);
        let shape = if k % 2 == 0 {
            ApiShape::Basil
        } else {
            ApiShape::Legacy
        };
        let born = now - 9 * DAY - 600 + k as i64 * 60;
        let mut sim = Sim::start_named(shape, &start, &format!("acc{k}"), born);
        for op in &ops {
            sim.apply(op);
        }
        events.extend(sim.events.iter().map(|r| live(r.json.clone())));
        lives.push(sim);
    }
    events.sort_by_key(|e| e["created"].as_i64());
    let first = events[0]["created"].as_i64().unwrap();
    Account {
        payments: payments.into_iter().map(|(n, p, _)| (n, p)).collect(),
        lives,
        events,
        first,
    }
}

struct Bridge {
    layer: StripeWebhookLayer,
    sync: RevenueSync,
    pulsora: FakePulsora,
}

async fn bridge() -> Bridge {
    let (pulsora, url) = FakePulsora::start(0).await;
    let client = pulsora::Revenue::builder("sec_reconcile")
        .endpoint(&url)
        .max_retries(0)
        .build()
        .unwrap();
    Bridge {
        layer: StripeWebhookLayer::new(SECRET),
        sync: RevenueSync::new(client).policy(Policy::default().livemode(Livemode::Live)),
        pulsora,
    }
}

async fn webhook(bridge: &Bridge, event: &Value) {
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

async fn stripe_holding(account: &Account) -> (FakeStripe, StripeClient) {
    let fake = FakeStripe::start(KEY).await.unwrap();
    for event in &account.events {
        fake.put("events", event.clone());
    }
    for (collection, object) in stripe_account::objects(&account.events) {
        fake.put(collection, object);
    }
    let client = StripeClient::builder(KEY)
        .base_url(fake.base_url())
        .base_backoff(Duration::from_millis(5))
        .build()
        .unwrap();
    (fake, client)
}

fn minor_to_major(minor: i64, currency: &str) -> Decimal {
    Decimal::new(minor, if currency == "jpy" { 0 } else { 2 })
}

/// Ground truth of money per currency: the payments' model, plus the subscription invoices
/// Stripe collected (each paid invoice once).
fn money_truth(account: &Account) -> BTreeMap<String, Decimal> {
    let mut truth: BTreeMap<String, Decimal> = BTreeMap::new();
    for (_, p) in &account.payments {
        *truth.entry(p.currency.to_ascii_uppercase()).or_default() +=
            minor_to_major(p.truth(), p.currency);
    }
    let mut invoices = BTreeSet::new();
    for sim in &account.lives {
        for r in &sim.events {
            let invoice = &r.json["data"]["object"];
            if r.json["type"] == "invoice.paid" && invoices.insert(invoice["id"].to_string()) {
                *truth.entry("USD".into()).or_default() +=
                    minor_to_major(invoice["amount_paid"].as_i64().unwrap(), "usd");
            }
        }
    }
    truth.retain(|_, v| !v.is_zero());
    truth
}

fn decimal(value: &Value) -> Decimal {
    Decimal::from_str(&value.to_string()).unwrap()
}

/// Σ money and Σ `mrr_impact` per subscription that Pulsora accepted; each transaction once.
fn pulsora_sums(pulsora: &FakePulsora) -> (BTreeMap<String, Decimal>, BTreeMap<String, Decimal>) {
    let (mut money, mut mrr) = (BTreeMap::new(), BTreeMap::new());
    for (tx, bodies) in pulsora.accepted() {
        assert_eq!(bodies.len(), 1, "{tx} sent {} times", bodies.len());
        let body = &bodies[0];
        let currency = body["currency"].as_str().unwrap().to_owned();
        if ["purchase", "subscription", "renewal", "refund"]
            .contains(&body["event_type"].as_str().unwrap())
        {
            *money.entry(currency).or_insert(Decimal::ZERO) += decimal(&body["amount"]);
        }
        if let (Some(sub), Some(impact)) = (
            body["customer_subscription_id"].as_str(),
            body.get("mrr_impact"),
        ) {
            *mrr.entry(sub.to_owned()).or_insert(Decimal::ZERO) += decimal(impact);
        }
    }
    money.retain(|_, v: &mut Decimal| !v.is_zero());
    (money, mrr)
}

fn report_column(
    rows: &[stripe_revenue::reconcile::Row],
    recorded: bool,
) -> BTreeMap<String, Decimal> {
    rows.iter()
        .map(|r| {
            (
                r.currency.clone(),
                if recorded { r.recorded } else { r.stripe },
            )
        })
        .filter(|(_, v)| !v.is_zero())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_after_an_outage_reaches_the_ground_truth_and_reconcile_agrees() {
    let now = now();
    let account = generate(now);
    let (fake, stripe) = stripe_holding(&account).await;
    let bridge = bridge().await;

    // Up to two days ago, every event came by webhook; then the bridge was down.
    let outage = now - 2 * DAY;
    let mut in_window_before = 0;
    for event in account
        .events
        .iter()
        .filter(|e| e["created"].as_i64() < Some(outage))
    {
        webhook(&bridge, event).await;
        in_window_before += usize::from(event["created"].as_i64() >= Some(now - 3 * DAY));
    }
    let during = account
        .events
        .iter()
        .filter(|e| e["created"].as_i64() >= Some(outage))
        .count();
    assert!(
        during >= 3 && in_window_before >= 6,
        "{during} events during the outage, {in_window_before} before it in the window"
    );

    fake.fail_next(Fault::RateLimited {
        retry_after_secs: 1,
    });
    fake.fail_next(Fault::ServerError);
    let window = BackfillWindow {
        since: now - 3 * DAY,
        until: None,
    };
    // Ctrl-C half way, then the same command again.
    let cut = backfill(
        &stripe,
        &bridge.layer,
        &bridge.sync,
        window,
        false,
        |p| match p {
            Progress::Processed { done, total } if done == total / 2 => Break(()),
            _ => Continue(()),
        },
    )
    .await;
    let Err(BackfillError::Interrupted {
        done,
        total,
        summary: cut,
    }) = cut
    else {
        panic!("{cut:?}")
    };
    assert_eq!(total, in_window_before + during);
    let resumed = backfill(&stripe, &bridge.layer, &bridge.sync, window, false, |_| {
        Continue(())
    })
    .await
    .unwrap();
    // Every outage event processed once over the two runs; what the cut run did and what the
    // webhooks delivered are duplicates the second time.
    let (cut, resumed_total) = (cut.total(), resumed.total());
    assert_eq!(cut.processed + resumed_total.processed, during, "{resumed}");
    assert_eq!(
        resumed_total.duplicates,
        done + in_window_before - cut.duplicates,
        "{resumed}"
    );
    let requests = fake.requests();
    assert!(requests.iter().any(|r| r.status == 429) && requests.iter().any(|r| r.status == 500));
    // A further run sends nothing.
    let sent_before: usize = bridge.pulsora.accepted().values().map(Vec::len).sum();
    let again = backfill(&stripe, &bridge.layer, &bridge.sync, window, false, |_| {
        Continue(())
    })
    .await
    .unwrap();
    assert_eq!(
        (again.total().sent, again.total().duplicates),
        (0, total),
        "{again}"
    );
    assert_eq!(
        bridge
            .pulsora
            .accepted()
            .values()
            .map(Vec::len)
            .sum::<usize>(),
        sent_before
    );

    // Σ money per currency and every subscription's MRR equal the models'.
    let truth = money_truth(&account);
    let (money, mrr) = pulsora_sums(&bridge.pulsora);
    assert_eq!(money, truth);
    for sim in &account.lives {
        assert_eq!(
            mrr.get(&sim.sub()).copied().unwrap_or_default(),
            sim.model.mrr(),
            "{}",
            sim.sub()
        );
    }

    // Reconcile agrees, and its Stripe side is the models' ground truth.
    let report = bridge
        .sync
        .reconcile(
            &stripe,
            ReconcileWindow {
                since: account.first - 1,
                until: None,
            },
        )
        .await
        .unwrap();
    assert!(report.agrees(), "{report}");
    assert_eq!(report_column(&report.money, false), truth, "{report}");
    assert_eq!(report_column(&report.money, true), truth, "{report}");
    let mrr_truth: Decimal = account.lives.iter().map(|s| s.model.mrr()).sum();
    assert_eq!(
        report_column(&report.mrr, false)
            .get("USD")
            .copied()
            .unwrap_or_default(),
        mrr_truth,
        "{report}"
    );
    assert!(
        report.checked.payments >= 10 && report.checked.refunds >= 1,
        "{report}"
    );
    assert_eq!(report.checked.subscriptions, account.lives.len());
    let days: Decimal = report.days.iter().map(|d| d.stripe).sum();
    let total: Decimal = report.money.iter().map(|d| d.stripe).sum();
    assert_eq!(days, total, "the days add up to the total");
    let json = report.to_json();
    assert_eq!(json["agree"], true);
    assert_eq!(json["format"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_lists_exactly_the_objects_whose_events_were_withheld() {
    let now = now();
    let account = generate(now);
    let (_fake, stripe) = stripe_holding(&account).await;
    let bridge = bridge().await;

    // One live payment (with refunds if any has) and one subscription never reach the bridge.
    let (n, victim) = account
        .payments
        .iter()
        .filter(|(_, p)| p.scope == Scope::Live && !p.released)
        .max_by_key(|(_, p)| (p.refunds.len(), p.dispute == DisputeEnd::Lost))
        .cloned()
        .unwrap();
    let sim = account
        .lives
        .iter()
        .find(|s| !s.model.mrr().is_zero())
        .unwrap_or(&account.lives[0]);
    let withheld = |event: &Value| {
        let id = event["id"].as_str().unwrap();
        id.starts_with(&format!("evt_h_{n}_")) || id.starts_with(&format!("evt_{}_", sim.name))
    };
    for event in account.events.iter().filter(|e| !withheld(e)) {
        webhook(&bridge, event).await;
    }

    let mut want = BTreeSet::new();
    want.insert(match victim.invoice {
        Some(_) => format!("in_h_{n}"),
        None => format!("cs_test_pay_{n}"),
    });
    for (i, (_, fails)) in victim.refunds.iter().enumerate() {
        if !fails {
            want.insert(format!("re_h_{n}_{i}"));
        }
    }
    if victim.dispute == DisputeEnd::Lost {
        want.insert(format!("dp_h_{n}"));
    }
    for r in &sim.events {
        let object = &r.json["data"]["object"];
        if r.json["type"] == "invoice.paid" && object["amount_paid"].as_i64() > Some(0) {
            want.insert(object["id"].as_str().unwrap().to_owned());
        }
    }
    if !sim.model.mrr().is_zero() {
        want.insert(sim.sub());
    }

    let report = bridge
        .sync
        .reconcile(
            &stripe,
            ReconcileWindow {
                since: account.first - 1,
                until: None,
            },
        )
        .await
        .unwrap();
    assert!(!report.agrees());
    let got: BTreeSet<String> = report
        .differences
        .iter()
        .map(|d| d.object.clone())
        .collect();
    assert_eq!(got, want, "{report}");
    for d in &report.differences {
        let expected = if d.object.starts_with("sub_") {
            Issue::MrrDiffers
        } else {
            Issue::Missing
        };
        assert_eq!(d.issue, expected, "{d:?}");
    }
    // The money differences add up to the totals' difference, per currency.
    let mut by_currency: BTreeMap<String, Decimal> = BTreeMap::new();
    for d in report.differences.iter().filter(|d| d.day.is_some()) {
        *by_currency.entry(d.currency.clone()).or_default() += d.recorded - d.stripe;
    }
    for row in &report.money {
        assert_eq!(
            by_currency.get(&row.currency).copied().unwrap_or_default(),
            row.difference,
            "{report}"
        );
    }
}
