//! When a failed delivery is tried again: exponential backoff with full jitter, at least what
//! Pulsora asked for with `Retry-After`, and never past the horizon.

use std::time::Duration;

/// How long the worker keeps trying a row that fails transiently, and how it spaces the tries.
/// Every field has a default ([`Default`]):
///
/// ```
/// use std::time::Duration;
/// use stripe_revenue::outbox::Retries;
///
/// let retries = Retries {
///     horizon: Duration::from_secs(3 * 86_400), // give up after three days instead of seven
///     ..Retries::default()
/// };
/// assert_eq!(retries.base, Duration::from_secs(1));
/// # let _ = retries;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retries {
    /// The ceiling of the first retry's wait; doubles with every failed attempt. Default 1 s.
    pub base: Duration,
    /// The largest ceiling. Default 10 minutes: after a long outage every row is tried again
    /// within 10 minutes of Pulsora's return (5 on average, with the jitter).
    pub max: Duration,
    /// How long after it was acknowledged a row may still be tried; a row that fails past it
    /// becomes a dead letter with the last error as its reason. Default 7 days
    /// ([`DEFAULT_HORIZON`]), beyond Stripe's own 3-day retry window.
    pub horizon: Duration,
}

/// The default horizon: 7 days.
pub const DEFAULT_HORIZON: Duration = Duration::from_secs(7 * 86_400);

impl Default for Retries {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max: Duration::from_secs(10 * 60),
            horizon: DEFAULT_HORIZON,
        }
    }
}

impl Retries {
    /// The ceiling of the wait after `failures` failed attempts (1 after the first):
    /// `min(max, base · 2^(failures-1))`, the rule the HTTP clients use too
    /// ([`stripe_pulsora_retry::ceiling`]).
    pub fn ceiling(&self, failures: u32) -> Duration {
        stripe_pulsora_retry::ceiling(self.base, self.max, failures)
    }

    /// The wait before the next attempt: uniform in `[0, ceiling]` (full jitter, so rows that
    /// failed together do not come back together), and at least `retry_after`.
    pub fn wait(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let jittered = stripe_pulsora_retry::full_jitter(self.ceiling(failures));
        jittered.max(retry_after.unwrap_or(Duration::ZERO))
    }

    /// When a row that failed now is due again, in Unix ms, or `None` when it is past the
    /// horizon (dead letter). The last try is placed at the horizon itself, so a row is tried
    /// right up to it.
    pub(crate) fn next_due(
        &self,
        now_ms: i64,
        enqueued_at_ms: i64,
        failures: u32,
        retry_after: Option<Duration>,
    ) -> Option<i64> {
        let horizon_ms = enqueued_at_ms.saturating_add(ms(self.horizon));
        if now_ms >= horizon_ms {
            return None;
        }
        let due = now_ms.saturating_add(ms(self.wait(failures, retry_after)));
        Some(due.min(horizon_ms))
    }
}

pub(crate) fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap_and_waits_stay_inside() {
        let r = Retries::default();
        let ceilings: Vec<u64> = (1..=12).map(|n| r.ceiling(n).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(r.ceiling(u32::MAX), r.max);
        for n in 1..=12 {
            for _ in 0..20 {
                assert!(r.wait(n, None) <= r.ceiling(n));
            }
        }
        let draws: std::collections::HashSet<_> = (0..200).map(|_| r.wait(8, None)).collect();
        assert!(draws.len() > 1, "full jitter varies");
    }

    #[test]
    fn retry_after_is_a_floor_and_the_horizon_a_ceiling() {
        let r = Retries::default();
        assert!(r.wait(1, Some(Duration::from_secs(90))) >= Duration::from_secs(90));
        let day = 86_400_000;
        // Within the horizon: due no later than the horizon.
        let due = r.next_due(7 * day - 1_000, 0, 30, Some(Duration::from_secs(3600)));
        assert_eq!(due, Some(7 * day));
        // At or past it: dead letter.
        assert_eq!(r.next_due(7 * day, 0, 30, None), None);
    }
}
