//! The whole bridge on axum: verify → dedupe → map → Pulsora.
//!
//! ```sh
//! cargo run --example axum --features axum
//! ```
//!
//! Configured from the environment like the `stripe-pulsora` binary (see README): with nothing
//! set it listens on `127.0.0.1:3000`, prints a development webhook secret, keeps replay state in
//! memory, and runs Pulsora in dry-run mode, logging each JSON payload it would send. Send it
//! events with `cargo run --example trigger -- all`.

use axum::{routing::post, Router};
use std::net::SocketAddr;
use stripe_pulsora::bridge::{self, EnvConfig};
use stripe_pulsora::stripe_revenue::revenue_handler;

#[tokio::main]
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
    let sync = match bridge::revenue_sync(&config) {
        Ok(sync) => sync,
        Err(error) => {
            eprintln!("Pulsora client: {error}");
            std::process::exit(2);
        }
    };
    if config.pulsora_token.is_none() {
        println!(
            "PULSORA_API_TOKEN is unset: dry run, each Pulsora payload is logged instead of sent"
        );
    }

    // This is all an application needs: the route, the verification layer, the sync as state.
    let app = Router::new()
        .route("/api/webhooks/stripe", post(revenue_handler))
        .layer(bridge::webhook_layer(&config))
        .with_state(sync);

    let listener = match tokio::net::TcpListener::bind(config.bind).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on {}: {error}", config.bind);
            std::process::exit(2);
        }
    };
    tracing::info!("listening on http://{}/api/webhooks/stripe", config.bind);
    if let Err(error) = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    {
        eprintln!("server error: {error}");
        std::process::exit(1);
    }
}
