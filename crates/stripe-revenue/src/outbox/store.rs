//! The outbox as `RevenueSync` and the worker see it: the shared store layer's
//! [`Outbox`](stripe_pulsora_store::Outbox) schema, bound to the state store's own space of
//! delivered ids and time-to-live settings, behind one object-safe trait.

use crate::kv::KvStateStore;
use crate::state::StateUpdate;
use crate::store::{ClaimToken, StateError, StoreFuture};
use std::time::Duration;
use stripe_pulsora_store::{LeasedRow, Outbox, OutboxRow, OutboxStats};

/// What the acknowledge-first path and the delivery worker need from a durable store.
pub(crate) trait OutboxStore: Send + Sync + 'static {
    /// In one transaction: the mapping's state updates and the rows to send (rows whose id is
    /// pending, dead or already sent are skipped). Returns how many rows were added.
    fn commit<'a>(
        &'a self,
        updates: &'a [StateUpdate],
        rows: &'a [OutboxRow],
        now_ms: i64,
    ) -> StoreFuture<'a, usize>;

    fn lease_due(
        &self,
        now_ms: i64,
        limit: usize,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'_, Vec<LeasedRow>>;

    /// Records the row's transaction id as delivered and removes the row.
    fn mark_sent<'a>(
        &'a self,
        id: &'a str,
        token: ClaimToken,
        now_ms: i64,
    ) -> StoreFuture<'a, bool>;

    fn reschedule<'a>(
        &'a self,
        id: &'a str,
        token: ClaimToken,
        due_at_ms: i64,
        error: &'a str,
    ) -> StoreFuture<'a, bool>;

    fn release_lease<'a>(&'a self, id: &'a str, token: ClaimToken) -> StoreFuture<'a, bool>;

    fn dead_letter<'a>(
        &'a self,
        id: &'a str,
        token: ClaimToken,
        reason: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, bool>;

    fn stats(&self) -> StoreFuture<'_, OutboxStats>;
}

impl<B: Outbox> OutboxStore for KvStateStore<B> {
    fn commit<'a>(
        &'a self,
        updates: &'a [StateUpdate],
        rows: &'a [OutboxRow],
        now_ms: i64,
    ) -> StoreFuture<'a, usize> {
        Box::pin(async move {
            let documents = self.documents(updates)?;
            self.backend()
                .commit_outbox(self.sent_space(), &documents, rows, now_ms)
                .await
        })
    }

    fn lease_due(
        &self,
        now_ms: i64,
        limit: usize,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'_, Vec<LeasedRow>> {
        self.backend().lease_due(now_ms, limit, token, lease)
    }

    fn mark_sent<'a>(
        &'a self,
        id: &'a str,
        token: ClaimToken,
        now_ms: i64,
    ) -> StoreFuture<'a, bool> {
        self.backend()
            .mark_sent(self.sent_space(), id, token, now_ms, self.ttls().sent)
    }

    fn reschedule<'a>(
        &'a self,
        id: &'a str,
        token: ClaimToken,
        due_at_ms: i64,
        error: &'a str,
    ) -> StoreFuture<'a, bool> {
        self.backend().reschedule(id, token, due_at_ms, error)
    }

    fn release_lease<'a>(&'a self, id: &'a str, token: ClaimToken) -> StoreFuture<'a, bool> {
        self.backend().release_lease(id, token)
    }

    fn dead_letter<'a>(
        &'a self,
        id: &'a str,
        token: ClaimToken,
        reason: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, bool> {
        self.backend().dead_letter(id, token, reason, now_ms)
    }

    fn stats(&self) -> StoreFuture<'_, OutboxStats> {
        self.backend().stats()
    }
}

/// The rows for a mapping's revenue events: keyed by transaction id, queued by the event's
/// subject (subscription, else charge, else customer), so one subscription's rows go out in
/// ledger order. An event without a subject is its own queue.
pub(crate) fn rows(
    events: &[pulsora::RevenueEvent],
    queue: Option<&str>,
    stripe_event_id: &str,
) -> Result<Vec<OutboxRow>, StateError> {
    events
        .iter()
        .map(|event| {
            let payload = serde_json::to_string(event)
                .map_err(|e| StateError::Backend(format!("cannot encode a revenue event: {e}")))?;
            Ok(OutboxRow {
                id: event.transaction_id.clone(),
                queue: queue.unwrap_or(&event.transaction_id).to_owned(),
                payload,
                stripe_event_id: stripe_event_id.to_owned(),
            })
        })
        .collect()
}
