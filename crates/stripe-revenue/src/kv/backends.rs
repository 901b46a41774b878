//! The named state stores: [`KvStateStore`] over each backend, with its constructor.

use super::KvStateStore;
#[cfg(any(feature = "sqlite", feature = "redis", feature = "postgres"))]
use crate::store::StateError;
use stripe_pulsora_store::Memory;

/// Default bound of the in-memory state (ledgers and attribution): 8 MiB of keys and values as
/// weighed (about 25,000 entries). Past it the least used entries are forgotten, with a warning
/// in the log.
pub const DEFAULT_MEMORY_STATE_BYTES: u64 = 8 * 1024 * 1024;

/// Default number of delivered transaction ids the in-memory store remembers: 25,000. A
/// forgotten id is only sent again if another event maps to it after 25,000 newer sends;
/// replay protection already answers Stripe's retries of the same event.
pub const DEFAULT_MEMORY_SENT_IDS: u64 = 25_000;

/// State in process memory (the default): one instance, lost on restart, bounded
/// ([`DEFAULT_MEMORY_STATE_BYTES`] of ledgers, [`DEFAULT_MEMORY_SENT_IDS`] sent ids).
///
/// ```
/// use stripe_revenue::{MemoryStateStore, RevenueSync};
/// let sync = RevenueSync::new(pulsora::Revenue::dry_run())
///     .state_store(MemoryStateStore::with_bounds(10_000, 8 * 1024 * 1024));
/// # let _ = sync;
/// ```
pub type MemoryStateStore = KvStateStore<Memory>;

impl KvStateStore<Memory> {
    /// An empty store with the default bounds.
    pub fn new() -> Self {
        Self::with_bounds(DEFAULT_MEMORY_SENT_IDS, DEFAULT_MEMORY_STATE_BYTES)
    }

    /// An empty store remembering at most `sent_ids` delivered transaction ids and
    /// `state_bytes` of ledgers and attribution.
    pub fn with_bounds(sent_ids: u64, state_bytes: u64) -> Self {
        Self::over(Memory::with_bounds(Some(sent_ids), state_bytes))
    }
}

impl Default for KvStateStore<Memory> {
    fn default() -> Self {
        Self::new()
    }
}

/// The mapping's state in an SQLite file (feature `sqlite`): one process, survives restarts.
/// Open the file once and share it with the replay store
/// ([`over`](KvStateStore::over) with `stripe_webhook_guard::SqliteStore::backend`), or open it
/// twice: the tables are the same.
///
/// ```no_run
/// use stripe_revenue::{RevenueSync, SqliteStateStore};
/// # fn main() -> Result<(), stripe_revenue::StateError> {
/// let sync = RevenueSync::new(pulsora::Revenue::dry_run())
///     .state_store(SqliteStateStore::open("/var/lib/stripe-pulsora/state.sqlite3")?);
/// # Ok(()) }
/// ```
#[cfg(feature = "sqlite")]
pub type SqliteStateStore = KvStateStore<stripe_pulsora_store::Sqlite>;

#[cfg(feature = "sqlite")]
impl KvStateStore<stripe_pulsora_store::Sqlite> {
    /// Opens (creating and migrating if needed) the database at `path`. Blocking: call it at
    /// start-up.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self, StateError> {
        stripe_pulsora_store::Sqlite::open(path).map(Self::over)
    }
}

/// The mapping's state in Redis (feature `redis`), shared by every instance of the bridge.
///
/// ```no_run
/// # async fn demo() -> Result<(), stripe_revenue::StateError> {
/// use stripe_revenue::{RedisStateStore, RevenueSync};
/// let sync = RevenueSync::new(pulsora::Revenue::dry_run())
///     .state_store(RedisStateStore::connect("redis://127.0.0.1:6379/").await?);
/// # Ok(()) }
/// ```
#[cfg(feature = "redis")]
pub type RedisStateStore = KvStateStore<stripe_pulsora_store::Redis>;

#[cfg(feature = "redis")]
impl KvStateStore<stripe_pulsora_store::Redis> {
    /// Connects to `url` (`redis://…`). The connection reconnects by itself after an outage.
    pub async fn connect(url: &str) -> Result<Self, StateError> {
        stripe_pulsora_store::Redis::connect(url)
            .await
            .map(Self::over)
    }
}

/// The mapping's state in PostgreSQL (feature `postgres`), shared by every instance of the
/// bridge; the schema migrates itself at start-up.
///
/// ```no_run
/// # async fn demo() -> Result<(), stripe_revenue::StateError> {
/// use stripe_revenue::{PostgresStateStore, RevenueSync};
/// let sync = RevenueSync::new(pulsora::Revenue::dry_run())
///     .state_store(PostgresStateStore::connect("postgres://app@127.0.0.1/payments").await?);
/// # Ok(()) }
/// ```
#[cfg(feature = "postgres")]
pub type PostgresStateStore = KvStateStore<stripe_pulsora_store::Postgres>;

#[cfg(feature = "postgres")]
impl KvStateStore<stripe_pulsora_store::Postgres> {
    /// Connects to `url` (`postgres://` or `postgresql://`) and migrates the schema.
    pub async fn connect(url: &str) -> Result<Self, StateError> {
        stripe_pulsora_store::Postgres::connect(url)
            .await
            .map(Self::over)
    }
}
