//! GCRA (the generic cell rate algorithm) as plain arithmetic on nanoseconds.
//!
//! A client's whole state for one budget is one number, its *theoretical arrival time* (TAT):
//! the moment at which its budget will be full again. Each admitted request pushes it one
//! `interval` later; a request is admitted while the TAT is at most `tolerance` ahead of now
//! (`tolerance = interval × (burst − 1)`, so a rested client gets `burst` requests at once).
//! A TAT in the past is indistinguishable from a client never seen, which is what lets the
//! table forget it. Time is passed in, never read here, so the math is tested without sleeping.

use super::quota::Quota;
use crate::rejection::Rejection;
use std::time::Duration;

/// One budget (a [`Quota`]) in the units the arithmetic uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget {
    /// Nanoseconds for one request's worth of budget to come back.
    interval: u64,
    /// How far ahead of now the TAT may be for a request to pass.
    tolerance: u64,
    /// The burst size, reported as `RateLimit-Limit`.
    limit: u32,
}

impl Budget {
    pub(crate) fn new(quota: Quota) -> Self {
        let interval = u64::try_from(quota.replenish_interval().as_nanos()).unwrap_or(u64::MAX);
        Self {
            interval,
            tolerance: interval.saturating_mul(u64::from(quota.max_burst() - 1)),
            limit: quota.max_burst(),
        }
    }

    /// Spends one request if the budget allows it at `now`: the new TAT, or how long (ns, > 0)
    /// until it would be allowed.
    pub(crate) fn try_spend(&self, tat: u64, now: u64) -> Result<u64, u64> {
        let start = tat.max(now);
        let ahead = start - now;
        if ahead > self.tolerance {
            Err(ahead - self.tolerance)
        } else {
            Ok(start.saturating_add(self.interval))
        }
    }

    /// Whether one request could be spent at `now`, without spending it.
    pub(crate) fn peek(&self, tat: u64, now: u64) -> Result<(), u64> {
        self.try_spend(tat, now).map(|_| ())
    }

    /// Spends one request whatever the budget says: the failure already happened, and every
    /// one of them is charged (concurrent failures that all passed `peek` extend the wait).
    pub(crate) fn spend_anyway(&self, tat: u64, now: u64) -> u64 {
        tat.max(now).saturating_add(self.interval)
    }

    /// How many requests would pass right now, back to back.
    #[cfg(test)]
    pub(crate) fn remaining(&self, tat: u64, now: u64) -> u64 {
        let start = tat.max(now);
        let ahead = start - now;
        if ahead > self.tolerance {
            0
        } else {
            (self.tolerance - ahead) / self.interval + 1
        }
    }

    /// The 429 for a wait of `wait` nanoseconds on this budget.
    pub(crate) fn rejection(&self, wait: u64) -> Rejection {
        Rejection::RateLimited {
            retry_after: Duration::from_nanos(wait),
            limit: self.limit,
        }
    }
}

/// `true` when a TAT carries no information any more: the budget is full again.
pub(crate) fn is_rested(tat: u64, now: u64) -> bool {
    tat <= now
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn spend_all(budget: &Budget, tat: &mut u64, now: u64) -> u32 {
        let mut passed = 0;
        while let Ok(next) = budget.try_spend(*tat, now) {
            *tat = next;
            passed += 1;
        }
        passed
    }

    #[test]
    fn a_rested_client_gets_exactly_the_burst() {
        let budget = Budget::new(Quota::per_second(2).burst(5));
        let mut tat = 0;
        let now = 10 * SECOND;
        assert_eq!(budget.remaining(tat, now), 5);
        assert_eq!(spend_all(&budget, &mut tat, now), 5);
        assert_eq!(budget.remaining(tat, now), 0);
    }

    #[test]
    fn refusal_says_when_the_next_request_passes_and_it_does() {
        let budget = Budget::new(Quota::per_second(2).burst(2)); // one every 500 ms
        let mut tat = 0;
        let now = SECOND;
        assert_eq!(spend_all(&budget, &mut tat, now), 2);
        let wait = budget.try_spend(tat, now).unwrap_err();
        assert_eq!(wait, SECOND / 2);
        // One nanosecond early: still refused, with a 1 ns wait.
        assert_eq!(budget.try_spend(tat, now + wait - 1), Err(1));
        // On time: exactly one passes.
        assert_eq!(spend_all(&budget, &mut tat, now + wait), 1);
    }

    #[test]
    fn the_budget_refills_continuously_not_per_window() {
        let budget = Budget::new(Quota::per_minute(20)); // one every 3 s, burst 20
        let mut tat = 0;
        let start = 100 * SECOND;
        assert_eq!(spend_all(&budget, &mut tat, start), 20);
        assert_eq!(budget.remaining(tat, start + 2 * SECOND), 0);
        assert_eq!(budget.remaining(tat, start + 3 * SECOND), 1);
        assert_eq!(budget.remaining(tat, start + 30 * SECOND), 10);
        assert_eq!(budget.remaining(tat, start + 60 * SECOND), 20);
        assert!(is_rested(tat, start + 60 * SECOND));
        assert!(!is_rested(tat, start + 60 * SECOND - 1));
        // Never more than the burst, however long the client rested.
        assert_eq!(budget.remaining(tat, start + 3600 * SECOND), 20);
    }

    #[test]
    fn a_steady_rate_at_the_quota_is_never_refused() {
        let budget = Budget::new(Quota::per_second(100).burst(1));
        let mut tat = 0;
        for i in 0..1000 {
            let now = SECOND + i * (SECOND / 100);
            tat = budget.try_spend(tat, now).expect("at the quota's pace");
        }
        // Twice as fast: every other request is refused.
        let mut passed = 0;
        for i in 0..1000 {
            let now = 20 * SECOND + i * (SECOND / 200);
            if let Ok(next) = budget.try_spend(tat, now) {
                tat = next;
                passed += 1;
            }
        }
        assert_eq!(passed, 500);
    }

    #[test]
    fn peek_does_not_spend_and_spend_anyway_always_does() {
        let budget = Budget::new(Quota::per_minute(2)); // 30 s interval, burst 2
        let now = SECOND;
        let mut tat = 0;
        assert_eq!(budget.peek(tat, now), Ok(()));
        assert_eq!(budget.peek(tat, now), Ok(()));
        tat = budget.spend_anyway(tat, now);
        tat = budget.spend_anyway(tat, now);
        assert_eq!(budget.peek(tat, now), Err(30 * SECOND));
        // A third failure that raced past peek is charged too: the wait grows by one interval.
        tat = budget.spend_anyway(tat, now);
        assert_eq!(budget.peek(tat, now), Err(60 * SECOND));
    }

    #[test]
    fn rejection_carries_wait_and_burst() {
        let budget = Budget::new(Quota::per_second(1).burst(3));
        match budget.rejection(1) {
            Rejection::RateLimited { retry_after, limit } => {
                assert_eq!(retry_after, Duration::from_nanos(1));
                assert_eq!(limit, 3);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn huge_bursts_saturate_instead_of_overflowing() {
        let budget = Budget::new(Quota::per_hour(1).burst(u32::MAX));
        assert_eq!(budget.try_spend(u64::MAX - 1, u64::MAX - 1), Ok(u64::MAX));
        assert!(budget.peek(0, 0).is_ok());
    }
}
