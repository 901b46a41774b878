//! Acknowledge first: a durable outbox between Stripe and Pulsora.
//!
//! Stripe wants a `2xx` quickly and stops retrying an event after about three days. With a
//! durable state store (SQLite, PostgreSQL, Redis) given to
//! [`RevenueSync::outbox`](crate::RevenueSync::outbox), a webhook is answered as soon as its
//! revenue events are safe on disk:
//!
//! 1. the event is mapped exactly as in the inline path (same subject lock, same state);
//! 2. **one transaction** writes the state update and one outbox row per revenue event, keyed
//!    by its transaction id (an id already pending, dead-lettered or delivered is skipped), in a
//!    queue named by the event's subject (subscription, else charge, else customer);
//! 3. Stripe gets `200 {"received":true,"queued":n,"already_sent":m}`. Pulsora is never awaited
//!    on Stripe's request, so a slow or absent Pulsora cannot time Stripe out.
//!
//! The [`OutboxWorker`] then delivers: it leases due rows (only the head of each queue, so one
//! subscription's events reach Pulsora in ledger order), sends each with one attempt, and marks
//! it sent on Pulsora's 2xx. A transient failure is rescheduled with exponential backoff and
//! full jitter, never earlier than Pulsora's `Retry-After`, for up to 7 days ([`Retries`]);
//! after that, and at once for a refusal of the payload (400, 422), the row becomes a **dead
//! letter**: a row with its reason, listed, retried and dropped with the store's
//! [`Outbox`] methods (`stripe-pulsora dead-letters`). A refused
//! token or endpoint (401, 403, 404, 3xx) dead-letters nothing: delivery stops, every row stays
//! pending, the fault is logged loudly once, readiness reports it, and one row is tried every
//! 30 s until Pulsora accepts it.
//!
//! **The one at-least-once window.** A row is marked sent only after Pulsora's 2xx. If the
//! process dies between that answer and the mark (or the mark fails), the row's lease expires
//! and it is sent again, with the same `transaction_id`, which is what Pulsora documents for
//! deduplication ("use the same transaction_id to avoid duplicates when retrying"). Nothing else
//! sends a row twice: leases keep concurrent workers apart, and an acknowledged event is on disk
//! before Stripe hears `200`.
//!
//! **The in-memory store stays inline.** Without a durable store there is no outbox: a crash
//! would lose an acknowledged event, so [`RevenueSync`](crate::RevenueSync) sends before it
//! answers and Stripe's retries are the queue.
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use stripe_revenue::{RevenueSync, SqliteStateStore};
//!
//! let sync = RevenueSync::new(pulsora::Revenue::from_env()?)
//!     .outbox(SqliteStateStore::open("state.sqlite3")?); // acknowledge first
//! if let Some(worker) = sync.outbox_worker() {
//!     tokio::spawn(worker.run(std::future::pending())); // runs until the process ends
//! }
//! // route Stripe's webhook to `revenue_handler` with `sync` as state
//! # Ok(()) }
//! ```

mod backoff;
mod clock;
pub(crate) mod store;
mod worker;

pub use backoff::{Retries, DEFAULT_HORIZON};
pub use clock::{Clock, ManualClock, SystemClock};
pub use stripe_pulsora_store::{DeadLetterRow, LeasedRow, Outbox, OutboxRow, OutboxStats};
pub use worker::{
    OutboxWorker, Pass, DEFAULT_BATCH, DEFAULT_CONCURRENCY, DEFAULT_LEASE, DEFAULT_POLL_INTERVAL,
    DEFAULT_PROBE_INTERVAL, DEFAULT_STATS_INTERVAL,
};
