//! The outbox: revenue events acknowledged to Stripe and not yet accepted by Pulsora, and the
//! dead letters Pulsora refused. One trait, [`Outbox`], implemented by the durable backends
//! (SQLite, PostgreSQL, Redis); the rules they share (validation, lease arithmetic, row
//! decoding, stats shaping) live here once.
//!
//! # The model
//! - **Enqueue with the state.** [`commit_outbox`](Outbox::commit_outbox) writes the mapping's
//!   documents and the rows to send in one atomic step (one SQL transaction, one Lua script),
//!   so an acknowledged event has either both its state change and its rows, or neither.
//! - **One id, one row.** A row's `id` is Pulsora's transaction id. Enqueuing an id that is
//!   pending, dead, or recorded as sent in the `sent` claims space (by the outbox *or* by the
//!   inline path's [`Claims::commit`](crate::Claims::commit)) is a no-op.
//! - **Per-queue order.** Rows of one `queue` (a subscription or charge id) are leased one at a
//!   time in enqueue order: the second row waits while the first is pending, leased or backing
//!   off. Each backend keeps one *head* per non-empty queue with the time it becomes leasable
//!   (its due time, or the end of its lease), indexed, so [`lease_due`](Outbox::lease_due)
//!   reads only leasable heads, never the backlog behind them.
//! - **Leases.** A leased row belongs to a [`ClaimToken`] until `now + lease`; after that it is
//!   leasable again (the holder died). The holder keeps it until another `lease_due` takes it
//!   over: token-checked methods compare the token stored on the row, not the clock (they take
//!   no `now`), so a slow holder whose lease ran out but was not taken over may still finish.
//!   When the token is no longer the row's they answer `false` and change nothing, except
//!   [`mark_sent`](Outbox::mark_sent), which always records the id as sent (Pulsora did accept
//!   it).
//! - **Dead letters** are rows: listed, retried (back to pending at the end of their queue),
//!   dropped.
//!
//! Times are Unix milliseconds passed in by the caller (`now_ms`), so a worker can run on an
//! injected clock; instances sharing a store should share a clock (NTP), since leases compare
//! their times. Documents keep using the backend's own clock for their time to live, as
//! [`Documents::put_many`] does.
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn demo() -> Result<(), stripe_pulsora_store::StoreError> {
//! use std::time::Duration;
//! use stripe_pulsora_store::{ClaimToken, Outbox, OutboxRow, Space, Sqlite};
//!
//! let db = Sqlite::open("/var/lib/stripe-pulsora/state.sqlite3")?;
//! let sent = Space::new("sent");
//! let row = OutboxRow {
//!     id: "in_1_payment".into(),
//!     queue: "sub_1".into(),
//!     payload: r#"{"amount":1200}"#.into(),
//!     stripe_event_id: "evt_1".into(),
//! };
//! let now = 1_767_225_600_000;
//! assert_eq!(db.commit_outbox(&sent, &[], &[row], now).await?, 1);
//! let token = ClaimToken::new();
//! for leased in db.lease_due(now, 10, token, Duration::from_secs(60)).await? {
//!     // ... send leased.row.payload to Pulsora, then:
//!     db.mark_sent(&sent, &leased.row.id, token, now, Duration::from_secs(35 * 86_400)).await?;
//! }
//! # Ok(()) }
//! ```

use crate::backend::{Document, Documents, Space, StoreFuture};
use crate::ClaimToken;
use std::sync::Arc;
use std::time::Duration;

/// Longest error or dead-letter reason kept with a row, in bytes (cut at a character
/// boundary): enough for Pulsora's validation message, not for a whole HTML error page.
pub const MAX_REASON_BYTES: usize = 2_000;

/// One revenue event to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// Pulsora's transaction id: unique across pending rows, sent ids (within the sent
    /// retention) and dead letters, so enqueuing it again is a no-op. Not empty.
    pub id: String,
    /// The ordering key (a subscription or charge id): rows of one queue are delivered one at a
    /// time, in enqueue order. Not empty; a row that needs no order uses its `id`.
    pub queue: String,
    /// What to send, as JSON.
    pub payload: String,
    /// The Stripe event that produced the row (for logs and the dead-letter listing).
    pub stripe_event_id: String,
}

