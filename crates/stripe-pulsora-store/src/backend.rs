//! What every backend provides: claims with leases, small documents with a time to live, and
//! a liveness check. The schemas (replay ids, mapping state, next the outbox) are written once
//! against these traits.

use crate::{ClaimToken, StoreError};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The future every backend method returns: boxed so the traits stay object-safe, `Send` so it
/// runs on any tokio worker.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What a backend answered to [`Claims::claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The key was free (never seen, released, or its lease expired): it is now leased to the
    /// given token until the lease expires, is committed, or is released.
    Claimed,
    /// The key was committed within its retention.
    Processed,
    /// Another claim holds an unexpired lease on the key.
    InFlight {
        /// How long until that lease expires if nobody commits or releases it.
        expires_in: Duration,
    },
}

/// A named set of claims: replay ids, transaction ids being sent, subject locks. SQL backends
/// keep the name in a column of one table, Redis puts [`redis_prefix`](Self::redis_prefix) in
/// front of each key, the memory backend keeps one map per space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Space {
    name: &'static str,
    redis_prefix: Arc<str>,
    processed: &'static str,
}

impl Space {
    /// A space whose Redis keys are `stripe-pulsora:<name>:<key>`.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            redis_prefix: Arc::from(format!("stripe-pulsora:{name}:")),
            processed: "processed",
        }
    }

    /// Puts Redis keys under `prefix` instead (a space that existed before this layer, or
    /// several endpoints on one Redis).
    #[must_use]
    pub fn with_redis_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.redis_prefix = Arc::from(prefix.into());
        self
    }

    /// The value a committed key holds in Redis (default `processed`; a lease holds its 32-hex
    /// token, which never equals it).
    #[must_use]
    pub fn with_redis_processed_value(mut self, value: &'static str) -> Self {
        self.processed = value;
        self
    }

    /// The space's name (the `space` column of the SQL backends).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The Redis key prefix.
    pub fn redis_prefix(&self) -> &str {
        &self.redis_prefix
    }

    /// The Redis value of a committed key.
    pub fn redis_processed_value(&self) -> &'static str {
        self.processed
    }
}

/// Claims with leases, atomic per key:
///
/// | method | key absent or lease expired | leased to `token` | leased to another token | processed |
/// |---|---|---|---|---|
/// | [`claim`](Self::claim) | lease to `token` for `lease` → `Claimed` | `InFlight` | `InFlight` | `Processed` |
/// | [`commit`](Self::commit) | processed for `ttl` → `false` | processed → `true` | processed → `false` | stays processed → `false` |
/// | [`release`](Self::release) | nothing → `false` | deleted → `true` | untouched → `false` | untouched → `false` |
///
/// A commit always records the key as processed: the work did succeed, so even when the lease
/// was lost the key must not run again; `false` tells the caller it may have run twice.
pub trait Claims: Send + Sync + fmt::Debug + 'static {
    /// Leases `key` in `space` to `token` for `lease` unless it is processed or leased.
    fn claim<'a>(
        &'a self,
        space: &'a Space,
        key: &'a str,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome>;

    /// Records `key` as processed for `ttl`; `true` when `token` still held the lease.
    fn commit<'a>(
        &'a self,
        space: &'a Space,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool>;

    /// Deletes the lease on `key` if `token` holds it; `true` when it did.
    fn release<'a>(
        &'a self,
        space: &'a Space,
        key: &'a str,
        token: ClaimToken,
    ) -> StoreFuture<'a, bool>;

    /// Whether the backend answers (readiness probes).
    fn ping(&self) -> StoreFuture<'_, ()>;

    /// `true` when other processes may share this backend (Redis, PostgreSQL), so work that
    /// one process serialises in memory needs a claim in the backend too.
    fn is_shared(&self) -> bool;

    /// `true` when the backend is this process's memory: answers cost no I/O, so a cache in
    /// front of it would only do the work twice. Default `false`.
    fn is_in_process(&self) -> bool {
        false
    }
}

/// One small document to write: a key, its value (JSON) and how long to keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The key, namespaced by the schema (`stripe-pulsora:sub:<id>`).
    pub key: String,
    /// The value, usually JSON.
    pub value: String,
    /// Kept this long after the write.
    pub ttl: Duration,
}

/// Small keyed documents with a time to live (the mapping's ledgers and attribution).
pub trait Documents: Claims {
    /// The values of `keys`, in order; `None` for absent or expired keys.
    fn get_many<'a>(&'a self, keys: &'a [String]) -> StoreFuture<'a, Vec<Option<String>>>;

    /// Writes every document in one atomic step (all or none).
    fn put_many<'a>(&'a self, documents: &'a [Document]) -> StoreFuture<'a, ()>;
}

/// A backend shared through an `Arc` is the backend itself.
impl<B: Claims + ?Sized> Claims for Arc<B> {
    fn claim<'a>(
        &'a self,
        space: &'a Space,
        key: &'a str,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        (**self).claim(space, key, token, lease)
    }

    fn commit<'a>(
        &'a self,
        space: &'a Space,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        (**self).commit(space, key, token, ttl)
    }

    fn release<'a>(
        &'a self,
        space: &'a Space,
        key: &'a str,
        token: ClaimToken,
    ) -> StoreFuture<'a, bool> {
        (**self).release(space, key, token)
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        (**self).ping()
    }

    fn is_shared(&self) -> bool {
        (**self).is_shared()
    }

    fn is_in_process(&self) -> bool {
        (**self).is_in_process()
    }
}

impl<B: Documents + ?Sized> Documents for Arc<B> {
    fn get_many<'a>(&'a self, keys: &'a [String]) -> StoreFuture<'a, Vec<Option<String>>> {
        (**self).get_many(keys)
    }

    fn put_many<'a>(&'a self, documents: &'a [Document]) -> StoreFuture<'a, ()> {
        (**self).put_many(documents)
    }
}
