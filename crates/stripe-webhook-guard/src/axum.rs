//! axum integration: [`VerifiedStripeEvent`] as an extractor, rejections as responses.

use crate::event::VerifiedStripeEvent;
use crate::missing::MissingStripeWebhookLayer;
use crate::rejection::Rejection;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use std::convert::Infallible;

impl IntoResponse for MissingStripeWebhookLayer {
    fn into_response(self) -> Response {
        self.to_http_response().map(axum_core::body::Body::from)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for VerifiedStripeEvent {
    type Rejection = MissingStripeWebhookLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        MissingStripeWebhookLayer::check(parts.extensions.get::<VerifiedStripeEvent>())
    }
}

/// `Option<VerifiedStripeEvent>`: `None` when no [`StripeWebhookLayer`](crate::StripeWebhookLayer)
/// verified this request, for a handler shared by a verified route and another one. It never
/// rejects; a handler that must only run verified takes `VerifiedStripeEvent` instead, whose
/// missing layer is a `500` that names the mistake.
///
/// ```
/// use stripe_webhook_guard::VerifiedStripeEvent;
///
/// async fn handler(event: Option<VerifiedStripeEvent>) -> String {
///     match event {
///         Some(event) => format!("verified {}", event.id()),
///         None => "not a webhook".to_owned(),
///     }
/// }
/// let _: axum::routing::MethodRouter = axum::routing::post(handler);
/// ```
impl<S: Send + Sync> OptionalFromRequestParts<S> for VerifiedStripeEvent {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<VerifiedStripeEvent>().cloned())
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.to_http_response().map(axum_core::body::Body::from)
    }
}
