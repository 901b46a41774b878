//! The PostgreSQL backend: several instances on one database, the store most services that take
//! payments already run.

use crate::backend::{ClaimOutcome, Claims, Document, Documents, Space, StoreFuture};
use crate::migrate::{pending, Migration};
use crate::time::millis;
use crate::{ClaimToken, StoreError};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

mod outbox;

/// The database's clock in Unix milliseconds: every instance compares leases against one
/// clock, so clock skew between instances cannot hand one lease to two holders.
macro_rules! now_ms {
    () => {
        "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
    };
}

/// The key of the advisory lock held while migrating: instances starting at once migrate one
/// after the other, and the later ones find nothing to do. ("stripepm" in ASCII.)
const MIGRATION_LOCK: i64 = 0x7374_7269_7065_706d;

/// How often expired rows are deleted, by a background task (never on a request's path).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Rows deleted per sweep statement, so a large backlog never holds locks for long.
const SWEEP_BATCH: i64 = 5_000;

/// Connections in the pool.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// The schema, in order. Never edit an applied migration; add one.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "claims (replay ids, sent transactions, locks) and state documents",
        sql: "
CREATE TABLE stripe_pulsora_claims (
    space      TEXT    NOT NULL,   -- replay, sent, lock, ...
    key        TEXT    NOT NULL,
    processed  BOOLEAN NOT NULL,   -- false: leased to `token`
    token      BYTEA,              -- the lease holder's ClaimToken, NULL once processed
    expires_at BIGINT  NOT NULL,   -- Unix milliseconds, database clock
    PRIMARY KEY (space, key)
);
CREATE INDEX stripe_pulsora_claims_expires ON stripe_pulsora_claims (expires_at);
CREATE TABLE stripe_pulsora_state (
    key        TEXT   PRIMARY KEY,
    value      TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX stripe_pulsora_state_expires ON stripe_pulsora_state (expires_at);
",
    },
    Migration {
        version: 2,
        description: "outbox of revenue events to deliver, its queue heads, and dead letters",
        sql: "
CREATE TABLE stripe_pulsora_outbox (
    seq             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- enqueue order
    id              TEXT    NOT NULL UNIQUE,   -- Pulsora's transaction id
    queue           TEXT    NOT NULL,          -- ordering key (subscription, charge)
    payload         TEXT    NOT NULL,          -- JSON to send
    stripe_event_id TEXT    NOT NULL,
    enqueued_at     BIGINT  NOT NULL,          -- Unix milliseconds, the caller's clock
    due_at          BIGINT  NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0, -- failed attempts so far
    last_error      TEXT,
    lease_token     BYTEA,                     -- the holder's ClaimToken while leased
    lease_until     BIGINT
);
CREATE INDEX stripe_pulsora_outbox_queue ON stripe_pulsora_outbox (queue, seq);
CREATE INDEX stripe_pulsora_outbox_enqueued ON stripe_pulsora_outbox (enqueued_at);
-- One row per non-empty queue: its head (oldest row) and when the head may be leased (its
-- due time, or the end of its lease). Leasers lock these rows (FOR UPDATE SKIP LOCKED) and
-- read only the ready part of the index, never the backlog behind heads that back off.
CREATE TABLE stripe_pulsora_outbox_heads (
    queue    TEXT   PRIMARY KEY,
    seq      BIGINT NOT NULL,
    ready_at BIGINT NOT NULL
);
CREATE INDEX stripe_pulsora_outbox_heads_ready ON stripe_pulsora_outbox_heads (ready_at, seq);
CREATE TABLE stripe_pulsora_dead_letters (
    id              TEXT    PRIMARY KEY,
    queue           TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    stripe_event_id TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    enqueued_at     BIGINT  NOT NULL,
    dead_at         BIGINT  NOT NULL
);
CREATE INDEX stripe_pulsora_dead_letters_dead_at ON stripe_pulsora_dead_letters (dead_at);
",
    },
];