/// A row leased by [`Outbox::lease_due`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedRow {
    /// The row as enqueued.
    pub row: OutboxRow,
    /// Its position in enqueue order (grows over the whole outbox).
    pub seq: i64,
    /// Failed attempts so far (0 on the first lease).
    pub attempts: u32,
    /// When it was enqueued (Unix ms); a retried dead letter keeps its first enqueue time.
    pub enqueued_at_ms: i64,
    /// The error of the last failed attempt, if any.
    pub last_error: Option<String>,
}

/// How the outbox stands (for `stripe-pulsora outbox`, metrics and readiness).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Rows waiting to be delivered (leased ones included).
    pub pending: u64,
    /// The enqueue time (Unix ms) of the oldest pending row; `None` when nothing is pending.
    pub oldest_pending_enqueued_at_ms: Option<i64>,
    /// Dead letters held.
    pub dead: u64,
}

/// A row Pulsora refused, or one past the delivery horizon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterRow {
    /// The row as enqueued.
    pub row: OutboxRow,
    /// Why it died (Pulsora's answer, or the horizon).
    pub reason: String,
    /// Failed attempts before it died.
    pub attempts: u32,
    /// When it was first enqueued (Unix ms).
    pub enqueued_at_ms: i64,
    /// When it died (Unix ms).
    pub dead_at_ms: i64,
}

