//! Who may hold a connection, and for how long: the accept loop's limits.
//!
//! An idle or half-sent connection costs a file descriptor. Under the usual 1,024 open-file
//! limit, 1,100 idle connections from one address used to make every valid delivery time out.
//! So:
//!
//! - **header timeout** (default 10 s): a request's headers must arrive within it, and an idle
//!   keep-alive connection is closed after it too (hyper's header timer starts when the
//!   connection waits for the next request). Slow *bodies* are bounded by the webhook layer's
//!   read timeout and body budget;
//! - **connection caps**: at most `max_connections` open in total (default 512, below the usual
//!   1,024 descriptors, leaving room for Pulsora, Redis and SQLite) and `max_per_client` per
//!   peer address (default 64; behind a proxy every connection comes from the proxy, so raise
//!   it or switch it off there). A connection over a cap is accepted and closed at once, so the
//!   kernel's queue keeps moving for everyone else;
//! - **accept errors** (out of descriptors) back off from 5 ms to 1 s and are logged once per
//!   burst, with a count when accepting works again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The accept loop's limits: a header timeout that also closes idle keep-alive connections,
/// caps on open connections in total and per peer address (a connection over a cap is accepted
/// and closed at once), and accept errors backed off from 5 ms to 1 s and logged once per
/// burst. Defaults: 10 s, 512, 64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time allowed for a request's headers, and for an idle keep-alive connection.
    pub header_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most connections open at once from one peer address; `None`: no per-address cap.
    pub max_per_client: Option<usize>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_connections: 512,
            max_per_client: Some(64),
        }
    }
}

impl ConnectionLimits {
    /// The limits `STRIPE_PULSORA_HEADER_TIMEOUT`, `STRIPE_PULSORA_MAX_CONNECTIONS` and
    /// `STRIPE_PULSORA_MAX_CONNECTIONS_PER_CLIENT` configure.
    pub fn from_config(config: &super::EnvConfig) -> Self {
        Self {
            header_timeout: config.header_timeout,
            max_connections: config.max_connections,
            max_per_client: config.max_connections_per_client,
        }
    }
}

/// Open connections, in total and per peer address.
#[derive(Debug, Default)]
pub(crate) struct OpenConnections {
    counts: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted connection; counted until dropped.
#[derive(Debug)]
pub(crate) struct Admitted {
    open: Arc<OpenConnections>,
    peer: IpAddr,
}

impl OpenConnections {
    /// Admits a connection from `peer` under `limits`, or says which cap it hit.
    pub(crate) fn admit(
        self: &Arc<Self>,
        peer: IpAddr,
        limits: &ConnectionLimits,
    ) -> Result<Admitted, &'static str> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.0 >= limits.max_connections {
            return Err("total");
        }
        let mine = counts.1.get(&peer).copied().unwrap_or(0);
        if limits.max_per_client.is_some_and(|cap| mine >= cap) {
            return Err("per client address");
        }
        counts.0 += 1;
        *counts.1.entry(peer).or_insert(0) += 1;
        Ok(Admitted {
            open: Arc::clone(self),
            peer,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = self
            .open
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counts.0 = counts.0.saturating_sub(1);
        if let Some(mine) = counts.1.get_mut(&self.peer) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                counts.1.remove(&self.peer);
            }
        }
    }
}

/// Logs a burst of the same trouble once, and its end with a count.
#[derive(Debug, Default)]
pub(crate) struct Burst {
    count: u64,
}

impl Burst {
    /// Counts one occurrence; `true` for the first of a burst (the one to log).
    pub(crate) fn hit(&mut self) -> bool {
        self.count += 1;
        self.count == 1
    }

    /// Ends the burst; the number of occurrences it had (0: there was none).
    pub(crate) fn end(&mut self) -> u64 {
        std::mem::take(&mut self.count)
    }

    /// Occurrences so far in this burst.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }
}

/// Backoff after the `n`th accept error in a row: 5 ms doubling, at most 1 s.
pub(crate) fn accept_backoff(n: u64) -> Duration {
    let exponent = u32::try_from(n.saturating_sub(1).min(8)).unwrap_or(8);
    Duration::from_millis(5u64 << exponent).min(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_in_total_and_per_address_and_release_on_drop() {
        let open = Arc::new(OpenConnections::default());
        let limits = ConnectionLimits {
            max_connections: 3,
            max_per_client: Some(2),
            ..ConnectionLimits::default()
        };
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = open.admit(a, &limits).unwrap();
        let _second = open.admit(a, &limits).unwrap();
        assert_eq!(open.admit(a, &limits).unwrap_err(), "per client address");
        let _third = open.admit(b, &limits).unwrap();
        assert_eq!(open.admit(b, &limits).unwrap_err(), "total");
        drop(first);
        assert!(open.admit(a, &limits).is_ok());
        assert_eq!(accept_backoff(1), Duration::from_millis(5));
        assert_eq!(accept_backoff(100), Duration::from_secs(1));
    }
}
