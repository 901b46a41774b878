use super::KeyValue;
use crate::store::StateError;
use redis::aio::ConnectionManager;
use std::fmt;
use std::time::Duration;

/// The mapping's state in Redis (feature `redis`), shared by every instance of the bridge.
///
/// ```no_run
/// # async fn demo() -> Result<(), stripe_revenue::StateError> {
/// use stripe_revenue::{RedisStateStore, RevenueSync};
/// let sync = RevenueSync::new(pulsora::Revenue::dry_run())
///     .state_store(RedisStateStore::connect("redis://127.0.0.1:6379/").await?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStateStore {
    connection: ConnectionManager,
}

impl fmt::Debug for RedisStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: never print it.
        f.debug_struct("RedisStateStore").finish_non_exhaustive()
    }
}

fn error(e: redis::RedisError) -> StateError {
    StateError(format!("redis: {}", e.category()))
}

/// How long one Redis round trip may take before the delivery is answered 503.
const TIMEOUT: Duration = Duration::from_secs(2);

impl RedisStateStore {
    /// Connects to `url` (`redis://…`). The connection reconnects by itself after an outage.
    pub async fn connect(url: &str) -> Result<Self, StateError> {
        let client = redis::Client::open(url).map_err(error)?;
        let connection = tokio::time::timeout(TIMEOUT, ConnectionManager::new(client))
            .await
            .map_err(|_| StateError("redis: connection timed out".into()))?
            .map_err(error)?;
        Ok(Self { connection })
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        command: redis::Pipeline,
    ) -> Result<T, StateError> {
        let mut connection = self.connection.clone();
        tokio::time::timeout(TIMEOUT, command.query_async(&mut connection))
            .await
            .map_err(|_| StateError("redis: timed out".into()))?
            .map_err(error)
    }
}

impl KeyValue for RedisStateStore {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, StateError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.cmd("MGET").arg(keys);
        let (values,): (Vec<Option<String>>,) = self.run(pipe).await?;
        Ok(values)
    }

    async fn put_many(&self, entries: &[(String, String, Duration)]) -> Result<(), StateError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (key, value, ttl) in entries {
            pipe.cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ttl.as_millis() as u64)
                .ignore();
        }
        self.run::<()>(pipe).await
    }

    async fn ping(&self) -> Result<(), StateError> {
        let mut pipe = redis::pipe();
        pipe.cmd("PING");
        self.run::<(String,)>(pipe).await.map(|_| ())
    }
}

/// How long a subject lock lives if its holder dies before unlocking.
const LOCK_TTL: Duration = Duration::from_secs(10);
/// How long to wait for a busy subject before answering 503 (Stripe retries).
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Deletes the lock only if it still holds our token.
const UNLOCK: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

fn lock_key(subject: &str) -> String {
    format!("stripe-pulsora:lock:{subject}")
}

/// A token unique to this lock holder: process, time and a counter.
fn new_token() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (u128::from(std::process::id()) << 96)
        ^ nanos
        ^ (u128::from(COUNTER.fetch_add(1, Ordering::Relaxed)) << 64)
}

impl RedisStateStore {
    pub(crate) async fn lock_subject(&self, subject: &str) -> Result<Option<u128>, StateError> {
        let token = new_token();
        let key = lock_key(subject);
        let started = std::time::Instant::now();
        loop {
            let mut pipe = redis::pipe();
            pipe.cmd("SET")
                .arg(&key)
                .arg(token.to_string())
                .arg("NX")
                .arg("PX")
                .arg(LOCK_TTL.as_millis() as u64);
            let (answer,): (Option<String>,) = self.run(pipe).await?;
            if answer.is_some() {
                return Ok(Some(token));
            }
            if started.elapsed() > LOCK_WAIT {
                return Err(StateError(format!(
                    "subject {subject} is being updated by another instance"
                )));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub(crate) async fn unlock_subject(
        &self,
        subject: &str,
        token: u128,
    ) -> Result<(), StateError> {
        let mut pipe = redis::pipe();
        pipe.cmd("EVAL")
            .arg(UNLOCK)
            .arg(1)
            .arg(lock_key(subject))
            .arg(token.to_string());
        self.run::<(i64,)>(pipe).await.map(|_| ())
    }
}

super::kv_state_store!(RedisStateStore, locking);
