//! The one definition of every setting the bridge reads: its environment variable, its flag, its
//! default and its help, as a clap `Args` struct. `stripe-pulsora serve --help` prints it, the
//! README's table is checked against it by a test, [`crate::known_variables`] derives from it,
//! and [`EnvConfig`](crate::EnvConfig) is built from the typed values it parses, once.
//!
//! A bad value is reported as a [`ConfigError`] naming the variable, what is
//! wrong and a good value. Secrets (`STRIPE_WEBHOOK_SECRET`, `PULSORA_API_TOKEN`,
//! `STRIPE_API_KEY`) are read as plain text here and checked afterwards, so no parser error can
//! quote them, and `--help` never shows their values.

use clap::{Args, FromArgMatches};
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;
use stripe_webhook_guard::Cidr;

use crate::env::{ConfigError, Delivery, LimitSetting, LogFormat, RateSetting, StoreSetting};

/// Largest `STRIPE_PULSORA_TOLERANCE`, in seconds.
pub const MAX_TOLERANCE_SECS: u64 = 3600;

/// Every setting of `serve` (and of the commands that open the same stores), as parsed from
/// flags or the environment. Turned into an [`EnvConfig`](crate::EnvConfig) by
/// [`EnvConfig::from_settings`](crate::EnvConfig::from_settings).
#[derive(Clone, Args)]
#[command(next_help_heading = "Settings (flag or environment variable)")]
pub struct Settings {
    /// The endpoint's signing secret(s), whsec_…, comma-separated while rotating. Required by
    /// `serve`. Prefer the environment: a flag shows in `ps`.
    #[arg(
        long,
        env = "STRIPE_WEBHOOK_SECRET",
        value_name = "WHSEC",
        hide_env_values = true
    )]
    pub webhook_secret: Option<String>,

    /// Listen address.
    #[arg(long, env = "BIND", value_name = "ADDR", default_value = "127.0.0.1:3000", value_parser = parse_bind)]
    pub bind: SocketAddr,

    /// Pulsora secret token (sec_…). Unset: dry run, each payload is logged instead of sent.
    #[arg(
        long,
        env = "PULSORA_API_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub pulsora_token: Option<String>,

    /// Pulsora ingest URL. Unset: Pulsora's own.
    #[arg(long, env = "PULSORA_ENDPOINT", value_name = "URL", value_parser = parse_http_url)]
    pub pulsora_endpoint: Option<String>,

    /// Allow a plain http:// PULSORA_ENDPOINT to a host that is not loopback (a trusted private
    /// network only: the token travels in clear text).
    #[arg(long, env = "STRIPE_PULSORA_ALLOW_INSECURE_ENDPOINT", value_name = "BOOL", num_args = 0..=1, default_value = "false", default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_insecure_endpoint: bool,

    /// Where processed ids and the mapping's state live: memory | `sqlite:<path>` | redis://… |
    /// postgres://…. Unset: the SQLite file in STATE_DIRECTORY (or ./stripe-pulsora.sqlite3)
    /// for `serve` and whenever a Pulsora token is set, else memory.
    #[arg(long, env = "STRIPE_PULSORA_REPLAY_STORE", value_name = "STORE", value_parser = parse_store)]
    pub store: Option<StoreSetting>,

    /// Directory of the default SQLite file (systemd's StateDirectory= sets it).
    #[arg(long, env = "STATE_DIRECTORY", value_name = "DIR")]
    pub state_directory: Option<String>,

    /// Requests per second and burst per client address, or off. Unset: the library default.
    #[arg(long, env = "STRIPE_PULSORA_RATE_LIMIT", value_name = "PER_SECOND/BURST", value_parser = parse_rate_limit)]
    pub rate_limit: Option<LimitSetting<RateSetting>>,

    /// Failed verifications per minute per client address, or off. Unset: the library default.
    #[arg(long, env = "STRIPE_PULSORA_FAILURE_LIMIT", value_name = "PER_MINUTE", value_parser = parse_failure_limit)]
    pub failure_limit: Option<LimitSetting<u32>>,

    /// Comma-separated addresses or CIDRs of proxies whose X-Forwarded-For is believed.
    #[arg(long, env = "STRIPE_PULSORA_TRUSTED_PROXIES", value_name = "CIDRS", value_parser = parse_cidrs)]
    pub trusted_proxies: Option<CidrList>,

    /// Body limit in bytes (at least 1024).
    #[arg(long, env = "STRIPE_PULSORA_MAX_BODY", value_name = "BYTES", default_value = "1048576", value_parser = parse_max_body)]
    pub max_body: usize,

    /// Signature tolerance in seconds (1 to 3600; the check cannot be disabled here).
    #[arg(long, env = "STRIPE_PULSORA_TOLERANCE", value_name = "SECONDS", default_value = "300", value_parser = parse_tolerance)]
    pub tolerance: Duration,

    /// Seconds Pulsora may take per webhook answer, retries included (1 to 20).
    #[arg(long, env = "STRIPE_PULSORA_INLINE_BUDGET", value_name = "SECONDS", default_value = "9", value_parser = parse_inline_budget)]
    pub inline_budget: Duration,

    /// Open connections at most.
    #[arg(long, env = "STRIPE_PULSORA_MAX_CONNECTIONS", value_name = "N", default_value = "512", value_parser = parse_max_connections)]
    pub max_connections: usize,

    /// Open connections per peer address, or off.
    #[arg(long, env = "STRIPE_PULSORA_MAX_CONNECTIONS_PER_CLIENT", value_name = "N|off", default_value = "64", value_parser = parse_per_client)]
    pub max_connections_per_client: PerClient,

    /// Seconds for a request's headers and for an idle keep-alive connection.
    #[arg(long, env = "STRIPE_PULSORA_HEADER_TIMEOUT", value_name = "SECONDS", default_value = "10", value_parser = parse_header_timeout)]
    pub header_timeout: Duration,

    /// Seconds in-flight deliveries get to finish on SIGTERM.
    #[arg(long, env = "STRIPE_PULSORA_SHUTDOWN_DEADLINE", value_name = "SECONDS", default_value = "20", value_parser = parse_shutdown_deadline)]
    pub shutdown_deadline: Duration,

    /// Stripe secret or restricted key (sk_… or rk_…): attribution lookups, fetch on notify,
    /// and the backfill, adopt and reconcile commands.
    #[arg(
        long,
        env = "STRIPE_API_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub stripe_api_key: Option<String>,

    /// Stripe's API base URL (a proxy, or a fake Stripe in tests).
    #[arg(long, env = "STRIPE_API_BASE", value_name = "URL", default_value = "https://api.stripe.com", value_parser = parse_api_base)]
    pub stripe_api_base: String,

    /// Log format: text or json (the filter is RUST_LOG, default info).
    #[arg(long, env = "STRIPE_PULSORA_LOG_FORMAT", value_name = "text|json", default_value = "text", value_parser = parse_log_format)]
    pub log_format: LogFormat,

    /// Which Stripe mode counts: live, test or any. Unset: live with a Pulsora token, any in a
    /// dry run.
    #[arg(long, env = "STRIPE_PULSORA_LIVEMODE", value_name = "live|test|any", value_parser = parse_livemode)]
    pub livemode: Option<stripe_revenue::Livemode>,

    /// Connect events (from connected accounts): ignore or include.
    #[arg(long, env = "STRIPE_PULSORA_CONNECT", value_name = "ignore|include", default_value = "ignore", value_parser = parse_connect)]
    pub connect: stripe_revenue::Connect,

    /// Tax in revenue: exclude or include.
    #[arg(long, env = "STRIPE_PULSORA_TAX", value_name = "exclude|include", default_value = "exclude", value_parser = parse_tax)]
    pub tax: stripe_revenue::Tax,

    /// Refunds and disputes of payments the bridge never reported: skip or count.
    #[arg(long, env = "STRIPE_PULSORA_UNREPORTED_PAYMENTS", value_name = "skip|count", default_value = "skip", value_parser = parse_unreported)]
    pub unreported_payments: stripe_revenue::UnreportedPayments,

    /// When revenue events reach Pulsora: outbox (acknowledge first: committed with the state,
    /// answered at once, delivered by the worker; needs a durable store, the in-memory one is
    /// always inline) or inline (sent before Stripe is answered).
    #[arg(long, env = "STRIPE_PULSORA_DELIVERY", value_name = "outbox|inline", default_value = "outbox", value_parser = parse_delivery)]
    pub delivery: Delivery,

    /// How long an outbox row is retried before it becomes a dead letter (7d, 36h, 90m, 45s or
    /// seconds; 1 minute to 30 days).
    #[arg(long, env = "STRIPE_PULSORA_OUTBOX_HORIZON", value_name = "DURATION", default_value = "7d", value_parser = parse_outbox_horizon)]
    pub outbox_horizon: Duration,

    /// The longest wait between two attempts of an outbox row (1 second to 1 day).
    #[arg(long, env = "STRIPE_PULSORA_OUTBOX_MAX_BACKOFF", value_name = "DURATION", default_value = "10m", value_parser = parse_outbox_max_backoff)]
    pub outbox_max_backoff: Duration,

    /// How long an event's replay claim lasts while it is handled (1 second to 1 hour). After a
    /// crash, Stripe's retry of an event that was being handled waits this long (409). Unset:
    /// the layer's 5 minutes.
    #[arg(long, env = "STRIPE_PULSORA_REPLAY_LEASE", value_name = "DURATION", value_parser = parse_replay_lease)]
    pub replay_lease: Option<Duration>,
}

