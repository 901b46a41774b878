//! placeholder docs
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attribution;
pub mod currency;
mod draft;
pub mod fixtures;
mod handler;
#[cfg(any(feature = "sqlite", feature = "redis"))]
mod kv;
mod map;
pub mod mrr;
mod policy;
pub mod state;
mod store;
pub mod stripe;
#[cfg(feature = "stripe-api")]
mod stripe_api;
mod sync;

pub use draft::is_collected_money;
#[cfg(feature = "actix-web")]
pub use handler::actix_revenue_handler;
#[cfg(feature = "axum")]
pub use handler::revenue_handler;
#[cfg(feature = "redis")]
pub use kv::RedisStateStore;
#[cfg(feature = "sqlite")]
pub use kv::SqliteStateStore;
#[cfg(any(feature = "sqlite", feature = "redis"))]
pub use kv::{SENT_TTL, STATE_TTL};
pub use map::{map_event, subjects, MapError, Mapping, Subjects};
pub use policy::{CurrencyConverter, InvoiceEvent, Policy, RefundSign, PLACEHOLDER_ATTRIBUTION};
pub use store::{MemoryStateStore, StateError, StateStore, StoreFuture};
#[cfg(feature = "stripe-api")]
pub use stripe_api::{LookupError, StripeApi, STRIPE_API_BASE};
pub use sync::{DeadLetter, LogDeadLetter, RevenueSync, SyncOutcome};
