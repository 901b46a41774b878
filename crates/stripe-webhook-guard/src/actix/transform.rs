//! [`StripeWebhook`]: [`Webhook`] as an actix-web `Transform` that builds the middleware.

use super::StripeWebhookMiddleware;
use crate::config::Webhook;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use std::future::{ready, Ready};
use std::rc::Rc;

/// actix-web middleware that verifies Stripe webhooks before the wrapped service sees them.
///
/// **Create it once, outside `HttpServer::new`, and `.clone()` it into the factory closure.**
/// actix-web runs that closure once per worker thread; a `StripeWebhook::new(..)` written inside
/// it gives every worker its own replay cache and rate-limit buckets, so a duplicate delivery
/// that lands on another worker is processed twice and each limit is multiplied by the number
/// of workers. All clones share one engine.
///
/// ```no_run
/// use actix_web::{web, App, HttpResponse, HttpServer};
/// use stripe_webhook_guard::{StripeWebhook, VerifiedStripeEvent};
///
/// async fn on_event(event: VerifiedStripeEvent) -> HttpResponse {
///     println!("{} {}", event.id(), event.event_type());
///     HttpResponse::Ok().finish()
/// }
///
/// #[actix_web::main]
/// async fn main() -> std::io::Result<()> {
///     // Once, here: every worker shares this middleware's replay cache and rate limits.
///     let webhook = StripeWebhook::new("whsec_…")
///         .secret("whsec_previous…") // rotation: both are accepted
///         .body_limit(256 * 1024);
///
///     HttpServer::new(move || {
///         App::new().service(
///             web::resource("/api/webhooks/stripe")
///                 .wrap(webhook.clone()) // a clone, not a new StripeWebhook
///                 .route(web::post().to(on_event)),
///         )
///     })
///     .bind(("127.0.0.1", 3000))?
///     .run()
///     .await
/// }
/// ```
///
/// The builder methods are [`Webhook`]'s, the same as [`StripeWebhookLayer`](crate::StripeWebhookLayer)'s.
/// Each returns a new, independent middleware with its own engine.
pub type StripeWebhook = Webhook<ActixWeb>;

/// The actix-web adapter of [`Webhook`]: [`StripeWebhook`] is `Webhook<ActixWeb>`.
#[derive(Debug, Clone, Copy)]
pub enum ActixWeb {}

impl<S, B> Transform<S, ServiceRequest> for Webhook<ActixWeb>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = StripeWebhookMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(StripeWebhookMiddleware::new(
            Rc::new(service),
            self.engine(),
        )))
    }
}

/// The same settings as a tower layer (its own engine: build it once and clone it into the
/// workers). Lets code that configures a [`StripeWebhookLayer`](crate::StripeWebhookLayer)
/// serve actix-web too; the same as [`Webhook::for_adapter`].
///
/// ```
/// use stripe_webhook_guard::{StripeWebhook, StripeWebhookLayer};
/// let layer = StripeWebhookLayer::new("whsec_…").body_limit(64 * 1024);
/// let middleware = StripeWebhook::from(&layer);
/// # let _ = middleware;
/// ```
impl From<&crate::StripeWebhookLayer> for Webhook<ActixWeb> {
    fn from(layer: &crate::StripeWebhookLayer) -> Self {
        layer.for_adapter()
    }
}
