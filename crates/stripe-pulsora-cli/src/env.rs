//! The bridge's configuration, shared by the `stripe-pulsora` binary and the examples, so what
//! works in an example works in production. Every value is defined once, in
//! [`Settings`](crate::Settings) (flag, variable, default, help); this module adds the checks
//! that span values and secrets. A bad value is reported with the variable's name, what is wrong
//! and an example of a good value; never a panic.

use crate::settings::Settings;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;
use stripe_webhook_guard::Cidr;

/// A variable with a bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?}: {problem}{}", example_hint(variable, example))]
pub struct ConfigError {
    /// The variable's name.
    pub variable: String,
    /// The value as given.
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
    /// A good value.
    pub example: String,
}

fn example_hint(variable: &str, example: &str) -> String {
    if example.is_empty() {
        String::new()
    } else {
        format!(" (for example {variable}={example})")
    }
}

/// Where processed event ids (and the mapping's ledgers) are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSetting {
    /// In memory: one process, lost on restart.
    Memory,
    /// An SQLite file: one process, survives restarts.
    Sqlite(String),
    /// A Redis URL: many instances.
    Redis(String),
    /// A PostgreSQL URL (`postgres://` or `postgresql://`): many instances.
    Postgres(String),
}

/// `off`, or a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSetting<T> {
    /// The library default.
    Default,
    /// No limit.
    Off,
    /// This budget.
    Set(T),
}

/// `STRIPE_PULSORA_RATE_LIMIT`: requests per second and burst, per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSetting {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Burst size.
    pub burst: u32,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Everything the bridge reads from the environment. Secrets are redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvConfig {
    /// `STRIPE_WEBHOOK_SECRET`: one or more `whsec_…` (empty when unset).
    pub webhook_secrets: Vec<String>,
    /// `BIND`, default `127.0.0.1:3000`.
    pub bind: SocketAddr,
    /// `PULSORA_API_TOKEN`: unset means dry-run.
    pub pulsora_token: Option<String>,
    /// `PULSORA_ENDPOINT`: unset means Pulsora's URL.
    pub pulsora_endpoint: Option<String>,
    /// `STRIPE_PULSORA_REPLAY_STORE`. Unset: the SQLite file [`default_state_file`] when a
    /// Pulsora token is set and the build has `sqlite`, else `memory` (see
    /// [`EnvConfig::durable_by_default`] for `serve`).
    pub store: StoreSetting,
    /// The SQLite file to use when `STRIPE_PULSORA_REPLAY_STORE` is unset (`None` when it is
    /// set, or without the `sqlite` feature).
    pub default_store_file: Option<String>,
    /// `STRIPE_PULSORA_RATE_LIMIT`: `off` or `<per_second>/<burst>`.
    pub rate_limit: LimitSetting<RateSetting>,
    /// `STRIPE_PULSORA_FAILURE_LIMIT`: `off` or failed verifications per minute.
    pub failure_limit: LimitSetting<u32>,
    /// `STRIPE_PULSORA_TRUSTED_PROXIES`: addresses or CIDRs.
    pub trusted_proxies: Vec<Cidr>,
    /// `STRIPE_PULSORA_MAX_BODY`: body limit in bytes, default 1 MiB.
    pub max_body: usize,
    /// `STRIPE_PULSORA_TOLERANCE`: signature tolerance, default 300 s, at most 3600 s.
    pub tolerance: Duration,
    /// `STRIPE_PULSORA_INLINE_BUDGET`: Pulsora's part of one webhook answer, default 9 s.
    pub inline_budget: Duration,
    /// `STRIPE_PULSORA_MAX_CONNECTIONS`: open connections at most, default 512.
    pub max_connections: usize,
    /// `STRIPE_PULSORA_MAX_CONNECTIONS_PER_CLIENT`: per peer address, default 64; `off`: none.
    pub max_connections_per_client: Option<usize>,
    /// `STRIPE_PULSORA_HEADER_TIMEOUT`: seconds for a request's headers and for an idle
    /// keep-alive connection, default 10.
    pub header_timeout: Duration,
    /// `STRIPE_API_KEY`: enables the Stripe API attribution lookup.
    pub stripe_api_key: Option<String>,
    /// `STRIPE_API_BASE`: Stripe's API base URL (a proxy, or a fake Stripe in tests), default
    /// `https://api.stripe.com`.
    pub stripe_api_base: String,
    /// `STRIPE_PULSORA_LOG_FORMAT`, default text.
    pub log_format: LogFormat,
    /// `STRIPE_PULSORA_SHUTDOWN_DEADLINE`: seconds in-flight deliveries get to finish on
    /// SIGTERM, default 20.
    pub shutdown_deadline: Duration,
    /// The revenue scope and money rules: `STRIPE_PULSORA_LIVEMODE`, `STRIPE_PULSORA_CONNECT`,
    /// `STRIPE_PULSORA_TAX`, `STRIPE_PULSORA_UNREPORTED_PAYMENTS`.
    pub money: MoneySettings,
    /// `STRIPE_PULSORA_DELIVERY` = `outbox` (default) | `inline`.
    pub delivery: Delivery,
    /// `STRIPE_PULSORA_OUTBOX_HORIZON`, `STRIPE_PULSORA_OUTBOX_MAX_BACKOFF`,
    /// `STRIPE_PULSORA_REPLAY_LEASE`.
    pub outbox: OutboxSettings,
}