/// `STRIPE_PULSORA_TRUSTED_PROXIES`: the parsed ranges (one value, comma-separated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrList(pub Vec<Cidr>);

/// `STRIPE_PULSORA_MAX_CONNECTIONS_PER_CLIENT`: a cap, or `None` for `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerClient(pub Option<usize>);

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only whether secrets are set, never their text.
        f.debug_struct("Settings")
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "redacted"),
            )
            .field("bind", &self.bind)
            .field(
                "pulsora_token",
                &self.pulsora_token.as_ref().map(|_| "redacted"),
            )
            .field("pulsora_endpoint", &self.pulsora_endpoint)
            .field("store", &self.store)
            .field(
                "stripe_api_key",
                &self.stripe_api_key.as_ref().map(|_| "redacted"),
            )
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Parses the process environment (no flags): what the examples and the Stripe API
    /// commands read. Empty values count as unset.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Removes the settings' variables that are set but empty from the process environment, so
    /// a command line parsed with their `env` fallbacks treats them as unset (as
    /// [`from_env`](Self::from_env) does). Call it first thing in `main`, while the process has
    /// one thread.
    pub fn forget_empty_variables() {
        for (variable, _) in variables_and_flags() {
            if std::env::var_os(&variable).is_some_and(|v| v.to_string_lossy().trim().is_empty()) {
                std::env::remove_var(&variable);
            }
        }
    }

    /// Parses the given variables and nothing else (the process environment is not read):
    /// tests pass their own. Empty values count as unset.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: std::collections::HashMap<String, String> = vars.into_iter().collect();
        let command = Self::augment_args(clap::Command::new("stripe-pulsora").no_binary_name(true))
            .mut_args(|arg| arg.env(None));
        let mut args = Vec::new();
        for (variable, flag) in variables_and_flags() {
            if let Some(value) = vars
                .get(&variable)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
            {
                args.push(format!("--{flag}={value}"));
            }
        }
        let matches = command
            .try_get_matches_from(&args)
            .map_err(|error| config_error(&error))?;
        Self::from_arg_matches(&matches).map_err(|error| config_error(&error))
    }
}

