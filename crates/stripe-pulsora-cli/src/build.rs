//! Turning an [`EnvConfig`] into the running pieces: the webhook layer (or actix middleware
//! settings) and the revenue sync. The binary and the examples call these, so they behave alike.

use super::env::{EnvConfig, LimitSetting, LogFormat, StoreSetting};
use std::sync::Arc;
use stripe_revenue::outbox::{Outbox, OutboxWorker};
use stripe_revenue::RevenueSync;
use stripe_webhook_guard::{Quota, StripeWebhookLayer};

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

/// The tower layer for `config`: secrets, tolerance, body limit, rate limits, trusted proxies
/// (the replay store is added by [`Bridge::from_config`], which may have to open it).
pub fn webhook_layer(config: &EnvConfig) -> StripeWebhookLayer {
    let (secrets, _) = secrets_or_dev(config);
    let mut secrets = secrets.into_iter();
    let first = secrets.next().unwrap_or_else(|| DEV_SECRET.to_owned());
    let mut layer = secrets.fold(StripeWebhookLayer::new(first), StripeWebhookLayer::secret);
    layer = layer
        .tolerance(config.tolerance)
        .future_skew(config.tolerance);
    layer = layer.body_limit(config.max_body);
    layer = match config.rate_limit {
        LimitSetting::Default => layer,
        LimitSetting::Off => layer.no_rate_limit(),
        LimitSetting::Set(rate) => {
            layer.rate_limit(Quota::per_second(rate.per_second).burst(rate.burst))
        }
    };
    layer = match config.failure_limit {
        LimitSetting::Default => layer,
        LimitSetting::Off => layer.no_failure_limit(),
        LimitSetting::Set(per_minute) => {
            layer.failure_limit(Quota::per_minute(per_minute).burst(per_minute))
        }
    };
    // Parsed once, when the configuration was read.
    if !config.trusted_proxies.is_empty() {
        layer = layer.trusted_proxies(config.trusted_proxies.iter().copied());
    }
    if let Some(lease) = config.outbox.replay_lease {
        layer = layer.lease_ttl(lease);
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
    Ok(RevenueSync::new(builder.build()?)
        .inline_budget(config.inline_budget)
        .policy(policy(config)))
}

/// The mapping policy the environment asks for (scope, tax, unreported payments); the rest is
/// the library's default.
pub fn policy(config: &EnvConfig) -> stripe_revenue::Policy {
    let money = &config.money;
    let mut policy = stripe_revenue::Policy::default()
        .connect(money.connect)
        .tax(money.tax)
        .unreported_payments(money.unreported);
    if let Some(livemode) = money.livemode {
        policy = policy.livemode(livemode);
    }
    policy
}

/// Installs the `tracing` subscriber: `RUST_LOG` filter (default `info`), text or JSON lines.
pub fn init_logging(config: &EnvConfig) {
    install_logging(config, false);
}

/// [`init_logging`] on standard error, for commands whose standard output is their result.
pub(crate) fn init_logging_on_stderr(config: &EnvConfig) {
    install_logging(config, true);
}

fn install_logging(config: &EnvConfig, stderr: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal: escape codes in a log file or journal are noise.
    let ansi = if stderr {
        std::io::IsTerminal::is_terminal(&std::io::stderr())
    } else {
        std::io::IsTerminal::is_terminal(&std::io::stdout())
    };
    let writer = if stderr {
        tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr)
    } else {
        tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stdout)
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let _ = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    super::warn_unknown_variables();
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
    /// The SQLite file of `STRIPE_PULSORA_REPLAY_STORE=sqlite:…`, checked by `/readyz`.
    pub store_file: Option<std::path::PathBuf>,
    /// The durable store's outbox and dead letters (`None` with the in-memory store): what the
    /// `outbox` and `dead-letters` commands read and change.
    pub outbox: Option<Arc<dyn Outbox>>,
    /// The delivery worker, when webhooks are acknowledged first (`STRIPE_PULSORA_DELIVERY`,
    /// a durable store): `serve` runs it beside the server and stops it on shutdown.
    pub worker: Option<OutboxWorker>,
}

/// The mapping's state in `backend`: with `Delivery::Outbox`, also the outbox (acknowledge
/// first), else inline delivery.
#[cfg(any(feature = "sqlite", feature = "redis", feature = "postgres"))]
fn with_store(sync: RevenueSync, backend: Arc<dyn Outbox>, config: &EnvConfig) -> RevenueSync {
    use super::env::Delivery;
    let store = stripe_revenue::KvStateStore::over(backend);
    match config.delivery {
        Delivery::Outbox => sync.outbox(store),
        Delivery::Inline => sync.state_store(store),
    }
}

