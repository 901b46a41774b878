//! # stripe-pulsora-cli
//!
//! The deployable Stripe → Pulsora bridge: the `stripe-pulsora` binary and the pieces it is built
//! from (configuration from the environment, the hardened HTTP server, the Prometheus exporter,
//! the Stripe API commands), shared with the examples so what works in an example works in
//! production.
//!
//! The libraries (the `stripe-pulsora` facade and its member crates) depend on none of this:
//! an application that mounts the webhook layer in its own axum or actix-web server never
//! compiles clap, tracing-subscriber, the exporter or the server code. Install the binary with
//! `cargo install stripe-pulsora-cli` (the binary is named `stripe-pulsora`, as sqlx-cli installs
//! `sqlx`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // The binary's start-up, from a library: environment → layer, stores, revenue sync.
//! let config = stripe_pulsora_cli::EnvConfig::from_env()?;
//! let parts = stripe_pulsora_cli::Bridge::from_config(&config).await?;
//! let app = stripe_pulsora_cli::server::app(parts);
//! # let _ = app; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod adopt;
pub mod backfill;
mod build;
mod connections;
mod env;
mod env_check;
pub mod metrics;
pub mod outbox_command;
pub mod reconcile;
pub mod server;
pub mod settings;
mod stripe_command;
pub mod trigger;

pub use build::{
    example_setup, init_logging, revenue_sync, secrets_or_dev, webhook_layer, Bridge, DEV_SECRET,
};
pub use env::{
    default_state_file, ConfigError, Delivery, EnvConfig, LimitSetting, LogFormat, OutboxSettings,
    RateSetting, StoreSetting,
};
pub use env_check::{known_variables, unknown_variables, warn_unknown_variables};
pub use settings::{Settings, MAX_TOLERANCE_SECS};