/// A durable outbox of rows to deliver, with leases and dead letters (see the
/// [module docs](self) for the model). Implemented by `Sqlite`, `Postgres` and `Redis`.
///
/// The examples below share this set-up:
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use std::time::Duration;
/// use stripe_pulsora_store::{ClaimToken, Outbox, OutboxRow, Space, Sqlite};
///
/// fn row(id: &str, queue: &str) -> OutboxRow {
///     OutboxRow { id: id.into(), queue: queue.into(), payload: "{}".into(), stripe_event_id: "evt_1".into() }
/// }
/// # let dir = tempfile::tempdir().unwrap();
/// let db = Sqlite::open(dir.path().join("outbox.sqlite3"))?;
/// let sent = Space::new("sent");
/// let (now, lease) = (1_767_225_600_000, Duration::from_secs(60));
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// db.commit_outbox(&sent, &[], &[row("tx_1", "sub_1"), row("tx_2", "sub_1")], now).await?;
/// let token = ClaimToken::new();
/// // One row of queue sub_1 at a time, the oldest first.
/// let leased = db.lease_due(now, 10, token, lease).await?;
/// assert_eq!(leased.len(), 1);
/// assert_eq!(leased[0].row.id, "tx_1");
/// # Ok::<_, stripe_pulsora_store::StoreError>(()) }).unwrap();
/// # }
/// # Ok::<_, stripe_pulsora_store::StoreError>(())
/// ```
pub trait Outbox: Documents {
    /// In ONE atomic step: writes `documents` (as [`Documents::put_many`] would) and enqueues
    /// `rows`, due at `now_ms`, skipping ids already pending, dead, or recorded as sent in the
    /// `sent` claims space (a lease there, an inline send in flight, does not count). Returns
    /// how many rows were newly enqueued. An id repeated within `rows` counts once (the first).
    /// An empty `id` or `queue` is refused (`Backend`) before anything is written.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// # use stripe_pulsora_store::{Document, Outbox, OutboxRow, Space, Sqlite};
    /// # use std::time::Duration;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Sqlite::open(dir.path().join("o.sqlite3"))?;
    /// # let row = OutboxRow { id: "tx_1".into(), queue: "sub_1".into(), payload: "{}".into(), stripe_event_id: "evt_1".into() };
    /// let sent = Space::new("sent");
    /// let ledger = Document { key: "stripe-pulsora:sub:sub_1".into(), value: "{}".into(), ttl: Duration::from_secs(60) };
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// assert_eq!(db.commit_outbox(&sent, &[ledger.clone()], &[row.clone()], 1_000).await?, 1);
    /// // The same transaction id again (a second event mapping to it): nothing new.
    /// assert_eq!(db.commit_outbox(&sent, &[ledger], &[row], 2_000).await?, 0);
    /// # Ok::<_, stripe_pulsora_store::StoreError>(()) }).unwrap();
    /// # }
    /// # Ok::<_, stripe_pulsora_store::StoreError>(())
    /// ```
    fn commit_outbox<'a>(
        &'a self,
        sent: &'a Space,
        documents: &'a [Document],
        rows: &'a [OutboxRow],
        now_ms: i64,
    ) -> StoreFuture<'a, usize>;

    /// Leases up to `limit` rows to `token` until `now_ms + lease`: rows that are due
    /// (`due_at <= now_ms`), not leased or whose lease expired, and the oldest pending row of
    /// their queue. Earliest leasable first. Concurrent callers (other connections, other
    /// instances) never get the same row while its lease runs (PostgreSQL: `FOR UPDATE SKIP
    /// LOCKED`; SQLite: the write lock; Redis: one script).
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// # use stripe_pulsora_store::{ClaimToken, Outbox, OutboxRow, Space, Sqlite};
    /// # use std::time::Duration;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Sqlite::open(dir.path().join("o.sqlite3"))?;
    /// # let row = OutboxRow { id: "tx_1".into(), queue: "sub_1".into(), payload: "{}".into(), stripe_event_id: "evt_1".into() };
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// db.commit_outbox(&Space::new("sent"), &[], &[row], 1_000).await?;
    /// let lease = Duration::from_secs(60);
    /// assert_eq!(db.lease_due(1_000, 10, ClaimToken::new(), lease).await?.len(), 1);
    /// // Leased: nobody else gets it...
    /// assert!(db.lease_due(1_000, 10, ClaimToken::new(), lease).await?.is_empty());
    /// // ...until the lease ends (its holder died).
    /// assert_eq!(db.lease_due(61_000, 10, ClaimToken::new(), lease).await?.len(), 1);
    /// # Ok::<_, stripe_pulsora_store::StoreError>(()) }).unwrap();
    /// # }
    /// # Ok::<_, stripe_pulsora_store::StoreError>(())
    /// ```
    fn lease_due<'a>(
        &'a self,
        now_ms: i64,
        limit: usize,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'a, Vec<LeasedRow>>;

    /// Pulsora accepted row `id`: removes it (pending or dead) and records the id as processed
    /// in the `sent` claims space for `sent_ttl` (the space the inline path uses, so switching
    /// modes never sends an id twice). The next row of its queue becomes leasable. Both happen
    /// even when `token` no longer held the lease; `true` when it did (`false`: another holder
    /// may have sent it too; log it).
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// # use stripe_pulsora_store::{ClaimOutcome, ClaimToken, Claims, Outbox, OutboxRow, Space, Sqlite};
    /// # use std::time::Duration;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Sqlite::open(dir.path().join("o.sqlite3"))?;
    /// # let row = OutboxRow { id: "tx_1".into(), queue: "sub_1".into(), payload: "{}".into(), stripe_event_id: "evt_1".into() };
    /// # let now = 4_102_444_800_000; // 2100: the inline claim below compares with today
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let sent = Space::new("sent");
    /// db.commit_outbox(&sent, &[], &[row], now).await?;
    /// let token = ClaimToken::new();
    /// let leased = db.lease_due(now, 1, token, Duration::from_secs(60)).await?;
    /// assert!(db.mark_sent(&sent, &leased[0].row.id, token, now, Duration::from_secs(86_400)).await?);
    /// // The inline path sees it sent as well.
    /// let claim = db.claim(&sent, "tx_1", ClaimToken::new(), Duration::from_secs(60)).await?;
    /// assert_eq!(claim, ClaimOutcome::Processed);
    /// # Ok::<_, stripe_pulsora_store::StoreError>(()) }).unwrap();
    /// # }
    /// # Ok::<_, stripe_pulsora_store::StoreError>(())
    /// ```
    fn mark_sent<'a>(
        &'a self,
        sent: &'a Space,
        id: &'a str,
        token: ClaimToken,
        now_ms: i64,
        sent_ttl: Duration,
    ) -> StoreFuture<'a, bool>;

    /// A transient failure of row `id`: attempts + 1, due again at `due_at_ms`, `error` kept
    /// (cut to [`MAX_REASON_BYTES`]), lease released. The rest of its queue keeps waiting.
    /// `false` (and nothing changed) when the row is not leased to `token` (any more).
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// # use stripe_pulsora_store::{ClaimToken, Outbox, OutboxRow, Space, Sqlite};
    /// # use std::time::Duration;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Sqlite::open(dir.path().join("o.sqlite3"))?;
    /// # let row = OutboxRow { id: "tx_1".into(), queue: "sub_1".into(), payload: "{}".into(), stripe_event_id: "evt_1".into() };
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # db.commit_outbox(&Space::new("sent"), &[], &[row], 1_000).await?;
    /// let (token, lease) = (ClaimToken::new(), Duration::from_secs(60));
    /// db.lease_due(1_000, 1, token, lease).await?;
    /// assert!(db.reschedule("tx_1", token, 5_000, "503 from Pulsora").await?);
    /// assert!(db.lease_due(4_999, 1, token, lease).await?.is_empty());
    /// let again = db.lease_due(5_000, 1, token, lease).await?;
    /// assert_eq!((again[0].attempts, again[0].last_error.as_deref()), (1, Some("503 from Pulsora")));
    /// # Ok::<_, stripe_pulsora_store::StoreError>(()) }).unwrap();
    /// # }
    /// # Ok::<_, stripe_pulsora_store::StoreError>(())
    /// ```
    fn reschedule<'a>(
        &'a self,
        id: &'a str,
        token: ClaimToken,
        due_at_ms: i64,
        error: &'a str,
    ) -> StoreFuture<'a, bool>;

    /// Gives the lease on row `id` back untouched (graceful shutdown between rows): leasable
    /// again at once, attempts unchanged. `false` when `token` no longer held it.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// # use stripe_pulsora_store::{ClaimToken, Outbox, OutboxRow, Space, Sqlite};
    /// # use std::time::Duration;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Sqlite::open(dir.path().join("o.sqlite3"))?;
    /// # let row = OutboxRow { id: "tx_1".into(), queue: "sub_1".into(), payload: "{}".into(), stripe_event_id: "evt_1".into() };
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # db.commit_outbox(&Space::new("sent"), &[], &[row], 1_000).await?;
    /// let (token, lease) = (ClaimToken::new(), Duration::from_secs(60));
    /// db.lease_due(1_000, 1, token, lease).await?;
    /// assert!(db.release_lease("tx_1", token).await?);
    /// assert_eq!(db.lease_due(1_000, 1, ClaimToken::new(), lease).await?[0].attempts, 0);
    /// # Ok::<_, stripe_pulsora_store::StoreError>(()) }).unwrap();
    /// # }
    /// # Ok::<_, stripe_pulsora_store::StoreError>(())
    /// ```
    fn release_lease<'a>(&'a self, id: &'a str, token: ClaimToken) -> StoreFuture<'a, bool>;

    /// Pulsora refused the payload itself (400/422), or the delivery horizon passed: moves row
    /// `id` to the dead letters with `reason` (cut to [`MAX_REASON_BYTES`]) and `now_ms` as its
    /// time of death; the next row of its queue becomes leasable. `false` (and nothing moved)
    /// when the row is not leased to `token` (any more).
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// # use stripe_pulsora_store::{ClaimToken, Outbox, OutboxRow, Space, Sqlite};
    /// # use std::time::Duration;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Sqlite::open(dir.path().join("o.sqlite3"))?;
    /// # let row = OutboxRow { id: "tx_1".into(), queue: "sub_1".into(), payload: "{}".into(), stripe_event_id: "evt_1".into() };
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # db.commit_outbox(&Space::new("sent"), &[], &[row], 1_000).await?;
    /// let token = ClaimToken::new();
    /// db.lease_due(1_000, 1, token, Duration::from_secs(60)).await?;
    /// assert!(db.dead_letter("tx_1", token, "422: amount must be positive", 2_000).await?);
    /// let dead = db.dead_letters(10).await?;
    /// assert_eq!((dead[0].row.id.as_str(), dead[0].dead_at_ms), ("tx_1", 2_000));
    /// # Ok::<_, stripe_pulsora_store::StoreError>(()) }).unwrap();
    /// # }
    /// # Ok::<_, stripe_pulsora_store::StoreError>(())
    /// ```
    fn dead_letter<'a>(
        &'a self,
        id: &'a str,
        token: ClaimToken,
        reason: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, bool>;

    /// Pending rows, the oldest one's enqueue time, and dead letters.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// # use stripe_pulsora_store::{Outbox, OutboxRow, OutboxStats, Space, Sqlite};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Sqlite::open(dir.path().join("o.sqlite3"))?;
    /// # let row = OutboxRow { id: "tx_1".into(), queue: "sub_1".into(), payload: "{}".into(), stripe_event_id: "evt_1".into() };
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// db.commit_outbox(&Space::new("sent"), &[], &[row], 1_000).await?;
    /// let stats = db.stats().await?;
    /// assert_eq!(stats, OutboxStats { pending: 1, oldest_pending_enqueued_at_ms: Some(1_000), dead: 0 });
    /// # Ok::<_, stripe_pulsora_store::StoreError>(()) }).unwrap();
    /// # }
    /// # Ok::<_, stripe_pulsora_store::StoreError>(())
    /// ```
    fn stats(&self) -> StoreFuture<'_, OutboxStats>;

    /// Up to `limit` dead letters, in the order they died (oldest first).
    ///
    /// See [`dead_letter`](Self::dead_letter) for an example.
    fn dead_letters(&self, limit: usize) -> StoreFuture<'_, Vec<DeadLetterRow>>;

    /// Puts dead letter `id` (or every dead letter: `None`) back to pending: due at `now_ms`,
    /// attempts 0, at the end of its queue, keeping its first enqueue time. Returns how many
    /// went back.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// # use stripe_pulsora_store::{ClaimToken, Outbox, OutboxRow, Space, Sqlite};
    /// # use std::time::Duration;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Sqlite::open(dir.path().join("o.sqlite3"))?;
    /// # let row = OutboxRow { id: "tx_1".into(), queue: "sub_1".into(), payload: "{}".into(), stripe_event_id: "evt_1".into() };
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # db.commit_outbox(&Space::new("sent"), &[], &[row], 1_000).await?;
    /// # let token = ClaimToken::new();
    /// # db.lease_due(1_000, 1, token, Duration::from_secs(60)).await?;
    /// # db.dead_letter("tx_1", token, "422", 2_000).await?;
    /// // The cause is fixed: send it again.
    /// assert_eq!(db.retry_dead(Some("tx_1"), 3_000).await?, 1);
    /// assert_eq!(db.lease_due(3_000, 1, token, Duration::from_secs(60)).await?[0].row.id, "tx_1");
    /// # Ok::<_, stripe_pulsora_store::StoreError>(()) }).unwrap();
    /// # }
    /// # Ok::<_, stripe_pulsora_store::StoreError>(())
    /// ```
    fn retry_dead<'a>(&'a self, id: Option<&'a str>, now_ms: i64) -> StoreFuture<'a, u64>;

    /// Deletes dead letter `id` for good; `true` when it existed.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// # use stripe_pulsora_store::{Outbox, Sqlite};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Sqlite::open(dir.path().join("o.sqlite3"))?;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// assert!(!db.drop_dead("tx_unknown").await?);
    /// # Ok::<_, stripe_pulsora_store::StoreError>(()) }).unwrap();
    /// # }
    /// # Ok::<_, stripe_pulsora_store::StoreError>(())
    /// ```
    fn drop_dead<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool>;
}

