//! Both ready-made handlers over real HTTP: a delivered event answers 200 with the sync's body,
//! and a 503 (Pulsora unreachable) carries `Retry-After`, as the layer's own 503s do.

use std::time::Duration;
use stripe_revenue::fixtures::{checkout_payment, event, ApiShape};
use stripe_revenue::{Livemode, Policy, RevenueSync};
use stripe_webhook_guard::{sign, StripeWebhook, StripeWebhookLayer};

const SECRET: &str = "whsec_handlers_test_0123456789abcdefghijkl";

/// A sync whose Pulsora is a closed loopback port (connection refused: transient), answering
/// within a one-second budget; or a dry run.
fn sync(pulsora_down: bool) -> RevenueSync {
    let client = if pulsora_down {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(); // bound and dropped: nothing listens there
        pulsora::Revenue::builder("sec_handlers_test")
            .endpoint(format!("http://127.0.0.1:{port}/api/ingest"))
            .max_retries(0)
            .build()
            .unwrap()
    } else {
        pulsora::Revenue::dry_run()
    };
    RevenueSync::new(client)
        .policy(Policy::default().livemode(Livemode::Any))
        .inline_budget(Duration::from_secs(1))
}

fn body(n: u32) -> String {
    let object = checkout_payment(n, 4_200, "usd", 1_700_000_000);
    event(
        &format!("evt_handlers_{n}"),
        "checkout.session.completed",
        1_700_000_000,
        ApiShape::Basil,
        object,
        None,
    )
    .to_string()
}

async fn post(url: &str, body: String) -> reqwest::Response {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    reqwest::Client::new()
        .post(url)
        .header("stripe-signature", sign(body.as_bytes(), SECRET, now))
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap()
}

async fn axum_server(sync: RevenueSync) -> String {
    use axum::{routing::post, Router};
    let app = Router::new()
        .route(
            "/wh",
            post(stripe_pulsora_handlers::revenue_handler)
                .route_layer(StripeWebhookLayer::new(SECRET)),
        )
        .with_state(sync);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/wh", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    url
}

fn actix_server(sync: RevenueSync) -> String {
    use actix_web::{web, App, HttpServer};
    let webhook = StripeWebhook::new(SECRET);
    let data = web::Data::new(sync);
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).service(
            web::resource("/wh")
                .wrap(webhook.clone())
                .route(web::post().to(stripe_pulsora_handlers::actix_revenue_handler)),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://{}/wh", server.addrs()[0]);
    let running = server.run();
    std::thread::spawn(move || actix_web::rt::System::new().block_on(running));
    url
}

async fn check(url: &str, n: u32, pulsora_down: bool) {
    let response = post(url, body(n)).await;
    if pulsora_down {
        assert_eq!(response.status(), 503);
        assert_eq!(
            response.headers()["retry-after"],
            stripe_pulsora_handlers::RETRY_AFTER_SECS.to_string()
        );
        let json: serde_json::Value = response.json().await.unwrap();
        assert_eq!(json["error"], "pulsora_unavailable", "{json}");
    } else {
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("retry-after").is_none());
        let json: serde_json::Value = response.json().await.unwrap();
        assert_eq!(json["sent"], 1, "{json}");
    }
}

#[tokio::test]
async fn axum_handler_answers_200_and_503_with_retry_after() {
    check(&axum_server(sync(false)).await, 1, false).await;
    check(&axum_server(sync(true)).await, 2, true).await;
}

#[tokio::test]
async fn actix_handler_answers_200_and_503_with_retry_after() {
    check(&actix_server(sync(false)), 3, false).await;
    check(&actix_server(sync(true)), 4, true).await;
}
