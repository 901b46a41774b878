//! Backfill against a fake Stripe API and a recording Pulsora, both on loopback: the window's
//! revenue events reach Pulsora exactly as webhooks would have delivered them, events handled
//! by webhook before the outage are not sent again, a second run sends nothing, and a run cut
//! half way then rerun ends with the same result.
#![cfg(feature = "stripe-api")]

#[path = "support/fake_pulsora.rs"]
mod fake_pulsora;

use fake_pulsora::FakePulsora;
use serde_json::Value;
use std::collections::HashMap;
use std::ops::ControlFlow::{Break, Continue};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stripe_read::fake::{FakeStripe, Fault};
use stripe_read::StripeClient;
use stripe_revenue::backfill::{backfill, BackfillError, BackfillWindow, Progress};
use stripe_revenue::fixtures::{scenario, ApiShape};
use stripe_revenue::RevenueSync;
use stripe_webhook_guard::{StripeWebhookLayer, VerifiedStripeEvent};

const KEY: &str = "rk_test_backfill_fake_key";
const SECRET: &str = "whsec_backfill_test_0123456789abcdef0123456789";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn verified(event: &Value) -> VerifiedStripeEvent {
    VerifiedStripeEvent::from_verified_bytes(bytes::Bytes::from(event.to_string())).unwrap()
}

fn sync(url: &str) -> RevenueSync {
    let client = pulsora::Revenue::builder("sec_backfill")
        .endpoint(url)
        .max_retries(0)
        .build()
        .unwrap();
    // The fixtures are test-mode events, as `stripe trigger` sends.
    RevenueSync::new(client)
        .policy(stripe_revenue::Policy::default().livemode(stripe_revenue::Livemode::Test))
}

/// Two account histories (a purchase with refunds, a subscription's whole life) two days ago,
/// in Stripe's order of creation, plus events of types the mapping does not read.
fn history(t0: i64) -> Vec<Value> {
    let mut events = scenario("purchase_refunds", ApiShape::Basil, t0).unwrap();
    events.extend(scenario("subscription_lifecycle", ApiShape::Legacy, t0 + 10).unwrap());
    events.sort_by_key(|e| e["created"].as_i64());
    events
}

fn stripe_with(events: &[Value]) -> (FakeStripe, StripeClient) {
    let fake = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(FakeStripe::start(KEY))
    })
    .unwrap();
    for event in events {
        fake.put("events", event.clone());
    }
    // Noise the `types[]` filter must leave out.
    fake.put(
        "events",
        serde_json::json!({"id": "evt_noise", "object": "event", "type": "customer.created", "created": events[0]["created"], "data": {"object": {"id": "cus_x"}}}),
    );
    let client = StripeClient::builder(KEY)
        .base_url(fake.base_url())
        .base_backoff(Duration::from_millis(5))
        .build()
        .unwrap();
    (fake, client)
}

/// What Pulsora receives when every event arrives by webhook, in order: the reference.
async fn reference(events: &[Value]) -> HashMap<String, Vec<Value>> {
    let (pulsora, url) = FakePulsora::start(0).await;
    let layer = StripeWebhookLayer::new(SECRET);
    let sync = sync(&url);
    for event in events {
        let sync = sync.clone();
        layer
            .deliver_trusted(verified(event), |e| async move {
                let outcome = sync.handle(&e).await;
                outcome.status().is_success().then_some(()).ok_or(())
            })
            .await
            .unwrap()
            .unwrap();
    }
    let accepted = pulsora.accepted();
    assert!(
        accepted.len() >= 6,
        "the reference sends revenue: {accepted:?}"
    );
    accepted
}