/// A backend shared through an `Arc` is the backend itself.
impl<B: Outbox + ?Sized> Outbox for Arc<B> {
    fn commit_outbox<'a>(
        &'a self,
        sent: &'a Space,
        documents: &'a [Document],
        rows: &'a [OutboxRow],
        now_ms: i64,
    ) -> StoreFuture<'a, usize> {
        (**self).commit_outbox(sent, documents, rows, now_ms)
    }

    fn lease_due<'a>(
        &'a self,
        now_ms: i64,
        limit: usize,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'a, Vec<LeasedRow>> {
        (**self).lease_due(now_ms, limit, token, lease)
    }

    fn mark_sent<'a>(
        &'a self,
        sent: &'a Space,
        id: &'a str,
        token: ClaimToken,
        now_ms: i64,
        sent_ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        (**self).mark_sent(sent, id, token, now_ms, sent_ttl)
    }

    fn reschedule<'a>(
        &'a self,
        id: &'a str,
        token: ClaimToken,
        due_at_ms: i64,
        error: &'a str,
    ) -> StoreFuture<'a, bool> {
        (**self).reschedule(id, token, due_at_ms, error)
    }

    fn release_lease<'a>(&'a self, id: &'a str, token: ClaimToken) -> StoreFuture<'a, bool> {
        (**self).release_lease(id, token)
    }

    fn dead_letter<'a>(
        &'a self,
        id: &'a str,
        token: ClaimToken,
        reason: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, bool> {
        (**self).dead_letter(id, token, reason, now_ms)
    }

    fn stats(&self) -> StoreFuture<'_, OutboxStats> {
        (**self).stats()
    }

    fn dead_letters(&self, limit: usize) -> StoreFuture<'_, Vec<DeadLetterRow>> {
        (**self).dead_letters(limit)
    }

    fn retry_dead<'a>(&'a self, id: Option<&'a str>, now_ms: i64) -> StoreFuture<'a, u64> {
        (**self).retry_dead(id, now_ms)
    }

    fn drop_dead<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        (**self).drop_dead(id)
    }
}

