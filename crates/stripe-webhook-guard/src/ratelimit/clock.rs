//! The limiter's notion of "now": monotonic nanoseconds since the limiter was built, so wall
//! clock jumps (NTP, DST) never refill or drain a budget. Tests drive a manual clock instead.

use std::time::Instant;

#[cfg(test)]
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

/// Where the limiter reads the time.
#[derive(Debug, Clone)]
pub(crate) enum LimiterClock {
    /// `Instant::now()` relative to this origin.
    Monotonic(Instant),
    /// A value the test sets (nanoseconds).
    #[cfg(test)]
    Manual(Arc<AtomicU64>),
}

impl LimiterClock {
    pub(crate) fn monotonic() -> Self {
        Self::Monotonic(Instant::now())
    }

    /// Nanoseconds since the origin. Saturates after ~584 years.
    pub(crate) fn now(&self) -> u64 {
        match self {
            Self::Monotonic(origin) => {
                u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
            }
            #[cfg(test)]
            Self::Manual(nanos) => nanos.load(Ordering::SeqCst),
        }
    }
}

/// A clock tests move by hand.
#[cfg(test)]
#[derive(Debug, Clone, Default)]
pub(crate) struct ManualClock(Arc<AtomicU64>);

#[cfg(test)]
impl ManualClock {
    pub(crate) fn clock(&self) -> LimiterClock {
        LimiterClock::Manual(Arc::clone(&self.0))
    }

    pub(crate) fn advance(&self, by: std::time::Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(nanos, Ordering::SeqCst);
    }
}
