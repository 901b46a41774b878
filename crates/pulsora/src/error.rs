//! What can go wrong, split so a caller can tell "retry later" from "give up".

use crate::validate::ValidationError;
use std::time::Duration;

/// What a caller should do with an event whose delivery failed: [`Error::disposition`].
///
/// | Pulsora's answer | disposition |
/// |---|---|
/// | network error, timeout, 5xx, 429, 408, 409, 413, 425, any other status | [`Retry`](Self::Retry) |
/// | 400, 422 (a refusal of this payload), or the event failed validation | [`Drop`](Self::Drop) |
/// | 401, 403 (the token), 404, 405, 410, 3xx (the endpoint) | [`FixConfiguration`](Self::FixConfiguration) |
///
/// ```
/// use pulsora::{Disposition, Error};
///
/// let refused = Error::Misconfigured { status: 401, message: "Invalid API token".into(), attempts: 1 };
/// assert_eq!(refused.disposition(), Disposition::FixConfiguration);
/// assert!(!refused.is_transient() && !refused.is_permanent());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Disposition {
    /// The same event may succeed later: keep it and try again (a webhook answers `503`).
    Retry,
    /// Pulsora refused this payload, or it is invalid: retrying the same event cannot help
    /// (a webhook dead-letters it and answers `200`).
    Drop,
    /// The client is misconfigured (token refused, or the endpoint is not Pulsora's ingest):
    /// every event fails the same way until an operator fixes it. Keep the event (a webhook
    /// answers `503` so Stripe redelivers it after the fix) and raise an alarm.
    FixConfiguration,
}

/// A failed [`Revenue::track`](crate::Revenue::track) or client setup.
///
/// [`Error::disposition`] is the one question a webhook handler asks: retry later, drop this
/// event, or stop and fix the configuration. Retries inside the client are already spent when
/// an error comes back. Redirects are never followed (the token would travel to another
/// address): a 3xx is a wrong endpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The event failed validation; nothing was sent. Permanent.
    #[error("invalid revenue event: {0}")]
    Invalid(#[from] ValidationError),
    /// The client is misconfigured (token, endpoint, user agent). Permanent.
    #[error("pulsora client configuration: {0}")]
    Config(#[from] ConfigError),
    /// Pulsora refused this payload (400 or 422, a validation error). Permanent for this
    /// event: [`Disposition::Drop`].
    #[error("Pulsora refused the revenue event ({status}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Pulsora's `error` or `message` text, else the start of the body, else the reason.
        message: String,
        /// Requests made, including this one.
        attempts: u32,
    },
    /// Pulsora refused the token (401, 403), or the endpoint is not Pulsora's ingest (404, 405,
    /// 410, or a redirect, which is never followed with the token).
    /// [`Disposition::FixConfiguration`]: keep the event.
    #[error("Pulsora client misconfigured ({status}): {message}")]
    Misconfigured {
        /// HTTP status.
        status: u16,
        /// Pulsora's message, body excerpt or reason phrase (for a redirect, where it pointed
        /// is not shown).
        message: String,
        /// Requests made.
        attempts: u32,
    },
    /// Pulsora answered a status that says "not now" (408, 409, 413, 425) or one this client
    /// does not know, on the last attempt. Transient: the event is kept.
    #[error("Pulsora answered {status} after {attempts} attempt(s): {message}")]
    Unexpected {
        /// HTTP status.
        status: u16,
        /// Pulsora's message, body excerpt or reason phrase.
        message: String,
        /// Requests made.
        attempts: u32,
    },
    /// The time allowed for the whole call (every attempt and wait) ran out before Pulsora
    /// accepted the event. Transient.
    #[error("no success from Pulsora within the {budget:?} allowed, after {attempts} attempt(s)")]
    BudgetSpent {
        /// The time allowed for the whole call.
        budget: Duration,
        /// Requests made.
        attempts: u32,
    },
    /// Pulsora answered 5xx on the last attempt. Transient.
    #[error("Pulsora server error ({status}) after {attempts} attempt(s): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Pulsora's message, body excerpt or reason phrase.
        message: String,
        /// Requests made.
        attempts: u32,
        /// The wait Pulsora asked for (`Retry-After` on a 503), when it sent one.
        retry_after: Option<Duration>,
    },
    /// Pulsora answered 429 on the last attempt, or asked for a longer wait than the client's
    /// `max_retry_after`. Transient: try again after `retry_after`.
    #[error("Pulsora rate limit (429) after {attempts} attempt(s): {message}")]
    RateLimited {
        /// The wait Pulsora asked for, when its `Retry-After` header could be read.
        retry_after: Option<Duration>,
        /// Pulsora's message, body excerpt or reason phrase.
        message: String,
        /// Requests made.
        attempts: u32,
    },
    /// No complete answer within the per-attempt timeout, on the last attempt. Transient (the
    /// event may have arrived: resending with the same `transaction_id` is how Pulsora dedups).
    #[error("no answer from Pulsora within {timeout:?}, after {attempts} attempt(s)")]
    Timeout {
        /// The per-attempt timeout.
        timeout: Duration,
        /// Requests made.
        attempts: u32,
    },
    /// Connecting or talking to Pulsora failed (refused, reset, DNS, TLS) on the last attempt.
    /// Transient.
    #[error("could not reach Pulsora, after {attempts} attempt(s)")]
    Network {
        /// Requests made.
        attempts: u32,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The request body could not be encoded. Permanent.
    #[error("could not encode the revenue request body")]
    Encode(#[source] serde_json::Error),
}

impl Error {
    /// What to do with the event: retry later, drop it, or fix the configuration.
    pub fn disposition(&self) -> Disposition {
        match self {
            Error::Server { .. }
            | Error::RateLimited { .. }
            | Error::Timeout { .. }
            | Error::Network { .. }
            | Error::Unexpected { .. }
            | Error::BudgetSpent { .. } => Disposition::Retry,
            Error::Misconfigured { .. } | Error::Config(_) => Disposition::FixConfiguration,
            Error::Invalid(_) | Error::Rejected { .. } | Error::Encode(_) => Disposition::Drop,
        }
    }

    /// `true` when the same event may succeed later ([`Disposition::Retry`]): network errors,
    /// timeouts, 5xx, 429, 408, 409, 413, 425 and unknown statuses.
    pub fn is_transient(&self) -> bool {
        self.disposition() == Disposition::Retry
    }

    /// `true` when this event can never be delivered as it is ([`Disposition::Drop`]): 400,
    /// 422, or invalid before sending.
    pub fn is_permanent(&self) -> bool {
        self.disposition() == Disposition::Drop
    }

    /// `true` when the token or endpoint is wrong ([`Disposition::FixConfiguration`]).
    pub fn is_misconfiguration(&self) -> bool {
        self.disposition() == Disposition::FixConfiguration
    }

    /// The HTTP status Pulsora answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Rejected { status, .. }
            | Error::Server { status, .. }
            | Error::Misconfigured { status, .. }
            | Error::Unexpected { status, .. } => Some(*status),
            Error::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// Pulsora's message, or this crate's validation or configuration message.
    pub fn message(&self) -> Option<String> {
        match self {
            Error::Rejected { message, .. }
            | Error::Server { message, .. }
            | Error::Misconfigured { message, .. }
            | Error::Unexpected { message, .. }
            | Error::RateLimited { message, .. } => Some(message.clone()),
            Error::Invalid(e) => Some(e.to_string()),
            Error::Config(e) => Some(e.to_string()),
            _ => None,
        }
    }

    /// The wait Pulsora asked for with `Retry-After` on the last answer (a 429 or a 5xx), when
    /// it sent a readable one. A caller that retries later (an outbox worker) waits at least
    /// this long.
    ///
    /// ```
    /// use std::time::Duration;
    /// let limited = pulsora::Error::RateLimited {
    ///     retry_after: Some(Duration::from_secs(60)),
    ///     message: "Too Many Requests".into(),
    ///     attempts: 1,
    /// };
    /// assert_eq!(limited.retry_after(), Some(Duration::from_secs(60)));
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } | Error::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// How many requests were made (0 when the error came before sending).
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Rejected { attempts, .. }
            | Error::Server { attempts, .. }
            | Error::Misconfigured { attempts, .. }
            | Error::Unexpected { attempts, .. }
            | Error::BudgetSpent { attempts, .. }
            | Error::RateLimited { attempts, .. }
            | Error::Timeout { attempts, .. }
            | Error::Network { attempts, .. } => *attempts,
            _ => 0,
        }
    }
}

