//! [`ClientRateLimiter`]: the two per-client budgets over the bounded table.

use super::client_ip::{canonical, table_key};
use super::clock::LimiterClock;
use super::gcra::Budget;
use super::quota::Quota;
use super::table::ClientTable;
use crate::rejection::Rejection;
use std::fmt;
use std::net::IpAddr;

/// Per-client GCRA budgets in bounded memory: the limiter behind
/// [`StripeWebhookLayer`](crate::StripeWebhookLayer)'s rate limits, usable on its own.
///
/// Two budgets per client, either of which may be off:
/// - **requests**: [`check`](Self::check) spends one from it, or refuses;
/// - **failures**: `check` refuses while it is exhausted, without spending from it;
///   [`record_failure`](Self::record_failure) spends one.
///
/// It counts under exactly the address it is given (an IPv4-mapped IPv6 address counts as the
/// IPv4 one); cutting IPv6 to a prefix is the caller's choice (the layer does). At most
/// `max_clients` clients are tracked whatever the number of addresses seen; see the
/// [guide](crate::rate_limit_guide) for what happens when that many are busy at once.
///
/// ```
/// use stripe_webhook_guard::{ClientRateLimiter, Quota};
///
/// let limiter = ClientRateLimiter::new(
///     Some(Quota::per_second(1).burst(2)),
///     Some(Quota::per_minute(1)),
///     10_000,
/// );
/// let ip = "203.0.113.7".parse()?;
/// assert!(limiter.check(ip).is_ok());
/// assert!(limiter.check(ip).is_ok());
/// let refused = limiter.check(ip).unwrap_err();
/// assert_eq!(refused.status(), 429);
/// assert_eq!(refused.code(), "rate_limited");
///
/// // Another client has its own budgets; one failure exhausts its failure budget.
/// let other = "198.51.100.1".parse()?;
/// assert!(limiter.check(other).is_ok());
/// limiter.record_failure(other);
/// assert!(limiter.check(other).is_err());
/// assert_eq!(limiter.tracked_clients(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ClientRateLimiter {
    requests: Option<Budget>,
    failures: Option<Budget>,
    table: ClientTable,
    clock: LimiterClock,
}

impl ClientRateLimiter {
    /// A limiter with a `requests` budget and a `failures` budget per client (`None`: that
    /// budget is off), tracking at most `max_clients` clients (at least 1).
    pub fn new(requests: Option<Quota>, failures: Option<Quota>, max_clients: usize) -> Self {
        Self::with_clock(requests, failures, max_clients, LimiterClock::monotonic())
    }

    pub(crate) fn with_clock(
        requests: Option<Quota>,
        failures: Option<Quota>,
        max_clients: usize,
        clock: LimiterClock,
    ) -> Self {
        Self {
            requests: requests.map(Budget::new),
            failures: failures.map(Budget::new),
            table: ClientTable::new(max_clients),
            clock,
        }
    }

    /// Admits one request from `client`: refused with [`Rejection::RateLimited`] (the wait
    /// and the budget's burst) if its failure budget is exhausted or its request budget is
    /// spent; otherwise one request is spent.
    ///
    /// # Errors
    ///
    /// [`Rejection::RateLimited`] when the client must wait.
    pub fn check(&self, client: IpAddr) -> Result<(), Rejection> {
        self.check_tolerating_failures(client, false).map(|_| ())
    }

    /// [`check`](Self::check), except that with `tolerate_failures` an exhausted failure budget
    /// does not refuse: the request budget is spent as usual and `Ok(true)` says the client is
    /// over its failure budget (the engine then only hashes a small signed body for it).
    pub(crate) fn check_tolerating_failures(
        &self,
        client: IpAddr,
        tolerate_failures: bool,
    ) -> Result<bool, Rejection> {
        if self.requests.is_none() && self.failures.is_none() {
            return Ok(false);
        }
        let now = self.clock.now();
        self.table
            .with(table_key(canonical(client)), now, |tats| {
                let mut over_failures = false;
                if let Some(failures) = &self.failures {
                    if let Err(wait) = failures.peek(tats.failures, now) {
                        if !tolerate_failures {
                            return Err((failures, wait));
                        }
                        over_failures = true;
                    }
                }
                if let Some(requests) = &self.requests {
                    tats.requests = requests
                        .try_spend(tats.requests, now)
                        .map_err(|wait| (requests, wait))?;
                }
                Ok(over_failures)
            })
            // The rejection is built outside the shard lock.
            .map_err(|(budget, wait): (&Budget, u64)| budget.rejection(wait))
    }

    /// Charges one failed verification to `client`'s failure budget (a no-op when that budget
    /// is off).
    pub fn record_failure(&self, client: IpAddr) {
        if let Some(failures) = &self.failures {
            let now = self.clock.now();
            self.table.with(table_key(canonical(client)), now, |tats| {
                tats.failures = failures.spend_anyway(tats.failures, now);
            });
        }
    }