/// `STRIPE_PULSORA_DELIVERY`: when revenue events reach Pulsora.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// Acknowledge first (the default with a durable store): each webhook commits its state and
    /// revenue events to the outbox and is answered at once; the delivery worker sends them.
    /// With `STRIPE_PULSORA_REPLAY_STORE=memory` delivery is inline whatever this says.
    #[default]
    Outbox,
    /// Send before answering Stripe (Stripe's retries are the queue).
    Inline,
}

/// The outbox worker's settings, and the replay lease that bounds how long a crash holds an
/// event up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxSettings {
    /// `STRIPE_PULSORA_OUTBOX_HORIZON`: how long a row is retried before it becomes a dead
    /// letter, default 7 days.
    pub horizon: Duration,
    /// `STRIPE_PULSORA_OUTBOX_MAX_BACKOFF`: the longest wait between two attempts of a row,
    /// default 10 minutes.
    pub max_backoff: Duration,
    /// `STRIPE_PULSORA_REPLAY_LEASE`: how long an event's replay claim lasts while its handler
    /// runs; `None`: the layer's default (5 minutes). After a crash, Stripe's retry of an event
    /// that was being handled waits this long (`409`); acknowledging first, handlers take
    /// milliseconds, so a minute is plenty.
    pub replay_lease: Option<Duration>,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        let retries = stripe_revenue::outbox::Retries::default();
        Self {
            horizon: retries.horizon,
            max_backoff: retries.max,
            replay_lease: None,
        }
    }
}

/// How Stripe money becomes Pulsora revenue (see the README, "What counts as revenue").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MoneySettings {
    /// `STRIPE_PULSORA_LIVEMODE` = `live` | `test` | `any`. Unset: `live` with a Pulsora token,
    /// `any` in a dry run.
    pub livemode: Option<stripe_revenue::Livemode>,
    /// `STRIPE_PULSORA_CONNECT` = `ignore` (default) | `include`.
    pub connect: stripe_revenue::Connect,
    /// `STRIPE_PULSORA_TAX` = `exclude` (default) | `include`.
    pub tax: stripe_revenue::Tax,
    /// `STRIPE_PULSORA_UNREPORTED_PAYMENTS` = `skip` (default) | `count`.
    pub unreported: stripe_revenue::UnreportedPayments,
}

