//! The SQLite backend: one file, one process, survives restarts.

use crate::backend::{ClaimOutcome, Claims, Document, Documents, Space, StoreFuture};
use crate::migrate::{pending, Migration};
use crate::time::{millis, unix_millis};
use crate::{ClaimToken, StoreError};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

mod outbox;

/// How often (at most) expired rows are deleted. Expired rows are ignored on lookup anyway.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// How long a call waits for another connection's write lock (a second process on the file,
/// or the replay and state stores opened separately) before the store counts as unavailable.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema, in order. Never edit an applied migration; add one.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "claims (replay ids, sent transactions, locks) and state documents in one \
                      layer; imports the tables of the stores before it",
        sql: "
CREATE TABLE stripe_pulsora_claims (
    space      TEXT NOT NULL,      -- replay, sent, lock, ...
    key        TEXT NOT NULL,
    processed  INTEGER NOT NULL,   -- 0: leased to `token`; 1: processed
    token      BLOB,               -- the lease holder's ClaimToken, NULL once processed
    expires_at INTEGER NOT NULL,   -- Unix milliseconds
    PRIMARY KEY (space, key)
) WITHOUT ROWID;
CREATE INDEX stripe_pulsora_claims_expires ON stripe_pulsora_claims (expires_at);
CREATE TABLE stripe_pulsora_state (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stripe_pulsora_state_expires ON stripe_pulsora_state (expires_at);

-- Files written by the separate replay and state stores of earlier versions.
CREATE TABLE IF NOT EXISTS stripe_webhook_replay (
    key TEXT PRIMARY KEY NOT NULL, processed INTEGER NOT NULL, token BLOB,
    expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stripe_revenue_state (
    key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO stripe_pulsora_claims (space, key, processed, token, expires_at)
    SELECT 'replay', key, processed, token, expires_at FROM stripe_webhook_replay;
INSERT INTO stripe_pulsora_claims (space, key, processed, token, expires_at)
    SELECT 'sent', substr(key, 21), 1, NULL, expires_at FROM stripe_revenue_state
    WHERE key LIKE 'stripe-pulsora:sent:%';
INSERT INTO stripe_pulsora_state (key, value, expires_at)
    SELECT key, value, expires_at FROM stripe_revenue_state
    WHERE key NOT LIKE 'stripe-pulsora:sent:%';
DROP TABLE stripe_webhook_replay;
DROP TABLE stripe_revenue_state;
",
    },
    Migration {
        version: 2,
        description: "outbox of revenue events to deliver, its queue heads, and dead letters",
        sql: "
CREATE TABLE stripe_pulsora_outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT, -- enqueue order, never reused
    id              TEXT    NOT NULL UNIQUE,           -- Pulsora's transaction id
    queue           TEXT    NOT NULL,                  -- ordering key (subscription, charge)
    payload         TEXT    NOT NULL,                  -- JSON to send
    stripe_event_id TEXT    NOT NULL,
    enqueued_at     INTEGER NOT NULL,                  -- Unix milliseconds
    due_at          INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,        -- failed attempts so far
    last_error      TEXT,
    lease_token     BLOB,                              -- the holder's ClaimToken while leased
    lease_until     INTEGER
);
CREATE INDEX stripe_pulsora_outbox_queue ON stripe_pulsora_outbox (queue, seq);
CREATE INDEX stripe_pulsora_outbox_enqueued ON stripe_pulsora_outbox (enqueued_at);
-- One row per non-empty queue: its head (oldest row) and when the head may be leased (its
-- due time, or the end of its lease). The lease query reads only the ready part of this index,
-- never the backlog queued behind heads that back off.
CREATE TABLE stripe_pulsora_outbox_heads (
    queue    TEXT    PRIMARY KEY NOT NULL,
    seq      INTEGER NOT NULL,
    ready_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stripe_pulsora_outbox_heads_ready ON stripe_pulsora_outbox_heads (ready_at, seq);
CREATE TABLE stripe_pulsora_dead_letters (
    id              TEXT    PRIMARY KEY NOT NULL,
    queue           TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    stripe_event_id TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    enqueued_at     INTEGER NOT NULL,
    dead_at         INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stripe_pulsora_dead_letters_dead_at ON stripe_pulsora_dead_letters (dead_at);
",
    },
];

/// An SQLite database file (rusqlite, SQLite compiled in), shared by every schema of a
/// process: open it once and hand clones to the replay and state stores.
///
/// Calls run on tokio's blocking pool behind one connection (SQLite allows one writer at a
/// time anyway). Pragmas, chosen for durability without an fsync per request:
/// - `journal_mode = WAL`: readers never block the writer, and a crash mid-write leaves the
///   last committed state;
/// - `synchronous = NORMAL`: every commit survives a crash of the process (the case a restart
///   inside Stripe's retry window is about); an operating-system crash or power cut may lose
///   the last commits, never corrupt the file. `FULL` would fsync every claim and commit;
/// - `busy_timeout` 5 s: a second connection on the file (another store opened on the same
///   path, a backup) waits for the write lock instead of failing at once;
/// - `foreign_keys = ON`, `trusted_schema = OFF`: the safe defaults SQLite recommends.
///
/// The schema is created and migrated by embedded, versioned migrations when the file is
/// opened, in one `IMMEDIATE` transaction (so two processes opening one file at once migrate
/// it once).
///
/// ```no_run
/// use stripe_pulsora_store::Sqlite;
/// # fn main() -> Result<(), stripe_pulsora_store::StoreError> {
/// let db = Sqlite::open("/var/lib/stripe-pulsora/state.sqlite3")?;
/// # let _ = db; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sqlite {
    inner: Arc<Inner>,
}

struct Inner {
    connection: Mutex<Connection>,
    path: PathBuf,
    /// Unix ms of the next sweep of expired rows.
    next_sweep: AtomicI64,
}

impl Sqlite {
    /// Opens (creating if needed) the database at `path` and migrates its schema. Blocking
    /// file I/O: call it at start-up.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut connection = Connection::open(&path).map_err(error)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(error)?;
        // `journal_mode` answers with a row, so it is queried rather than executed.
        let _mode: String = connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(error)?;
        connection
            .execute_batch(
                "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA trusted_schema = OFF;",
            )
            .map_err(error)?;
        migrate(&mut connection)?;
        Ok(Self {
            inner: Arc::new(Inner {
                connection: Mutex::new(connection),
                path,
                next_sweep: AtomicI64::new(0),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `work` with the connection on the blocking pool (SQLite calls block on disk I/O and
    /// must not stall the async workers); `now` is Unix milliseconds. For schemas of other
    /// crates (the outbox) that need their own SQL.
    pub async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, i64) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a half-done write: the transaction
            // rolls back when dropped. So the data behind a poisoned lock is still consistent.
            let mut connection = inner
                .connection
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            work(&mut connection, unix_millis())
        })
        .await
        .map_err(|join| StoreError::Backend(format!("sqlite task failed: {join}")))?
    }

    /// Deletes expired claims and documents now; returns how many rows went.
    pub async fn purge_expired(&self) -> Result<usize, StoreError> {
        self.run(|connection, now| purge(connection, now)).await
    }

    fn sweep_due(&self, now: i64) -> bool {
        let next = self.inner.next_sweep.load(Ordering::Relaxed);
        now >= next
            && self
                .inner
                .next_sweep
                .compare_exchange(
                    next,
                    now.saturating_add(millis(SWEEP_EVERY)),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

fn purge(connection: &Connection, now: i64) -> Result<usize, StoreError> {
    let claims = connection
        .prepare_cached("DELETE FROM stripe_pulsora_claims WHERE expires_at <= ?1")
        .and_then(|mut s| s.execute([now]))
        .map_err(error)?;
    let documents = connection
        .prepare_cached("DELETE FROM stripe_pulsora_state WHERE expires_at <= ?1")
        .and_then(|mut s| s.execute([now]))
        .map_err(error)?;
    Ok(claims + documents)
}

fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    // IMMEDIATE takes the write lock first: a second process opening the file waits (busy
    // timeout), then finds the migrations applied.
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(error)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS stripe_pulsora_migrations (
             version     INTEGER PRIMARY KEY NOT NULL,
             description TEXT NOT NULL,
             checksum    BLOB NOT NULL,
             applied_at  INTEGER NOT NULL
         )",
    )
    .map_err(error)?;
    let applied: Vec<(i64, Vec<u8>)> = {
        let mut statement = tx
            .prepare("SELECT version, checksum FROM stripe_pulsora_migrations ORDER BY version")
            .map_err(error)?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(error)?;
        rows.collect::<Result<_, _>>().map_err(error)?
    };
    for migration in pending(MIGRATIONS, &applied)? {
        tx.execute_batch(migration.sql).map_err(error)?;
        tx.execute(
            "INSERT INTO stripe_pulsora_migrations (version, description, checksum, applied_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                migration.version,
                migration.description,
                migration.checksum(),
                unix_millis()
            ],
        )
        .map_err(error)?;
        tracing::info!(
            version = migration.version,
            "sqlite store migrated: {}",
            migration.description
        );
    }
    tx.commit().map_err(error)
}

impl Claims for Sqlite {
    fn claim<'a>(
        &'a self,
        space: &'a Space,
        key: &'a str,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        let (space, key) = (space.name(), key.to_owned());
        Box::pin(async move {
            let sweep = self.sweep_due(unix_millis());
            self.run(move |connection, now| {
                if sweep {
                    purge(connection, now)?;
                }
                // One statement: insert, or take over an expired row; no row back means
                // someone holds it (the connection is ours alone, so the read that follows
                // sees the same row).
                let claimed = connection
                    .prepare_cached(
                        "INSERT INTO stripe_pulsora_claims (space, key, processed, token, expires_at)
                         VALUES (?1, ?2, 0, ?3, ?4)
                         ON CONFLICT (space, key) DO UPDATE
                             SET processed = 0, token = excluded.token, expires_at = excluded.expires_at
                             WHERE expires_at <= ?5
                         RETURNING 1",
                    )
                    .and_then(|mut s| {
                        s.query_row(
                            params![space, key, &token.to_bytes()[..], now.saturating_add(millis(lease)), now],
                            |_| Ok(()),
                        )
                        .optional()
                    })
                    .map_err(error)?
                    .is_some();
                if claimed {
                    return Ok(ClaimOutcome::Claimed);
                }
                let (processed, expires_at): (bool, i64) = connection
                    .prepare_cached(
                        "SELECT processed, expires_at FROM stripe_pulsora_claims WHERE space = ?1 AND key = ?2",
                    )
                    .and_then(|mut s| s.query_row(params![space, key], |row| Ok((row.get(0)?, row.get(1)?))))
                    .map_err(error)?;
                Ok(if processed {
                    ClaimOutcome::Processed
                } else {
                    ClaimOutcome::InFlight {
                        expires_in: Duration::from_millis(expires_at.saturating_sub(now).unsigned_abs()),
                    }
                })
            })
            .await
        })
    }

    fn commit<'a>(
        &'a self,
        space: &'a Space,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        let (space, key) = (space.name(), key.to_owned());
        Box::pin(self.run(move |connection, now| {
            let expires = now.saturating_add(millis(ttl));
            let held = connection
                .prepare_cached(
                    "UPDATE stripe_pulsora_claims SET processed = 1, token = NULL, expires_at = ?4
                     WHERE space = ?1 AND key = ?2 AND processed = 0 AND token = ?3 AND expires_at > ?5",
                )
                .and_then(|mut s| s.execute(params![space, key, &token.to_bytes()[..], expires, now]))
                .map_err(error)?
                > 0;
            if !held {
                // Lost or never held: record it as processed all the same (the work succeeded).
                connection
                    .prepare_cached(
                        "INSERT INTO stripe_pulsora_claims (space, key, processed, token, expires_at)
                         VALUES (?1, ?2, 1, NULL, ?3)
                         ON CONFLICT (space, key) DO UPDATE
                             SET processed = 1, token = NULL, expires_at = excluded.expires_at",
                    )
                    .and_then(|mut s| s.execute(params![space, key, expires]))
                    .map_err(error)?;
            }
            Ok(held)
        }))
    }

    fn release<'a>(
        &'a self,
        space: &'a Space,
        key: &'a str,
        token: ClaimToken,
    ) -> StoreFuture<'a, bool> {
        let (space, key) = (space.name(), key.to_owned());
        Box::pin(self.run(move |connection, now| {
            // Compare-and-delete in one statement: only the holder's unexpired lease goes.
            let deleted = connection
                .prepare_cached(
                    "DELETE FROM stripe_pulsora_claims
                     WHERE space = ?1 AND key = ?2 AND processed = 0 AND token = ?3 AND expires_at > ?4",
                )
                .and_then(|mut s| s.execute(params![space, key, &token.to_bytes()[..], now]))
                .map_err(error)?;
            Ok(deleted > 0)
        }))
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        // A read of our own table: a deleted or corrupt file fails here, not just `SELECT 1`.
        Box::pin(self.run(|connection, _| {
            connection
                .query_row("SELECT count(*) FROM stripe_pulsora_migrations", [], |_| {
                    Ok(())
                })
                .map_err(error)
        }))
    }

    fn is_shared(&self) -> bool {
        false
    }
}

