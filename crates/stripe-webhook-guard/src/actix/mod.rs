//! The actix-web adapter: [`StripeWebhook`] is a `Transform` (use it with `.wrap()`), and
//! [`VerifiedStripeEvent`](crate::VerifiedStripeEvent) is an extractor.
//!
//! It only translates: the request's headers and peer address become the engine's request
//! head, the actix payload is the body stream, a refusal becomes a JSON `HttpResponse`. Every
//! rule is in the shared engine, which the tower adapter calls the same way, so a route answers
//! the same under actix-web as under axum (the workspace's conformance table checks it).
//!
//! # One middleware for all workers
//!
//! `HttpServer::new` calls its closure once per worker thread. Build the [`StripeWebhook`]
//! **before** it and `.clone()` it inside: clones share one engine, so one replay cache and one
//! set of rate-limit buckets. A `StripeWebhook::new` inside the closure would give each worker
//! its own, and a duplicate delivery reaching another worker would run the handler twice.
//!
//! ```no_run
//! use actix_web::{web, App, HttpResponse, HttpServer};
//! use stripe_webhook_guard::{EventType, StripeWebhook, VerifiedStripeEvent};
//!
//! async fn on_event(event: VerifiedStripeEvent, body: web::Bytes) -> HttpResponse {
//!     // `body` is exactly what Stripe signed, and the same bytes as `event.raw_body()`.
//!     if event.event_type() == &EventType::InvoicePaid {
//!         println!("{} ({} bytes)", event.id(), body.len());
//!     }
//!     HttpResponse::Ok().finish()
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let webhook = StripeWebhook::new("whsec_…"); // once, outside the closure
//!     HttpServer::new(move || {
//!         App::new().service(
//!             web::resource("/api/webhooks/stripe")
//!                 .wrap(webhook.clone())
//!                 .route(web::post().to(on_event)),
//!         )
//!     })
//!     .bind(("127.0.0.1", 3000))?
//!     .run()
//!     .await
//! }
//! ```
//!
//! # What the handler sees, and what it never sees
//!
//! ```
//! use actix_web::{test, web, App, HttpResponse};
//! use stripe_webhook_guard::{sign, StripeWebhook, VerifiedStripeEvent};
//!
//! # actix_web::rt::System::new().block_on(async {
//! let webhook = StripeWebhook::new("whsec_test_0123456789abcdef0123456789abcdef").disable_timestamp_check();
//! let app = test::init_service(App::new().service(
//!     web::resource("/hook")
//!         .wrap(webhook.clone())
//!         .route(web::post().to(|event: VerifiedStripeEvent| async move {
//!             HttpResponse::Ok().body(event.id().to_owned())
//!         })),
//! ))
//! .await;
//!
//! // Signed: the handler runs with the typed event.
//! let body = r#"{"id":"evt_1","object":"event","type":"invoice.paid","data":{"object":{}}}"#;
//! let signed = test::TestRequest::post()
//!     .uri("/hook")
//!     .insert_header(("stripe-signature", sign(body.as_bytes(), "whsec_test_0123456789abcdef0123456789abcdef", 1_700_000_000)))
//!     .set_payload(body)
//!     .to_request();
//! let response = test::call_service(&app, signed).await;
//! assert_eq!(response.status(), 200);
//! assert_eq!(test::read_body(response).await, "evt_1");
//!
//! // Unsigned: refused before the handler, with the shared JSON shape.
//! let unsigned = test::TestRequest::post().uri("/hook").set_payload(body).to_request();
//! let response = test::call_service(&app, unsigned).await;
//! assert_eq!(response.status(), 400);
//! let json: serde_json::Value = serde_json::from_slice(&test::read_body(response).await).unwrap();
//! assert_eq!(json["error"], "missing_signature");
//! # });
//! ```
//!
//! # Body limits
//!
//! The middleware reads the body itself, with [`body_limit`](StripeWebhook::body_limit)
//! (default 1 MiB) and [`read_timeout`](StripeWebhook::read_timeout). A handler that also
//! extracts `web::Bytes` is subject to actix's own `web::PayloadConfig` limit (256 KiB by
//! default): raise it to the body limit, or read
//! [`raw_body`](crate::VerifiedStripeEvent::raw_body) instead.

mod extractor;
mod middleware;
mod request;
mod response;
mod transform;

pub use middleware::StripeWebhookMiddleware;
pub use transform::{ActixWeb, StripeWebhook};
