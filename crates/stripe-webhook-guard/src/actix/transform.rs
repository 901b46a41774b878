//! [`StripeWebhook`]: the configuration and the actix-web `Transform` that builds the middleware.

use super::StripeWebhookMiddleware;
use crate::config::{config_builder_methods, WebhookConfig};
use crate::engine::{Engine, SharedEngine};
use crate::verify::Secret;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use std::future::{ready, Ready};
use std::rc::Rc;
use std::sync::Arc;

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
/// The builder methods are the same as [`StripeWebhookLayer`](crate::StripeWebhookLayer)'s.
/// Each returns a new, independent middleware with its own engine.
#[derive(Clone, Debug)]
#[must_use]
pub struct StripeWebhook {
    config: WebhookConfig,
    engine: SharedEngine,
}

impl StripeWebhook {
    /// A middleware accepting events signed with `secret` (the endpoint's `whsec_…`), with the
    /// defaults: 300 s tolerance each way, 1 MiB body limit, 10 s read timeout.
    ///
    /// A secret Stripe could not have issued (shorter than `whsec_` and
    /// [`MIN_SECRET_CHARS`](crate::MIN_SECRET_CHARS) characters) is not refused here, but the
    /// middleware then fails closed: every request gets `500 weak_secret`. Use
    /// [`try_new`](Self::try_new) or [`validate`](Self::validate) to fail at start-up instead.
    pub fn new(secret: impl Into<Secret>) -> Self {
        Self::from_config(WebhookConfig::new(secret.into()))
    }

    /// Like [`new`](Self::new), but refuses a secret Stripe could not have issued (`whsec_`
    /// and at least [`MIN_SECRET_CHARS`](crate::MIN_SECRET_CHARS) characters) instead of
    /// building a middleware that refuses every request.
    ///
    /// ```
    /// # use stripe_webhook_guard::*;
    /// # type T = StripeWebhook;
    /// assert!(T::try_new("whsec_").is_err());
    /// assert!(T::try_new("whsec_0123456789abcdefghijklmnopqrstuv").is_ok());
    /// ```
    pub fn try_new(secret: impl AsRef<[u8]>) -> Result<Self, crate::WeakSecret> {
        Ok(Self::new(crate::Secret::try_new(secret)?))
    }

    fn from_config(config: WebhookConfig) -> Self {
        Self {
            config,
            engine: SharedEngine::default(),
        }
    }

    fn with_config(self, config: WebhookConfig) -> Self {
        Self::from_config(config)
    }

    config_builder_methods!();

    /// The engine every worker's middleware shares, built on first use.
    fn engine(&self) -> Arc<Engine> {
        self.engine.get(&self.config)
    }
}

impl<S, B> Transform<S, ServiceRequest> for StripeWebhook
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
/// serve actix-web too.
///
/// ```
/// use stripe_webhook_guard::{StripeWebhook, StripeWebhookLayer};
/// let layer = StripeWebhookLayer::new("whsec_…").body_limit(64 * 1024);
/// let middleware = StripeWebhook::from(&layer);
/// # let _ = middleware;
/// ```
impl From<&crate::StripeWebhookLayer> for StripeWebhook {
    fn from(layer: &crate::StripeWebhookLayer) -> Self {
        Self::from_config(layer.config().clone())
    }
}
