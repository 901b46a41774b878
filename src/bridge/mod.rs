//! The deployable bridge: configuration from the environment (shared by the `stripe-pulsora`
//! binary and the examples).

mod env;

pub use env::{ConfigError, EnvConfig, LimitSetting, LogFormat, RateSetting, StoreSetting};
