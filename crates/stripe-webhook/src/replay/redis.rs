//! A replay store in Redis, for several instances behind one load balancer.

use super::store::{ClaimOutcome, ReplayStore, StoreError, StoreFuture};
use super::token::ClaimToken;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The value of a processed key. Leases hold their token (32 hex digits), which never equals it.
const PROCESSED: &str = "processed";

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

/// Marks the key processed whoever holds it (the handler succeeded); returns 1 when the lease
/// was still ours.
const COMMIT: &str = r"
local held = redis.call('GET', KEYS[1]) == ARGV[1]
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
if held then return 1 end
return 0
";

/// Compare-and-delete: only the holder's lease goes.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Processed ids and leases in Redis, shared by every instance that points at the same server.
/// Feature `redis`.
///
/// A claim is `SET key token NX PX lease`; commit and release are small Lua scripts (run with
/// `EVALSHA`, falling back to `EVAL`) that compare the claim's token first, so only the claim
/// holder may release a lease. Keys are `<prefix><event id>` (default prefix
/// `stripe-webhook:replay:`) and expire by themselves (`PX`), so nothing needs sweeping.
///
/// The connection is a [`ConnectionManager`]: one multiplexed connection that reconnects after
/// an error. Run Redis with persistence (AOF) if processed ids must survive a Redis restart.
///
/// ```no_run
/// use stripe_webhook::{RedisStore, StripeWebhookLayer};
///
/// # async fn run() -> Result<(), stripe_webhook::StoreError> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379/").await?;
/// let layer = StripeWebhookLayer::new("whsec_…").replay_store(store);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: Arc<str>,
    scripts: Arc<Scripts>,
}

struct Scripts {
    claim: Script,
    commit: Script,
    release: Script,
}

impl RedisStore {
    /// Connects to `url` (`redis://[user:password@]host:port/db`, or `rediss://` where the
    /// redis crate's TLS features are enabled). Fails when Redis cannot be reached now; once
    /// connected, lost connections are re-established on the next call. Connecting and each
    /// command time out after 1 s.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(error)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(1))
            .set_response_timeout(Duration::from_secs(1))
            // A few quick reconnection attempts; the guard's own timeout bounds the wait.
            .set_number_of_retries(2)
            .set_factor(50)
            .set_max_delay(500);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(error)?;
        Ok(Self::with_connection(connection))
    }

    /// Uses a connection you configured yourself.
    pub fn with_connection(connection: ConnectionManager) -> Self {
        Self {
            connection,
            prefix: Arc::from("stripe-webhook:replay:"),
            scripts: Arc::new(Scripts {
                claim: Script::new(CLAIM),
                commit: Script::new(COMMIT),
                release: Script::new(RELEASE),
            }),
        }
    }

    /// Puts keys under `prefix` instead of `stripe-webhook:replay:` (several endpoints, or
    /// test and live mode, on one Redis).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

impl ReplayStore for RedisStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let answer: Vec<i64> = self
                .scripts
                .claim
                .key(self.key(key))
                .arg(token.to_string())
                .arg(millis(lease))
                .arg(PROCESSED)
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
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let held: i64 = self
                .scripts
                .commit
                .key(self.key(key))
                .arg(token.to_string())
                .arg(millis(ttl))
                .arg(PROCESSED)
                .invoke_async(&mut connection)
                .await
                .map_err(error)?;
            Ok(held == 1)
        })
    }

    fn release<'a>(&'a self, key: &'a str, token: ClaimToken) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let deleted: i64 = self
                .scripts
                .release
                .key(self.key(key))
                .arg(token.to_string())
                .invoke_async(&mut connection)
                .await
                .map_err(error)?;
            Ok(deleted == 1)
        })
    }
}

/// Never prints the connection (its URL may carry a password).
impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Network trouble may clear up; a wrong answer or a refused command will not. The redis
/// crate's messages name the failure, not the URL, so they carry no credentials.
fn error(error: redis::RedisError) -> StoreError {
    let text = format!("redis: {error}");
    if error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
    {
        StoreError::Unavailable(text)
    } else {
        StoreError::Backend(text)
    }
}

/// `PX` wants at least 1 ms.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}
