//! A small, read-only Stripe API client: what the bridge needs to look at Stripe's own records.
//!
//! Webhooks only tell what happens from now on. Backfilling missed events, adopting the
//! subscriptions that existed before the bridge, reconciling Pulsora against Stripe and fetching
//! the current subscription when events arrive out of order all read the Stripe API. This crate
//! is that reader, kept small on purpose:
//!
//! - **Lists paginate as Stripe documents it**: `limit=100`, `starting_after` the last id of the
//!   page, until `has_more` is false ([`StripeClient::list`], [`Pages`]).
//! - **`expand[]`** and any other parameter through [`Params`].
//! - **A pinned `Stripe-Version`** ([`PINNED_VERSION`], or [`StripeClientBuilder::version`]), so
//!   object shapes do not change under the code when the account's default version moves.
//! - **Bounded retries**: network errors, `5xx` and `429` are retried with exponential backoff and
//!   full jitter; `Retry-After` is honoured up to a cap, beyond which the call fails as transient
//!   instead of holding the caller.
//! - **Errors a caller can act on** ([`ApiError`]): transient (try later), the key refused (401 /
//!   403: fix the key or its permissions), not found, invalid request.
//! - **Restricted keys** (`rk_…`) work; [`ApiKey`] refuses publishable keys and webhook secrets up
//!   front, and never shows the key in `Debug`, errors or logs.
//!
//! ```no_run
//! use stripe_read::{Params, StripeClient};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let stripe = StripeClient::new(std::env::var("STRIPE_API_KEY")?)?;
//! let mut pages = stripe.list::<serde_json::Value>(
//!     "/v1/subscriptions",
//!     Params::new().param("status", "all").expand("data.discounts"),
//! );
//! while let Some(page) = pages.next_page().await? {
//!     for subscription in page {
//!         println!("{}", subscription["id"]);
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Feature flags
//!
//! | feature | what it adds |
//! |---|---|
//! | `fake` | [`fake::FakeStripe`]: a fake Stripe API on loopback for tests (real pagination, filters, injectable 429 / 500) |
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod error;
mod key;
mod list;
mod params;
mod retry;

#[cfg(feature = "fake")]
#[cfg_attr(docsrs, doc(cfg(feature = "fake")))]
pub mod fake;

pub use client::{StripeClient, StripeClientBuilder, DEFAULT_BASE, PINNED_VERSION};
pub use error::ApiError;
pub use key::{ApiKey, KeyError};
pub use list::{Page, Pages};
pub use params::Params;
