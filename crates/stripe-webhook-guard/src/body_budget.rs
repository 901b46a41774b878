//! How many body bytes may be held in memory at once: in total and per client.
//!
//! A stalled body costs what has arrived of it until the read timeout ends it; 300 connections
//! each sending 1 MiB − 1 byte and stalling held ≈ 300 MiB. Each request therefore reserves its
//! bytes before reading them: the declared `Content-Length` up front (refused at once when it
//! does not fit, so nothing is read), a chunked body chunk by chunk. A request that does not fit
//! is answered `503 busy` with `Retry-After` (Stripe retries); the reservation is returned when
//! the request ends (answered, failed or dropped).

use crate::rejection::Rejection;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Default bound on body bytes held by all requests at once: 32 MiB.
pub const DEFAULT_BODY_BUDGET: usize = 32 * 1024 * 1024;

/// Default bound on body bytes held by one client's requests at once: 4 MiB (Stripe's events
/// are a few KiB; a dozen Stripe addresses share the total).
pub const DEFAULT_CLIENT_BODY_BUDGET: usize = 4 * 1024 * 1024;

/// What a refused reservation asks the client to wait.
const RETRY_AFTER: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
struct Held {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// The shared counters.
#[derive(Debug)]
pub(crate) struct BodyBudget {
    total: usize,
    per_client: usize,
    held: Arc<Mutex<Held>>,
}

impl BodyBudget {
    pub(crate) fn new(total: usize, per_client: usize) -> Self {
        Self {
            total,
            per_client,
            held: Arc::default(),
        }
    }

    /// An empty reservation for `client`.
    pub(crate) fn reservation(&self, client: IpAddr) -> Reservation {
        Reservation {
            client,
            bytes: 0,
            total: self.total,
            per_client: self.per_client,
            held: Arc::clone(&self.held),
        }
    }
}

/// Bytes reserved by one request; returned when dropped.
#[derive(Debug)]
pub(crate) struct Reservation {
    client: IpAddr,
    bytes: usize,
    total: usize,
    per_client: usize,
    held: Arc<Mutex<Held>>,
}

impl Reservation {
    /// Reserves `more` bytes, or refuses without reserving anything.
    pub(crate) fn grow(&mut self, more: usize) -> Result<(), Rejection> {
        if more == 0 {
            return Ok(());
        }
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = held.per_client.get(&self.client).copied().unwrap_or(0);
        let fits_total = held.total.saturating_add(more) <= self.total;
        let fits_client = mine.saturating_add(more) <= self.per_client;
        if !(fits_total && fits_client) {
            return Err(Rejection::Busy {
                retry_after: RETRY_AFTER,
            });
        }
        held.total += more;
        *held.per_client.entry(self.client).or_insert(0) += more;
        self.bytes += more;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bytes == 0 {
            return;
        }
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.total = held.total.saturating_sub(self.bytes);
        if let Some(mine) = held.per_client.get_mut(&self.client) {
            *mine = mine.saturating_sub(self.bytes);
            if *mine == 0 {
                // Bounded memory: only clients holding bytes have an entry.
                held.per_client.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_bounded_per_client_and_in_total_and_returned_on_drop() {
        let budget = BodyBudget::new(100, 60);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let mut first = budget.reservation(a);
        first.grow(50).unwrap();
        let mut second = budget.reservation(a);
        assert!(second.grow(20).is_err(), "over a's 60");
        second.grow(10).unwrap();
        let mut other = budget.reservation(b);
        assert!(other.grow(50).is_err(), "over the total 100");
        other.grow(40).unwrap();
        drop(first);
        drop(second);
        let mut again = budget.reservation(a);
        again.grow(60).unwrap();
        drop(again);
        drop(other);
        assert_eq!(budget.held.lock().unwrap().total, 0);
        assert!(budget.held.lock().unwrap().per_client.is_empty());
    }
}
