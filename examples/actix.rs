//! A Stripe webhook endpoint on actix-web.
//!
//! ```sh
//! cargo run --example actix --features actix-web
//! ```
//!
//! `STRIPE_WEBHOOK_SECRET` is the endpoint's `whsec_…` (comma-separated for several); when unset a
//! development secret is printed. `BIND` defaults to `127.0.0.1:3000`.

use actix_web::{web, App, HttpResponse, HttpServer};
use stripe_pulsora::stripe_webhook::{StripeWebhook, VerifiedStripeEvent};

const DEV_SECRET: &str = "whsec_dev_secret_for_local_testing_only";

#[actix_web::main]
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
    // Built once, here, and cloned into each worker below: the workers then share one replay
    // cache and one set of rate-limit buckets.
    let webhook = secrets.fold(StripeWebhook::new(first), |webhook, s| webhook.secret(s));

    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let server = HttpServer::new(move || {
        App::new().service(
            web::resource("/api/webhooks/stripe")
                .wrap(webhook.clone())
                .route(web::post().to(on_event)),
        )
    })
    .bind(&bind)?;
    for addr in server.addrs() {
        tracing::info!("listening on http://{addr}/api/webhooks/stripe");
    }
    server.run().await?;
    Ok(())
}

async fn on_event(event: VerifiedStripeEvent) -> HttpResponse {
    tracing::info!(
        event_id = event.id(),
        event_type = %event.event_type(),
        livemode = event.livemode(),
        object_id = event.object_id(),
        "verified Stripe event"
    );
    HttpResponse::Ok().finish()
}
