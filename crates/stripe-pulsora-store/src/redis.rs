//! The Redis backend: several instances behind one load balancer.

use crate::backend::{ClaimOutcome, Claims, Document, Documents, Space, StoreFuture};
use crate::{ClaimToken, StoreError};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

mod outbox;

pub use outbox::DEFAULT_OUTBOX_PREFIX;

/// `SET NX PX` claims atomically; when the key exists, reports what it holds in the same round
/// trip (a script runs atomically, so the key cannot change between the `SET` and the `GET`).
/// Returns `{1}` claimed, `{2}` processed, `{3, pttl}` leased to someone.
const CLAIM: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1}
end
if redis.call('GET', KEYS[1]) == ARGV[3] then
  return {2}
end
return {3, redis.call('PTTL', KEYS[1])}
";

/// Marks the key processed whoever holds it (the work succeeded); returns 1 when the lease
/// was still ours.
const COMMIT: &str = r"
local held = redis.call('GET', KEYS[1]) == ARGV[1]
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
if held then return 1 end
return 0
";

/// Compare-and-delete: only the holder's lease goes. The one script every release and unlock
/// uses.
const COMPARE_AND_DELETE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A Redis server shared by every schema and every instance (feature `redis`).
///
/// One [`ConnectionManager`] (a multiplexed connection that reconnects after an error) and the
/// three claim scripts, run with `EVALSHA` (falling back to `EVAL`). Claims are keys
/// `<space prefix><key>` holding the holder's token or the space's processed value, expiring by
/// themselves (`PX`), so nothing needs sweeping. Run Redis with AOF persistence
/// (`appendonly yes`) if processed ids and ledgers must survive a Redis restart — and, with the
/// outbox, acknowledged events not yet delivered. The outbox is hashes and sorted sets under
/// [`DEFAULT_OUTBOX_PREFIX`], one Lua script per method (see [`Outbox`](crate::Outbox)).
///
/// ```no_run
/// use stripe_pulsora_store::Redis;
/// # async fn run() -> Result<(), stripe_pulsora_store::StoreError> {
/// let redis = Redis::connect("redis://127.0.0.1:6379/").await?;
/// # let _ = redis; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Redis {
    connection: ConnectionManager,
    scripts: Arc<Scripts>,
    /// Where the outbox's keys live ([`DEFAULT_OUTBOX_PREFIX`]).
    outbox_prefix: Arc<str>,
}

struct Scripts {
    claim: Script,
    commit: Script,
    release: Script,
    outbox: outbox::OutboxScripts,
}

impl Redis {
    /// Connects to `url` (`redis://[user:password@]host:port/db`). Fails when Redis cannot be
    /// reached now; once connected, lost connections are re-established on the next call.
    /// Connecting times out after 1 s, each command after 2 s.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(error)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(1))
            .set_response_timeout(Duration::from_secs(2))
            // A few quick reconnection attempts; callers bound the wait with their own timeout.
            .set_number_of_retries(2)
            .set_factor(50)
            .set_max_delay(500);
        let connection = tokio::time::timeout(
            Duration::from_secs(3),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| StoreError::Unavailable("redis: connection timed out".into()))?
        .map_err(error)?;
        Ok(Self::with_connection(connection))
    }

    /// Uses a connection you configured yourself.
    pub fn with_connection(connection: ConnectionManager) -> Self {
        Self {
            connection,
            scripts: Arc::new(Scripts {
                claim: Script::new(CLAIM),
                commit: Script::new(COMMIT),
                release: Script::new(COMPARE_AND_DELETE),
                outbox: outbox::OutboxScripts::new(),
            }),
            outbox_prefix: Arc::from(DEFAULT_OUTBOX_PREFIX),
        }
    }

    /// Puts the outbox's keys under `prefix` instead of [`DEFAULT_OUTBOX_PREFIX`] (several
    /// endpoints on one Redis, or tests).
    #[must_use]
    pub fn with_outbox_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.outbox_prefix = Arc::from(prefix.into());
        self
    }

    /// The connection, for schemas of other crates that need their own commands.
    pub fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }
}

