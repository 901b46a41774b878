//! A Stripe webhook endpoint on axum.
//!
//! ```sh
//! cargo run --example axum --features axum
//! ```
//!
//! `STRIPE_WEBHOOK_SECRET` is the endpoint's `whsec_…` (comma-separated for several); when unset a
//! development secret is printed. `BIND` defaults to `127.0.0.1:3000`.

use axum::{http::StatusCode, routing::post, Router};
use std::net::SocketAddr;
use stripe_pulsora::stripe_webhook::{StripeWebhookLayer, VerifiedStripeEvent};

const DEV_SECRET: &str = "whsec_dev_secret_for_local_testing_only";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let secrets = std::env::var("STRIPE_WEBHOOK_SECRET").unwrap_or_else(|_| {
        println!("STRIPE_WEBHOOK_SECRET is unset; using the development secret {DEV_SECRET}");
        DEV_SECRET.to_owned()
    });
    let mut secrets = secrets.split(',').map(str::trim).filter(|s| !s.is_empty());
    let first = secrets.next().ok_or("STRIPE_WEBHOOK_SECRET is empty")?;
    let layer = secrets.fold(StripeWebhookLayer::new(first), |layer, s| layer.secret(s));

    let app = Router::new()
        .route("/api/webhooks/stripe", post(on_event))
        .layer(layer);

    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    tracing::info!(
        "listening on http://{}/api/webhooks/stripe",
        listener.local_addr()?
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

async fn on_event(event: VerifiedStripeEvent) -> StatusCode {
    tracing::info!(
        event_id = event.id(),
        event_type = %event.event_type(),
        livemode = event.livemode(),
        object_id = event.object_id(),
        "verified Stripe event"
    );
    StatusCode::OK
}
