//! The per-client state, in bounded memory: a few mutex-guarded shards, each a dense `Vec` of
//! slots plus a hash index into it, and never more than the configured number of slots.
//!
//! Why not a plain (Dash)Map: nothing would bound it (governor's keyed store grows with every
//! distinct address until someone calls `retain_recent`, see governor#171). Here the bound is
//! structural and the cleanup is paid by the requests that cause it:
//!
//! - Only clients that leave a trace are stored: a request from a new address that does not
//!   change its state (budget off, or refused) takes no slot.
//! - Each insertion of a new client first looks at the next [`SWEEP_STEPS`] slots under a
//!   clock hand and frees those whose budgets are full again ("rested": indistinguishable from
//!   a client never seen). The hand goes round the table once per `len / SWEEP_STEPS`
//!   insertions, so stale clients are reclaimed without a background task.
//! - When a shard is full and the sweep found nothing, the new client takes the slot of the
//!   client closest to rested among the next [`EVICT_SAMPLE`] under the hand (an approximate
//!   "least to lose", like Redis' sampled eviction). Forgetting a client only ever gives it a
//!   fresh budget, so under a flood of addresses the penalty falls on the clients whose record
//!   mattered least, and a client deep in its failure penalty is the last to be forgotten.
//!   Never unbounded growth, never a refusal because the table is full (that would let a
//!   flood of addresses lock Stripe out).
//!
//! Every operation is O(1): one hash lookup, plus at most `SWEEP_STEPS + EVICT_SAMPLE` slot
//! reads when a new client arrives.

use super::gcra::is_rested;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// A client address as 16 bytes (IPv4 stored IPv4-mapped): alignment 1 keeps index entries
/// at 20 bytes.
pub(crate) type Key = [u8; 16];

/// Slots inspected for reclamation per new client.
const SWEEP_STEPS: usize = 2;
/// Slots sampled for eviction when a shard is full and nothing was reclaimed.
const EVICT_SAMPLE: usize = 8;
/// Most shards: enough to keep 2–16 cores off each other's locks.
const MAX_SHARDS: usize = 16;
/// Fewest slots per shard worth a separate lock.
const MIN_SHARD_SLOTS: usize = 256;
/// Below this many allocated slots a shard does not bother giving memory back.
const MIN_SHRINK_SLOTS: usize = 1024;

/// A client's theoretical arrival times (ns) for the two budgets; 0 is "never seen".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tats {
    /// All requests.
    pub(crate) requests: u64,
    /// Failed verifications.
    pub(crate) failures: u64,
}

impl Tats {
    fn is_rested(&self, now: u64) -> bool {
        is_rested(self.requests, now) && is_rested(self.failures, now)
    }

    /// How long until this client would be indistinguishable from a new one.
    fn debt(&self, now: u64) -> u64 {
        self.requests.max(self.failures).saturating_sub(now)
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    key: Key,
    tats: Tats,
}

#[derive(Debug)]
struct Shard {
    index: HashMap<Key, u32, RandomState>,
    slots: Vec<Slot>,
    /// The clock hand: next slot to inspect.
    hand: usize,
    /// Most slots this shard may hold.
    cap: usize,
}

impl Shard {
    fn new(cap: usize) -> Self {
        Self {
            index: HashMap::with_hasher(RandomState::new()),
            slots: Vec::new(),
            hand: 0,
            cap,
        }
    }

    fn with<R>(&mut self, key: Key, now: u64, f: impl FnOnce(&mut Tats) -> R) -> R {
        if let Some(&at) = self.index.get(&key) {
            if let Some(slot) = self.slots.get_mut(at as usize) {
                return f(&mut slot.tats);
            }
        }
        let mut tats = Tats::default();
        let result = f(&mut tats);
        if !tats.is_rested(now) {
            self.insert(key, tats, now);
        }
        result
    }

    fn insert(&mut self, key: Key, tats: Tats, now: u64) {
        self.sweep(now);
        let slot = Slot { key, tats };
        if self.slots.len() >= self.cap {
            let at = self.victim(now);
            let old = std::mem::replace(&mut self.slots[at], slot);
            self.index.remove(&old.key);
            self.index.insert(key, index_u32(at));
        } else {
            if self.slots.len() == self.slots.capacity() {
                // Grow geometrically but never past the cap (Vec's doubling could allocate
                // nearly twice what the shard may ever use).
                let wanted = (self.slots.capacity() * 2).max(4).min(self.cap);
                self.slots.reserve_exact(wanted - self.slots.len());
            }
            self.slots.push(slot);
            self.index.insert(key, index_u32(self.slots.len() - 1));
        }
    }