fn key(space: &Space, key: &str) -> String {
    let prefix = space.redis_prefix();
    let mut full = String::with_capacity(prefix.len() + key.len());
    full.push_str(prefix);
    full.push_str(key);
    full
}

impl Claims for Redis {
    fn claim<'a>(
        &'a self,
        space: &'a Space,
        key_: &'a str,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let answer: Vec<i64> = self
                .scripts
                .claim
                .key(key(space, key_))
                .arg(token.to_string())
                .arg(px(lease))
                .arg(space.redis_processed_value())
                .invoke_async(&mut connection)
                .await
                .map_err(error)?;
            match answer.as_slice() {
                [1] => Ok(ClaimOutcome::Claimed),
                [2] => Ok(ClaimOutcome::Processed),
                // PTTL is -1 for a key without expiry (not one of ours) and -2 when it just
                // vanished; either way report a short wait rather than a negative one.
                [3, pttl] => Ok(ClaimOutcome::InFlight {
                    expires_in: Duration::from_millis(u64::try_from(*pttl).unwrap_or(0)),
                }),
                other => Err(StoreError::Backend(format!(
                    "redis: unexpected claim answer {other:?}"
                ))),
            }
        })
    }

    fn commit<'a>(
        &'a self,
        space: &'a Space,
        key_: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let held: i64 = self
                .scripts
                .commit
                .key(key(space, key_))
                .arg(token.to_string())
                .arg(px(ttl))
                .arg(space.redis_processed_value())
                .invoke_async(&mut connection)
                .await
                .map_err(error)?;
            Ok(held == 1)
        })
    }

    fn release<'a>(
        &'a self,
        space: &'a Space,
        key_: &'a str,
        token: ClaimToken,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let deleted: i64 = self
                .scripts
                .release
                .key(key(space, key_))
                .arg(token.to_string())
                .invoke_async(&mut connection)
                .await
                .map_err(error)?;
            Ok(deleted == 1)
        })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
                .map(|_| ())
                .map_err(error)
        })
    }

    fn is_shared(&self) -> bool {
        true
    }
}

impl Documents for Redis {
    fn get_many<'a>(&'a self, keys: &'a [String]) -> StoreFuture<'a, Vec<Option<String>>> {
        Box::pin(async move {
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            let mut connection = self.connection.clone();
            redis::cmd("MGET")
                .arg(keys)
                .query_async(&mut connection)
                .await
                .map_err(error)
        })
    }

    fn put_many<'a>(&'a self, documents: &'a [Document]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if documents.is_empty() {
                return Ok(());
            }
            let mut pipe = redis::pipe();
            // MULTI/EXEC: all or none.
            pipe.atomic();
            for document in documents {
                pipe.cmd("SET")
                    .arg(&document.key)
                    .arg(&document.value)
                    .arg("PX")
                    .arg(px(document.ttl))
                    .ignore();
            }
            let mut connection = self.connection.clone();
            pipe.query_async::<()>(&mut connection).await.map_err(error)
        })
    }
}

/// Never prints the connection (its URL may carry a password).
impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis").finish_non_exhaustive()
    }
}

/// Network trouble may clear up; a wrong answer or a refused command will not. The redis
/// crate's messages name the failure, not the URL, so they carry no credentials.
pub fn error(error: redis::RedisError) -> StoreError {
    let text = format!("redis: {error}");
    if error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.kind() == redis::ErrorKind::BusyLoadingError
        || error.kind() == redis::ErrorKind::TryAgain
    {
        StoreError::Unavailable(text)
    } else {
        StoreError::Backend(text)
    }
}

/// `PX` wants at least 1 ms, and at most what still fits Redis's clock arithmetic: a
/// century stands for "practically forever".
fn px(duration: Duration) -> u64 {
    const CENTURY_MS: u64 = 100 * 365 * 24 * 60 * 60 * 1000;
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, CENTURY_MS)
}
