//! # stripe-pulsora
//!
//! Stripe webhooks → Pulsora revenue, as Rust middleware. This facade re-exports the member
//! crates so one dependency gives you everything:
//!
//! - [`stripe_webhook_guard`]: verification, the typed [`VerifiedStripeEvent`], replay protection,
//!   per-IP rate limiting, the tower [`StripeWebhookLayer`] (feature `axum` for the extractor)
//!   and the actix-web middleware `StripeWebhook` (feature `actix-web`);
//! - [`stripe_revenue`]: verified events → Pulsora revenue events (exact money, MRR that adds
//!   up, attribution) and [`RevenueSync`];
//! - [`stripe_pulsora_handlers`]: the ready-made axum and actix-web handlers around
//!   [`RevenueSync`] (`revenue_handler`, `actix_revenue_handler`);
//! - [`pulsora`]: the Pulsora ingest client (validation, retries, dry run).
//!
//! This package only re-exports. The deployable bridge (environment configuration, the hardened
//! server, the Prometheus exporter, the `stripe-pulsora` command line) is the separate
//! `stripe-pulsora-cli` package, so depending on this one compiles none of it.
//!
//! ```
//! let header = stripe_pulsora::sign(b"{}", "whsec_test", 1_700_000_000);
//! assert!(header.starts_with("t=1700000000,v1="));
//! ```
//!
//! # Feature flags
//!
//! | feature | what it adds |
//! |---|---|
//! | `axum` | the axum extractor, `revenue_handler`, `ConnectInfo` peer addresses |
//! | `actix-web` | the actix-web middleware, extractor and `actix_revenue_handler` |
//! | `sqlite` | replay and mapping state in an embedded SQLite file |
//! | `redis` | replay and mapping state in Redis, for many instances |
//! | `postgres` | replay and mapping state in PostgreSQL, for many instances |
//! | `stripe-api` | attribution looked up with the Stripe API as a last resort |
//! | `full` | all of the above |
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

/// The README's Rust snippets, compiled by `cargo test --doc` so what it shows keeps working.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use pulsora;
pub use stripe_pulsora_handlers;
#[cfg(feature = "actix-web")]
pub use stripe_pulsora_handlers::actix_revenue_handler;
#[cfg(feature = "axum")]
pub use stripe_pulsora_handlers::revenue_handler;
pub use stripe_revenue;
pub use stripe_revenue::RevenueSync;
pub use stripe_webhook_guard;
#[cfg(feature = "actix-web")]
pub use stripe_webhook_guard::StripeWebhook;
pub use stripe_webhook_guard::{
    sign, EventType, Rejection, StripeWebhookLayer, VerifiedStripeEvent, VerifyError,
};
