//! What readiness means for a [`RevenueSync`](crate::RevenueSync): the state store reads and
//! writes, and Pulsora has not refused our configuration (token or endpoint) since the last
//! success. Also the bound on the inline delivery.

use std::sync::Mutex;
use std::time::Duration;

/// Default bound on Pulsora's part of one webhook answer (every attempt, backoff and
/// `Retry-After` wait): 9 s. Stripe gives an endpoint a few seconds more than that before it
/// counts a timeout; answering `503` inside the bound lets Stripe retry on its own schedule
/// instead of holding a connection (and a claim) open.
pub const DEFAULT_INLINE_BUDGET: Duration = Duration::from_secs(9);

/// The transaction id written and read by the readiness probe (never a real Stripe id).
pub(crate) const PROBE_TRANSACTION_ID: &str = "stripe-pulsora:readiness-probe";

/// Why a [`RevenueSync`](crate::RevenueSync) cannot deliver now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotReady {
    /// The state store did not answer a read and a write.
    #[error("state store unavailable: {0}")]
    StateStore(String),
    /// Pulsora refused the token or the endpoint on the last attempt; every event will fail
    /// alike until an operator fixes the configuration (events are kept meanwhile).
    #[error("Pulsora refused the configuration: {0}")]
    PulsoraMisconfigured(String),
}

/// The configuration fault Pulsora last reported, cleared by the next accepted event.
#[derive(Debug, Default)]
pub(crate) struct Health {
    fault: Mutex<Option<String>>,
}

impl Health {
    pub(crate) fn fault(&self) -> Option<String> {
        self.lock().clone()
    }

    /// Records a fault; `true` when it is new (so it is logged loudly once, not per event).
    pub(crate) fn set_fault(&self, reason: &str) -> bool {
        let mut fault = self.lock();
        let new = fault.as_deref() != Some(reason);
        *fault = Some(reason.to_owned());
        new
    }

    /// Clears the fault; `true` when there was one.
    pub(crate) fn clear(&self) -> bool {
        self.lock().take().is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.fault
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
