//! placeholder
pub use stripe_webhook;
