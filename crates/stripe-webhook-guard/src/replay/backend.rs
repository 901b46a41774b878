//! The replay stores: one generic [`BackendStore`] over the backends of `stripe-pulsora-store`
//! (memory, SQLite, Redis, PostgreSQL), so the claim rules are written once per backend, not
//! once per backend and schema.

#[cfg(any(feature = "sqlite", feature = "redis", feature = "postgres"))]
use super::store::StoreError;
use super::store::{ClaimOutcome, ClaimToken, ReplayStore, StoreFuture};
use std::fmt;
use std::time::Duration;
use stripe_pulsora_store::{Claims, Space};

/// Replay ids and leases over a backend `B`: the `replay` space of its claims (Redis keys
/// `stripe-webhook:replay:<event id>`, rows `('replay', <event id>)` of the SQL backends).
///
/// Use the named forms: `SqliteStore` (feature `sqlite`), `RedisStore` (feature `redis`),
/// `PostgresStore` (feature `postgres`). Share one backend between the replay store and
/// `stripe-revenue`'s state store with [`over`](Self::over):
///
/// ```
/// use stripe_webhook_guard::{store::Memory, BackendStore, StripeWebhookLayer};
///
/// let backend = Memory::new();
/// let layer = StripeWebhookLayer::new("whsec_…").replay_store(BackendStore::over(backend.clone()));
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct BackendStore<B> {
    backend: B,
    space: Space,
}

fn replay_space() -> Space {
    // The prefix the Redis store used before this layer: ids processed then stay processed.
    Space::new("replay").with_redis_prefix("stripe-webhook:replay:")
}

impl<B: Claims> BackendStore<B> {
    /// Replay ids in `backend`.
    pub fn over(backend: B) -> Self {
        Self {
            backend,
            space: replay_space(),
        }
    }

    /// The backend (to share it with other schemas, or to inspect it).
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Puts Redis keys under `prefix` instead of `stripe-webhook:replay:` (several endpoints,
    /// or test and live mode, on one Redis). The SQL backends ignore it.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.space = self.space.with_redis_prefix(prefix);
        self
    }
}

impl<B: Claims> ReplayStore for BackendStore<B> {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        self.backend.claim(&self.space, key, token, lease)
    }

    fn commit<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        self.backend.commit(&self.space, key, token, ttl)
    }

    fn release<'a>(&'a self, key: &'a str, token: ClaimToken) -> StoreFuture<'a, bool> {
        self.backend.release(&self.space, key, token)
    }

    fn answers_in_process(&self) -> bool {
        self.backend.is_in_process()
    }
}

impl<B: fmt::Debug> fmt::Debug for BackendStore<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayStore")
            .field("backend", &self.backend)
            .field("redis_prefix", &self.space.redis_prefix())
            .finish()
    }
}

/// Processed ids and leases in an SQLite file (feature `sqlite`): one process, survives
/// restarts. See [`store::Sqlite`](crate::store::Sqlite) for the pragmas and migrations.
///
/// ```no_run
/// use stripe_webhook_guard::{SqliteStore, StripeWebhookLayer};
///
/// # fn main() -> Result<(), stripe_webhook_guard::StoreError> {
/// let layer = StripeWebhookLayer::new("whsec_…")
///     .replay_store(SqliteStore::open("/var/lib/myapp/stripe.sqlite3")?);
/// # Ok(()) }
/// ```
#[cfg(feature = "sqlite")]
pub type SqliteStore = BackendStore<stripe_pulsora_store::Sqlite>;

#[cfg(feature = "sqlite")]
impl BackendStore<stripe_pulsora_store::Sqlite> {
    /// Opens (creating and migrating if needed) the database at `path`. Blocking file I/O:
    /// call it at start-up.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self, StoreError> {
        stripe_pulsora_store::Sqlite::open(path).map(Self::over)
    }

    /// The database file.
    pub fn path(&self) -> &std::path::Path {
        self.backend.path()
    }

    /// Deletes expired rows now (claims are swept at most once a minute anyway); returns how
    /// many.
    pub async fn purge_expired(&self) -> Result<usize, StoreError> {
        self.backend.purge_expired().await
    }
}

/// Processed ids and leases in Redis (feature `redis`), shared by every instance pointing at
/// the same server. Run Redis with AOF (`appendonly yes`) if ids must survive its restart.
///
/// ```no_run
/// use stripe_webhook_guard::{RedisStore, StripeWebhookLayer};
///
/// # async fn run() -> Result<(), stripe_webhook_guard::StoreError> {
/// let layer = StripeWebhookLayer::new("whsec_…")
///     .replay_store(RedisStore::connect("redis://127.0.0.1:6379/").await?);
/// # Ok(()) }
/// ```
#[cfg(feature = "redis")]
pub type RedisStore = BackendStore<stripe_pulsora_store::Redis>;

#[cfg(feature = "redis")]
impl BackendStore<stripe_pulsora_store::Redis> {
    /// Connects to `url` (`redis://[user:password@]host:port/db`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        stripe_pulsora_store::Redis::connect(url)
            .await
            .map(Self::over)
    }
}

/// Processed ids and leases in PostgreSQL (feature `postgres`), shared by every instance on
/// the same database; the schema migrates itself at start-up.
///
/// ```no_run
/// use stripe_webhook_guard::{PostgresStore, StripeWebhookLayer};
///
/// # async fn run() -> Result<(), stripe_webhook_guard::StoreError> {
/// let layer = StripeWebhookLayer::new("whsec_…")
///     .replay_store(PostgresStore::connect("postgres://app@127.0.0.1/payments").await?);
/// # Ok(()) }
/// ```
#[cfg(feature = "postgres")]
pub type PostgresStore = BackendStore<stripe_pulsora_store::Postgres>;

#[cfg(feature = "postgres")]
impl BackendStore<stripe_pulsora_store::Postgres> {
    /// Connects to `url` (`postgres://` or `postgresql://`) and migrates the schema.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        stripe_pulsora_store::Postgres::connect(url)
            .await
            .map(Self::over)
    }
}