impl fmt::Debug for EnvConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvConfig")
            .field(
                "webhook_secrets",
                &format_args!("[{} redacted]", self.webhook_secrets.len()),
            )
            .field("bind", &self.bind)
            .field(
                "pulsora_token",
                &self.pulsora_token.as_ref().map(|_| "redacted"),
            )
            .field("pulsora_endpoint", &self.pulsora_endpoint)
            .field("store", &self.store)
            .field("rate_limit", &self.rate_limit)
            .field("failure_limit", &self.failure_limit)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("max_body", &self.max_body)
            .field("tolerance", &self.tolerance)
            .field("inline_budget", &self.inline_budget)
            .field("max_connections", &self.max_connections)
            .field(
                "max_connections_per_client",
                &self.max_connections_per_client,
            )
            .field("header_timeout", &self.header_timeout)
            .field(
                "stripe_api_key",
                &self.stripe_api_key.as_ref().map(|_| "redacted"),
            )
            .field("log_format", &self.log_format)
            .field("shutdown_deadline", &self.shutdown_deadline)
            .field("money", &self.money)
            .field("delivery", &self.delivery)
            .field("outbox", &self.outbox)
            .finish()
    }
}

fn error(variable: &str, value: &str, problem: impl Into<String>, example: &str) -> ConfigError {
    ConfigError {
        variable: variable.to_owned(),
        value: value.to_owned(),
        problem: problem.into(),
        example: example.to_owned(),
    }
}

impl EnvConfig {
    /// Reads the process environment (every variable of [`Settings`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_settings(Settings::from_env()?)
    }

    /// Reads the given variables and nothing else (tests pass their own).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        Self::from_settings(Settings::from_vars(vars)?)
    }

    /// Checks what one value cannot say alone (secrets' shape, an http:// endpoint and its
    /// opt-in, the default store) and builds the configuration. Secrets are never quoted.
    pub fn from_settings(settings: Settings) -> Result<Self, ConfigError> {
        let webhook_secrets = match settings.webhook_secret.as_deref().map(str::trim) {
            None | Some("") => Vec::new(),
            Some(value) => {
                let secrets: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if let Some(bad) = secrets.iter().find(|s| !s.starts_with("whsec_")) {
                    let shown = if bad.starts_with("sk_") || bad.starts_with("rk_") {
                        "an API key"
                    } else {
                        "a value"
                    };
                    return Err(error(
                        "STRIPE_WEBHOOK_SECRET",
                        "<redacted>",
                        format!("{shown} that does not start with whsec_; use the endpoint's signing secret"),
                        "whsec_…,whsec_…",
                    ));
                }
                // A short secret lets anyone sign events (`whsec_` alone was accepted once).
                if let Some(weak) = secrets
                    .iter()
                    .find_map(|s| stripe_webhook_guard::Secret::try_new(s).err())
                {
                    return Err(error(
                        "STRIPE_WEBHOOK_SECRET",
                        "<redacted>",
                        weak.to_string(),
                        "whsec_ followed by the 32+ characters Stripe shows for the endpoint",
                    ));
                }
                secrets
            }
        };
        let pulsora_token = match settings.pulsora_token.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) if t.starts_with("pub_") => {
                return Err(error(
                    "PULSORA_API_TOKEN",
                    "<redacted>",
                    "a public token (pub_…) cannot send revenue; use the secret token",
                    "sec_…",
                ))
            }
            Some(t) => Some(t.to_owned()),
        };
        if let Some(endpoint) = &settings.pulsora_endpoint {
            if endpoint.starts_with("http://")
                && !is_loopback_url(endpoint)
                && !settings.allow_insecure_endpoint
            {
                // The token travels in a header and in the body: never in clear text over a network.
                return Err(error(
                    "PULSORA_ENDPOINT",
                    endpoint,
                    "plain http:// to a host that is not loopback would send the Pulsora token in clear text; use https:// (or set STRIPE_PULSORA_ALLOW_INSECURE_ENDPOINT=1 for a trusted private network)",
                    "https://pulsora.co/api/ingest",
                ));
            }
        }
        let stripe_api_key = match settings.stripe_api_key.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(k) if !(k.starts_with("sk_") || k.starts_with("rk_")) => {
                return Err(error(
                    "STRIPE_API_KEY",
                    "<redacted>",
                    "expected a secret or restricted key (sk_… or rk_…)",
                    "rk_live_…",
                ))
            }
            Some(k) => Some(k.to_owned()),
        };
        // Durable by default: MRR ledgers and delivered ids must survive a restart.
        let default_store_file = (cfg!(feature = "sqlite") && settings.store.is_none())
            .then(|| default_state_file(settings.state_directory.as_deref()));
        let store = match settings.store {
            Some(store) => store,
            None => match (&default_store_file, &pulsora_token) {
                (Some(file), Some(_)) => StoreSetting::Sqlite(file.clone()),
                _ => StoreSetting::Memory,
            },
        };
        Ok(Self {
            webhook_secrets,
            bind: settings.bind,
            pulsora_token,
            pulsora_endpoint: settings.pulsora_endpoint,
            store,
            default_store_file,
            rate_limit: settings.rate_limit.unwrap_or(LimitSetting::Default),
            failure_limit: settings.failure_limit.unwrap_or(LimitSetting::Default),
            trusted_proxies: settings
                .trusted_proxies
                .map(|list| list.0)
                .unwrap_or_default(),
            max_body: settings.max_body,
            tolerance: settings.tolerance,
            inline_budget: settings.inline_budget,
            max_connections: settings.max_connections,
            max_connections_per_client: settings.max_connections_per_client.0,
            header_timeout: settings.header_timeout,
            stripe_api_key,
            stripe_api_base: settings.stripe_api_base,
            log_format: settings.log_format,
            shutdown_deadline: settings.shutdown_deadline,
            delivery: settings.delivery,
            outbox: OutboxSettings {
                horizon: settings.outbox_horizon,
                max_backoff: settings.outbox_max_backoff,
                replay_lease: settings.replay_lease,
            },
            money: MoneySettings {
                livemode: settings.livemode,
                connect: settings.connect,
                tax: settings.tax,
                unreported: settings.unreported_payments,
            },
        })
    }
}