/// A PostgreSQL database shared by every schema and every instance (feature `postgres`).
///
/// A [deadpool](deadpool_postgres) pool of [`DEFAULT_POOL_SIZE`] `tokio-postgres`
/// connections (no TLS: run it on a private network or loopback). On connect the schema is
/// created and migrated by embedded, versioned, checksummed migrations inside one transaction
/// holding an advisory lock, so several instances starting at once migrate it once. Claims are
/// single statements (`INSERT … ON CONFLICT … DO UPDATE … WHERE expires_at <= now`) judged
/// by the database's clock; expired rows are deleted in batches by a background task once a
/// minute.
///
/// ```no_run
/// use stripe_pulsora_store::Postgres;
/// # async fn run() -> Result<(), stripe_pulsora_store::StoreError> {
/// let db = Postgres::connect("postgres://stripe:secret@127.0.0.1/payments").await?;
/// # let _ = db; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
    /// Stops the sweeper when the last clone is dropped.
    _sweeper: Arc<AbortOnDrop>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Postgres {
    /// Connects to `url` (`postgres://` or `postgresql://user:password@host:port/db`, or the
    /// `key=value` form), migrates the schema and starts the clean-up task. Fails when the
    /// database cannot be reached now; later outages fail calls until it is back. Must be
    /// called inside a tokio runtime.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_pool_size(url, DEFAULT_POOL_SIZE).await
    }

    /// [`connect`](Self::connect) with `size` pooled connections.
    pub async fn connect_with_pool_size(url: &str, size: usize) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            // The parser's message never repeats the URL (which may hold a password).
            StoreError::Backend(format!("postgres: bad connection string: {e}"))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(2));
        }
        if config.get_application_name().is_none() {
            config.application_name("stripe-pulsora");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(2)))
            .create_timeout(Some(Duration::from_secs(2)))
            .recycle_timeout(Some(Duration::from_secs(2)))
            .build()
            .map_err(|e| StoreError::Backend(format!("postgres: pool: {e}")))?;
        migrate(&pool).await?;
        let sweeper = tokio::spawn(sweep_forever(pool.clone()));
        Ok(Self {
            pool,
            _sweeper: Arc::new(AbortOnDrop(sweeper)),
        })
    }

    /// The pool, for schemas of other crates that need their own SQL.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Deletes expired claims and documents now (the background task does it once a minute);
    /// returns how many rows went.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        purge(&self.pool).await
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }
}

async fn migrate(pool: &Pool) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(pool_error)?;
    let tx = client.transaction().await.map_err(error)?;
    // Held until commit: a second instance waits here, then sees the migrations applied.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS stripe_pulsora_migrations (
             version     BIGINT PRIMARY KEY,
             description TEXT   NOT NULL,
             checksum    BYTEA  NOT NULL,
             applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(error)?;
    let applied: Vec<(i64, Vec<u8>)> = tx
        .query(
            "SELECT version, checksum FROM stripe_pulsora_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(error)?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    for migration in pending(MIGRATIONS, &applied)? {
        tx.batch_execute(migration.sql).await.map_err(error)?;
        tx.execute(
            "INSERT INTO stripe_pulsora_migrations (version, description, checksum)
             VALUES ($1, $2, $3)",
            &[
                &migration.version,
                &migration.description,
                &migration.checksum(),
            ],
        )
        .await
        .map_err(error)?;
        tracing::info!(
            version = migration.version,
            "postgres store migrated: {}",
            migration.description
        );
    }
    tx.commit().await.map_err(error)
}

async fn purge(pool: &Pool) -> Result<u64, StoreError> {
    let client = pool.get().await.map_err(pool_error)?;
    let mut total = 0;
    for table in ["stripe_pulsora_claims", "stripe_pulsora_state"] {
        let statement = format!(
            "DELETE FROM {table} WHERE ctid IN (
                 SELECT ctid FROM {table} WHERE expires_at <= {} LIMIT $1
                 FOR UPDATE SKIP LOCKED)",
            now_ms!()
        );
        loop {
            let deleted = client
                .execute(&statement, &[&SWEEP_BATCH])
                .await
                .map_err(error)?;
            total += deleted;
            if deleted < SWEEP_BATCH as u64 {
                break;
            }
        }
    }
    Ok(total)
}