/// Every `(environment variable, flag)` pair, in declaration order.
pub fn variables_and_flags() -> Vec<(String, String)> {
    Settings::augment_args(clap::Command::new("settings"))
        .get_arguments()
        .filter_map(|arg| {
            let variable = arg.get_env()?.to_str()?.to_owned();
            Some((variable, arg.get_long()?.to_owned()))
        })
        .collect()
}

/// Every setting as `(variable, default, help)`, for docs and the README check.
pub fn describe() -> Vec<(String, Option<String>, String)> {
    Settings::augment_args(clap::Command::new("settings"))
        .get_arguments()
        .filter_map(|arg| {
            let variable = arg.get_env()?.to_str()?.to_owned();
            let default = arg
                .get_default_values()
                .first()
                .and_then(|v| v.to_str())
                .map(str::to_owned);
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            Some((variable, default, help))
        })
        .collect()
}

/// A parser's complaint: what is wrong and a good value.
#[derive(Debug)]
struct Invalid {
    problem: String,
    example: &'static str,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (for example {})", self.problem, self.example)
    }
}

impl std::error::Error for Invalid {}

fn invalid(problem: impl Into<String>, example: &'static str) -> Invalid {
    Invalid {
        problem: problem.into(),
        example,
    }
}

/// A command line's error about a setting's value, as a [`ConfigError`] naming the variable;
/// `None` for other errors (an unknown flag, `--help`), which clap reports itself.
pub fn as_config_error(error: &clap::Error) -> Option<ConfigError> {
    use clap::error::ErrorKind;
    let about_a_value = matches!(
        error.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    );
    let config_error = config_error(error);
    (about_a_value
        && config_error
            .variable
            .chars()
            .all(|c| c.is_ascii_uppercase() || c == '_'))
    .then_some(config_error)
}

