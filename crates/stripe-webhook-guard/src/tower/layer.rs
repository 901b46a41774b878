use super::StripeWebhookService;
use crate::config::Webhook;
use tower_layer::Layer;

/// A [`tower::Layer`](tower_layer::Layer) that verifies Stripe webhooks before the wrapped
/// service sees them.
///
/// ```
/// use axum::{routing::post, Router, http::StatusCode};
/// use stripe_webhook_guard::{StripeWebhookLayer, VerifiedStripeEvent};
///
/// async fn handler(event: VerifiedStripeEvent) -> StatusCode {
///     println!("{} {}", event.id(), event.event_type());
///     StatusCode::OK
/// }
///
/// let app: Router = Router::new()
///     .route("/api/webhooks/stripe", post(handler))
///     // `route_layer`: only the webhook route is verified; other routes and 404s are untouched.
///     .route_layer(
///         StripeWebhookLayer::new("whsec_…")
///             .secret("whsec_previous…") // rotation: both are accepted
///             .body_limit(256 * 1024),
///     );
/// ```
///
/// All clones of a layer, and every service it builds, share one engine (and so one replay
/// cache and one set of rate-limit buckets). Each builder method returns a new, independent
/// layer. The builder methods are [`Webhook`]'s, the same for the actix-web middleware.
pub type StripeWebhookLayer = Webhook<Tower>;

/// The tower adapter of [`Webhook`]: [`StripeWebhookLayer`] is `Webhook<Tower>`.
#[derive(Debug, Clone, Copy)]
pub enum Tower {}

impl<S> Layer<S> for Webhook<Tower> {
    type Service = StripeWebhookService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StripeWebhookService::from_engine(inner, self.engine())
    }
}
