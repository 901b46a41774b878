//! When to try again and how long to wait: this client's retry settings over the workspace's
//! one backoff and `Retry-After` reader (`stripe-pulsora-retry`, shared with the Stripe API
//! reader).

use std::time::Duration;
pub(crate) use stripe_pulsora_retry::parse_retry_after;

/// Pulsora's SDK waits this long on a 429 that carries no readable `Retry-After`.
pub(crate) const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The retry settings of one client. Defaults follow Pulsora's revenue SDK (3 retries, 1 s
/// doubling) and its core SDK's 30 s cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt: 3 means at most 4 requests.
    pub(crate) max_retries: u32,
    /// Backoff before the first retry; doubles each retry.
    pub(crate) base_backoff: Duration,
    /// Upper bound of any backoff.
    pub(crate) max_backoff: Duration,
    /// Full jitter: wait a uniform random time in `[0, backoff]` so many clients do not retry
    /// in step. Off makes the waits exact (useful in tests).
    pub(crate) jitter: bool,
    /// The longest `Retry-After` the client will sleep through; a longer one ends the loop with
    /// a transient error, so the caller can come back later instead of holding a request open.
    pub(crate) max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            jitter: true,
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry): `min(cap, base · 2^(retry-1))`,
    /// then full jitter when enabled.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        if self.jitter {
            stripe_pulsora_retry::full_jitter(ceiling)
        } else {
            ceiling
        }
    }

    fn ceiling(&self, retry: u32) -> Duration {
        stripe_pulsora_retry::ceiling(self.base_backoff, self.max_backoff, retry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_the_base_up_to_the_cap() {
        let policy = RetryPolicy {
            jitter: false,
            ..RetryPolicy::default()
        };
        let waits: Vec<u64> = (1..=8).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn full_jitter_stays_within_zero_and_the_ceiling() {
        let policy = RetryPolicy::default();
        for retry in 1..=10 {
            for _ in 0..50 {
                assert!(policy.backoff(retry) <= policy.ceiling(retry));
            }
        }
        // Jitter really varies (1000 draws in [0, 4 s] are not all equal).
        let draws: std::collections::HashSet<Duration> =
            (0..1000).map(|_| policy.backoff(3)).collect();
        assert!(draws.len() > 1);
    }
}
