//! A claim `RevenueSync` holds in the state store (a transaction id being sent, a subject
//! lock), given back from `Drop` when the delivery is cut before it finished (the client hung
//! up, the server shut down), so a retry is not blocked for the lease time.

use crate::store::{ClaimToken, StateError, StateStore};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A transaction id claimed before sending it.
    Sent,
    /// A cross-instance subject lock.
    Lock,
}

pub(crate) struct Held {
    store: Arc<dyn StateStore>,
    kind: Kind,
    key: String,
    token: ClaimToken,
    /// `false` once committed or released.
    armed: bool,
}

impl Held {
    pub(crate) fn new(
        store: Arc<dyn StateStore>,
        kind: Kind,
        key: &str,
        token: ClaimToken,
    ) -> Self {
        Self {
            store,
            kind,
            key: key.to_owned(),
            token,
            armed: true,
        }
    }

    /// Records the transaction id as sent.
    pub(crate) async fn commit(mut self) -> Result<bool, StateError> {
        self.armed = false;
        self.store.commit_sent(&self.key, self.token).await
    }

    /// Gives the claim back.
    pub(crate) async fn release(mut self) -> Result<(), StateError> {
        self.armed = false;
        release(&*self.store, self.kind, &self.key, self.token).await
    }
}

async fn release(
    store: &dyn StateStore,
    kind: Kind,
    key: &str,
    token: ClaimToken,
) -> Result<(), StateError> {
    match kind {
        Kind::Sent => store.release_sent(key, token).await.map(|_| ()),
        Kind::Lock => store.unlock(key, token).await,
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // `Drop` cannot wait: the release runs as a task. Without a runtime (shutdown) the
        // lease expires by itself, the crash case leases exist for.
        let (store, kind, key, token) = (
            Arc::clone(&self.store),
            self.kind,
            std::mem::take(&mut self.key),
            self.token,
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = release(&*store, kind, &key, token).await {
                    tracing::warn!(%error, ?kind, "claim of a cut delivery not released; its lease expires by itself");
                }
            });
        }
    }
}
