//! The persistent side of the replay guard: the [`ReplayStore`] trait, its answers and errors.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;
pub use stripe_pulsora_store::{ClaimOutcome, ClaimToken, StoreError, StoreFuture};

/// Where processed event ids and in-flight leases live, shared by every request of a layer (and,
/// with a networked backend, by every instance).
///
/// Keys are event ids (`evt_…`) or, with object deduplication, `object:<type>:<object id>`.
/// Implementations must make each method a single atomic step on the key:
///
/// | method | key absent or lease expired | leased to `token` | leased to another token | processed |
/// |---|---|---|---|---|
/// | [`claim`](Self::claim) | lease to `token` for `lease` → `Claimed` | `InFlight` | `InFlight` | `Processed` |
/// | [`commit`](Self::commit) | processed for `ttl` → `false` | processed → `true` | processed → `false` | stays processed → `false` |
/// | [`release`](Self::release) | nothing → `false` | deleted → `true` | untouched → `false` | untouched → `false` |
///
/// A commit always records the id as processed: the handler did succeed, so even when the lease
/// was lost (it expired and someone else claimed the id) the id must not run again; `false`
/// tells the guard to log that the event may have run twice.
///
/// The crate ships [`MemoryStore`](crate::MemoryStore) (default), `SqliteStore` (feature
/// `sqlite`), `RedisStore` (feature `redis`) and `PostgresStore` (feature `postgres`), all
/// [`BackendStore`](crate::BackendStore)s over the backends of `stripe-pulsora-store`.
pub trait ReplayStore: Send + Sync + fmt::Debug + 'static {
    /// Leases `key` to `token` for `lease` unless it is processed or leased to someone else.
    fn claim<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome>;

    /// Records `key` as processed for `ttl`; `true` when `token` still held the lease.
    fn commit<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool>;

    /// Deletes the lease on `key` if `token` holds it; `true` when it did.
    fn release<'a>(&'a self, key: &'a str, token: ClaimToken) -> StoreFuture<'a, bool>;

    /// `true` when the store answers from this process's memory, atomically per key: the
    /// guard then puts no cache in front of it (the cache would only do the work twice).
    /// Default `false`.
    fn answers_in_process(&self) -> bool {
        false
    }
}

/// One store shared by several layers (or kept by the application to inspect).
impl<S: ReplayStore + ?Sized> ReplayStore for Arc<S> {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        (**self).claim(key, token, lease)
    }

    fn commit<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        (**self).commit(key, token, ttl)
    }

    fn release<'a>(&'a self, key: &'a str, token: ClaimToken) -> StoreFuture<'a, bool> {
        (**self).release(key, token)
    }

    fn answers_in_process(&self) -> bool {
        (**self).answers_in_process()
    }
}