/// A clap error on a setting → the variable, its value, the problem and an example.
fn config_error(error: &clap::Error) -> ConfigError {
    use clap::error::{ContextKind, ContextValue};
    let text = |kind| match error.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let argument = text(ContextKind::InvalidArg).unwrap_or_default();
    let variable = variables_and_flags()
        .into_iter()
        .find(|(_, flag)| {
            argument
                .strip_prefix(&format!("--{flag}"))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '=']))
        })
        .map_or_else(|| argument.clone(), |(variable, _)| variable);
    let value = text(ContextKind::InvalidValue).unwrap_or_default();
    let source = std::error::Error::source(error);
    match source.and_then(|s| s.downcast_ref::<Invalid>()) {
        Some(invalid) => ConfigError {
            variable,
            value,
            problem: invalid.problem.clone(),
            example: invalid.example.to_owned(),
        },
        None => ConfigError {
            variable,
            value,
            problem: error.kind().to_string(),
            example: String::new(),
        },
    }
}

fn parse_bind(text: &str) -> Result<SocketAddr, Invalid> {
    text.trim()
        .parse()
        .map_err(|e| invalid(format!("not an address:port ({e})"), "0.0.0.0:8080"))
}

/// `text` when it is an absolute http(s) URL; `example` shows a good one.
fn http_url<'a>(text: &'a str, example: &'static str) -> Result<&'a str, Invalid> {
    let text = text.trim();
    if text.starts_with("http://") || text.starts_with("https://") {
        Ok(text)
    } else {
        Err(invalid("not an http(s) URL", example))
    }
}

fn parse_http_url(text: &str) -> Result<String, Invalid> {
    http_url(text, "https://pulsora.co/api/ingest").map(str::to_owned)
}

fn parse_api_base(text: &str) -> Result<String, Invalid> {
    http_url(text, "https://api.stripe.com").map(|url| url.trim_end_matches('/').to_owned())
}

fn parse_store(text: &str) -> Result<StoreSetting, Invalid> {
    let text = text.trim();
    match text {
        "memory" => Ok(StoreSetting::Memory),
        _ if text.starts_with("sqlite:") && text.len() > "sqlite:".len() => {
            Ok(StoreSetting::Sqlite(text["sqlite:".len()..].to_owned()))
        }
        _ if text.starts_with("redis://") || text.starts_with("rediss://") => {
            Ok(StoreSetting::Redis(text.to_owned()))
        }
        _ if text.starts_with("postgres://") || text.starts_with("postgresql://") => {
            Ok(StoreSetting::Postgres(text.to_owned()))
        }
        _ => Err(invalid(
            "expected memory, sqlite:<path>, redis://… or postgres://…",
            "sqlite:/var/lib/stripe-pulsora/state.sqlite3",
        )),
    }
}

fn parse_rate_limit(text: &str) -> Result<LimitSetting<RateSetting>, Invalid> {
    let text = text.trim();
    if text == "off" {
        return Ok(LimitSetting::Off);
    }
    let bad = || {
        invalid(
            "expected off or <per_second>/<burst>, both positive integers",
            "100/200",
        )
    };
    let (rate, burst) = text.split_once('/').ok_or_else(bad)?;
    let per_second: u32 = rate.trim().parse().map_err(|_| bad())?;
    let burst: u32 = burst.trim().parse().map_err(|_| bad())?;
    if per_second == 0 || burst == 0 {
        return Err(bad());
    }
    Ok(LimitSetting::Set(RateSetting { per_second, burst }))
}

fn parse_failure_limit(text: &str) -> Result<LimitSetting<u32>, Invalid> {
    match text.trim() {
        "off" => Ok(LimitSetting::Off),
        n => match n.parse::<u32>() {
            Ok(n) if n > 0 => Ok(LimitSetting::Set(n)),
            _ => Err(invalid(
                "expected off or a positive number of failed verifications per minute",
                "20",
            )),
        },
    }
}

fn parse_cidrs(text: &str) -> Result<CidrList, Invalid> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|c| {
            c.parse::<Cidr>().map_err(|_| {
                invalid(
                    format!("{c:?} is not an IP address or CIDR"),
                    "10.0.0.0/8,192.168.1.10",
                )
            })
        })
        .collect::<Result<_, _>>()
        .map(CidrList)
}

fn positive(text: &str, example: &'static str) -> Result<u64, Invalid> {
    match text.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(invalid("expected a positive whole number", example)),
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn parse_max_body(text: &str) -> Result<usize, Invalid> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1024 => Ok(n),
        _ => Err(invalid(
            "expected a number of bytes, at least 1024",
            "1048576",
        )),
    }
}

