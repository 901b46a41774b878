//! Replay protection keyed by event id: each Stripe event reaches the handler until one
//! delivery of it succeeds, and never after.
//!
//! Stripe delivers *at least once*: a timeout on our side, a network blip or a plain retry
//! schedule (up to three days) sends the same `evt_…` again, sometimes to two instances at
//! once. The guard claims the id before the handler runs:
//!
//! | the id is… | answer | handler |
//! |---|---|---|
//! | new (or released, or its lease expired) | claim it (a lease), run the handler | runs |
//! | processed | `200 {"received":true,"duplicate":true}` ([`Rejection::Duplicate`]) | not called |
//! | claimed by another delivery right now | `409` + `Retry-After` ([`Rejection::InFlight`]) | not called |
//! | unknown because the store is down | `503` + `Retry-After` ([`Rejection::StoreUnavailable`]), or run on the cache alone with [`fail_open_on_store_error`](crate::StripeWebhookLayer::fail_open_on_store_error) | not called / runs |
//!
//! When the handler answers 2xx the claim is committed (the id is processed for
//! [`processed_ttl`](crate::StripeWebhookLayer::processed_ttl), default 4 days: Stripe retries
//! for 3). Any other answer, an error, a panic, or the response future being dropped (the
//! client hung up) releases the claim, so Stripe's next retry is processed: nothing is lost.
//! A lease expires after [`lease_ttl`](crate::StripeWebhookLayer::lease_ttl) (default 5
//! minutes), so an instance that crashed mid-handler blocks its event for minutes, not forever.
//!
//! # Cache and store
//!
//! With a store given to [`replay_store`](crate::StripeWebhookLayer::replay_store) (SQLite,
//! Redis, your own), two layers decide. A [`moka`] cache in each layer (bounded by entry count,
//! the same TTLs) answers duplicates seen recently without a store round trip, and makes the
//! decision for concurrent deliveries of one id *inside one process* in one atomic step (a
//! per-key compute). Behind it the [`ReplayStore`] is the authority across restarts or
//! instances. The default in-process [`MemoryStore`] decides alone: it already answers from
//! memory and atomically under its lock, so a cache in front would only do the work twice (it
//! cost a third of the layer's throughput in the load benchmark).
//!
//!
//! | cache | store | answer | cache afterwards |
//! |---|---|---|---|
//! | processed | not asked | duplicate | processed |
//! | claimed here | not asked | `409` | unchanged |
//! | nothing | `Claimed` | run the handler | claimed by us |
//! | nothing | `Processed` | duplicate | processed |
//! | nothing | `InFlight` (another instance) | `409` | nothing (ask the store next time) |
//! | nothing | error, fail closed | `503` | nothing |
//! | nothing | error, fail open | run the handler | claimed by us |
//!
//! Stores: [`MemoryStore`] (default; one process, forgets on restart), `SqliteStore` (feature
//! `sqlite`; one process, survives restarts) and `RedisStore` (feature `redis`; many instances
//! sharing one Redis). Store calls time out after
//! [`replay_store_timeout`](crate::StripeWebhookLayer::replay_store_timeout) (default 2 s).
//!
//! # The same change as two events
//!
//! Stripe documents that it can occasionally create two event objects for one change. With
//! [`dedupe_by_object`](crate::StripeWebhookLayer::dedupe_by_object) the guard also claims
//! `(event type, data.object.id)` for the listed types. List only types that happen once per
//! object (`invoice.paid`, `checkout.session.completed`); a type that legitimately repeats for
//! one object (`customer.subscription.updated`, `charge.refunded` for partial refunds) would
//! have its later changes dropped as duplicates.

mod backend;
mod claim;
mod guard;
mod sharded;
mod store;

pub use backend::BackendStore;
#[cfg(feature = "postgres")]
pub use backend::PostgresStore;
#[cfg(feature = "redis")]
pub use backend::RedisStore;
#[cfg(feature = "sqlite")]
pub use backend::SqliteStore;
pub(crate) use guard::ReplayGuard;
pub use sharded::MemoryStore;
pub use store::{ClaimOutcome, ClaimToken, ReplayStore, StoreError, StoreFuture};

use crate::event::EventType;
use std::sync::Arc;
use std::time::Duration;

/// Default retention of processed ids: 4 days. Stripe retries a failed delivery for up to
/// 3 days; the extra day covers clock skew and a retry sent at the very end of the window.
pub const DEFAULT_PROCESSED_TTL: Duration = Duration::from_secs(4 * 24 * 60 * 60);

/// Default lease on an id while its handler runs: 5 minutes. Longer than any sane handler,
/// short enough that a crashed instance does not hold up Stripe's next retry for long.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(5 * 60);

/// Default number of ids the in-process replay cache holds: 10,000, about 5 MiB at most (a
/// moka entry costs about 550 bytes). The cache only has to cover ids seen recently and ids
/// in flight; older ones cost a store lookup, never a wrong answer.
pub const DEFAULT_REPLAY_CACHE_CAPACITY: u64 = 10_000;

