//! Every answer the pipeline gives instead of calling the handler, rendered in one place.

use crate::event::InvalidEvent;
use crate::verify::VerifyError;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use std::time::Duration;

/// Why the webhook pipeline answered without calling the handler.
///
/// Every rejection renders as `{"error": "<code>", "message": "<human text>"}` with the status
/// from [`status`](Self::status); a duplicate delivery renders as
/// `{"received":true,"duplicate":true}` with `200` so Stripe stops retrying. Messages never
/// contain secrets or the expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The client is over a rate limit: `429` with `Retry-After`.
    #[error("too many requests; retry in {} s", retry_after_secs(*.retry_after))]
    RateLimited {
        /// How long until the next request would be admitted.
        retry_after: Duration,
        /// The budget's burst size, for the `RateLimit-Limit` header.
        limit: u32,
    },
    /// The client address is not on the allow-list: `403`.
    #[error("this address may not send webhooks here")]
    IpNotAllowed,
    /// The body is larger than the limit: `413`.
    #[error("the request body is larger than the {limit} byte limit")]
    PayloadTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The body did not arrive within the read timeout: `408`.
    #[error("the request body did not arrive within {} ms", .timeout.as_millis())]
    BodyTimeout {
        /// The configured read timeout.
        timeout: Duration,
    },
    /// The body stream failed before it was complete: `400`.
    #[error("the request body could not be read: {0}")]
    BodyRead(String),
    /// Signature verification failed: `400`.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The payload is signed but is not a Stripe event: `400`.
    #[error(transparent)]
    InvalidEvent(#[from] InvalidEvent),
    /// The same event is being processed by another request right now: `409` with
    /// `Retry-After`, so Stripe tries again later.
    #[error("event {event_id} is being processed by another delivery")]
    InFlight {
        /// The event id.
        event_id: String,
        /// Suggested wait before retrying.
        retry_after: Duration,
    },
    /// The replay store could not be reached and the guard fails closed: `503` with
    /// `Retry-After`.
    #[error("the replay store is unavailable: {reason}")]
    StoreUnavailable {
        /// What the store reported (never a credential).
        reason: String,
        /// Suggested wait before retrying.
        retry_after: Duration,
    },
    /// The middleware was configured with a signing secret Stripe could not have issued
    /// (see [`Secret::try_new`](crate::Secret::try_new)): it fails closed, `500`, for every
    /// request, since anyone could sign with such a key.
    #[error("this webhook endpoint is misconfigured (its signing secret is too weak); nothing is accepted")]
    WeakSecret,
    /// Too many body bytes are held by requests in progress (in total or from this client):
    /// `503` with `Retry-After`, before the body is read.
    #[error("too many request bodies in progress; retry later")]
    Busy {
        /// Suggested wait before retrying.
        retry_after: Duration,
    },
    /// The event was already processed: `200` `{"received":true,"duplicate":true}`.
    #[error("event {event_id} was already processed")]
    Duplicate {
        /// The event id.
        event_id: String,
    },
}

impl Rejection {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::IpNotAllowed => StatusCode::FORBIDDEN,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::BodyRead(_) | Self::Verify(_) | Self::InvalidEvent(_) => StatusCode::BAD_REQUEST,
            Self::InFlight { .. } => StatusCode::CONFLICT,
            Self::StoreUnavailable { .. } | Self::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Duplicate { .. } => StatusCode::OK,
            Self::WeakSecret => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code (the `error` field of the body).
    pub fn code(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "rate_limited",
            Self::IpNotAllowed => "ip_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::BodyTimeout { .. } => "body_timeout",
            Self::BodyRead(_) => "body_read_error",
            Self::Verify(e) => e.code(),
            Self::InvalidEvent(e) => e.code(),
            Self::InFlight { .. } => "in_flight",
            Self::StoreUnavailable { .. } => "store_unavailable",
            Self::Duplicate { .. } => "duplicate",
            Self::WeakSecret => "weak_secret",
            Self::Busy { .. } => "busy",
        }
    }

    /// `true` when the request failed signature or header checks, which is what the strict
    /// failed-verification rate limit counts.
    pub fn is_verification_failure(&self) -> bool {
        matches!(self, Self::Verify(_))
    }

    /// Extra response headers (`Retry-After`, `RateLimit-*`).
    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let retry_after = match self {
            Self::RateLimited { retry_after, .. }
            | Self::InFlight { retry_after, .. }
            | Self::StoreUnavailable { retry_after, .. }
            | Self::Busy { retry_after } => retry_after_secs(*retry_after),
            _ => return Vec::new(),
        };
        let mut headers = vec![(http::header::RETRY_AFTER, HeaderValue::from(retry_after))];
        if let Self::RateLimited { limit, .. } = self {
            headers.push((
                HeaderName::from_static("ratelimit-limit"),
                HeaderValue::from(*limit),
            ));
            headers.push((
                HeaderName::from_static("ratelimit-remaining"),
                HeaderValue::from(0u32),
            ));
            headers.push((
                HeaderName::from_static("ratelimit-reset"),
                HeaderValue::from(retry_after),
            ));
        }
        headers
    }

    /// The JSON body.
    pub fn body(&self) -> Bytes {
        if let Self::Duplicate { .. } = self {
            return Bytes::from_static(br#"{"received":true,"duplicate":true}"#);
        }
        let body = serde_json::json!({ "error": self.code(), "message": self.to_string() });
        Bytes::from(body.to_string())
    }

    /// Status, headers and body as an `http::Response`.
    pub fn to_http_response(&self) -> http::Response<Bytes> {
        let mut response = http::Response::new(self.body());
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (name, value) in self.headers() {
            headers.insert(name, value);
        }
        response
    }
}

/// Whole seconds, rounded up and at least 1: `Retry-After: 0` makes clients hammer the server.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_at_least_one() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }

    #[test]
    fn body_shape_never_contains_secrets() {
        let r = Rejection::Verify(VerifyError::SignatureMismatch);
        let v: serde_json::Value = serde_json::from_slice(&r.body()).unwrap();
        assert_eq!(v["error"], "signature_mismatch");
        assert!(v["message"]
            .as_str()
            .unwrap()
            .contains("No signatures found"));
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
}
