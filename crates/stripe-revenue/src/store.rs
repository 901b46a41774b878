//! Where the mapping's state lives between events: the trait, and the in-memory default.
//!
//! The state is small: an MRR ledger per subscription, a refund high-water mark per charge,
//! learned attribution per customer and subscription, and the transaction ids already delivered
//! to Pulsora (so a Stripe retry after a partial failure never sends money twice).

use crate::map::Subjects;
use crate::state::{Context, MemoryState, StateUpdate};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

/// A boxed future, so [`StateStore`] stays object-safe.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StateError>> + Send + 'a>>;

/// The state store failed; the delivery is answered `503` so Stripe retries it later.
#[derive(Debug, thiserror::Error)]
#[error("revenue state store unavailable: {0}")]
pub struct StateError(pub String);

/// Persistence for the mapping's state. Implementations: [`MemoryStateStore`] (default) and
/// `SqliteStateStore` (feature `sqlite`) and `RedisStateStore` (feature `redis`).
pub trait StateStore: Send + Sync + 'static {
    /// The context for an event about `subjects`.
    fn load<'a>(&'a self, subjects: &'a Subjects) -> StoreFuture<'a, Context>;
    /// Remembers a mapping's updates.
    fn save<'a>(&'a self, updates: &'a [StateUpdate]) -> StoreFuture<'a, ()>;
    /// Whether a transaction id was already delivered.
    fn was_sent<'a>(&'a self, transaction_id: &'a str) -> StoreFuture<'a, bool>;
    /// Records a transaction id as delivered.
    fn mark_sent<'a>(&'a self, transaction_id: &'a str) -> StoreFuture<'a, ()>;
    /// Whether the store answers (for readiness probes). In-memory stores always do.
    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    /// Takes an exclusive lock on one subject (a subscription, charge or customer id) across
    /// every process sharing the store, so two instances never read-modify-write the same MRR
    /// ledger at once. Returns a token for [`unlock`](Self::unlock). Stores used by one process
    /// need nothing ([`RevenueSync`](crate::RevenueSync) already serializes a subject inside the
    /// process): the default returns `None`.
    fn lock<'a>(&'a self, subject: &'a str) -> StoreFuture<'a, Option<u128>> {
        let _ = subject;
        Box::pin(async { Ok(None) })
    }

    /// Releases a lock taken by [`lock`](Self::lock) (only if `token` still holds it).
    fn unlock<'a>(&'a self, subject: &'a str, token: u128) -> StoreFuture<'a, ()> {
        let _ = (subject, token);
        Box::pin(async { Ok(()) })
    }
}

/// State in process memory: one instance, lost on restart.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    state: Mutex<MemoryState>,
}

impl MemoryStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut MemoryState) -> T) -> Result<T, StateError> {
        // A poisoned lock means a panic mid-update elsewhere; the maps are still consistent
        // (every update is a single insert), so keep serving.
        let mut guard = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(f(&mut guard))
    }
}

impl StateStore for MemoryStateStore {
    fn load<'a>(&'a self, subjects: &'a Subjects) -> StoreFuture<'a, Context> {
        Box::pin(async move { self.with(|s| s.context(subjects)) })
    }

    fn save<'a>(&'a self, updates: &'a [StateUpdate]) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.with(|s| s.apply(updates)) })
    }

    fn was_sent<'a>(&'a self, transaction_id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move { self.with(|s| s.was_sent(transaction_id)) })
    }

    fn mark_sent<'a>(&'a self, transaction_id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.with(|s| {
                s.mark_sent(transaction_id);
            })
        })
    }
}