/// The embedded SQLite file used when no store is chosen: `$STATE_DIRECTORY/stripe-pulsora.sqlite3`
/// when systemd's `StateDirectory=` sets `STATE_DIRECTORY` (the first of a colon-separated
/// list), else `./stripe-pulsora.sqlite3`.
///
/// ```
/// use stripe_pulsora_cli::default_state_file;
/// assert_eq!(default_state_file(None), "./stripe-pulsora.sqlite3");
/// assert_eq!(default_state_file(Some("/var/lib/stripe-pulsora")), "/var/lib/stripe-pulsora/stripe-pulsora.sqlite3");
/// ```
pub fn default_state_file(state_directory: Option<&str>) -> String {
    match state_directory
        .and_then(|d| d.split(':').next())
        .filter(|d| !d.is_empty())
    {
        Some(dir) => format!("{}/stripe-pulsora.sqlite3", dir.trim_end_matches('/')),
        None => "./stripe-pulsora.sqlite3".to_owned(),
    }
}

impl EnvConfig {
    /// `serve`'s rule: with no store chosen, state goes to [`default_state_file`] even in a dry
    /// run (a restart must not re-report MRR). A no-op when a store was chosen or the build has
    /// no `sqlite`.
    #[must_use]
    pub fn durable_by_default(mut self) -> Self {
        if let Some(file) = &self.default_store_file {
            self.store = StoreSetting::Sqlite(file.clone());
        }
        self
    }
}

/// `http://localhost…`, `http://127.x…`, `http://[::1]…`: traffic that never leaves the host.
fn is_loopback_url(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
