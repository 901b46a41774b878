//! [`Quota`]: how many requests a client may send per period, and how many at once.

use std::time::Duration;

/// A rate: `count` requests per period, with bursts of up to [`burst`](Self::burst) requests
/// at once (by default `count`).
///
/// Named by unit so the numbers cannot be read backwards: `Quota::per_second(100)` is a hundred
/// requests every second, never "one request every hundred seconds". The budget refills
/// continuously, one request's worth every `period / count` (10 ms here), not in one go at the
/// start of each second; see the [guide](crate::rate_limit_guide).
///
/// ```
/// use std::time::Duration;
/// use stripe_webhook_guard::Quota;
///
/// let quota = Quota::per_minute(20);
/// assert_eq!(quota.replenish_interval(), Duration::from_secs(3));
/// assert_eq!(quota.max_burst(), 20);
///
/// let bursty = Quota::per_second(100).burst(200);
/// assert_eq!(bursty.replenish_interval(), Duration::from_millis(10));
/// assert_eq!(bursty.max_burst(), 200);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    count: u32,
    period: Duration,
    burst: u32,
}

impl Quota {
    /// `count` requests per second, burst `count`.
    ///
    /// # Panics
    ///
    /// If `count` is 0: a budget of nothing is a typo, not a setting. To switch a limit off use
    /// `no_rate_limit()` / `no_failure_limit()`.
    pub const fn per_second(count: u32) -> Self {
        Self::new(count, Duration::from_secs(1))
    }

    /// `count` requests per minute, burst `count`.
    ///
    /// # Panics
    ///
    /// If `count` is 0 (see [`per_second`](Self::per_second)).
    pub const fn per_minute(count: u32) -> Self {
        Self::new(count, Duration::from_secs(60))
    }

    /// `count` requests per hour, burst `count`.
    ///
    /// # Panics
    ///
    /// If `count` is 0 (see [`per_second`](Self::per_second)).
    pub const fn per_hour(count: u32) -> Self {
        Self::new(count, Duration::from_secs(3600))
    }

    const fn new(count: u32, period: Duration) -> Self {
        assert!(
            count > 0,
            "a Quota needs at least one request per period; use no_rate_limit() / no_failure_limit() to switch a limit off"
        );
        Self {
            count,
            period,
            burst: count,
        }
    }

    /// The same rate with another burst size: how many requests a client that has been quiet
    /// for a while may send back to back before the rate applies.
    ///
    /// # Panics
    ///
    /// If `burst` is 0: no request could ever pass.
    #[must_use]
    pub const fn burst(self, burst: u32) -> Self {
        assert!(burst > 0, "a Quota's burst must be at least 1");
        Self { burst, ..self }
    }

    /// Requests per period.
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// The period `count` refers to.
    pub const fn period(&self) -> Duration {
        self.period
    }

    /// The most requests a rested client may send at once (the `RateLimit-Limit` header).
    pub const fn max_burst(&self) -> u32 {
        self.burst
    }

    /// How long it takes for one request's worth of budget to come back: `period / count`
    /// (at least 1 ns).
    pub fn replenish_interval(&self) -> Duration {
        let nanos = self.period.as_nanos() / u128::from(self.count);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_by_unit() {
        assert_eq!(
            Quota::per_second(4).replenish_interval(),
            Duration::from_millis(250)
        );
        assert_eq!(
            Quota::per_hour(60).replenish_interval(),
            Duration::from_secs(60)
        );
        assert_eq!(Quota::per_second(7).max_burst(), 7);
        assert_eq!(Quota::per_second(7).burst(1).max_burst(), 1);
        // Absurd rates still have a non-zero interval.
        assert_eq!(
            Quota::per_second(u32::MAX).replenish_interval(),
            Duration::from_nanos(1)
        );
    }

    #[test]
    #[should_panic(expected = "at least one request")]
    fn zero_count_is_refused() {
        let _ = Quota::per_minute(0);
    }

    #[test]
    #[should_panic(expected = "burst must be at least 1")]
    fn zero_burst_is_refused() {
        let _ = Quota::per_minute(1).burst(0);
    }
}
