//! When to try again: this client's retry settings over the workspace's one backoff and
//! `Retry-After` reader (`stripe-pulsora-retry`, shared with the Pulsora client).

use std::time::Duration;
pub(crate) use stripe_pulsora_retry::parse_retry_after;

/// Retry settings. Stripe's own SDKs retry network errors, `409`, `429` and `5xx` with backoff;
/// reads are idempotent, so every retry is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt.
    pub(crate) max_retries: u32,
    /// Backoff ceiling before the first retry; doubles each retry.
    pub(crate) base_backoff: Duration,
    /// Upper bound of any backoff.
    pub(crate) max_backoff: Duration,
    /// The longest `Retry-After` slept through; a longer one fails the call as transient.
    pub(crate) max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A uniform random wait in `[0, min(cap, base · 2^(retry-1))]` (full jitter), so many
    /// clients never retry in step.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        stripe_pulsora_retry::full_jitter(stripe_pulsora_retry::ceiling(
            self.base_backoff,
            self.max_backoff,
            retry,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_the_doubling_ceiling() {
        let policy = RetryPolicy::default();
        for retry in 1..=10 {
            let ceiling = (policy.base_backoff * (1 << (retry - 1))).min(policy.max_backoff);
            for _ in 0..100 {
                assert!(policy.backoff(retry) <= ceiling);
            }
        }
    }
}