    /// Frees rested clients among the next few slots under the hand.
    fn sweep(&mut self, now: u64) {
        for _ in 0..SWEEP_STEPS {
            if self.slots.is_empty() {
                break;
            }
            if self.hand >= self.slots.len() {
                self.hand = 0;
            }
            if self.slots[self.hand].tats.is_rested(now) {
                // The last slot moves here; the hand stays to inspect it next.
                self.remove_at(self.hand);
            } else {
                self.hand += 1;
            }
        }
        self.maybe_shrink();
    }

    fn remove_at(&mut self, at: usize) {
        let removed = self.slots.swap_remove(at);
        self.index.remove(&removed.key);
        if let Some(moved) = self.slots.get(at) {
            self.index.insert(moved.key, index_u32(at));
        }
    }

    /// The slot to give a new client when the shard is full: the sampled client closest to
    /// rested (a rested one at once).
    fn victim(&mut self, now: u64) -> usize {
        let len = self.slots.len();
        let mut best = self.hand % len;
        let mut best_debt = u64::MAX;
        for step in 0..EVICT_SAMPLE.min(len) {
            let at = (self.hand + step) % len;
            let debt = self.slots[at].tats.debt(now);
            if debt < best_debt {
                best = at;
                best_debt = debt;
                if debt == 0 {
                    break;
                }
            }
        }
        self.hand = best + 1;
        best
    }

    /// Gives memory back once most clients are gone (after a flood), so a quiet server does
    /// not keep its peak allocation forever.
    fn maybe_shrink(&mut self) {
        let allocated = self.slots.capacity();
        if allocated > MIN_SHRINK_SLOTS && self.slots.len() * 4 < allocated {
            let keep = self.slots.len() * 2;
            self.slots.shrink_to(keep);
            self.index.shrink_to(keep);
        }
    }
}

/// Slot positions fit in `u32`: a shard never holds more than `u32::MAX` slots (see `new`).
fn index_u32(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

/// Client states for up to `max_keys` clients.
#[derive(Debug)]
pub(crate) struct ClientTable {
    shards: Box<[Mutex<Shard>]>,
    /// Random per table, so which shard an address lands in cannot be aimed at.
    seed: (u64, u64),
    max_keys: usize,
}

impl ClientTable {
    /// A table for at most `max_keys` clients (at least 1).
    pub(crate) fn new(max_keys: usize) -> Self {
        // Each shard holds < 2^32 slots so positions fit the index's u32.
        let max_keys = max_keys.clamp(1, MAX_SHARDS.saturating_mul(u32::MAX as usize));
        let wanted = (max_keys / MIN_SHARD_SLOTS).clamp(1, MAX_SHARDS);
        // A power of two, so the shard is picked with a mask.
        let count = if wanted.is_power_of_two() {
            wanted
        } else {
            wanted.next_power_of_two() / 2
        };
        // Split the cap exactly: the shards add up to `max_keys`.
        let shards = (0..count)
            .map(|i| {
                Mutex::new(Shard::new(
                    max_keys / count + usize::from(i < max_keys % count),
                ))
            })
            .collect();
        let random = RandomState::new();
        Self {
            shards,
            seed: (random.hash_one(0x5eed_u64), random.hash_one(0xbeef_u64)),
            max_keys,
        }
    }

    /// Runs `f` on the client's state (a fresh one if the client is not tracked) under its
    /// shard's lock, and keeps the result if it says anything.
    pub(crate) fn with<R>(&self, key: Key, now: u64, f: impl FnOnce(&mut Tats) -> R) -> R {
        self.shard(&key).with(key, now, f)
    }

    /// Clients currently tracked (each shard locked in turn).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).slots.len()).sum()
    }

    /// The configured bound.
    pub(crate) fn max_keys(&self) -> usize {
        self.max_keys
    }

    fn shard(&self, key: &Key) -> MutexGuard<'_, Shard> {
        let (high, low) = halves(key);
        // A keyed multiply-xorshift: cheap, and spreads adjacent addresses across shards.
        let mut h = (high ^ self.seed.0).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (low ^ self.seed.1);
        h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        h ^= h >> 32;
        // `count` is a power of two, so this is `h % count`.
        let at = (h as usize) & (self.shards.len() - 1);
        lock(&self.shards[at])
    }
}

/// A poisoned shard is still consistent (no code panics while holding it); keep using it.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

