//! [`VerifiedStripeEvent`] as an actix-web extractor.

use crate::event::VerifiedStripeEvent;
use crate::missing::MissingStripeWebhookLayer;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use std::future::{ready, Ready};

/// Reads the event the [`StripeWebhook`](super::StripeWebhook) middleware left in the request
/// extensions. It does not touch the payload, so `web::Bytes` or `String` can be extracted
/// alongside it; without the middleware it fails with [`MissingStripeWebhookLayer`] (`500`).
impl FromRequest for VerifiedStripeEvent {
    type Error = MissingStripeWebhookLayer;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(MissingStripeWebhookLayer::check(
            req.extensions().get::<VerifiedStripeEvent>(),
        ))
    }
}
