//! What can go wrong, split so a caller can tell "retry later" from "give up".

use crate::validate::ValidationError;
use std::time::Duration;

/// A failed [`Revenue::track`](crate::Revenue::track) or client setup.
///
/// [`Error::is_transient`] is the one question a webhook handler asks: transient (network,
/// timeout, 5xx, 429) means "Pulsora may take it later, let the sender retry"; anything else is
/// permanent and retrying the same request cannot help. Retries inside the client are already
/// spent when a transient error comes back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The event failed validation; nothing was sent. Permanent.
    #[error("invalid revenue event: {0}")]
    Invalid(#[from] ValidationError),
    /// The client is misconfigured (token, endpoint, user agent). Permanent.
    #[error("pulsora client configuration: {0}")]
    Config(#[from] ConfigError),
    /// Pulsora refused the request with a status that retrying cannot fix (400, 401, 403, 422,
    /// any other non-429 4xx, or an unfollowed 3xx). Permanent.
    #[error("Pulsora refused the revenue event ({status}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Pulsora's `error` or `message` text, else the start of the body, else the reason.
        message: String,
        /// Requests made, including this one.
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
    /// `true` for network errors, timeouts, 5xx and 429: the same event may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Server { .. }
                | Error::RateLimited { .. }
                | Error::Timeout { .. }
                | Error::Network { .. }
        )
    }

    /// The HTTP status Pulsora answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Rejected { status, .. } | Error::Server { status, .. } => Some(*status),
            Error::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// Pulsora's message, or this crate's validation or configuration message.
    pub fn message(&self) -> Option<String> {
        match self {
            Error::Rejected { message, .. }
            | Error::Server { message, .. }
            | Error::RateLimited { message, .. } => Some(message.clone()),
            Error::Invalid(e) => Some(e.to_string()),
            Error::Config(e) => Some(e.to_string()),
            _ => None,
        }
    }

    /// How many requests were made (0 when the error came before sending).
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Rejected { attempts, .. }
            | Error::Server { attempts, .. }
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
