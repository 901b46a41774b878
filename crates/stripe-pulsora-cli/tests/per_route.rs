//! The webhook middleware mounted on ONE route of an existing app, as README and the examples
//! recommend (axum `post(handler).route_layer(..)`, actix-web
//! `web::resource(..).route(web::post().to(handler).wrap(..))`): every other route, the 404
//! fallback and the 405 for another method on the webhook path must be answered exactly as
//! without the middleware.
//!
//! With `Router::layer` instead, the layer would also wrap `/healthz` and the fallback, and an
//! unknown path would come back as `400 missing_signature`; with `Router::route_layer`,
//! `MethodRouter::layer` or actix's `Resource::wrap`, the method-not-allowed answer is wrapped too
//! (a `GET` gets `400`). These tests pin the per-route usage.

mod common;

use common::{now, PATH};
use std::net::SocketAddr;
use std::time::Duration;
use stripe_pulsora::stripe_webhook_guard::{sign, StripeWebhook, StripeWebhookLayer};

const SECRET: &str = "whsec_per_route_test_0123456789abcdef0123456789";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("reqwest client")
}

/// Serves `app` on a fresh loopback port with the peer address available, as in production.
async fn serve(app: axum::Router) -> (SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    (addr, server)
}

/// What every app in this file must answer, whatever the framework.
async fn assert_untouched(addr: SocketAddr) {
    let client = client();
    let base = format!("http://{addr}");

    let health = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(
        health.status(),
        200,
        "/healthz must not be verified as a webhook"
    );
    assert_eq!(health.text().await.expect("body"), "ok");

    let missing = client
        .get(format!("{base}/nope"))
        .send()
        .await
        .expect("404");
    assert_eq!(missing.status(), 404, "the fallback must stay a 404");
    let missing_post = client
        .post(format!("{base}/nope"))
        .body("{}")
        .send()
        .await
        .expect("404 post");
    assert_eq!(
        missing_post.status(),
        404,
        "a POST elsewhere must stay a 404"
    );

    let wrong_method = client
        .get(format!("{base}{PATH}"))
        .send()
        .await
        .expect("405");
    assert_eq!(
        wrong_method.status(),
        405,
        "GET on the webhook path must stay a 405"
    );

    // And the webhook route itself is protected.
    let unsigned = client
        .post(format!("{base}{PATH}"))
        .body("{}")
        .send()
        .await
        .expect("unsigned");
    assert_eq!(unsigned.status(), 400);
    let body = br#"{"id":"evt_per_route","object":"event","type":"invoice.paid","created":1700000000,"data":{"object":{"id":"in_1"}}}"#;
    let signed = client
        .post(format!("{base}{PATH}"))
        .header("stripe-signature", sign(body, SECRET, now()))
        .body(body.to_vec())
        .send()
        .await
        .expect("signed");
    assert_eq!(signed.status(), 200);
    assert_eq!(signed.text().await.expect("body"), "verified evt_per_route");
}

#[tokio::test]
async fn axum_method_router_route_layer_leaves_other_routes_alone() {
    use axum::routing::{get, post};
    use stripe_pulsora::VerifiedStripeEvent;

    async fn on_event(event: VerifiedStripeEvent) -> String {
        format!("verified {}", event.id())
    }
    let app = axum::Router::new()
        .route(
            PATH,
            post(on_event).route_layer(StripeWebhookLayer::new(SECRET)),
        )
        .route("/healthz", get(|| async { "ok" }));
    let (addr, server) = serve(app).await;
    assert_untouched(addr).await;
    server.abort();
}

#[tokio::test]
async fn actix_route_wrap_leaves_other_routes_alone() {
    use actix_web::{web, App, HttpResponse, HttpServer};
    use stripe_pulsora::VerifiedStripeEvent;

    async fn on_event(event: VerifiedStripeEvent) -> HttpResponse {
        HttpResponse::Ok().body(format!("verified {}", event.id()))
    }
    let webhook = StripeWebhook::new(SECRET);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new()
                    .service(
                        web::resource(PATH).route(web::post().to(on_event).wrap(webhook.clone())),
                    )
                    .route("/healthz", web::get().to(|| async { "ok" }))
            })
            .workers(1)
            .disable_signals()
            .shutdown_timeout(0)
            .listen(listener)
            .expect("listen")
            .run();
            let _ = handle_tx.send(server.handle());
            let _ = server.await;
        });
    });
    let handle = handle_rx.recv().expect("actix started");
    assert_untouched(addr).await;
    drop(handle.stop(false));
}