async fn sweep_forever(pool: Pool) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match purge(&pool).await {
            Ok(0) => {}
            Ok(deleted) => tracing::debug!(deleted, "postgres store: expired rows deleted"),
            Err(error) => {
                tracing::warn!(%error, "postgres store: clean-up failed; next try in a minute")
            }
        }
    }
}

impl Claims for Postgres {
    fn claim<'a>(
        &'a self,
        space: &'a Space,
        key: &'a str,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        Box::pin(async move {
            let client = self.client().await?;
            let name = space.name();
            let token = token.to_bytes();
            let lease = millis(lease);
            let insert = client
                .prepare_cached(concat!(
                    "INSERT INTO stripe_pulsora_claims AS c (space, key, processed, token, expires_at)
                     VALUES ($1, $2, false, $3, ",
                    now_ms!(),
                    " + $4)
                     ON CONFLICT (space, key) DO UPDATE
                         SET processed = false, token = excluded.token, expires_at = excluded.expires_at
                         WHERE c.expires_at <= ",
                    now_ms!(),
                    " RETURNING 1"
                ))
                .await
                .map_err(error)?;
            let read = client
                .prepare_cached(concat!(
                    "SELECT processed, expires_at - ",
                    now_ms!(),
                    " FROM stripe_pulsora_claims WHERE space = $1 AND key = $2"
                ))
                .await
                .map_err(error)?;
            // The row that refused us may be released between the two statements: then try
            // again (twice at most; a key that busy is reported as in flight).
            for _ in 0..3 {
                let claimed = client
                    .query_opt(&insert, &[&name, &key, &&token[..], &lease])
                    .await
                    .map_err(error)?;
                if claimed.is_some() {
                    return Ok(ClaimOutcome::Claimed);
                }
                if let Some(row) = client
                    .query_opt(&read, &[&name, &key])
                    .await
                    .map_err(error)?
                {
                    let (processed, left): (bool, i64) = (row.get(0), row.get(1));
                    if left > 0 {
                        return Ok(if processed {
                            ClaimOutcome::Processed
                        } else {
                            ClaimOutcome::InFlight {
                                expires_in: Duration::from_millis(left.unsigned_abs()),
                            }
                        });
                    }
                }
            }
            Ok(ClaimOutcome::InFlight {
                expires_in: Duration::from_secs(1),
            })
        })
    }

    fn commit<'a>(
        &'a self,
        space: &'a Space,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let client = self.client().await?;
            let name = space.name();
            let token = token.to_bytes();
            let ttl = millis(ttl);
            let held = client
                .prepare_cached(concat!(
                    "UPDATE stripe_pulsora_claims
                     SET processed = true, token = NULL, expires_at = ",
                    now_ms!(),
                    " + $4
                     WHERE space = $1 AND key = $2 AND NOT processed AND token = $3
                       AND expires_at > ",
                    now_ms!()
                ))
                .await
                .map_err(error)?;
            if client
                .execute(&held, &[&name, &key, &&token[..], &ttl])
                .await
                .map_err(error)?
                > 0
            {
                return Ok(true);
            }
            // Lost or never held: record it as processed all the same (the work succeeded).
            let record = client
                .prepare_cached(concat!(
                    "INSERT INTO stripe_pulsora_claims (space, key, processed, token, expires_at)
                     VALUES ($1, $2, true, NULL, ",
                    now_ms!(),
                    " + $3)
                     ON CONFLICT (space, key) DO UPDATE
                         SET processed = true, token = NULL, expires_at = excluded.expires_at"
                ))
                .await
                .map_err(error)?;
            client
                .execute(&record, &[&name, &key, &ttl])
                .await
                .map_err(error)?;
            Ok(false)
        })
    }

    fn release<'a>(
        &'a self,
        space: &'a Space,
        key: &'a str,
        token: ClaimToken,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let client = self.client().await?;
            let token = token.to_bytes();
            // Compare-and-delete in one statement: only the holder's unexpired lease goes.
            let delete = client
                .prepare_cached(concat!(
                    "DELETE FROM stripe_pulsora_claims
                     WHERE space = $1 AND key = $2 AND NOT processed AND token = $3
                       AND expires_at > ",
                    now_ms!()
                ))
                .await
                .map_err(error)?;
            let deleted = client
                .execute(&delete, &[&space.name(), &key, &&token[..]])
                .await
                .map_err(error)?;
            Ok(deleted > 0)
        })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let client = self.client().await?;
            // Our own table: a dropped schema fails here, not just the connection.
            client
                .query_one("SELECT count(*) FROM stripe_pulsora_migrations", &[])
                .await
                .map(|_| ())
                .map_err(error)
        })
    }

    fn is_shared(&self) -> bool {
        true
    }
}

