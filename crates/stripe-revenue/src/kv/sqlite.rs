use super::KeyValue;
use crate::store::StateError;
use rusqlite::{params, Connection, OptionalExtension};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The mapping's state in an SQLite file (feature `sqlite`): one process, survives restarts.
/// It can share the file of the replay store (`stripe_webhook::SqliteStore`): it uses its own
/// table.
///
/// ```no_run
/// use stripe_revenue::{RevenueSync, SqliteStateStore};
/// # fn main() -> Result<(), stripe_revenue::StateError> {
/// let sync = RevenueSync::new(pulsora::Revenue::dry_run())
///     .state_store(SqliteStateStore::open("/var/lib/stripe-pulsora/state.sqlite3")?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqliteStateStore {
    connection: Arc<Mutex<Connection>>,
}

impl fmt::Debug for SqliteStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStateStore").finish_non_exhaustive()
    }
}

fn error(e: impl fmt::Display) -> StateError {
    StateError(format!("sqlite: {e}"))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl SqliteStateStore {
    /// Opens (creating if needed) the database at `path`. Blocking: call it at start-up.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StateError> {
        let connection = Connection::open(path).map_err(error)?;
        connection
            .busy_timeout(Duration::from_secs(5))
            .map_err(error)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 CREATE TABLE IF NOT EXISTS stripe_revenue_state (
                     key        TEXT PRIMARY KEY NOT NULL,
                     value      TEXT NOT NULL,
                     expires_at INTEGER NOT NULL
                 ) WITHOUT ROWID;
                 DELETE FROM stripe_revenue_state WHERE expires_at <= CAST(strftime('%s','now') AS INTEGER) * 1000;",
            )
            .map_err(error)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StateError> + Send + 'static,
    ) -> Result<T, StateError> {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let mut guard = connection.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut guard)
        })
        .await
        .map_err(error)?
    }
}

impl KeyValue for SqliteStateStore {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, StateError> {
        let keys = keys.to_vec();
        self.blocking(move |c| {
            let now = now_ms();
            let mut statement = c
                .prepare_cached(
                    "SELECT value FROM stripe_revenue_state WHERE key = ?1 AND expires_at > ?2",
                )
                .map_err(error)?;
            keys.iter()
                .map(|k| {
                    statement
                        .query_row(params![k, now], |row| row.get(0))
                        .optional()
                        .map_err(error)
                })
                .collect()
        })
        .await
    }

    async fn put_many(&self, entries: &[(String, String, Duration)]) -> Result<(), StateError> {
        let entries = entries.to_vec();
        self.blocking(move |c| {
            let tx = c.transaction().map_err(error)?;
            {
                let mut statement = tx
                    .prepare_cached(
                        "INSERT INTO stripe_revenue_state (key, value, expires_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                    )
                    .map_err(error)?;
                for (key, value, ttl) in &entries {
                    let expires = now_ms().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
                    statement.execute(params![key, value, expires]).map_err(error)?;
                }
            }
            tx.commit().map_err(error)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StateError> {
        self.blocking(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(error))
            .await
    }
}

super::kv_state_store!(SqliteStateStore);
