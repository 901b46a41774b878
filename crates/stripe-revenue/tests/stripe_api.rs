//! The Stripe API attribution lookup against a fake Stripe API on loopback: used only when the
//! event and the learned state have nothing, remembered afterwards, and a Stripe outage is a
//! transient failure (503) rather than an unattributed sale.
#![cfg(feature = "stripe-api")]

#[path = "support/fake_pulsora.rs"]
mod fake_pulsora;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use fake_pulsora::FakePulsora;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use stripe_revenue::fixtures::{event, refunded_charge, ApiShape};
use stripe_revenue::{RevenueSync, StripeApi};
use stripe_webhook_guard::VerifiedStripeEvent;

#[derive(Clone, Default)]
struct FakeStripe {
    calls: Arc<AtomicUsize>,
    down: bool,
}

async fn customer(
    State(s): State<FakeStripe>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> (StatusCode, Json<serde_json::Value>) {
    s.calls.fetch_add(1, Ordering::SeqCst);
    if s.down {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({})));
    }
    assert_eq!(headers["authorization"], "Bearer rk_test_lookup");
    match id.as_str() {
        "cus_known" => (
            StatusCode::OK,
            Json(
                serde_json::json!({"id": id, "object": "customer", "metadata": {"visitor_fingerprint": "fp_api", "session_id": "sess_api"}}),
            ),
        ),
        _ => (
            StatusCode::OK,
            Json(serde_json::json!({"id": id, "object": "customer", "metadata": {}})),
        ),
    }
}

async fn sessions(
    State(s): State<FakeStripe>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<serde_json::Value> {
    s.calls.fetch_add(1, Ordering::SeqCst);
    assert_eq!(q.get("subscription").map(String::as_str), Some("sub_x"));
    Json(
        serde_json::json!({"object": "list", "data": [{"id": "cs_1", "metadata": {"visitor_fingerprint": "fp_cs", "session_id": "sess_cs"}}]}),
    )
}

async fn start_stripe(down: bool) -> (FakeStripe, String) {
    let fake = FakeStripe {
        down,
        ..FakeStripe::default()
    };
    let app = Router::new()
        .route("/v1/customers/{id}", get(customer))
        .route("/v1/checkout/sessions", get(sessions))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, format!("http://{addr}"))
}

fn refund_of(customer: &str, id: &str) -> VerifiedStripeEvent {
    let mut charge = refunded_charge(1, 1000, 1000, "usd");
    charge["customer"] = serde_json::json!(customer);
    charge["id"] = serde_json::json!(format!("ch_{id}"));
    charge["payment_intent"] = serde_json::json!(format!("pi_{id}"));
    let e = event(
        &format!("evt_{id}"),
        "charge.refunded",
        1_700_000_000,
        ApiShape::Basil,
        charge,
        None,
    );
    VerifiedStripeEvent::from_verified_bytes(bytes::Bytes::from(e.to_string())).unwrap()
}

async fn sync_with(stripe_base: &str) -> (RevenueSync, FakePulsora) {
    let (pulsora, url) = FakePulsora::start(0).await;
    let client = pulsora::Revenue::builder("sec_test")
        .endpoint(url)
        .max_retries(0)
        .build()
        .unwrap();
    (
        RevenueSync::new(client)
            // Refunds of payments this test never sends: counted, so the lookup has work.
            .policy(
                stripe_revenue::Policy::default()
                    .livemode(stripe_revenue::Livemode::Test)
                    .unreported_payments(stripe_revenue::UnreportedPayments::Count),
            )
            .stripe_api(StripeApi::with_base("rk_test_lookup", stripe_base)),
        pulsora,
    )
}

#[tokio::test]
async fn unattributed_refund_is_attributed_from_the_customer_and_remembered() {
    let (stripe, base) = start_stripe(false).await;
    let (sync, pulsora) = sync_with(&base).await;
    assert_eq!(
        sync.handle(&refund_of("cus_known", "a")).await.status(),
        200
    );
    assert_eq!(
        sync.handle(&refund_of("cus_known", "b")).await.status(),
        200
    );
    let accepted = pulsora.accepted();
    for tx in ["pi_a_refund_1", "pi_b_refund_1"] {
        let body = &accepted[tx][0];
        assert_eq!(body["visitor_fingerprint"], "fp_api");
        assert_eq!(body["session_id"], "sess_api");
    }
    assert_eq!(
        accepted["pi_a_refund_1"][0]["metadata"]["attribution_source"],
        "stripe_api"
    );
    assert_eq!(
        accepted["pi_b_refund_1"][0]["metadata"]["attribution_source"],
        "learned"
    );
    assert_eq!(
        stripe.calls.load(Ordering::SeqCst),
        1,
        "the second event must use what was learned"
    );
}

#[tokio::test]
async fn customer_without_metadata_falls_back_to_the_placeholder() {
    let (_stripe, base) = start_stripe(false).await;
    let (sync, pulsora) = sync_with(&base).await;
    assert_eq!(
        sync.handle(&refund_of("cus_unknown", "c")).await.status(),
        200
    );
    assert_eq!(
        pulsora.accepted()["pi_c_refund_1"][0]["visitor_fingerprint"],
        "stripe_unattributed"
    );
}

#[tokio::test]
async fn stripe_outage_is_transient_and_sends_nothing() {
    let (_stripe, base) = start_stripe(true).await;
    let (sync, pulsora) = sync_with(&base).await;
    assert_eq!(
        sync.handle(&refund_of("cus_known", "d")).await.status(),
        503
    );
    assert!(pulsora.accepted().is_empty());
}

#[tokio::test]
async fn subscription_invoice_is_attributed_from_its_checkout_session() {
    use stripe_revenue::fixtures::{price, subscription_invoice};
    let (stripe, base) = start_stripe(false).await;
    let (sync, pulsora) = sync_with(&base).await;
    let basic = price("price_basic", 2000, "usd", "month");
    let mut invoice = subscription_invoice(
        1,
        1,
        "subscription_create",
        2000,
        &basic,
        1,
        1_700_000_000,
        ApiShape::Basil,
    );
    invoice["customer"] = serde_json::json!("cus_unknown");
    invoice["parent"]["subscription_details"] =
        serde_json::json!({ "subscription": "sub_x", "metadata": {} });
    let e = event(
        "evt_session",
        "invoice.paid",
        1_700_000_000,
        ApiShape::Basil,
        invoice,
        None,
    );
    let verified =
        VerifiedStripeEvent::from_verified_bytes(bytes::Bytes::from(e.to_string())).unwrap();
    assert_eq!(sync.handle(&verified).await.status(), 200);
    let body = &pulsora.accepted()["in_demo_1_1"][0];
    assert_eq!(body["visitor_fingerprint"], "fp_cs");
    assert_eq!(body["session_id"], "sess_cs");
    assert_eq!(
        stripe.calls.load(Ordering::SeqCst),
        2,
        "customer first, then the Checkout Session"
    );
}