impl Documents for Postgres {
    fn get_many<'a>(&'a self, keys: &'a [String]) -> StoreFuture<'a, Vec<Option<String>>> {
        Box::pin(async move {
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            let client = self.client().await?;
            let select = client
                .prepare_cached(concat!(
                    "SELECT key, value FROM stripe_pulsora_state
                     WHERE key = ANY($1) AND expires_at > ",
                    now_ms!()
                ))
                .await
                .map_err(error)?;
            let rows = client.query(&select, &[&keys]).await.map_err(error)?;
            let mut values = vec![None; keys.len()];
            for row in rows {
                let (key, value): (String, String) = (row.get(0), row.get(1));
                for (slot, wanted) in values.iter_mut().zip(keys) {
                    if *wanted == key {
                        *slot = Some(value.clone());
                    }
                }
            }
            Ok(values)
        })
    }

    fn put_many<'a>(&'a self, documents: &'a [Document]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if documents.is_empty() {
                return Ok(());
            }
            let (keys, values, ttls) = document_columns(documents);
            let client = self.client().await?;
            let upsert = client
                .prepare_cached(UPSERT_DOCUMENTS)
                .await
                .map_err(error)?;
            client
                .execute(&upsert, &[&keys, &values, &ttls])
                .await
                .map(|_| ())
                .map_err(error)
        })
    }
}

/// Upserts documents given as three columns ([`document_columns`]); shared by `put_many` and
/// the outbox commit.
const UPSERT_DOCUMENTS: &str = concat!(
    "INSERT INTO stripe_pulsora_state (key, value, expires_at)
     SELECT k, v, ",
    now_ms!(),
    " + t FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(k, v, t)
     ON CONFLICT (key) DO UPDATE
         SET value = excluded.value, expires_at = excluded.expires_at"
);

/// Documents as key, value and time-to-live columns, one row per key (the last write wins:
/// `ON CONFLICT` may not touch a row twice in one statement).
fn document_columns(documents: &[Document]) -> (Vec<&str>, Vec<&str>, Vec<i64>) {
    let mut keys: Vec<&str> = Vec::with_capacity(documents.len());
    let mut values: Vec<&str> = Vec::with_capacity(documents.len());
    let mut ttls: Vec<i64> = Vec::with_capacity(documents.len());
    for document in documents.iter().rev() {
        if !keys.contains(&document.key.as_str()) {
            keys.push(&document.key);
            values.push(&document.value);
            ttls.push(millis(document.ttl));
        }
    }
    (keys, values, ttls)
}

/// Never prints the pool's configuration (it holds the password).
impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("Postgres")
            .field("pool_size", &status.size)
            .field("pool_max", &status.max_size)
            .finish_non_exhaustive()
    }
}

/// Connection trouble, shutdowns, lock and serialization conflicts and resource exhaustion may
/// clear up; anything else (a schema clash, a permission) needs a look. tokio-postgres never
/// puts the password in its messages.
pub fn error(error: tokio_postgres::Error) -> StoreError {
    let text = format!("postgres: {error}");
    let transient = match error.code() {
        None => true, // no SQLSTATE: the connection itself failed or closed
        Some(code) => {
            let class = &code.code()[..2];
            matches!(class, "08" | "53" | "57" | "58")
                || *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::LOCK_NOT_AVAILABLE
                || *code == SqlState::QUERY_CANCELED
        }
    };
    if transient {
        StoreError::Unavailable(text)
    } else {
        StoreError::Backend(text)
    }
}

fn pool_error(error: PoolError) -> StoreError {
    match error {
        PoolError::Backend(error) => self::error(error),
        other => StoreError::Unavailable(format!("postgres: {other}")),
    }
}
