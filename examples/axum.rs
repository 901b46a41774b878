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
use stripe_pulsora::bridge;
use stripe_pulsora::stripe_revenue::revenue_handler;

#[tokio::main]
async fn main() {
    // Environment → layer settings, stores and the revenue sync (exits 2 on a bad value).
    let (config, parts) = bridge::example_setup().await;

    // This is all an application needs: the route, the verification layer, the sync as state.
    let app = Router::new()
        .route("/api/webhooks/stripe", post(revenue_handler))
        .layer(parts.layer)
        .with_state(parts.sync);

    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .unwrap_or_else(|error| {
            eprintln!("cannot listen on {}: {error}", config.bind);
            std::process::exit(2);
        });
    tracing::info!("listening on http://{}/api/webhooks/stripe", config.bind);
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(error) = axum::serve(listener, app).await {
        eprintln!("server error: {error}");
        std::process::exit(1);
    }
}
