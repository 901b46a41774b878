//! The whole bridge on actix-web: verify → dedupe → map → Pulsora.
//!
//! ```sh
//! cargo run --example actix --features actix-web
//! ```
//!
//! Configured from the environment exactly like `examples/axum.rs` and the `stripe-pulsora`
//! binary (see README): with nothing set it listens on `127.0.0.1:3000`, prints a development
//! webhook secret, keeps replay state in memory, and runs Pulsora in dry-run mode, logging each
//! JSON payload it would send. Send it events with `cargo run --example trigger -- all`.

use actix_web::{web, App, HttpServer};
use stripe_pulsora::bridge::{self, Bridge, EnvConfig};
use stripe_pulsora::stripe_revenue::actix_revenue_handler;
use stripe_pulsora::StripeWebhook;

#[actix_web::main]
async fn main() {
    let config = match EnvConfig::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("configuration error: {error}");
            std::process::exit(2);
        }
    };
    bridge::init_logging(&config);
    if let (secrets, true) = bridge::secrets_or_dev(&config) {
        println!(
            "STRIPE_WEBHOOK_SECRET is unset; using the development secret {}",
            secrets[0]
        );
    }
    if config.pulsora_token.is_none() {
        println!(
            "PULSORA_API_TOKEN is unset: dry run, each Pulsora payload is logged instead of sent"
        );
    }
    // The same pieces as the axum example: settings, stores and the revenue sync.
    let parts = match Bridge::from_config(&config).await {
        Ok(parts) => parts,
        Err(error) => {
            eprintln!("start-up error: {error}");
            std::process::exit(2);
        }
    };

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
    .bind(config.bind);
    let server = match server {
        Ok(server) => server,
        Err(error) => {
            eprintln!("cannot listen on {}: {error}", config.bind);
            std::process::exit(2);
        }
    };
    tracing::info!("listening on http://{}/api/webhooks/stripe", config.bind);
    if let Err(error) = server.run().await {
        eprintln!("server error: {error}");
        std::process::exit(1);
    }
}