impl Documents for Sqlite {
    fn get_many<'a>(&'a self, keys: &'a [String]) -> StoreFuture<'a, Vec<Option<String>>> {
        let keys = keys.to_vec();
        Box::pin(self.run(move |connection, now| {
            let mut statement = connection
                .prepare_cached(
                    "SELECT value FROM stripe_pulsora_state WHERE key = ?1 AND expires_at > ?2",
                )
                .map_err(error)?;
            keys.iter()
                .map(|key| {
                    statement
                        .query_row(params![key, now], |row| row.get(0))
                        .optional()
                        .map_err(error)
                })
                .collect()
        }))
    }

    fn put_many<'a>(&'a self, documents: &'a [Document]) -> StoreFuture<'a, ()> {
        let documents = documents.to_vec();
        Box::pin(self.run(move |connection, now| {
            let tx = connection.transaction().map_err(error)?;
            write_documents(&tx, &documents, now)?;
            tx.commit().map_err(error)
        }))
    }
}

/// Upserts `documents` inside the caller's transaction (`put_many`, and the outbox commit that
/// writes them with its rows); `now` is Unix milliseconds.
fn write_documents(
    connection: &Connection,
    documents: &[Document],
    now: i64,
) -> Result<(), StoreError> {
    let mut statement = connection
        .prepare_cached(
            "INSERT INTO stripe_pulsora_state (key, value, expires_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE
                 SET value = excluded.value, expires_at = excluded.expires_at",
        )
        .map_err(error)?;
    for document in documents {
        let expires = now.saturating_add(millis(document.ttl));
        statement
            .execute(params![document.key, document.value, expires])
            .map_err(error)?;
    }
    Ok(())
}

impl fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sqlite")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// Busy or locked (another connection holds the write lock past the busy timeout), a full disk
/// or an I/O error may clear up; anything else (corruption, a schema clash) needs a look.
pub fn error(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::CannotOpen,
        ) => StoreError::Unavailable(format!("sqlite: {error}")),
        _ => StoreError::Backend(format!("sqlite: {error}")),
    }
}
