//! End to end over sockets: signed fixtures (as `trigger` sends them) → the bridge on axum and
//! on actix-web (verify, dedupe, map) → a recording fake Pulsora. Every expected payload arrives exactly once,
//! also when Pulsora fails the first attempt of every transaction and Stripe-style retries are
//! needed.
#![cfg(feature = "actix-web")]

#[path = "../../stripe-revenue/tests/support/fake_pulsora.rs"]
mod fake_pulsora;

use axum::{routing::post, Router};
use fake_pulsora::FakePulsora;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;
use stripe_pulsora::revenue_handler;
use stripe_pulsora::stripe_revenue::fixtures::{scenario, ApiShape, SCENARIOS};
use stripe_pulsora::stripe_revenue::{is_collected_money, Livemode, Policy, RevenueSync};
use stripe_pulsora::StripeWebhookLayer;
use stripe_pulsora_cli::trigger::deliver;

const SECRET: &str = "whsec_e2e_secret_0123456789abcdef0123456789abcdef";

#[derive(Clone, Copy, Debug)]
enum Framework {
    Axum,
    Actix,
}

fn revenue_sync_in(pulsora_url: &str, livemode: Livemode) -> RevenueSync {
    // No client-side retries: a Pulsora failure must surface as 503 so the Stripe-style
    // redelivery is what recovers it.
    let client = pulsora::Revenue::builder("sec_e2e")
        .endpoint(pulsora_url)
        .max_retries(0)
        .build()
        .unwrap();
    // The fixtures are mostly test-mode events (as `stripe trigger` sends); `any` counts both
    // modes, so the noise scenario's live and test sales both arrive.
    RevenueSync::new(client).policy(Policy::default().livemode(livemode))
}

async fn start_bridge(framework: Framework, pulsora_url: &str) -> String {
    start_bridge_in(framework, pulsora_url, Livemode::Any).await
}

async fn start_bridge_in(framework: Framework, pulsora_url: &str, livemode: Livemode) -> String {
    match framework {
        Framework::Axum => start_axum(pulsora_url, livemode).await,
        Framework::Actix => start_actix(pulsora_url, livemode),
    }
}

async fn start_axum(pulsora_url: &str, livemode: Livemode) -> String {
    let app = Router::new()
        .route("/api/webhooks/stripe", post(revenue_handler))
        .layer(StripeWebhookLayer::new(SECRET))
        .with_state(revenue_sync_in(pulsora_url, livemode));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    format!("http://{addr}/api/webhooks/stripe")
}

/// The actix app of `examples/actix.rs`, on its own thread and `System` as in production.
fn start_actix(pulsora_url: &str, livemode: Livemode) -> String {
    use actix_web::{web, App, HttpServer};
    use stripe_pulsora::actix_revenue_handler;
    use stripe_pulsora::StripeWebhook;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let pulsora_url = pulsora_url.to_owned();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let webhook = StripeWebhook::new(SECRET);
            let sync = web::Data::new(revenue_sync_in(&pulsora_url, livemode));
            HttpServer::new(move || {
                App::new().app_data(sync.clone()).service(
                    web::resource("/api/webhooks/stripe")
                        .wrap(webhook.clone())
                        .route(web::post().to(actix_revenue_handler)),
                )
            })
            .workers(2)
            .listen(listener)
            .unwrap()
            .run()
            .await
            .unwrap();
        });
    });
    format!("http://{addr}/api/webhooks/stripe")
}

