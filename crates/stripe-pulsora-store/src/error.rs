//! The one error every backend returns: transient (try again later) or permanent (look).

/// A store could not answer. Callers turn [`Unavailable`](Self::Unavailable) into `503` +
/// `Retry-After` (Stripe retries later); [`Backend`](Self::Backend) is logged loudly too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached, was busy, or did not answer in time; trying again
    /// later may work. The text never contains credentials.
    #[error("store unreachable: {0}")]
    Unavailable(String),
    /// The backend answered with an error or with data this layer did not write (a schema,
    /// migration or key-space clash); retrying will not help until someone looks.
    #[error("store failed: {0}")]
    Backend(String),
}

impl StoreError {
    /// `true` for errors that a later retry may not see (network, timeouts, busy locks).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// `false` for errors that need someone to look (the opposite of
    /// [`is_transient`](Self::is_transient)).
    pub fn is_permanent(&self) -> bool {
        !self.is_transient()
    }
}
