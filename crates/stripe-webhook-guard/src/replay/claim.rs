//! A claim held while the handler runs: committed on success, released otherwise, and released
//! from `Drop` when nobody finished it (a panic, or the response future dropped).

use super::guard::{with_timeout, Shared, Slot};
use super::store::ClaimToken;
use moka::ops::compute::Op;
use std::sync::Arc;

/// One key this delivery holds.
#[derive(Debug, Clone)]
pub(super) struct HeldKey {
    pub(super) key: Box<str>,
    /// The store granted our lease (or may have: the call is in flight). `false` when the
    /// store failed and the guard failed open: the store is settled in the background then, so
    /// a struggling store does not slow the response down a second time.
    pub(super) store_held: bool,
}

/// A claim on an event id (and its object key, when configured), held while the handler runs.
pub(crate) struct Claim {
    shared: Arc<Shared>,
    event_id: Box<str>,
    token: ClaimToken,
    /// Keys not settled yet; `finish` pops each one once its store and cache are updated.
    keys: Vec<HeldKey>,
    /// The handler's verdict once `finish` started, so a `Drop` halfway through `finish`
    /// completes the same verdict instead of releasing a success.
    success: Option<bool>,
}

impl Claim {
    pub(super) fn new(shared: Arc<Shared>, event_id: &str) -> Self {
        Self {
            shared,
            event_id: event_id.into(),
            token: ClaimToken::new(),
            keys: Vec::with_capacity(2),
            success: None,
        }
    }

    pub(super) fn token(&self) -> ClaimToken {
        self.token
    }

    pub(super) fn event_id(&self) -> &str {
        &self.event_id
    }

    pub(super) fn hold(&mut self, key: HeldKey) {
        self.keys.push(key);
    }

    pub(super) fn set_store_held(&mut self, store_held: bool) {
        if let Some(last) = self.keys.last_mut() {
            last.store_held = store_held;
        }
    }

    /// The last key was refused without the store granting anything: nothing to give back.
    pub(super) fn forget_last(&mut self) {
        self.keys.pop();
    }

    /// Commits (`success`: the handler answered 2xx) or releases every key, store first, then
    /// the cache.
    pub(crate) async fn finish(mut self, success: bool) {
        self.success = Some(success);
        while let Some(held) = self.keys.last().cloned() {
            settle(
                Arc::clone(&self.shared),
                self.event_id.clone(),
                self.token,
                held,
                success,
            )
            .await;
            self.keys.pop();
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        // Unfinished: the handler panicked, or the response future was dropped (the client
        // hung up). Settling is async and `Drop` must not block, so it runs as a task.
        let keys = std::mem::take(&mut self.keys);
        let success = self.success.unwrap_or(false);
        let (shared, event_id, token) =
            (Arc::clone(&self.shared), self.event_id.clone(), self.token);
        let task_shared = Arc::clone(&shared);
        spawn_or_warn(
            async move {
                for held in keys.into_iter().rev() {
                    settle(
                        Arc::clone(&task_shared),
                        event_id.clone(),
                        token,
                        held,
                        success,
                    )
                    .await;
                }
            },
            &shared,
        );
    }
}

/// Runs `task` on the current tokio runtime. Without one (a claim dropped by a non-tokio
/// executor, or during runtime shutdown) the store keeps the lease until it expires, which is
/// the crash case the lease TTL exists for.
fn spawn_or_warn(task: impl std::future::Future<Output = ()> + Send + 'static, shared: &Shared) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(task);
        }
        Err(_) => tracing::warn!(
            lease_ttl_secs = shared.config.lease_ttl.as_secs(),
            "no tokio runtime to settle a replay claim; it is freed when its lease expires"
        ),
    }
}

/// Store, then cache, for one key.
async fn settle(
    shared: Arc<Shared>,
    event_id: Box<str>,
    token: ClaimToken,
    held: HeldKey,
    success: bool,
) {
    let key = held.key.clone();
    if held.store_held {
        settle_store(Arc::clone(&shared), event_id, token, held, success).await;
    } else {
        spawn_or_warn(
            settle_store(Arc::clone(&shared), event_id, token, held, success),
            &shared,
        );
    }
    if !shared.config.cache_in_front {
        return;
    }
    if success {
        // A plain insert (cheaper than a compute): whatever raced with it, "processed" is
        // the truth now, and concurrent computes only ever write "processed" or nothing.
        shared.cache.insert(key, Slot::Processed).await;
        return;
    }
    shared
        .cache
        .entry(key)
        .and_compute_with(|entry| async move {
            // Only our own claim is removed: a later claim (after our lease expired) stays.
            match entry.map(|entry| entry.into_value()) {
                Some(Slot::InFlight(holder)) if holder == token => Op::Remove,
                _ => Op::Nop,
            }
        })
        .await;
}

async fn settle_store(
    shared: Arc<Shared>,
    event_id: Box<str>,
    token: ClaimToken,
    held: HeldKey,
    success: bool,
) {
    let config = &shared.config;
    let store = shared.store();
    let key = &*held.key;
    if success {
        match with_timeout(
            config.store_timeout,
            store.commit(key, token, config.processed_ttl),
        )
        .await
        {
            Ok(true) => {}
            Ok(false) if held.store_held => tracing::warn!(
                event_id = %event_id,
                key,
                "the claim's lease had expired before the handler finished; another delivery \
                 may have processed this event too (raise lease_ttl above the slowest handler)"
            ),
            Ok(false) => {}
            Err(error) => tracing::warn!(
                event_id = %event_id,
                key,
                %error,
                "could not record the event as processed; a retry may run the handler again"
            ),
        }
    } else if let Err(error) = with_timeout(config.store_timeout, store.release(key, token)).await {
        tracing::warn!(
            event_id = %event_id,
            key,
            %error,
            lease_ttl_secs = config.lease_ttl.as_secs(),
            "could not release the claim; retries get 409 until its lease expires"
        );
    }
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim")
            .field("event_id", &self.event_id)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}