/// The rules every backend shares, written once.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
pub(crate) mod rules {
    use super::{OutboxRow, OutboxStats, MAX_REASON_BYTES};
    use crate::StoreError;
    use std::time::Duration;

    /// The rows to enqueue: refused as a whole when one has an empty id or queue; an id repeated
    /// within the batch keeps its first row.
    pub(crate) fn checked_rows(rows: &[OutboxRow]) -> Result<Vec<&OutboxRow>, StoreError> {
        let mut kept: Vec<&OutboxRow> = Vec::with_capacity(rows.len());
        for row in rows {
            if row.id.is_empty() || row.queue.is_empty() {
                return Err(StoreError::Backend(format!(
                    "outbox row with an empty {} (stripe event {}): nothing was written",
                    if row.id.is_empty() { "id" } else { "queue" },
                    row.stripe_event_id
                )));
            }
            if !kept.iter().any(|k| k.id == row.id) {
                kept.push(row);
            }
        }
        Ok(kept)
    }

    /// When a lease taken at `now_ms` ends (at least 1 ms later).
    pub(crate) fn lease_end(now_ms: i64, lease: Duration) -> i64 {
        let lease = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX).max(1);
        now_ms.saturating_add(lease)
    }

    /// `limit` as a row count for a query (0 stays 0: the backends answer an empty list).
    pub(crate) fn row_limit(limit: usize) -> i64 {
        i64::try_from(limit).unwrap_or(i64::MAX)
    }

    /// An error or reason cut to [`MAX_REASON_BYTES`] at a character boundary.
    pub(crate) fn bounded(text: &str) -> &str {
        if text.len() <= MAX_REASON_BYTES {
            return text;
        }
        let mut end = MAX_REASON_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        &text[..end]
    }

    /// A stored count or attempt number as the public type (negative never happens; 0 if it did).
    pub(crate) fn attempts(stored: i64) -> u32 {
        u32::try_from(stored.max(0)).unwrap_or(u32::MAX)
    }

    /// The stats from the three numbers every backend reads.
    pub(crate) fn stats(pending: i64, oldest: Option<i64>, dead: i64) -> OutboxStats {
        OutboxStats {
            pending: u64::try_from(pending).unwrap_or(0),
            oldest_pending_enqueued_at_ms: if pending > 0 { oldest } else { None },
            dead: u64::try_from(dead).unwrap_or(0),
        }
    }
}

