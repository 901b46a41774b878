//! When to try again and how long to wait: exponential backoff with full jitter, `Retry-After`.

use std::time::{Duration, SystemTime};

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
        if !self.jitter {
            return ceiling;
        }
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=nanos))
    }

    fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Reads a `Retry-After` value: delta-seconds (`"120"`) or an HTTP-date, relative to `now`.
/// A date in the past means "now". `None` when unreadable.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
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

    #[test]
    fn retry_after_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
    }
}
