//! The whole bridge on axum: verify → dedupe → map → Pulsora.
//!
//! ```sh
//! cargo run -p stripe-pulsora-cli --example axum
//! ```
//!
//! Configured from the environment like the `stripe-pulsora` binary (see README): with nothing
//! set it listens on `127.0.0.1:3000`, prints a development webhook secret, keeps replay state in
//! memory, and runs Pulsora in dry-run mode, logging each JSON payload it would send. Send it
//! events with `cargo run -p stripe-pulsora-cli --example trigger -- all`.

use axum::routing::{get, post};
use axum::Router;
use stripe_pulsora::revenue_handler;
use stripe_pulsora_cli as bridge;

#[tokio::main]
async fn main() {
    // Environment → layer settings, stores and the revenue sync (exits 2 on a bad value).
    let (config, parts) = bridge::example_setup().await;

    // This is all an application needs: the route, the verification layer, the sync as state.
    // `route_layer` puts the layer on the webhook route only: `/healthz` (added after it) and
    // unknown paths never reach the webhook pipeline.
    let app = Router::new()
        .route("/api/webhooks/stripe", post(revenue_handler))
        .route_layer(parts.layer)
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(parts.sync);

    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .unwrap_or_else(|error| {
            eprintln!("cannot listen on {}: {error}", config.bind);
            std::process::exit(2);
        });
    let bound = listener.local_addr().unwrap_or(config.bind);
    tracing::info!("listening on http://{bound}/api/webhooks/stripe");
    // The binary's server: header and idle timeouts, connection caps, backed-off accept errors,
    // the client address for rate limits, graceful shutdown.
    if let Err(error) = bridge::server::serve_configured(listener, app, &config).await {
        eprintln!("server error: {error}");
        std::process::exit(1);
    }
}
