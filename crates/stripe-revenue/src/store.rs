//! Where the mapping's state lives between events: the trait, and its one generic
//! implementation over the shared store layer ([`KvStateStore`](crate::KvStateStore)).
//!
//! The state is small: an MRR ledger per subscription, a refund high-water mark per charge,
//! learned attribution per customer and subscription, and the transaction ids already delivered
//! to Pulsora (so a Stripe retry after a partial failure never sends money twice).

use crate::map::Subjects;
use crate::state::{ChargeLedger, Context, PaymentRecord, StateUpdate, SubscriptionLedger};
use std::collections::HashMap;
pub use stripe_pulsora_store::{ClaimOutcome, ClaimToken, StoreFuture};

/// The state store failed: [`Unavailable`](StateError::Unavailable) is transient (the delivery
/// is answered `503` and Stripe retries), [`Backend`](StateError::Backend) needs a look (also
/// `503`, logged as an error). The same type as `stripe_webhook_guard::StoreError`: one storage layer,
/// one error.
pub use stripe_pulsora_store::StoreError as StateError;

/// Persistence for the mapping's state. Implemented once, by
/// [`KvStateStore`](crate::KvStateStore), over every backend: [`MemoryStateStore`](crate::MemoryStateStore)
/// (default), `SqliteStateStore` (feature `sqlite`), `RedisStateStore` (feature `redis`) and
/// `PostgresStateStore` (feature `postgres`).
pub trait StateStore: Send + Sync + 'static {
    /// The context for an event about `subjects`.
    fn load<'a>(&'a self, subjects: &'a Subjects) -> StoreFuture<'a, Context>;

    /// Remembers a mapping's updates (all or none).
    fn save<'a>(&'a self, updates: &'a [StateUpdate]) -> StoreFuture<'a, ()>;

    /// Claims a transaction id before it is sent to Pulsora, atomically across every delivery
    /// (and every instance sharing the store): `Claimed` → send it, then
    /// [`commit_sent`](Self::commit_sent) on Pulsora's 2xx or [`release_sent`](Self::release_sent)
    /// on failure; `Processed` → already sent; `InFlight` → another delivery is sending it now.
    /// The lease expires by itself if the sender dies.
    fn claim_sent<'a>(
        &'a self,
        transaction_id: &'a str,
        token: ClaimToken,
    ) -> StoreFuture<'a, ClaimOutcome>;

    /// Records a claimed transaction id as sent; `true` when `token` still held the lease.
    fn commit_sent<'a>(
        &'a self,
        transaction_id: &'a str,
        token: ClaimToken,
    ) -> StoreFuture<'a, bool>;

    /// Gives a claimed transaction id back (the send failed), so a retry may send it.
    fn release_sent<'a>(
        &'a self,
        transaction_id: &'a str,
        token: ClaimToken,
    ) -> StoreFuture<'a, bool>;

    /// Whether the store answers (for readiness probes). In-memory stores always do.
    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    /// Takes an exclusive lock on one subject (a subscription, charge or customer id) across
    /// every process sharing the store, so two instances never read-modify-write the same MRR
    /// ledger at once. Returns a token for [`unlock`](Self::unlock). Stores used by one process
    /// need nothing ([`RevenueSync`](crate::RevenueSync) already serializes a subject inside the
    /// process): the default returns `None`.
    fn lock<'a>(&'a self, subject: &'a str) -> StoreFuture<'a, Option<ClaimToken>> {
        let _ = subject;
        Box::pin(async { Ok(None) })
    }

    /// Releases a lock taken by [`lock`](Self::lock) (only if `token` still holds it).
    fn unlock<'a>(&'a self, subject: &'a str, token: ClaimToken) -> StoreFuture<'a, ()> {
        let _ = (subject, token);
        Box::pin(async { Ok(()) })
    }

    /// What the state holds for the ids `reconcile` (feature `stripe-api`) asks about (read by
    /// key: the ids come from Stripe's objects, nothing is enumerated). The default, for stores
    /// that keep no journal, fails.
    fn records<'a>(&'a self, query: &'a RecordQuery) -> StoreFuture<'a, Records> {
        let _ = query;
        Box::pin(async {
            Err(StateError::Backend(
                "this state store keeps no journal to reconcile against".into(),
            ))
        })
    }
}

/// The ids [`StateStore::records`] reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordQuery {
    /// Transaction ids of money in (invoices, PaymentIntents): their [`PaymentRecord`]s.
    pub payments: Vec<String>,
    /// Payment keys (PaymentIntent, else charge): their money-out [`ChargeLedger`]s.
    pub charges: Vec<String>,
    /// Subscription ids: their MRR [`SubscriptionLedger`]s.
    pub subscriptions: Vec<String>,
}

/// What the state holds for a [`RecordQuery`]; an id without an entry was never recorded (or
/// its entry expired).
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// Money in, by transaction id.
    pub payments: HashMap<String, PaymentRecord>,
    /// Money-out ledgers, by payment key.
    pub charges: HashMap<String, ChargeLedger>,
    /// MRR ledgers, by subscription id.
    pub subscriptions: HashMap<String, SubscriptionLedger>,
}