/// The client cannot be built as configured. Nothing was sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The token is empty (Pulsora's 401 message).
    #[error("Missing API token")]
    MissingToken,
    /// The token is a public `pub_…` token (Pulsora's 403 message): revenue needs `sec_…`.
    #[error("Revenue events require secret token")]
    PublicToken,
    /// The token has characters an HTTP header cannot carry (a newline, say). The token itself
    /// is never shown.
    #[error("the API token contains characters that cannot be sent in an HTTP header")]
    TokenNotHeaderSafe,
    /// The endpoint is not an absolute `http` or `https` URL.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    Endpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The user agent cannot be sent as an HTTP header value.
    #[error("the user agent cannot be sent as an HTTP header value")]
    UserAgent,
    /// The HTTP client could not be built (TLS setup).
    #[error("could not build the HTTP client")]
    Client(#[source] reqwest::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_or_permanent() {
        let rejected = Error::Rejected {
            status: 422,
            message: "The data.visitor_fingerprint field is required.".into(),
            attempts: 1,
        };
        assert!(!rejected.is_transient());
        assert_eq!(rejected.status(), Some(422));
        assert_eq!(
            rejected.to_string(),
            "Pulsora refused the revenue event (422): The data.visitor_fingerprint field is required."
        );
        let server = Error::Server {
            status: 503,
            message: "Service Unavailable".into(),
            attempts: 4,
            retry_after: None,
        };
        assert!(server.is_transient());
        assert_eq!(server.attempts(), 4);
        let limited = Error::RateLimited {
            retry_after: Some(Duration::from_secs(60)),
            message: "Too Many Requests".into(),
            attempts: 2,
        };
        assert!(limited.is_transient());
        assert_eq!(limited.status(), Some(429));
        assert!(Error::Timeout {
            timeout: Duration::from_secs(1),
            attempts: 1
        }
        .is_transient());
        assert!(!Error::Invalid(ValidationError::Amount).is_transient());
        assert!(!Error::Config(ConfigError::PublicToken).is_transient());
        assert_eq!(
            Error::Config(ConfigError::PublicToken).message().as_deref(),
            Some("Revenue events require secret token")
        );
    }
}
