//! The default replay store: in this process's memory, gone on restart.

use super::store::{ClaimOutcome, ClaimToken, ReplayStore, StoreFuture};
use std::collections::HashMap;

/// Event ids reach the maps only after their signature verified, so an attacker cannot choose
/// them; a fast seeded hasher (foldhash) is enough, and SipHash showed up as a tenth of the
/// request's CPU time in the load test.
type RandomState = foldhash::fast::RandomState;
use std::fmt;
use std::future::ready;
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Independent locks, so requests for different ids rarely wait on each other.
const SHARDS: usize = 16;

/// How often (at most) a shard drops expired entries. Expired entries are ignored on lookup
/// anyway; the sweep only gives their memory back.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Processed ids and leases in this process's memory: the default store.
///
/// Right for a single instance that can afford to forget on restart (a restart inside Stripe's
/// retry window may process a retried event again). Use `SqliteStore` to survive restarts and
/// `RedisStore` for several instances.
///
/// Memory: about 100 bytes per processed Stripe-length id (a hash-map slot holding the boxed
/// id and a `u64` expiry, plus the id's allocation), measured with 1,000,000 ids by
/// `examples/replay_memory.rs`. Nothing is evicted before it expires (forgetting a processed
/// id early would let its retry run again), so memory is bounded by event rate × processed-id
/// retention: 1,000,000 events in 4 days is about 100 MiB.
///
/// ```
/// use std::time::Duration;
/// use stripe_webhook_guard::{ClaimOutcome, ClaimToken, MemoryStore, ReplayStore};
///
/// # tokio_test_block_on(async {
/// let store = MemoryStore::new();
/// let (first, second) = (ClaimToken::new(), ClaimToken::new());
/// let lease = Duration::from_secs(300);
/// assert_eq!(store.claim("evt_1", first, lease).await?, ClaimOutcome::Claimed);
/// assert!(matches!(store.claim("evt_1", second, lease).await?, ClaimOutcome::InFlight { .. }));
/// assert!(!store.release("evt_1", second).await?); // only the holder may release
/// assert!(store.commit("evt_1", first, Duration::from_secs(4 * 86_400)).await?);
/// assert_eq!(store.claim("evt_1", second, lease).await?, ClaimOutcome::Processed);
/// # Ok::<_, stripe_webhook_guard::StoreError>(()) }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    /// Times are kept as milliseconds since this instant: 8 bytes instead of an `Instant`'s 16.
    epoch: Instant,
}

#[derive(Default)]
struct Shard {
    /// Id → expiry (ms since `epoch`). The bulk of the memory, so the value is one `u64`.
    processed: HashMap<Box<str>, u64, RandomState>,
    /// Only ids whose handler is running right now: few, so the token can be stored inline.
    leases: HashMap<Box<str>, Lease, RandomState>,
    next_sweep: u64,
}

struct Lease {
    token: ClaimToken,
    expires: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::default(),
            epoch: Instant::now(),
        }
    }

    /// Entries currently held (processed ids and leases), including expired ones not yet swept.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let shard = lock(shard);
                shard.processed.len() + shard.leases.len()
            })
            .sum()
    }

    /// `true` when [`len`](Self::len) is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, Shard> {
        let index = self.hasher.hash_one(key) as usize % SHARDS;
        let mut shard = lock(&self.shards[index]);
        shard.sweep_if_due(self.now());
        shard
    }

    fn now(&self) -> u64 {
        millis(self.epoch.elapsed())
    }

    fn claim_now(&self, key: &str, token: ClaimToken, lease: Duration) -> ClaimOutcome {
        let now = self.now();
        let mut shard = self.shard(key);
        if let Some(&expires) = shard.processed.get(key) {
            if expires > now {
                return ClaimOutcome::Processed;
            }
            shard.processed.remove(key);
        }
        if let Some(held) = shard.leases.get_mut(key) {
            if held.expires > now {
                return ClaimOutcome::InFlight {
                    expires_in: Duration::from_millis(held.expires - now),
                };
            }
            // An expired lease: its holder crashed or hung; the id is free again.
            *held = Lease {
                token,
                expires: now.saturating_add(millis(lease)),
            };
            return ClaimOutcome::Claimed;
        }
        shard.leases.insert(
            key.into(),
            Lease {
                token,
                expires: now.saturating_add(millis(lease)),
            },
        );
        ClaimOutcome::Claimed
    }

    fn commit_now(&self, key: &str, token: ClaimToken, ttl: Duration) -> bool {
        let now = self.now();
        let mut shard = self.shard(key);
        // Whoever held the lease, the id is processed now (our handler succeeded): a later
        // commit by the other holder finds it processed, their release finds nothing to delete.
        // Reusing the lease's key allocation saves an allocation per event.
        let (boxed, held) = match shard.leases.remove_entry(key) {
            Some((boxed, lease)) => (boxed, lease.token == token && lease.expires > now),
            None => (key.into(), false),
        };
        shard
            .processed
            .insert(boxed, now.saturating_add(millis(ttl)));
        held
    }

    fn release_now(&self, key: &str, token: ClaimToken) -> bool {
        let now = self.now();
        let mut shard = self.shard(key);
        match shard.leases.get(key) {
            Some(lease) if lease.token == token => {
                let held = lease.expires > now;
                shard.leases.remove(key);
                held
            }
            _ => false,
        }
    }
}

impl Shard {
    fn sweep_if_due(&mut self, now: u64) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now.saturating_add(millis(SWEEP_EVERY));
        self.processed.retain(|_, expires| *expires > now);
        self.leases.retain(|_, lease| lease.expires > now);
        // A burst that has expired should give its memory back, not keep the table at its peak.
        if self.processed.capacity() > 64 && self.processed.len() < self.processed.capacity() / 4 {
            self.processed.shrink_to_fit();
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl ReplayStore for MemoryStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        Box::pin(ready(Ok(self.claim_now(key, token, lease))))
    }

    fn commit<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(ready(Ok(self.commit_now(key, token, ttl))))
    }

    fn release<'a>(&'a self, key: &'a str, token: ClaimToken) -> StoreFuture<'a, bool> {
        Box::pin(ready(Ok(self.release_now(key, token))))
    }

    fn answers_in_process(&self) -> bool {
        true
    }
}

/// No code runs under these locks that can panic halfway through an update, so a poisoned lock
/// (a panic elsewhere on that thread) still guards consistent data.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