/// Default time a store call may take before the guard treats the store as unavailable.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// Default `Retry-After` for `409` (another delivery is in flight) and `503` (store down).
pub const DEFAULT_REPLAY_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Replay-guard settings; every default is documented on its builder method.
#[derive(Debug, Clone)]
pub(crate) struct ReplayConfig {
    pub(crate) store: Arc<dyn ReplayStore>,
    pub(crate) processed_ttl: Duration,
    pub(crate) lease_ttl: Duration,
    pub(crate) cache_capacity: u64,
    pub(crate) fail_open: bool,
    /// Event types whose `(type, data.object.id)` is claimed too; empty = off.
    pub(crate) dedupe_by_object: Vec<EventType>,
    pub(crate) store_timeout: Duration,
    pub(crate) retry_after: Duration,
    /// Forces the cache in front of a store that answers in process (tests). Otherwise the
    /// cache sits in front of every store whose
    /// [`answers_in_process`](ReplayStore::answers_in_process) is `false`: an in-process store
    /// already decides atomically from memory, so a cache in front would only double the work
    /// (it showed as a tenth of the request's CPU time in the load test).
    pub(crate) cache_in_front: bool,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            processed_ttl: DEFAULT_PROCESSED_TTL,
            lease_ttl: DEFAULT_LEASE_TTL,
            cache_capacity: DEFAULT_REPLAY_CACHE_CAPACITY,
            fail_open: false,
            dedupe_by_object: Vec::new(),
            store_timeout: DEFAULT_STORE_TIMEOUT,
            retry_after: DEFAULT_REPLAY_RETRY_AFTER,
            cache_in_front: false,
        }
    }
}

/// The replay builder methods, written once for both adapters.
impl<A> crate::Webhook<A> {
    /// Where processed ids and leases are kept. Default: a [`MemoryStore`](crate::MemoryStore)
    /// of this layer (one process, forgotten on restart). Use `SqliteStore` (feature
    /// `sqlite`) to survive restarts, `PostgresStore` (feature `postgres`) or `RedisStore`
    /// (feature `redis`) for several instances.
    /// Pass an `Arc` to share one store between layers.
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn replay_store(mut self, store: impl crate::ReplayStore) -> Self {
        self.config.replay.store = std::sync::Arc::new(store);
        self.reconfigured()
    }

    /// How long a processed event id is remembered (in the store and the cache). Default:
    /// 4 days ([`DEFAULT_PROCESSED_TTL`](crate::DEFAULT_PROCESSED_TTL)); keep it above
    /// Stripe's 3-day retry window.
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn processed_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.config.replay.processed_ttl = ttl;
        self.reconfigured()
    }

    /// How long a claim holds an event id while its handler runs. Default: 5 minutes
    /// ([`DEFAULT_LEASE_TTL`](crate::DEFAULT_LEASE_TTL)). Keep it above your slowest
    /// handler: after it expires another delivery of the same event may run concurrently.
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn lease_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.config.replay.lease_ttl = ttl;
        self.reconfigured()
    }

    /// How many ids the in-process replay cache holds before evicting the least useful.
    /// Default: 10,000 ([`DEFAULT_REPLAY_CACHE_CAPACITY`](crate::DEFAULT_REPLAY_CACHE_CAPACITY)),
    /// about 550 bytes each. Eviction only costs a store round trip later; the store stays
    /// authoritative.
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn replay_cache_capacity(mut self, entries: u64) -> Self {
        self.config.replay.cache_capacity = entries;
        self.reconfigured()
    }

    /// When the replay store fails or times out, run the handler anyway, deduplicating on
    /// this process's cache alone. Default: fail closed (`503` + `Retry-After`, Stripe
    /// retries later). Fail open keeps events flowing during a store outage at the price
    /// of possible double processing across instances or restarts.
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn fail_open_on_store_error(mut self) -> Self {
        self.config.replay.fail_open = true;
        self.reconfigured()
    }

    /// Also deduplicate events of these types by `(type, data.object.id)`, for the rare case
    /// where Stripe sends one change as two event objects. Default: off. List only types that
    /// occur once per object (`invoice.paid`, `checkout.session.completed`, …): for a type
    /// that repeats per object (`customer.subscription.updated`) later changes would be
    /// dropped as duplicates.
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn dedupe_by_object(mut self, types: impl IntoIterator<Item = crate::EventType>) -> Self {
        self.config.replay.dedupe_by_object.extend(types);
        self.reconfigured()
    }

    /// How long one replay-store call may take before the store counts as unavailable.
    /// Default: 2 s ([`DEFAULT_STORE_TIMEOUT`](crate::DEFAULT_STORE_TIMEOUT)).
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn replay_store_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.config.replay.store_timeout = timeout;
        self.reconfigured()
    }

    /// The `Retry-After` sent with `409 in_flight` (capped by the remaining lease when the
    /// store knows it) and `503 store_unavailable`. Default: 10 s
    /// ([`DEFAULT_REPLAY_RETRY_AFTER`](crate::DEFAULT_REPLAY_RETRY_AFTER)).
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn replay_retry_after(mut self, wait: std::time::Duration) -> Self {
        self.config.replay.retry_after = wait;
        self.reconfigured()
    }
}