fn parse_tolerance(text: &str) -> Result<Duration, Invalid> {
    match text.trim().parse::<u64>() {
        // Capped: a day-long window lets a captured delivery be replayed for a day once its id
        // has left the replay store; an hour covers any sane clock skew.
        Ok(n) if n > 0 && n <= MAX_TOLERANCE_SECS => Ok(Duration::from_secs(n)),
        _ => Err(invalid(
            format!("expected a positive number of seconds, at most {MAX_TOLERANCE_SECS} (the check cannot be disabled from the environment)"),
            "300",
        )),
    }
}

fn parse_inline_budget(text: &str) -> Result<Duration, Invalid> {
    match text.trim().parse::<u64>() {
        Ok(n) if (1..=20).contains(&n) => Ok(Duration::from_secs(n)),
        _ => Err(invalid(
            "expected 1 to 20 seconds (Stripe must get its answer well inside its own timeout)",
            "9",
        )),
    }
}

fn parse_max_connections(text: &str) -> Result<usize, Invalid> {
    positive(text, "512").map(to_usize)
}

fn parse_per_client(text: &str) -> Result<PerClient, Invalid> {
    match text.trim() {
        "off" => Ok(PerClient(None)),
        n => positive(n, "64").map(|n| PerClient(Some(to_usize(n)))),
    }
}

fn parse_header_timeout(text: &str) -> Result<Duration, Invalid> {
    positive(text, "10").map(Duration::from_secs)
}

fn parse_shutdown_deadline(text: &str) -> Result<Duration, Invalid> {
    text.trim()
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| invalid("expected a number of seconds", "20"))
}

fn parse_log_format(text: &str) -> Result<LogFormat, Invalid> {
    match text.trim() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(invalid("expected text or json", "json")),
    }
}

fn parse_livemode(text: &str) -> Result<stripe_revenue::Livemode, Invalid> {
    text.trim()
        .parse()
        .map_err(|_| invalid("expected live, test or any", "live"))
}

fn parse_connect(text: &str) -> Result<stripe_revenue::Connect, Invalid> {
    text.trim()
        .parse()
        .map_err(|_| invalid("expected ignore or include", "ignore"))
}

fn parse_tax(text: &str) -> Result<stripe_revenue::Tax, Invalid> {
    match text.trim() {
        "exclude" => Ok(stripe_revenue::Tax::Exclude),
        "include" => Ok(stripe_revenue::Tax::Include),
        _ => Err(invalid("expected exclude or include", "exclude")),
    }
}

fn parse_delivery(text: &str) -> Result<Delivery, Invalid> {
    match text.trim() {
        "outbox" => Ok(Delivery::Outbox),
        "inline" => Ok(Delivery::Inline),
        _ => Err(invalid(
            "expected outbox (acknowledge first) or inline",
            "outbox",
        )),
    }
}

/// `7d`, `36h`, `90m`, `45s` or plain seconds, within `[min, max]`.
fn parse_span(
    text: &str,
    min: Duration,
    max: Duration,
    example: &'static str,
) -> Result<Duration, Invalid> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let unit = match unit {
        "s" => Some(1),
        "m" => Some(60),
        "h" => Some(3600),
        "d" => Some(86_400),
        _ => None,
    };
    let span = digits
        .parse::<u64>()
        .ok()
        .zip(unit)
        .and_then(|(n, unit)| n.checked_mul(unit))
        .map(Duration::from_secs);
    match span {
        Some(span) if span >= min && span <= max => Ok(span),
        _ => Err(invalid(
            format!(
                "expected a duration from {} s to {} s, as 7d, 36h, 90m, 45s or seconds",
                min.as_secs(),
                max.as_secs()
            ),
            example,
        )),
    }
}

fn parse_outbox_horizon(text: &str) -> Result<Duration, Invalid> {
    parse_span(
        text,
        Duration::from_secs(60),
        Duration::from_secs(30 * 86_400),
        "7d",
    )
}

fn parse_outbox_max_backoff(text: &str) -> Result<Duration, Invalid> {
    parse_span(
        text,
        Duration::from_secs(1),
        Duration::from_secs(86_400),
        "10m",
    )
}

fn parse_replay_lease(text: &str) -> Result<Duration, Invalid> {
    parse_span(
        text,
        Duration::from_secs(1),
        Duration::from_secs(3600),
        "60s",
    )
}

fn parse_unreported(text: &str) -> Result<stripe_revenue::UnreportedPayments, Invalid> {
    match text.trim() {
        "skip" => Ok(stripe_revenue::UnreportedPayments::Skip),
        "count" => Ok(stripe_revenue::UnreportedPayments::Count),
        _ => Err(invalid("expected skip or count", "skip")),
    }
}