/// The transaction ids each scenario must produce, written out from the scenario's story.
/// MRR movements are keyed `<sub>_<event>_m<k>`: the subscription's k-th reported movement (the
/// first paid invoice is movement 1).
fn expected_transactions(t0s: &[(&str, i64)]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (name, t0) in t0s {
        let n = t0 % 1_000_000;
        let ids: Vec<String> = match *name {
            "purchase_refunds" | "refund_failed" => vec![
                format!("pi_demo_{n}"),
                format!("pi_demo_{n}_refund_1"),
                format!("pi_demo_{n}_refund_2"),
            ],
            "subscription_lifecycle" => vec![
                format!("in_demo_{n}_1"),
                format!("in_demo_{n}_2"),
                format!("in_demo_{n}_3"),
                format!("sub_demo_{n}_evt_demo_{n}_7_m2"),
                format!("sub_demo_{n}_evt_demo_{n}_8_m3"),
                format!("sub_demo_{n}_evt_demo_{n}_9_m4"),
            ],
            "trial_conversion" => vec![
                format!("in_demo_{n}_2"),
                format!("sub_demo_{n}_evt_demo_{n}_6_m2"),
            ],
            "jpy_kwd" => vec![format!("pi_demo_{n}"), format!("pi_demo_{}", n + 1)],
            // One payment, whichever of its three or four events arrives.
            "checkout_invoice" => vec![format!("in_demo_{n}_co")],
            "dispute_lost" => vec![format!("pi_demo_{n}"), format!("dp_demo_{n}")],
            "dispute_won" => vec![format!("pi_demo_{n}")],
            // Nothing captured; a payment the bridge never reported.
            "uncaptured_release" | "unreported_refund" => vec![],
            // Connect is ignored; both modes count here (the test sale and its refund too).
            "mode_and_connect_noise" => vec![
                format!("pi_demo_{n}"),
                format!("pi_demo_{}", n + 1),
                format!("pi_demo_{}_refund_1", n + 1),
            ],
            other => panic!("no expectation for {other}"),
        };
        out.extend(ids);
    }
    out
}

async fn run_all_scenarios(framework: Framework, fail_first: u32) {
    let (pulsora, pulsora_url) = FakePulsora::start(fail_first).await;
    let webhook = start_bridge(framework, &pulsora_url).await;
    let client = reqwest::Client::new();
    let t0s: Vec<(&str, i64)> = SCENARIOS
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, 1_700_000_000 + i as i64 * 10_000))
        .collect();
    for (name, t0) in &t0s {
        for event in scenario(name, ApiShape::Basil, *t0).unwrap() {
            let attempts = deliver(
                &client,
                &webhook,
                SECRET,
                &event,
                3,
                Duration::from_millis(10),
            )
            .await;
            let last = attempts.last().unwrap();
            assert_eq!(
                last.status,
                Some(200),
                "{} never succeeded: {attempts:?}",
                event["id"]
            );
            // A duplicate answer would mean the first attempt was counted as processed.
            assert!(
                !last.body.contains("duplicate"),
                "{} {attempts:?}",
                event["id"]
            );
            if fail_first > 0 && attempts.len() > 1 {
                assert!(
                    attempts[..attempts.len() - 1]
                        .iter()
                        .all(|a| a.status == Some(503)),
                    "{attempts:?}"
                );
            }
        }
    }
    let accepted = pulsora.accepted();
    let received: BTreeSet<String> = accepted.keys().cloned().collect();
    assert_eq!(received, expected_transactions(&t0s));
    for (tx, bodies) in &accepted {
        assert_eq!(bodies.len(), 1, "{tx} accepted {} times", bodies.len());
    }
    if fail_first > 0 {
        assert_eq!(pulsora.failed(), received.len() * fail_first as usize);
    }
    // Σ money = Stripe's ground truth, per currency: captured − refunded (succeeded) − lost
    // disputes, tax excluded, own account only.
    let mut money: std::collections::BTreeMap<String, pulsora::Decimal> = Default::default();
    for bodies in accepted.values() {
        let event: pulsora::RevenueEvent = serde_json::from_value(bodies[0].clone()).unwrap();
        if event
            .event_type
            .is_some_and(|k| is_collected_money(k) || k == pulsora::EventType::Refund)
        {
            *money.entry(event.currency.unwrap()).or_default() += event.amount;
        }
    }
    // (The recording Pulsora reads numbers as f64, so trailing zeros are gone.)
    let shown: Vec<String> = money
        .iter()
        .map(|(c, a)| format!("{} {c}", a.normalize()))
        .collect();
    assert_eq!(
        shown,
        ["50 EUR", "5000 JPY", "12.34 KWD", "279.98 USD"],
        "{framework:?}"
    );
    // MRR through both frameworks: every subscription of the scenarios moved, then churned, so
    // Σ mrr_impact per subscription is exactly 0 (the ledger's invariant, born in view).
    let mut mrr: std::collections::BTreeMap<String, (pulsora::Decimal, usize)> = Default::default();
    for bodies in accepted.values() {
        let event: pulsora::RevenueEvent = serde_json::from_value(bodies[0].clone()).unwrap();
        if let (Some(sub), Some(impact)) = (event.customer_subscription_id, event.mrr_impact) {
            let entry = mrr.entry(sub).or_default();
            entry.0 += impact;
            entry.1 += usize::from(!impact.is_zero());
        }
    }
    assert!(mrr.len() >= 2, "{framework:?}: {mrr:?}");
    for (sub, (total, moves)) in &mrr {
        assert!(*moves >= 2, "{framework:?}: {sub} moved {moves} times");
        assert!(
            total.is_zero(),
            "{framework:?}: {sub}: Σ mrr_impact {total} after churn"
        );
    }
}

