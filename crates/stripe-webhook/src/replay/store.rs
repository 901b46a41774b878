//! The persistent side of the replay guard: the [`ReplayStore`] trait, its answers and errors.

use super::token::ClaimToken;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The future every [`ReplayStore`] method returns: boxed so the trait stays object-safe
/// (the guard holds an `Arc<dyn ReplayStore>`), `Send` so the pipeline can run on any tokio
/// worker.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What a store answered to [`ReplayStore::claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The key was free (never seen, released, or its lease expired): it is now leased to the
    /// given token until the lease expires, is committed, or is released.
    Claimed,
    /// The key was committed as processed within the processed-id retention.
    Processed,
    /// Another claim holds an unexpired lease on the key.
    InFlight {
        /// How long until that lease expires if nobody commits or releases it.
        expires_in: Duration,
    },
}

/// A replay store could not answer. The guard turns it into `503` + `Retry-After` (fail
/// closed, the default) or proceeds on its in-process cache alone (fail open).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or did not answer in time; trying again later may
    /// work. The text never contains credentials.
    #[error("replay store unreachable: {0}")]
    Unavailable(String),
    /// The backend answered with an error or with data this store did not write (a schema or
    /// key-space clash); retrying will not help until someone looks.
    #[error("replay store failed: {0}")]
    Backend(String),
}

impl StoreError {
    /// `true` for errors that a later retry may not see (network, timeouts).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

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
/// `sqlite`) and `RedisStore` (feature `redis`).
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
}