#[tokio::test]
async fn axum_optional_extractor_serves_verified_and_plain_routes() {
    use axum::routing::post;
    use stripe_pulsora::VerifiedStripeEvent;

    // One handler on a verified route and on a plain one.
    async fn either(event: Option<VerifiedStripeEvent>) -> String {
        match event {
            Some(event) => format!("verified {}", event.id()),
            None => "plain".to_owned(),
        }
    }
    let app = axum::Router::new()
        .route(
            PATH,
            post(either).route_layer(StripeWebhookLayer::new(SECRET)),
        )
        .route("/plain", post(either));
    let (addr, server) = serve(app).await;
    let client = client();
    let plain = client
        .post(format!("http://{addr}/plain"))
        .body("{}")
        .send()
        .await
        .expect("plain");
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.text().await.unwrap(), "plain");
    let body = br#"{"id":"evt_optional","object":"event","type":"invoice.paid","created":1700000000,"data":{"object":{"id":"in_1"}}}"#;
    let signed = client
        .post(format!("http://{addr}{PATH}"))
        .header("stripe-signature", sign(body, SECRET, now()))
        .body(body.to_vec())
        .send()
        .await
        .expect("signed");
    assert_eq!(signed.text().await.unwrap(), "verified evt_optional");
    server.abort();
}

/// Log lines written by handlers, captured from a subscriber installed for this test binary.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn handler_logs_carry_the_delivery_span_on_both_frameworks() {
    use stripe_pulsora::VerifiedStripeEvent;

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _ = tracing::subscriber::set_global_default(subscriber);

    async fn axum_handler(_event: VerifiedStripeEvent) -> &'static str {
        tracing::info!("handled in axum");
        "ok"
    }
    async fn actix_handler(_event: VerifiedStripeEvent) -> actix_web::HttpResponse {
        tracing::info!("handled in actix");
        actix_web::HttpResponse::Ok().finish()
    }

    let app = axum::Router::new().route(
        PATH,
        axum::routing::post(axum_handler).route_layer(StripeWebhookLayer::new(SECRET)),
    );
    let (axum_addr, server) = serve(app).await;

    let webhook = StripeWebhook::new(SECRET);
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let actix_addr = std_listener.local_addr().unwrap();
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(move || {
                actix_web::App::new().service(
                    actix_web::web::resource(PATH).route(
                        actix_web::web::post()
                            .to(actix_handler)
                            .wrap(webhook.clone()),
                    ),
                )
            })
            .workers(1)
            .disable_signals()
            .shutdown_timeout(0)
            .listen(std_listener)
            .unwrap()
            .run();
            let _ = handle_tx.send(server.handle());
            let _ = server.await;
        });
    });
    let handle = handle_rx.recv().unwrap();

    let client = client();
    for (addr, id) in [(axum_addr, "evt_span_axum"), (actix_addr, "evt_span_actix")] {
        let body = format!(
            r#"{{"id":"{id}","object":"event","type":"invoice.paid","created":1700000000,"data":{{"object":{{"id":"in_1"}}}}}}"#
        );
        let answer = client
            .post(format!("http://{addr}{PATH}"))
            .header("stripe-signature", sign(body.as_bytes(), SECRET, now()))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for (line, id) in [
        ("handled in axum", "evt_span_axum"),
        ("handled in actix", "evt_span_actix"),
    ] {
        let found = logs
            .lines()
            .find(|l| l.contains(line))
            .unwrap_or_else(|| panic!("no {line:?} in {logs}"));
        assert!(
            found.contains(&format!("event_id=\"{id}\""))
                || found.contains(&format!("event_id={id}")),
            "the handler's line carries the span: {found}"
        );
        assert!(found.contains("invoice.paid"), "{found}");
    }
    server.abort();
    drop(handle.stop(false));
}
