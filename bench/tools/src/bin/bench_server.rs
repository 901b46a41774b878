//! The server side of the load benchmarks (see BENCHMARKS.md): one route, one worker thread, so
//! it can be pinned to one core (`taskset -c 0`) while the load generator uses the other.
//!
//! ```sh
//! cargo run --release -p stripe-pulsora-bench --bin bench_server -- --mode axum --store memory --bind 127.0.0.1:4000
//! ```
//!
//! Modes: `bare` (axum route reading `Bytes`, no verification), `axum` (StripeWebhookLayer +
//! `VerifiedStripeEvent`), `actix` (StripeWebhook middleware + extractor). Stores: `memory`, `moka`, `postgres://…`,
//! `sqlite:<path>`, `redis://…`. Rate limiting is off: this measures throughput, not the limiter.

use std::net::SocketAddr;

const SECRET: &str = "whsec_benchmark_secret_0123456789abcdef0123456789abcdef";

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

async fn layer(store: &str) -> stripe_pulsora::StripeWebhookLayer {
    let layer = stripe_pulsora::StripeWebhookLayer::new(SECRET)
        .no_rate_limit()
        .no_failure_limit();
    if let Some(path) = store.strip_prefix("sqlite:") {
        let _ = std::fs::remove_file(path);
        return layer.replay_store(
            stripe_pulsora::stripe_webhook_guard::SqliteStore::open(path).expect("open sqlite"),
        );
    }
    if store.starts_with("redis://") {
        let redis = stripe_pulsora::stripe_webhook_guard::RedisStore::connect(store)
            .await
            .expect("connect redis");
        return layer.replay_store(redis);
    }
    if store.starts_with("postgres://") || store.starts_with("postgresql://") {
        let db = stripe_pulsora::stripe_webhook_guard::PostgresStore::connect(store)
            .await
            .expect("connect postgres");
        return layer.replay_store(db);
    }
    if store == "moka" {
        // The store layer's moka backend in place of the default sharded map (same semantics).
        return layer.replay_store(stripe_pulsora::stripe_webhook_guard::BackendStore::over(
            stripe_pulsora::stripe_webhook_guard::store::Memory::new(),
        ));
    }
    layer
}

fn main() {
    let mode = arg("--mode", "axum");
    let store = arg("--store", "memory");
    let bind: SocketAddr = arg("--bind", "127.0.0.1:4000")
        .parse()
        .expect("--bind address");
    if mode == "actix" {
        actix_web::rt::System::new().block_on(serve_actix(bind, store));
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(serve_axum(bind, &mode, &store));
}

async fn serve_axum(bind: SocketAddr, mode: &str, store: &str) {
    use axum::{body::Bytes, http::StatusCode, routing::post, Router};
    use stripe_pulsora::VerifiedStripeEvent;

    let app = match mode {
        "bare" => Router::new().route(
            "/wh",
            post(|body: Bytes| async move {
                if body.is_empty() {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::OK
                }
            }),
        ),
        _ => Router::new()
            .route(
                "/wh",
                post(|event: VerifiedStripeEvent| async move {
                    if event.id().is_empty() {
                        StatusCode::BAD_REQUEST
                    } else {
                        StatusCode::OK
                    }
                }),
            )
            .layer(layer(store).await),
    };
    let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
    println!("ready {mode} {store} on {bind}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .expect("serve");
}

async fn serve_actix(bind: SocketAddr, store: String) {
    use actix_web::{web, App, HttpResponse, HttpServer};
    use stripe_pulsora::{StripeWebhook, VerifiedStripeEvent};

    let webhook = StripeWebhook::from(&layer(&store).await);
    println!("ready actix {store} on {bind}");
    HttpServer::new(move || {
        App::new().service(
            web::resource("/wh")
                .wrap(webhook.clone())
                .route(web::post().to(|event: VerifiedStripeEvent| async move {
                    if event.id().is_empty() {
                        HttpResponse::BadRequest().finish()
                    } else {
                        HttpResponse::Ok().finish()
                    }
                })),
        )
    })
    .workers(1)
    .bind(bind)
    .expect("bind")
    .run()
    .await
    .expect("serve");
}
