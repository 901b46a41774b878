//! axum integration: [`VerifiedStripeEvent`] as an extractor, rejections as responses.

use crate::event::VerifiedStripeEvent;
use crate::missing::MissingStripeWebhookLayer;
use crate::rejection::Rejection;
use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

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

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.to_http_response().map(axum_core::body::Body::from)
    }
}
