//! axum integration: [`VerifiedStripeEvent`] as an extractor, rejections as responses.

use crate::event::VerifiedStripeEvent;
use crate::rejection::Rejection;
use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

/// The handler asked for a [`VerifiedStripeEvent`] but the request did not go through
/// [`StripeWebhookLayer`](crate::StripeWebhookLayer): a wiring bug, answered with `500`.
#[derive(Debug, Clone, Copy, Default, thiserror::Error)]
#[error(
    "VerifiedStripeEvent was not found in the request extensions. Perhaps you forgot to add \
     `StripeWebhookLayer` to this route?"
)]
#[non_exhaustive]
pub struct MissingStripeWebhookLayer;

impl MissingStripeWebhookLayer {
    /// The stable code of this rejection.
    pub fn code(&self) -> &'static str {
        "missing_webhook_layer"
    }
}

impl IntoResponse for MissingStripeWebhookLayer {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        let body = serde_json::json!({ "error": self.code(), "message": self.to_string() });
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(http::header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for VerifiedStripeEvent {
    type Rejection = MissingStripeWebhookLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<VerifiedStripeEvent>()
            .cloned()
            .ok_or(MissingStripeWebhookLayer)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.to_http_response().map(axum_core::body::Body::from)
    }
}
