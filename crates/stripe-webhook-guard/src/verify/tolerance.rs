use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Default past tolerance and future skew: 300 seconds, as Stripe's SDKs.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// How far a signature's timestamp may be from our clock.
///
/// Stripe's SDKs only bound the past and treat `0` as "disabled" in some languages and as
/// "exact second" in others. Here both directions are bounded (300 s each by default) and
/// turning the check off is the explicit [`Tolerance::disabled`], never a magic zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerance {
    past: Option<Duration>,
    future: Option<Duration>,
}

impl Default for Tolerance {
    fn default() -> Self {
        Self {
            past: Some(DEFAULT_TOLERANCE),
            future: Some(DEFAULT_TOLERANCE),
        }
    }
}

impl Tolerance {
    /// Accept signatures up to `past` old and up to `future` ahead of our clock.
    pub fn new(past: Duration, future: Duration) -> Self {
        Self {
            past: Some(past),
            future: Some(future),
        }
    }

    /// No timestamp check at all. Only for replaying recorded fixtures in tests: without it, a
    /// captured delivery can be replayed forever.
    pub fn disabled() -> Self {
        Self {
            past: None,
            future: None,
        }
    }

    /// The past bound, `None` when disabled.
    pub fn past(&self) -> Option<Duration> {
        self.past
    }

    /// The future bound, `None` when disabled.
    pub fn future(&self) -> Option<Duration> {
        self.future
    }

    pub(crate) fn with_past(self, past: Duration) -> Self {
        Self {
            past: Some(past),
            ..self
        }
    }

    pub(crate) fn with_future(self, future: Duration) -> Self {
        Self {
            future: Some(future),
            ..self
        }
    }
}

/// A source of the current time, injectable for tests.
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            // A clock before 1970 is broken; treating it as the epoch makes every signature
            // look "in the future", which fails closed.
            Err(_) => 0,
        }
    }
}

/// A clock that always answers the same instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now_unix(&self) -> i64 {
        self.0
    }
}
