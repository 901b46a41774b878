//! The whole bridge on actix-web: verify → dedupe → map → Pulsora.
//!
//! ```sh
//! cargo run -p stripe-pulsora-cli --example actix --features actix-web
//! ```
//!
//! Configured from the environment exactly like `examples/axum.rs` and the `stripe-pulsora`
//! binary (see README): with nothing set it listens on `127.0.0.1:3000`, prints a development
//! webhook secret, keeps replay state in memory, and runs Pulsora in dry-run mode, logging each
//! JSON payload it would send. Send it events with `cargo run -p stripe-pulsora-cli --example trigger -- all`.

use actix_web::{web, App, HttpServer};
use stripe_pulsora::actix_revenue_handler;
use stripe_pulsora::StripeWebhook;
use stripe_pulsora_cli as bridge;

#[actix_web::main]
async fn main() {
    // The same pieces as the axum example: settings, stores and the revenue sync.
    let (config, parts) = bridge::example_setup().await;

    // Built once, here, and cloned into each worker below: the workers then share one replay
    // cache and one set of rate-limit buckets.
    let webhook = StripeWebhook::from(&parts.layer);
    let sync = web::Data::new(parts.sync);
    let server = HttpServer::new(move || {
        App::new().app_data(sync.clone()).service(
            web::resource("/api/webhooks/stripe")
                .wrap(webhook.clone())
                .route(web::post().to(actix_revenue_handler)),
        )
    })
    // The same connection limits as the binary where actix-web has them (headers and idle
    // keep-alive time, open connections per worker); it has no per-address cap: put a proxy
    // in front, or use the binary, if one address may open hundreds of connections.
    .client_request_timeout(config.header_timeout)
    .keep_alive(config.header_timeout)
    .max_connections(config.max_connections)
    .bind(config.bind)
    .unwrap_or_else(|error| {
        eprintln!("cannot listen on {}: {error}", config.bind);
        std::process::exit(2);
    });
    for bound in server.addrs() {
        tracing::info!("listening on http://{bound}/api/webhooks/stripe");
    }
    if let Err(error) = server.run().await {
        eprintln!("server error: {error}");
        std::process::exit(1);
    }
}
