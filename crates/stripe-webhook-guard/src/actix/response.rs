//! The crate's framework-neutral answers as actix-web responses.
//!
//! actix-web 4 is built on `http` 0.2 while the crate speaks `http` 1, so status and headers are
//! carried over as numbers and bytes, in this one function.

use crate::missing::MissingStripeWebhookLayer;
use crate::rejection::Rejection;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use bytes::Bytes;

/// Status, every header and the body of `response`, as an actix `HttpResponse`.
pub(crate) fn to_actix(response: http::Response<Bytes>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let mut answer = HttpResponse::with_body(status(parts.status), body);
    let headers = answer.headers_mut();
    for (name, value) in &parts.headers {
        // Both sides validate names and values by the same RFC 9110 rules, so a header that
        // exists on one side always converts; skipping instead of unwrapping keeps panics out.
        let converted = HeaderName::from_bytes(name.as_str().as_bytes())
            .ok()
            .zip(HeaderValue::from_bytes(value.as_bytes()).ok());
        if let Some((name, value)) = converted {
            headers.append(name, value);
        }
    }
    answer.map_into_boxed_body()
}

fn status(status: http::StatusCode) -> StatusCode {
    StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Lets a handler return a [`Rejection`] as an actix error (`Result<_, Rejection>`), answered
/// exactly as the middleware answers it.
impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        status(Rejection::status(self))
    }

    fn error_response(&self) -> HttpResponse {
        to_actix(self.to_http_response())
    }
}

/// The [`VerifiedStripeEvent`](crate::VerifiedStripeEvent) extractor's error when the
/// middleware is missing: `500` with the JSON body.
impl ResponseError for MissingStripeWebhookLayer {
    fn status_code(&self) -> StatusCode {
        status(MissingStripeWebhookLayer::status(self))
    }

    fn error_response(&self) -> HttpResponse {
        to_actix(self.to_http_response())
    }
}
