//! The storage layer under `stripe-webhook-guard`'s replay ids and `stripe-revenue`'s mapping state:
//! one implementation per backend, thin schemas on top.
//!
//! | backend | type | processes | survives a restart | outbox | feature |
//! |---|---|---|---|---|---|
//! | memory ([moka]) | [`Memory`] | one | no | no (the bridge stays inline) | always |
//! | SQLite file | `Sqlite` | one | yes | yes | `sqlite` |
//! | Redis | `Redis` | many | with AOF (`appendonly yes`) | yes | `redis` |
//! | PostgreSQL | `Postgres` | many | yes | yes | `postgres` |
//!
//! Every backend offers the same two things:
//! - [`Claims`]: keys leased to a random [`ClaimToken`] for a while, then committed
//!   ("processed", kept for a retention) or released, atomically per key. Replay ids, the
//!   transaction ids being sent to Pulsora and cross-instance subject locks are three
//!   [`Space`]s of claims.
//! - [`Documents`]: small JSON values under a key with a time to live (the MRR ledgers,
//!   refund marks, learned attribution).
//!
//! The durable backends add a third, [`Outbox`] (module [`outbox`]): revenue events committed
//! in one atomic step with the state change that produced them, leased to delivery workers one
//! per queue at a time in enqueue order, recorded as sent in the same `sent` claims space the
//! inline path uses, and moved to dead letters you can list, retry and drop.
//!
//! Errors are one [`StoreError`]: [`Unavailable`](StoreError::Unavailable) is transient (answer
//! `503`, Stripe retries), [`Backend`](StoreError::Backend) needs a look.
//!
//! The SQL backends create and migrate their schema at start-up with embedded, versioned,
//! checksummed migrations under a lock (SQLite's write lock, a PostgreSQL advisory lock), so
//! several instances may start at once: 1, claims and documents; 2, the outbox, its queue
//! heads and its dead letters.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod backend;
mod error;
mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod migrate;
pub mod outbox;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod time;
mod token;

pub use backend::{ClaimOutcome, Claims, Document, Documents, Space, StoreFuture};
pub use error::StoreError;
pub use memory::{Memory, DEFAULT_DOCUMENT_BYTES};
pub use outbox::{DeadLetterRow, LeasedRow, Outbox, OutboxRow, OutboxStats, MAX_REASON_BYTES};
#[cfg(feature = "postgres")]
pub use postgres::Postgres;
#[cfg(feature = "redis")]
pub use redis::Redis;
#[cfg(feature = "sqlite")]
pub use sqlite::Sqlite;
pub use token::ClaimToken;
