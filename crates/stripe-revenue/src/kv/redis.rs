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

super::kv_state_store!(RedisStateStore);