fn halves(key: &Key) -> (u64, u64) {
    let mut high = [0u8; 8];
    let mut low = [0u8; 8];
    high.copy_from_slice(&key[..8]);
    low.copy_from_slice(&key[8..]);
    (u64::from_be_bytes(high), u64::from_be_bytes(low))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> Key {
        let mut key = [0u8; 16];
        key[12..].copy_from_slice(&n.to_be_bytes());
        key
    }

    /// Marks the client busy until `until`.
    fn touch(table: &ClientTable, n: u32, now: u64, until: u64) {
        table.with(key(n), now, |tats| tats.requests = until);
    }

    fn tracked(table: &ClientTable, n: u32, now: u64) -> Option<Tats> {
        // Reading through `with` without changing anything never inserts.
        table.with(key(n), now, |tats| {
            (*tats != Tats::default()).then_some(*tats)
        })
    }

    #[test]
    fn shards_split_the_cap_exactly() {
        for cap in [1, 7, 255, 256, 1000, 4096, 100_000, 1_000_003] {
            let table = ClientTable::new(cap);
            let total: usize = table.shards.iter().map(|s| lock(s).cap).sum();
            assert_eq!(total, cap);
            assert!(table.shards.len().is_power_of_two());
            assert!(table.shards.len() <= MAX_SHARDS);
        }
        assert_eq!(ClientTable::new(0).max_keys(), 1);
    }

    #[test]
    fn untouched_lookups_take_no_memory() {
        let table = ClientTable::new(10);
        for n in 0..100 {
            assert_eq!(tracked(&table, n, 5), None);
        }
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn never_more_keys_than_the_cap_whatever_arrives() {
        let table = ClientTable::new(1000);
        // Every client stays busy for an hour: nothing is ever rested, so it is all eviction.
        for n in 0..50_000 {
            touch(&table, n, 1, 3_600_000_000_000);
            assert!(table.len() <= 1000);
        }
        assert_eq!(table.len(), 1000);
        let allocated: usize = table.shards.iter().map(|s| lock(s).slots.capacity()).sum();
        assert!(
            allocated <= 1000,
            "allocated {allocated} slots for a cap of 1000"
        );
    }

    #[test]
    fn rested_clients_are_reclaimed_by_later_insertions() {
        let table = ClientTable::new(10_000);
        for n in 0..5000 {
            touch(&table, n, 1, 100);
        }
        assert_eq!(table.len(), 5000);
        // Later, all of those are rested; new clients sweep them away as they arrive.
        for n in 5000..10_000 {
            touch(&table, n, 1_000, 2_000);
        }
        assert!(
            table.len() < 10_000,
            "the sweep reclaimed nothing: {}",
            table.len()
        );
        // Every new client is still tracked: only rested ones went.
        for n in 5000..10_000 {
            assert!(tracked(&table, n, 1_000).is_some(), "client {n} forgotten");
        }
    }

    #[test]
    fn a_full_table_forgets_the_client_closest_to_rested() {
        let table = ClientTable::new(EVICT_SAMPLE); // one shard, one sample covers all
        for n in 0..EVICT_SAMPLE as u32 {
            // Client 3 is nearly rested; the others are busy for long.
            let until = if n == 3 { 11 } else { 1_000_000 };
            touch(&table, n, 10, until);
        }
        touch(&table, 100, 10, 1_000_000);
        assert_eq!(table.len(), EVICT_SAMPLE);
        assert_eq!(
            tracked(&table, 3, 10),
            None,
            "the nearly rested client stays"
        );
        for n in (0..EVICT_SAMPLE as u32).filter(|&n| n != 3) {
            assert!(
                tracked(&table, n, 10).is_some(),
                "busy client {n} was evicted"
            );
        }
        assert!(tracked(&table, 100, 10).is_some());
    }

    #[test]
    fn state_is_kept_per_key() {
        let table = ClientTable::new(100);
        touch(&table, 1, 0, 50);
        touch(&table, 2, 0, 70);
        assert_eq!(tracked(&table, 1, 0).map(|t| t.requests), Some(50));
        assert_eq!(tracked(&table, 2, 0).map(|t| t.requests), Some(70));
    }

    #[test]
    fn memory_is_given_back_after_a_flood() {
        let table = ClientTable::new(200_000);
        for n in 0..200_000 {
            touch(&table, n, 1, 10);
        }
        let peak: usize = table.shards.iter().map(|s| lock(s).slots.capacity()).sum();
        // Much later a trickle of new clients sweeps the rested ones away.
        for n in 0..200_000 {
            touch(
                &table,
                1_000_000 + n,
                100 + u64::from(n),
                101 + u64::from(n),
            );
        }
        let after: usize = table.shards.iter().map(|s| lock(s).slots.capacity()).sum();
        assert!(
            after < peak / 4,
            "allocated {after} slots after the flood, {peak} at its peak"
        );
    }
}