fn assert_same(got: &HashMap<String, Vec<Value>>, want: &HashMap<String, Vec<Value>>) {
    let mut got_ids: Vec<_> = got.keys().collect();
    let mut want_ids: Vec<_> = want.keys().collect();
    got_ids.sort();
    want_ids.sort();
    assert_eq!(got_ids, want_ids);
    for (tx, bodies) in got {
        assert_eq!(bodies.len(), 1, "{tx} sent {} times", bodies.len());
        assert_eq!(bodies[0], want[tx][0], "{tx}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_fills_the_hole_once_and_a_rerun_sends_nothing() {
    let t0 = now() - 2 * 86_400;
    let events = history(t0);
    let want = reference(&events).await;

    let (fake, stripe) = stripe_with(&events);
    fake.fail_next(Fault::RateLimited {
        retry_after_secs: 1,
    });
    fake.fail_next(Fault::ServerError);
    let (pulsora, url) = FakePulsora::start(0).await;
    let layer = StripeWebhookLayer::new(SECRET);
    let sync = sync(&url);

    // Before the outage, the first two events arrived by webhook (same replay guard).
    for event in &events[..2] {
        let sync = sync.clone();
        layer
            .deliver_trusted(verified(event), |e| async move {
                sync.handle(&e)
                    .await
                    .status()
                    .is_success()
                    .then_some(())
                    .ok_or(())
            })
            .await
            .unwrap()
            .unwrap();
    }
    let before = pulsora.accepted().len();

    let window = BackfillWindow {
        since: now() - 3 * 86_400,
        until: None,
    };
    let mut seen = Vec::new();
    let summary = backfill(&stripe, &layer, &sync, window, false, |p| {
        seen.push(p);
        Continue(())
    })
    .await
    .expect("backfill");
    let total = summary.total();
    assert_eq!(total.read, events.len(), "{summary}");
    assert_eq!(
        total.duplicates, 2,
        "the webhook-delivered events are skipped"
    );
    assert_eq!(total.processed, events.len() - 2);
    assert_eq!(total.sent + before, want.len());
    assert!(!summary.by_type.contains_key("customer.created"));
    assert!(seen.contains(&Progress::Processing {
        total: events.len()
    }));
    assert_same(&pulsora.accepted(), &want);

    // Every list request asked for the revenue types only, oldest window first, pinned version.
    let requests = fake.requests();
    assert!(requests.iter().any(|r| r.status == 429) && requests.iter().any(|r| r.status == 500));
    assert!(requests.iter().all(|r| r
        .query
        .iter()
        .any(|(n, v)| n == "types[]" && v == "invoice.paid")));

    // A second run: everything is a duplicate, nothing is sent.
    let requests_before = pulsora.accepted().values().map(Vec::len).sum::<usize>();
    let again = backfill(&stripe, &layer, &sync, window, false, |_| Continue(()))
        .await
        .unwrap();
    assert_eq!(again.total().duplicates, events.len(), "{again}");
    assert_eq!(again.total().sent, 0);
    assert_eq!(
        pulsora.accepted().values().map(Vec::len).sum::<usize>(),
        requests_before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cut_half_way_then_rerun_ends_the_same() {
    let t0 = now() - 2 * 86_400 + 500;
    let events = history(t0);
    let want = reference(&events).await;
    let (_fake, stripe) = stripe_with(&events);
    let (pulsora, url) = FakePulsora::start(0).await;
    let layer = StripeWebhookLayer::new(SECRET);
    let sync = sync(&url);
    let window = BackfillWindow {
        since: t0 - 1,
        until: None,
    };

    // Ctrl-C after the fourth event: the run stops there, between two events.
    let cut = backfill(&stripe, &layer, &sync, window, false, |p| match p {
        Progress::Processed { done: 4, .. } => Break(()),
        _ => Continue(()),
    })
    .await;
    assert!(
        matches!(cut, Err(BackfillError::Interrupted { done: 4, .. })),
        "{cut:?}"
    );
    let partial = pulsora.accepted().len();
    assert!(
        partial > 0 && partial < want.len(),
        "{partial} of {}",
        want.len()
    );

    let resumed = backfill(&stripe, &layer, &sync, window, false, |_| Continue(()))
        .await
        .unwrap();
    assert!(resumed.total().duplicates >= 4, "{resumed}");
    assert_same(&pulsora.accepted(), &want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulsora_down_stops_the_run_and_a_rerun_completes_it() {
    let t0 = now() - 2 * 86_400 + 1_000;
    let events = history(t0);
    let want = reference(&events).await;
    let (_fake, stripe) = stripe_with(&events);
    // Each transaction fails once: the first event that sends anything stops the run.
    let (pulsora, url) = FakePulsora::start(1).await;
    let layer = StripeWebhookLayer::new(SECRET);
    let sync = sync(&url);
    let window = BackfillWindow {
        since: t0 - 1,
        until: None,
    };

    let mut stops = 0;
    let summary = loop {
        match backfill(&stripe, &layer, &sync, window, false, |_| Continue(())).await {
            Ok(summary) => break summary,
            Err(BackfillError::Stopped { done, total, .. }) => {
                assert!(done < total);
                stops += 1;
                assert!(stops <= events.len(), "no progress");
            }
            Err(other) => panic!("{other}"),
        }
    };
    assert!(stops >= 1 && pulsora.failed() >= 1);
    assert_eq!(summary.total().read, events.len());
    assert_same(&pulsora.accepted(), &want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_lists_and_touches_nothing() {
    let t0 = now() - 2 * 86_400 + 1_500;
    let events = history(t0);
    let (_fake, stripe) = stripe_with(&events);
    let (pulsora, url) = FakePulsora::start(0).await;
    let layer = StripeWebhookLayer::new(SECRET);
    let sync = sync(&url);
    let window = BackfillWindow {
        since: t0 - 1,
        until: Some(t0 + 5 * 86_400),
    };
    let summary = backfill(&stripe, &layer, &sync, window, true, |_| Continue(()))
        .await
        .unwrap();
    assert!(summary.dry_run);
    let in_window = events
        .iter()
        .filter(|e| e["created"].as_i64().unwrap() <= t0 + 5 * 86_400)
        .count();
    assert!(
        in_window < events.len(),
        "the window's end cuts the history"
    );
    assert_eq!(summary.total().read, in_window);
    assert_eq!(summary.total().processed, 0);
    assert!(pulsora.accepted().is_empty());
    // Nothing was claimed: a real run afterwards processes everything.
    let real = backfill(&stripe, &layer, &sync, window, false, |_| Continue(()))
        .await
        .unwrap();
    assert_eq!(real.total().duplicates, 0);
}
