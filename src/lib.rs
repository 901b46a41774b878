//! # stripe-pulsora
//!
//! Stripe webhooks → Pulsora revenue, as Rust middleware. This facade re-exports the member
//! crates so one dependency gives you everything:
//!
//! - [`stripe_webhook`]: verification, the typed [`VerifiedStripeEvent`], the tower
//!   [`StripeWebhookLayer`] (feature `axum` for the extractor) and the actix-web middleware
//!   (feature `actix-web`).
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
//! | `axum` | the axum extractor and `ConnectInfo` peer addresses |
//! | `actix-web` | the actix-web middleware and extractor |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bridge;

pub use pulsora;
pub use stripe_revenue;
pub use stripe_webhook;
pub use stripe_webhook::{
    sign, EventType, Rejection, StripeWebhookLayer, VerifiedStripeEvent, VerifyError,
};
