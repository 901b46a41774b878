//! The answer when a handler asks for a [`VerifiedStripeEvent`] on a route the webhook middleware
//! does not wrap. Framework-neutral: the axum and actix-web extractors only translate it.

use crate::event::VerifiedStripeEvent;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};

/// The handler asked for a [`VerifiedStripeEvent`] but the request did not go through the
/// webhook middleware ([`StripeWebhookLayer`](crate::StripeWebhookLayer) for tower/axum,
/// `stripe_webhook_guard::actix::StripeWebhook` for actix-web): a wiring bug, answered with `500` and
/// `{"error":"missing_webhook_layer","message":…}`.
///
/// ```
/// use stripe_webhook_guard::MissingStripeWebhookLayer;
///
/// fn explain(missing: &MissingStripeWebhookLayer) -> (u16, &'static str) {
///     (missing.status().as_u16(), missing.code())
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, thiserror::Error)]
#[error(
    "VerifiedStripeEvent was not found in the request extensions. Perhaps you forgot to add the \
     Stripe webhook middleware (`StripeWebhookLayer` for tower/axum, `StripeWebhook` for \
     actix-web) to this route?"
)]
#[non_exhaustive]
pub struct MissingStripeWebhookLayer;

impl MissingStripeWebhookLayer {
    /// The stable code of this rejection (the `error` field of the body).
    pub fn code(&self) -> &'static str {
        "missing_webhook_layer"
    }

    /// Always `500`: the request itself is fine, the server is wired wrongly.
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    /// The JSON body, `{"error": "missing_webhook_layer", "message": "<text>"}`.
    pub fn body(&self) -> Bytes {
        let body = serde_json::json!({ "error": self.code(), "message": self.to_string() });
        Bytes::from(body.to_string())
    }

    /// Status, content type and body as an `http::Response`.
    pub fn to_http_response(&self) -> http::Response<Bytes> {
        let mut response = http::Response::new(self.body());
        *response.status_mut() = self.status();
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }

    /// Looks the event up in what the middleware left on the request; when it is not there,
    /// logs the wiring bug once, at the moment it is found.
    #[cfg_attr(not(any(feature = "axum", feature = "actix-web")), allow(dead_code))]
    pub(crate) fn check(event: Option<&VerifiedStripeEvent>) -> Result<VerifiedStripeEvent, Self> {
        event.cloned().ok_or_else(|| {
            tracing::error!("{}", Self);
            Self
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_shared_json_shape() {
        let response = MissingStripeWebhookLayer.to_http_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()[http::header::CONTENT_TYPE],
            "application/json"
        );
        let json: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(json["error"], "missing_webhook_layer");
        assert!(json["message"].as_str().unwrap().contains("StripeWebhook"));
    }
}
