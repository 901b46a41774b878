use super::StripeWebhookService;
use crate::config::{config_builder_methods, WebhookConfig};
use crate::engine::{Engine, SharedEngine};
use crate::verify::Secret;
use std::sync::Arc;
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
///     .layer(
///         StripeWebhookLayer::new("whsec_…")
///             .secret("whsec_previous…") // rotation: both are accepted
///             .body_limit(256 * 1024),
///     );
/// ```
///
/// All clones of a layer, and every service it builds, share one engine (and so one replay
/// cache and one set of rate-limit buckets). Each builder method returns a new, independent
/// layer.
#[derive(Clone, Debug)]
#[must_use]
pub struct StripeWebhookLayer {
    config: WebhookConfig,
    engine: SharedEngine,
}

impl StripeWebhookLayer {
    /// A layer accepting events signed with `secret` (the endpoint's `whsec_…`), with the
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
    /// building a layer that refuses every request.
    ///
    /// ```
    /// # use stripe_webhook_guard::*;
    /// # type T = StripeWebhookLayer;
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

    /// The settings, for building the actix-web middleware from the same configuration.
    #[cfg(feature = "actix-web")]
    pub(crate) fn config(&self) -> &WebhookConfig {
        &self.config
    }

    pub(crate) fn engine(&self) -> Arc<Engine> {
        self.engine.get(&self.config)
    }
}

impl<S> Layer<S> for StripeWebhookLayer {
    type Service = StripeWebhookService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StripeWebhookService::from_engine(inner, self.engine())
    }
}