    /// How many clients are tracked now (never more than [`max_clients`](Self::max_clients)).
    /// Locks each shard in turn: for tests and metrics, not for every request.
    pub fn tracked_clients(&self) -> usize {
        self.table.len()
    }

    /// The bound on tracked clients.
    pub fn max_clients(&self) -> usize {
        self.table.max_keys()
    }
}

impl fmt::Debug for ClientRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRateLimiter")
            .field("requests", &self.requests)
            .field("failures", &self.failures)
            .field("max_clients", &self.table.max_keys())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::clock::ManualClock;
    use std::time::Duration;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn retry_after(rejection: Rejection) -> (Duration, u32) {
        match rejection {
            Rejection::RateLimited { retry_after, limit } => (retry_after, limit),
            other => panic!("expected RateLimited, got {other:?}"),
        }
    }

    fn limiter(
        requests: Option<Quota>,
        failures: Option<Quota>,
    ) -> (ClientRateLimiter, ManualClock) {
        let clock = ManualClock::default();
        clock.advance(Duration::from_secs(1000));
        let limiter = ClientRateLimiter::with_clock(requests, failures, 1000, clock.clock());
        (limiter, clock)
    }

    #[test]
    fn request_budget_refuses_then_refills() {
        let (limiter, clock) = limiter(Some(Quota::per_second(2).burst(2)), None);
        let a = ip("192.0.2.1");
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_ok());
        let (wait, limit) = retry_after(limiter.check(a).unwrap_err());
        assert_eq!((wait, limit), (Duration::from_millis(500), 2));
        // Refusals spend nothing: the wait does not grow.
        let (wait, _) = retry_after(limiter.check(a).unwrap_err());
        assert_eq!(wait, Duration::from_millis(500));
        clock.advance(wait);
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_err());
        // Another client is unaffected.
        assert!(limiter.check(ip("192.0.2.2")).is_ok());
    }

    #[test]
    fn failure_budget_is_peeked_by_check_and_charged_by_record_failure() {
        let (limiter, clock) = limiter(None, Some(Quota::per_minute(2)));
        let a = ip("2001:db8::1");
        // Checks alone never exhaust the failure budget, and take no memory.
        for _ in 0..10 {
            assert!(limiter.check(a).is_ok());
        }
        assert_eq!(limiter.tracked_clients(), 0);
        limiter.record_failure(a);
        assert!(limiter.check(a).is_ok());
        limiter.record_failure(a);
        let (wait, limit) = retry_after(limiter.check(a).unwrap_err());
        assert_eq!((wait, limit), (Duration::from_secs(30), 2));
        clock.advance(Duration::from_secs(30));
        assert!(limiter.check(a).is_ok());
        clock.advance(Duration::from_secs(30));
        // Fully refilled: the client is indistinguishable from a new one.
        limiter.record_failure(a);
        limiter.record_failure(a);
        assert!(limiter.check(a).is_err());
    }

    #[test]
    fn a_client_cut_off_by_failures_spends_no_requests() {
        let (limiter, clock) = limiter(Some(Quota::per_minute(3)), Some(Quota::per_minute(1)));
        let a = ip("192.0.2.9");
        assert!(limiter.check(a).is_ok()); // 1 request spent
        limiter.record_failure(a);
        for _ in 0..5 {
            let (wait, limit) = retry_after(limiter.check(a).unwrap_err());
            assert_eq!((wait, limit), (Duration::from_secs(60), 1));
        }
        clock.advance(Duration::from_secs(60));
        // The refused checks did not touch the request budget: a full burst of 3 again
        // (the first request's 20 s have long come back).
        for _ in 0..3 {
            assert!(limiter.check(a).is_ok());
        }
        assert!(limiter.check(a).is_err());
    }

    #[test]
    fn mapped_ipv6_counts_as_ipv4() {
        let (limiter, _clock) = limiter(Some(Quota::per_minute(1)), None);
        assert!(limiter.check(ip("192.0.2.1")).is_ok());
        assert!(limiter.check(ip("::ffff:192.0.2.1")).is_err());
    }

    #[test]
    fn both_budgets_off_admits_everyone_without_memory() {
        let (limiter, _clock) = limiter(None, None);
        for n in 0..100u32 {
            let client = IpAddr::from(n.to_be_bytes());
            assert!(limiter.check(client).is_ok());
            limiter.record_failure(client);
        }
        assert_eq!(limiter.tracked_clients(), 0);
    }

    #[test]
    fn tracked_clients_stay_under_the_cap() {
        let limiter = ClientRateLimiter::new(Some(Quota::per_hour(1)), None, 500);
        for n in 0..20_000u32 {
            let _ = limiter.check(IpAddr::from(n.to_be_bytes()));
        }
        assert!(limiter.tracked_clients() <= 500);
        assert_eq!(limiter.max_clients(), 500);
    }
}
