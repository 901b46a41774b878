//! When to try an HTTP call again, written once for the workspace's clients (the Pulsora client
//! and the Stripe API reader): exponential backoff with full jitter, and `Retry-After`.
//!
//! - **Backoff**: the wait before retry `n` (1 for the first retry) is at most
//!   `min(max, base · 2^(n−1))` ([`ceiling`]); [`full_jitter`] draws a uniform random wait in
//!   `[0, ceiling]`, so many clients that failed together do not retry in step ("full jitter",
//!   AWS Architecture Blog, *Exponential Backoff And Jitter*).
//! - **`Retry-After`** ([`parse_retry_after`]): delta-seconds or an HTTP-date (RFC 9110 §10.2.3);
//!   a date in the past means now. What to do with a long one is the caller's policy.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use stripe_pulsora_retry::{ceiling, full_jitter, parse_retry_after};
//!
//! let base = Duration::from_millis(500);
//! let max = Duration::from_secs(8);
//! assert_eq!(ceiling(base, max, 1), Duration::from_millis(500));
//! assert_eq!(ceiling(base, max, 3), Duration::from_secs(2));
//! assert_eq!(ceiling(base, max, 10), max);
//! assert!(full_jitter(ceiling(base, max, 3)) <= Duration::from_secs(2));
//! assert_eq!(parse_retry_after("2", SystemTime::now()), Some(Duration::from_secs(2)));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::time::{Duration, SystemTime};

/// The longest wait before retry number `retry` (1 for the first retry): `base · 2^(retry−1)`,
/// never more than `max` (and never overflowing).
pub fn ceiling(base: Duration, max: Duration, retry: u32) -> Duration {
    let factor = 1u32
        .checked_shl(retry.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(max)
}

/// A uniform random wait in `[0, ceiling]` (full jitter).
pub fn full_jitter(ceiling: Duration) -> Duration {
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(fastrand::u64(0..=nanos))
}

/// Reads a `Retry-After` value: delta-seconds (`"120"`) or an HTTP-date, relative to `now`. A
/// date in the past means "now". `None` when unreadable.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
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
        let (base, max) = (Duration::from_secs(1), Duration::from_secs(30));
        let waits: Vec<u64> = (1..=8).map(|n| ceiling(base, max, n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(ceiling(base, max, u32::MAX), max);
        assert_eq!(ceiling(base, max, 0), base);
    }

    #[test]
    fn full_jitter_stays_within_zero_and_the_ceiling_and_varies() {
        let top = Duration::from_secs(4);
        for _ in 0..1000 {
            assert!(full_jitter(top) <= top);
        }
        let draws: std::collections::HashSet<Duration> =
            (0..1000).map(|_| full_jitter(top)).collect();
        assert!(draws.len() > 1);
        assert_eq!(full_jitter(Duration::ZERO), Duration::ZERO);
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