/// The worker for `sync`'s outbox with the environment's settings.
fn worker(sync: &RevenueSync, config: &EnvConfig) -> Option<OutboxWorker> {
    let retries = stripe_revenue::outbox::Retries {
        horizon: config.outbox.horizon,
        max: config.outbox.max_backoff,
        ..stripe_revenue::outbox::Retries::default()
    };
    sync.outbox_worker().map(|w| w.retries(retries))
}

impl Bridge {
    /// Builds everything `config` describes, opening the store it names: the replay ids and
    /// the mapping's state share one backend (an SQLite file, a Redis, a PostgreSQL database).
    pub async fn from_config(config: &EnvConfig) -> Result<Self, String> {
        #[allow(unused_mut)]
        let mut layer = webhook_layer(config);
        #[allow(unused_mut)]
        let mut sync = revenue_sync(config).map_err(|e| format!("Pulsora client: {e}"))?;
        #[allow(unused_mut)]
        let mut outbox: Option<Arc<dyn Outbox>> = None;
        match &config.store {
            StoreSetting::Memory => tracing::warn!(
                "state kept in memory (STRIPE_PULSORA_REPLAY_STORE=memory, or an example without a \
                 Pulsora token): MRR ledgers and delivered event ids are lost on restart (MRR is \
                 then reported again); for real use set STRIPE_PULSORA_REPLAY_STORE=sqlite:<path>, \
                 postgres://… or redis://… (serve defaults to the SQLite file)"
            ),
            // One backend, opened once, under both schemas (replay ids and mapping state).
            #[cfg(feature = "sqlite")]
            StoreSetting::Sqlite(path) => {
                let db = stripe_webhook_guard::store::Sqlite::open(path)
                    .map_err(|e| format!("STRIPE_PULSORA_REPLAY_STORE=sqlite:{path}: {e}"))?;
                layer = layer.replay_store(stripe_webhook_guard::BackendStore::over(db.clone()));
                let backend: Arc<dyn Outbox> = Arc::new(db);
                sync = with_store(sync, backend.clone(), config);
                outbox = Some(backend);
            }
            #[cfg(feature = "redis")]
            StoreSetting::Redis(url) => {
                // Never echo the URL: it may carry a password.
                let redis = stripe_webhook_guard::store::Redis::connect(url)
                    .await
                    .map_err(|e| format!("STRIPE_PULSORA_REPLAY_STORE (redis): {e}"))?;
                layer = layer.replay_store(stripe_webhook_guard::BackendStore::over(redis.clone()));
                let backend: Arc<dyn Outbox> = Arc::new(redis);
                sync = with_store(sync, backend.clone(), config);
                outbox = Some(backend);
            }
            #[cfg(feature = "postgres")]
            StoreSetting::Postgres(url) => {
                let db = stripe_webhook_guard::store::Postgres::connect(url)
                    .await
                    .map_err(|e| format!("STRIPE_PULSORA_REPLAY_STORE (postgres): {e}"))?;
                layer = layer.replay_store(stripe_webhook_guard::BackendStore::over(db.clone()));
                let backend: Arc<dyn Outbox> = Arc::new(db);
                sync = with_store(sync, backend.clone(), config);
                outbox = Some(backend);
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(
                    "STRIPE_PULSORA_REPLAY_STORE names a store this build does not have; \
                            rebuild stripe-pulsora-cli with its default features (`sqlite`, `redis`, `postgres`)"
                        .to_owned(),
                )
            }
        }
        if let Some(key) = &config.stripe_api_key {
            {
                sync = sync.stripe_api(stripe_revenue::StripeApi::with_base(
                    key.clone(),
                    &config.stripe_api_base,
                ));
            }
        }
        let store_file = match &config.store {
            StoreSetting::Sqlite(path) => Some(std::path::PathBuf::from(path)),
            _ => None,
        };
        let worker = worker(&sync, config);
        Ok(Self {
            layer,
            sync,
            metrics: std::sync::Arc::default(),
            store_file,
            outbox,
            worker,
        })
    }
}

/// What both examples do before serving: read the environment (a bad value prints the message
/// and exits with code 2), start logging, say which development defaults are in use, and build
/// the pieces. Exits the process on error: meant for `main` of a demo, not for a library.
pub async fn example_setup() -> (EnvConfig, Bridge) {
    let config = EnvConfig::from_env().unwrap_or_else(|error| {
        eprintln!("configuration error: {error}");
        std::process::exit(2);
    });
    init_logging(&config);
    if let (secrets, true) = secrets_or_dev(&config) {
        println!(
            "STRIPE_WEBHOOK_SECRET is unset; using the development secret {}",
            secrets[0]
        );
    }
    if config.pulsora_token.is_none() {
        println!(
            "PULSORA_API_TOKEN is unset: dry run, each Pulsora payload is logged instead of sent"
        );
    }
    let bridge = Bridge::from_config(&config).await.unwrap_or_else(|error| {
        eprintln!("start-up error: {error}");
        std::process::exit(2);
    });
    (config, bridge)
}
