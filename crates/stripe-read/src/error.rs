//! What can go wrong reading the Stripe API, as variants a caller can act on.

/// A Stripe API call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// Network error, timeout, `5xx`, or `429` after the client's bounded retries (or with a
    /// `Retry-After` beyond its cap): try again later.
    #[error("Stripe API unavailable: {0}")]
    Transient(String),
    /// `401` / `403`: the key is wrong, revoked, or (restricted keys) lacks a read permission.
    /// Retrying will not help; the message is Stripe's, which names the missing permission.
    #[error("Stripe refused the API key ({status}): {message}")]
    KeyRefused {
        /// `401` or `403`.
        status: u16,
        /// Stripe's message (it never contains the key).
        message: String,
    },
    /// `404`: no such object (deleted, or from another account or mode).
    #[error("not found on Stripe: {0}")]
    NotFound(String),
    /// Any other `4xx`: the request itself is wrong.
    #[error("Stripe refused the request ({status}): {message}")]
    Invalid {
        /// The HTTP status.
        status: u16,
        /// Stripe's message.
        message: String,
    },
    /// The answer was not the JSON expected.
    #[error("unexpected answer from Stripe: {0}")]
    Decode(String),
}

impl ApiError {
    /// Worth retrying later (the caller answers `503`, or resumes a backfill).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}
