//! Turning an [`EnvConfig`] into the running pieces: the webhook layer (or actix middleware
//! settings) and the revenue sync. The binary and the examples call these, so they behave alike.

use super::env::{EnvConfig, LogFormat};
use stripe_revenue::RevenueSync;
use stripe_webhook::StripeWebhookLayer;

/// The secret the examples use when `STRIPE_WEBHOOK_SECRET` is unset (never in production:
/// the binary refuses to start without a real one).
pub const DEV_SECRET: &str = "whsec_dev_secret_for_local_testing_only";

/// The configured secrets, or the development secret (and `true`) when none is set.
pub fn secrets_or_dev(config: &EnvConfig) -> (Vec<String>, bool) {
    if config.webhook_secrets.is_empty() {
        (vec![DEV_SECRET.to_owned()], true)
    } else {
        (config.webhook_secrets.clone(), false)
    }
}

/// The tower layer for `config` (secrets, tolerance, body limit).
pub fn webhook_layer(config: &EnvConfig) -> StripeWebhookLayer {
    let (secrets, _) = secrets_or_dev(config);
    let mut secrets = secrets.into_iter();
    let first = secrets.next().unwrap_or_else(|| DEV_SECRET.to_owned());
    let mut layer = secrets.fold(StripeWebhookLayer::new(first), StripeWebhookLayer::secret);
    layer = layer.tolerance(config.tolerance);
    if let Some(max_body) = config.max_body {
        layer = layer.body_limit(max_body);
    }
    layer
}

/// The Pulsora client (dry run without a token) wrapped in a [`RevenueSync`].
pub fn revenue_sync(config: &EnvConfig) -> Result<RevenueSync, pulsora::Error> {
    let builder = match &config.pulsora_token {
        Some(token) => pulsora::Revenue::builder(token.clone()),
        None => pulsora::RevenueBuilder::dry_run(),
    };
    let builder = match &config.pulsora_endpoint {
        Some(endpoint) => builder.endpoint(endpoint.clone()),
        None => builder,
    };
    Ok(RevenueSync::new(builder.build()?))
}

/// Installs the `tracing` subscriber: `RUST_LOG` filter (default `info`), text or JSON lines.
pub fn init_logging(config: &EnvConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The running pieces built from a configuration.
#[derive(Debug)]
pub struct Bridge {
    /// The webhook layer (secrets, tolerance, limits, replay store).
    pub layer: StripeWebhookLayer,
    /// The revenue sync (Pulsora client, state store).
    pub sync: RevenueSync,
    /// Counters for `/metrics`.
    pub metrics: std::sync::Arc<super::metrics::Metrics>,
}

impl Bridge {
    /// Builds everything `config` describes, opening the stores it names.
    pub async fn from_config(config: &EnvConfig) -> Result<Self, String> {
        let layer = webhook_layer(config);
        let sync = revenue_sync(config).map_err(|e| format!("Pulsora client: {e}"))?;
        Ok(Self {
            layer,
            sync,
            metrics: std::sync::Arc::default(),
        })
    }
}