#[tokio::test]
async fn every_expected_payload_arrives_exactly_once() {
    run_all_scenarios(Framework::Axum, 0).await;
    run_all_scenarios(Framework::Actix, 0).await;
}

#[tokio::test]
async fn pulsora_500_then_202_is_recovered_by_stripe_retries_without_doubles() {
    run_all_scenarios(Framework::Axum, 1).await;
    run_all_scenarios(Framework::Actix, 1).await;
}

/// A live bridge (the default with a Pulsora token) acknowledges test-mode and Connect events
/// with 200 and the reason, and sends nothing for them.
#[tokio::test]
async fn a_live_bridge_acknowledges_test_mode_and_connect_events_and_sends_nothing() {
    use stripe_pulsora::stripe_revenue::fixtures::{connected, live};
    for framework in [Framework::Axum, Framework::Actix] {
        let (pulsora, pulsora_url) = FakePulsora::start(0).await;
        let webhook = start_bridge_in(framework, &pulsora_url, Livemode::Live).await;
        let client = reqwest::Client::new();
        let events = scenario("mode_and_connect_noise", ApiShape::Legacy, 1_700_777_000).unwrap();
        let mut answers = Vec::new();
        for event in &events {
            let attempts = deliver(&client, &webhook, SECRET, event, 0, Duration::ZERO).await;
            assert_eq!(attempts[0].status, Some(200), "{framework:?} {attempts:?}");
            answers.push(attempts[0].body.clone());
        }
        assert!(answers[0].contains(r#""sent":1"#), "{answers:?}");
        assert!(
            answers[1].contains(r#""ignored":"test_mode""#),
            "{answers:?}"
        );
        assert!(
            answers[2].contains(r#""ignored":"test_mode""#),
            "{answers:?}"
        );
        assert!(
            answers[3].contains(r#""ignored":"connect_account""#),
            "{answers:?}"
        );
        let accepted = pulsora.accepted();
        assert_eq!(accepted.len(), 1, "{framework:?} {accepted:?}");
        assert_eq!(accepted["pi_demo_777000"][0]["amount"], 30.0);
        // The same sale from a connected account, live: ignored too.
        let other = connected(live(events[0].clone()), "acct_other");
        let mut other = other;
        other["id"] = "evt_connect_other".into();
        let attempts = deliver(&client, &webhook, SECRET, &other, 0, Duration::ZERO).await;
        assert!(attempts[0].body.contains("connect_account"), "{attempts:?}");
        assert_eq!(pulsora.accepted().len(), 1);
    }
}

#[tokio::test]
async fn a_redelivered_event_is_acknowledged_as_duplicate_and_not_resent() {
    for framework in [Framework::Axum, Framework::Actix] {
        redelivery_is_a_duplicate(framework).await;
    }
}

async fn redelivery_is_a_duplicate(framework: Framework) {
    let (pulsora, pulsora_url) = FakePulsora::start(0).await;
    let webhook = start_bridge(framework, &pulsora_url).await;
    let client = reqwest::Client::new();
    let event = &scenario("jpy_kwd", ApiShape::Basil, 1_700_123_456).unwrap()[0];
    let first = deliver(&client, &webhook, SECRET, event, 0, Duration::ZERO).await;
    let second = deliver(&client, &webhook, SECRET, event, 0, Duration::ZERO).await;
    assert_eq!(first[0].status, Some(200));
    assert_eq!(second[0].status, Some(200));
    assert_eq!(second[0].body, r#"{"received":true,"duplicate":true}"#);
    let accepted = pulsora.accepted();
    assert_eq!(accepted.len(), 1);
    let body = accepted.values().next().unwrap()[0].clone();
    assert_eq!(body["amount"].to_string(), "5000");
    assert_eq!(body["currency"], "JPY");
}
