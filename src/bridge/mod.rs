//! The deployable bridge: configuration from the environment and the pieces built from it,
//! shared by the `stripe-pulsora` binary and the examples so what works in an example works in
//! production.

#[cfg(feature = "cli")]
pub mod adopt;
#[cfg(feature = "cli")]
pub mod backfill;
mod build;
#[cfg(feature = "axum")]
mod connections;
mod env;
mod env_check;
pub mod metrics;
#[cfg(feature = "axum")]
pub mod server;
#[cfg(feature = "cli")]
mod stripe_command;
pub mod trigger;

pub use build::{
    example_setup, init_logging, revenue_sync, secrets_or_dev, webhook_layer, Bridge, DEV_SECRET,
};
pub use env::{
    default_state_file, ConfigError, EnvConfig, LimitSetting, LogFormat, RateSetting, StoreSetting,
};
pub use env_check::{unknown_variables, warn_unknown_variables, KNOWN_VARIABLES};