#[cfg(all(test, any(feature = "sqlite", feature = "postgres", feature = "redis")))]
mod tests {
    use super::rules::*;
    use super::*;

    fn row(id: &str, queue: &str) -> OutboxRow {
        OutboxRow {
            id: id.into(),
            queue: queue.into(),
            payload: "{}".into(),
            stripe_event_id: "evt".into(),
        }
    }

    #[test]
    fn rows_are_checked_and_deduplicated_first_wins() {
        let mut second = row("a", "q2");
        second.payload = "later".into();
        let rows = [row("a", "q1"), row("b", "q1"), second];
        let kept = checked_rows(&rows).expect("valid");
        assert_eq!(kept.len(), 2);
        assert_eq!(
            (kept[0].queue.as_str(), kept[0].payload.as_str()),
            ("q1", "{}")
        );
        assert!(checked_rows(&[row("a", "q"), row("", "q")]).is_err());
        assert!(checked_rows(&[row("a", "")]).is_err());
    }

    #[test]
    fn reasons_are_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_REASON_BYTES);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_REASON_BYTES && cut.len() >= MAX_REASON_BYTES - 1);
        assert_eq!(bounded("short"), "short");
    }

    #[test]
    fn leases_last_at_least_a_millisecond_and_saturate() {
        assert_eq!(lease_end(10, Duration::ZERO), 11);
        assert_eq!(lease_end(i64::MAX - 1, Duration::from_secs(1)), i64::MAX);
        assert_eq!(stats(0, Some(5), 2).oldest_pending_enqueued_at_ms, None);
        assert_eq!(attempts(-1), 0);
    }
}
