//! Configuration from the environment, shared by the `stripe-pulsora` binary and the examples,
//! so what works in an example works in production. A bad value is reported with the variable's
//! name, what is wrong and an example of a good value; never a panic.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// A variable with a bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?}: {problem} (for example {variable}={example})")]
pub struct ConfigError {
    /// The variable's name.
    pub variable: &'static str,
    /// The value as given.
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
    /// A good value.
    pub example: &'static str,
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
    /// `STRIPE_PULSORA_TRUSTED_PROXIES`: comma-separated CIDRs.
    pub trusted_proxies: Vec<String>,
    /// `STRIPE_PULSORA_MAX_BODY`: body limit in bytes.
    pub max_body: Option<usize>,
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
            .finish()
    }
}

fn error(
    variable: &'static str,
    value: &str,
    problem: impl Into<String>,
    example: &'static str,
) -> ConfigError {
    ConfigError {
        variable,
        value: value.to_owned(),
        problem: problem.into(),
        example,
    }
}

impl EnvConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads the given variables (tests pass their own).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = vars.into_iter().collect();
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

        let webhook_secrets = match get("STRIPE_WEBHOOK_SECRET") {
            None => Vec::new(),
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
        let bind = match get("BIND") {
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
            Some(v) => v.parse().map_err(|e| {
                error(
                    "BIND",
                    v,
                    format!("not an address:port ({e})"),
                    "0.0.0.0:8080",
                )
            })?,
        };
        let pulsora_token = match get("PULSORA_API_TOKEN") {
            Some(t) if t.starts_with("pub_") => {
                return Err(error(
                    "PULSORA_API_TOKEN",
                    "<redacted>",
                    "a public token (pub_…) cannot send revenue; use the secret token",
                    "sec_…",
                ))
            }
            other => other.map(str::to_owned),
        };
        let stripe_api_base = match get("STRIPE_API_BASE") {
            None => "https://api.stripe.com".to_owned(),
            Some(base) if base.starts_with("https://") || base.starts_with("http://") => {
                base.trim_end_matches('/').to_owned()
            }
            Some(base) => {
                return Err(error(
                    "STRIPE_API_BASE",
                    base,
                    "expected an http(s) URL",
                    "https://api.stripe.com",
                ))
            }
        };
        let pulsora_endpoint = match get("PULSORA_ENDPOINT") {
            Some(v) if !(v.starts_with("http://") || v.starts_with("https://")) => {
                return Err(error(
                    "PULSORA_ENDPOINT",
                    v,
                    "not an http(s) URL",
                    "https://pulsora.co/api/ingest",
                ))
            }
            Some(v)
                if v.starts_with("http://")
                    && !is_loopback_url(v)
                    && get(ALLOW_INSECURE) != Some("1") =>
            {
                // The token travels in a header and in the body: never in clear text over a network.
                return Err(error(
                    "PULSORA_ENDPOINT",
                    v,
                    format!("plain http:// to a host that is not loopback would send the Pulsora token in clear text; use https:// (or set {ALLOW_INSECURE}=1 for a trusted private network)"),
                    "https://pulsora.co/api/ingest",
                ));
            }
            other => other.map(str::to_owned),
        };
        // Durable by default: MRR ledgers and delivered ids must survive a restart.
        let default_store_file = (cfg!(feature = "sqlite")
            && get("STRIPE_PULSORA_REPLAY_STORE").is_none())
        .then(|| default_state_file(get("STATE_DIRECTORY")));
        let store = match get("STRIPE_PULSORA_REPLAY_STORE") {
            None => match (&default_store_file, &pulsora_token) {
                (Some(file), Some(_)) => StoreSetting::Sqlite(file.clone()),
                _ => StoreSetting::Memory,
            },
            Some("memory") => StoreSetting::Memory,
            Some(v) if v.starts_with("sqlite:") && v.len() > "sqlite:".len() => {
                StoreSetting::Sqlite(v["sqlite:".len()..].to_owned())
            }
            Some(v) if v.starts_with("redis://") || v.starts_with("rediss://") => {
                StoreSetting::Redis(v.to_owned())
            }
            Some(v) if v.starts_with("postgres://") || v.starts_with("postgresql://") => {
                StoreSetting::Postgres(v.to_owned())
            }
            Some(v) => {
                return Err(error(
                    "STRIPE_PULSORA_REPLAY_STORE",
                    v,
                    "expected memory, sqlite:<path>, redis://… or postgres://…",
                    "sqlite:/var/lib/stripe-pulsora/replay.db",
                ))
            }
        };
        let rate_limit = match get("STRIPE_PULSORA_RATE_LIMIT") {
            None => LimitSetting::Default,
            Some("off") => LimitSetting::Off,
            Some(v) => {
                let bad = || {
                    error(
                        "STRIPE_PULSORA_RATE_LIMIT",
                        v,
                        "expected off or <per_second>/<burst>, both positive integers",
                        "100/200",
                    )
                };
                let (rate, burst) = v.split_once('/').ok_or_else(bad)?;
                let per_second: u32 = rate.trim().parse().map_err(|_| bad())?;
                let burst: u32 = burst.trim().parse().map_err(|_| bad())?;
                if per_second == 0 || burst == 0 {
                    return Err(bad());
                }
                LimitSetting::Set(RateSetting { per_second, burst })
            }
        };
        let failure_limit = match get("STRIPE_PULSORA_FAILURE_LIMIT") {
            None => LimitSetting::Default,
            Some("off") => LimitSetting::Off,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n > 0 => LimitSetting::Set(n),
                _ => {
                    return Err(error(
                        "STRIPE_PULSORA_FAILURE_LIMIT",
                        v,
                        "expected off or a positive number of failed verifications per minute",
                        "20",
                    ))
                }
            },
        };
        let trusted_proxies = match get("STRIPE_PULSORA_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(v) => {
                let list: Vec<String> = v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if let Some(bad) = list.iter().find(|c| !is_cidr(c)) {
                    return Err(error(
                        "STRIPE_PULSORA_TRUSTED_PROXIES",
                        v,
                        format!("{bad:?} is not an IP address or CIDR"),
                        "10.0.0.0/8,192.168.1.10",
                    ));
                }
                list
            }
        };
        let max_body = match get("STRIPE_PULSORA_MAX_BODY") {
            None => None,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n >= 1024 => Some(n),
                _ => {
                    return Err(error(
                        "STRIPE_PULSORA_MAX_BODY",
                        v,
                        "expected a number of bytes, at least 1024",
                        "1048576",
                    ))
                }
            },
        };
        let tolerance = match get("STRIPE_PULSORA_TOLERANCE") {
            None => Duration::from_secs(300),
            Some(v) => match v.parse::<u64>() {
                // Capped: a day-long window lets a captured delivery be replayed for a day once
                // its id has left the replay store; an hour covers any sane clock skew.
                Ok(n) if n > 0 && n <= MAX_TOLERANCE_SECS => Duration::from_secs(n),
                _ => {
                    return Err(error(
                        "STRIPE_PULSORA_TOLERANCE",
                        v,
                        format!("expected a positive number of seconds, at most {MAX_TOLERANCE_SECS} (the check cannot be disabled from the environment)"),
                        "300",
                    ))
                }
            },
        };
        let inline_budget = match get("STRIPE_PULSORA_INLINE_BUDGET") {
            None => stripe_revenue::DEFAULT_INLINE_BUDGET,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (1..=20).contains(&n) => Duration::from_secs(n),
                _ => {
                    return Err(error(
                        "STRIPE_PULSORA_INLINE_BUDGET",
                        v,
                        "expected 1 to 20 seconds (Stripe must get its answer well inside its own timeout)",
                        "9",
                    ))
                }
            },
        };
        let stripe_api_key = match get("STRIPE_API_KEY") {
            Some(k) if !(k.starts_with("sk_") || k.starts_with("rk_")) => {
                return Err(error(
                    "STRIPE_API_KEY",
                    "<redacted>",
                    "expected a secret or restricted key (sk_… or rk_…)",
                    "rk_live_…",
                ))
            }
            other => other.map(str::to_owned),
        };
        let log_format = match get("STRIPE_PULSORA_LOG_FORMAT") {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(v) => {
                return Err(error(
                    "STRIPE_PULSORA_LOG_FORMAT",
                    v,
                    "expected text or json",
                    "json",
                ))
            }
        };
        let shutdown_deadline = match get("STRIPE_PULSORA_SHUTDOWN_DEADLINE") {
            None => Duration::from_secs(20),
            Some(v) => match v.parse::<u64>() {
                Ok(n) => Duration::from_secs(n),
                Err(_) => {
                    return Err(error(
                        "STRIPE_PULSORA_SHUTDOWN_DEADLINE",
                        v,
                        "expected a number of seconds",
                        "20",
                    ))
                }
            },
        };
        let positive = |name: &'static str, default: u64, example: &'static str| match get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(error(name, v, "expected a positive whole number", example)),
            },
        };
        let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let max_connections = to_usize(positive("STRIPE_PULSORA_MAX_CONNECTIONS", 512, "512")?);
        let max_connections_per_client = match get("STRIPE_PULSORA_MAX_CONNECTIONS_PER_CLIENT") {
            Some("off") => None,
            _ => Some(to_usize(positive(
                "STRIPE_PULSORA_MAX_CONNECTIONS_PER_CLIENT",
                64,
                "64",
            )?)),
        };
        let header_timeout =
            Duration::from_secs(positive("STRIPE_PULSORA_HEADER_TIMEOUT", 10, "10")?);
        let money = MoneySettings {
            livemode: match get("STRIPE_PULSORA_LIVEMODE") {
                None => None,
                Some(v) => Some(v.parse().map_err(|_| {
                    error(
                        "STRIPE_PULSORA_LIVEMODE",
                        v,
                        "expected live, test or any",
                        "live",
                    )
                })?),
            },
            connect: match get("STRIPE_PULSORA_CONNECT") {
                None => stripe_revenue::Connect::default(),
                Some(v) => v.parse().map_err(|_| {
                    error(
                        "STRIPE_PULSORA_CONNECT",
                        v,
                        "expected ignore or include",
                        "ignore",
                    )
                })?,
            },
            tax: match get("STRIPE_PULSORA_TAX") {
                None | Some("exclude") => stripe_revenue::Tax::Exclude,
                Some("include") => stripe_revenue::Tax::Include,
                Some(v) => {
                    return Err(error(
                        "STRIPE_PULSORA_TAX",
                        v,
                        "expected exclude or include",
                        "exclude",
                    ))
                }
            },
            unreported: match get("STRIPE_PULSORA_UNREPORTED_PAYMENTS") {
                None | Some("skip") => stripe_revenue::UnreportedPayments::Skip,
                Some("count") => stripe_revenue::UnreportedPayments::Count,
                Some(v) => {
                    return Err(error(
                        "STRIPE_PULSORA_UNREPORTED_PAYMENTS",
                        v,
                        "expected skip or count",
                        "skip",
                    ))
                }
            },
        };
        Ok(Self {
            max_connections,
            max_connections_per_client,
            header_timeout,
            inline_budget,
            money,
            shutdown_deadline,
            webhook_secrets,
            bind,
            pulsora_token,
            pulsora_endpoint,
            store,
            default_store_file,
            rate_limit,
            failure_limit,
            trusted_proxies,
            max_body,
            tolerance,
            stripe_api_key,
            stripe_api_base,
            log_format,
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

/// Largest `STRIPE_PULSORA_TOLERANCE`, in seconds.
pub const MAX_TOLERANCE_SECS: u64 = 3600;

/// Set to `1` to allow a plain `http://` `PULSORA_ENDPOINT` to a host that is not loopback.
const ALLOW_INSECURE: &str = "STRIPE_PULSORA_ALLOW_INSECURE_ENDPOINT";

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

fn is_cidr(text: &str) -> bool {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|p| p <= max))
}
