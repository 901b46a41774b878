//! A replay store in an embedded SQLite file: one process, survives restarts.

use super::store::{ClaimOutcome, ReplayStore, StoreError, StoreFuture};
use super::token::ClaimToken;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often (at most) expired rows are deleted. Expired rows are ignored on lookup anyway.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS stripe_webhook_replay (
    key        TEXT PRIMARY KEY NOT NULL,
    processed  INTEGER NOT NULL,   -- 0: leased to `token`; 1: processed
    token      BLOB,               -- the lease holder's ClaimToken, NULL once processed
    expires_at INTEGER NOT NULL    -- Unix milliseconds
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stripe_webhook_replay_expires ON stripe_webhook_replay (expires_at);
";

/// Processed ids and leases in a SQLite file (rusqlite with SQLite compiled in), so a restart
/// within Stripe's retry window still answers duplicates. Feature `sqlite`.
///
/// Meant for one process: calls run on tokio's blocking pool behind one connection, in
/// `IMMEDIATE` transactions. The file is in WAL mode with `synchronous = NORMAL`: a crash of
/// the process loses nothing committed; a power cut may lose the last commits. Expired rows
/// are deleted at most once a minute during claims (and by [`purge_expired`](Self::purge_expired)).
///
/// ```no_run
/// use stripe_webhook::{SqliteStore, StripeWebhookLayer};
///
/// # fn main() -> Result<(), stripe_webhook::StoreError> {
/// let layer = StripeWebhookLayer::new("whsec_…")
///     .replay_store(SqliteStore::open("/var/lib/myapp/stripe-replay.sqlite3")?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    connection: Mutex<Connection>,
    path: PathBuf,
    /// Unix ms of the next sweep of expired rows.
    next_sweep: AtomicI64,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and its table. Blocking file I/O:
    /// call it at startup.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let connection = Connection::open(&path).map_err(error)?;
        connection
            .busy_timeout(Duration::from_secs(5))
            .map_err(error)?;
        // `journal_mode` answers with a row, so it is queried rather than executed.
        let _mode: String = connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(error)?;
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(error)?;
        connection.execute_batch(SCHEMA).map_err(error)?;
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

    /// Deletes expired rows now; returns how many.
    pub async fn purge_expired(&self) -> Result<usize, StoreError> {
        self.run(|connection, now| {
            connection
                .execute(
                    "DELETE FROM stripe_webhook_replay WHERE expires_at <= ?1",
                    [now],
                )
                .map_err(error)
        })
        .await
    }

    /// Runs `f` with the connection on the blocking pool: SQLite calls block on disk I/O and
    /// must not stall the async workers.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
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
            f(&mut connection, unix_millis())
        })
        .await
        .map_err(|join| StoreError::Backend(format!("sqlite task failed: {join}")))?
    }

    fn sweep_due(&self, now: i64) -> bool {
        let next = self.inner.next_sweep.load(Ordering::Relaxed);
        now >= next
            && self
                .inner
                .next_sweep
                .compare_exchange(
                    next,
                    now + millis(SWEEP_EVERY),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

impl ReplayStore for SqliteStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        let key = key.to_owned();
        Box::pin(async move {
            let sweep = self.sweep_due(unix_millis());
            self.run(move |connection, now| {
                let tx = connection
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(error)?;
                if sweep {
                    tx.execute(
                        "DELETE FROM stripe_webhook_replay WHERE expires_at <= ?1",
                        [now],
                    )
                    .map_err(error)?;
                }
                let current: Option<(bool, i64)> = tx
                    .query_row(
                        "SELECT processed, expires_at FROM stripe_webhook_replay WHERE key = ?1",
                        [&key],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()
                    .map_err(error)?;
                let outcome = match current {
                    Some((true, expires_at)) if expires_at > now => ClaimOutcome::Processed,
                    Some((false, expires_at)) if expires_at > now => ClaimOutcome::InFlight {
                        expires_in: Duration::from_millis((expires_at - now).unsigned_abs()),
                    },
                    // Never seen, or expired: lease it.
                    _ => {
                        tx.execute(
                            "INSERT OR REPLACE INTO stripe_webhook_replay (key, processed, token, expires_at)
                             VALUES (?1, 0, ?2, ?3)",
                            params![key, &token.to_bytes()[..], now.saturating_add(millis(lease))],
                        )
                        .map_err(error)?;
                        ClaimOutcome::Claimed
                    }
                };
                tx.commit().map_err(error)?;
                Ok(outcome)
            })
            .await
        })
    }

    fn commit<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        let key = key.to_owned();
        Box::pin(self.run(move |connection, now| {
            let tx = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(error)?;
            let held = tx
                .query_row(
                    "SELECT 1 FROM stripe_webhook_replay
                     WHERE key = ?1 AND processed = 0 AND token = ?2 AND expires_at > ?3",
                    params![key, &token.to_bytes()[..], now],
                    |_| Ok(()),
                )
                .optional()
                .map_err(error)?
                .is_some();
            tx.execute(
                "INSERT OR REPLACE INTO stripe_webhook_replay (key, processed, token, expires_at)
                 VALUES (?1, 1, NULL, ?2)",
                params![key, now.saturating_add(millis(ttl))],
            )
            .map_err(error)?;
            tx.commit().map_err(error)?;
            Ok(held)
        }))
    }

    fn release<'a>(&'a self, key: &'a str, token: ClaimToken) -> StoreFuture<'a, bool> {
        let key = key.to_owned();
        Box::pin(self.run(move |connection, now| {
            // Compare-and-delete in one statement: only the holder's unexpired lease goes.
            let deleted = connection
                .execute(
                    "DELETE FROM stripe_webhook_replay
                     WHERE key = ?1 AND processed = 0 AND token = ?2 AND expires_at > ?3",
                    params![key, &token.to_bytes()[..], now],
                )
                .map_err(error)?;
            Ok(deleted > 0)
        }))
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// Busy or locked (another connection holds the write lock past the busy timeout) may clear
/// up; anything else needs a look.
fn error(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(format!("sqlite: {error}"))
        }
        _ => StoreError::Backend(format!("sqlite: {error}")),
    }
}

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
