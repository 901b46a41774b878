//! Client settings, their defaults, and reading them from the environment.

use crate::client::{Inner, Mode, Revenue};
use crate::error::{ConfigError, Error};
use crate::retry::RetryPolicy;
use crate::token::Token;
use reqwest::header::HeaderValue;
use reqwest::Url;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Pulsora's single ingest endpoint (its SDKs' default).
pub const DEFAULT_ENDPOINT: &str = "https://pulsora.co/api/ingest";
/// The `User-Agent` sent unless [`RevenueBuilder::user_agent`] says otherwise.
pub const DEFAULT_USER_AGENT: &str = concat!("pulsora-rust/", env!("CARGO_PKG_VERSION"));
/// Default bound on a whole [`Revenue::track`] call, retries and waits included: 30 s.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(30);
/// Environment variable holding the secret token; unset or blank means dry run.
pub const ENV_TOKEN: &str = "PULSORA_API_TOKEN";
/// Environment variable that overrides the endpoint when set and not blank.
pub const ENV_ENDPOINT: &str = "PULSORA_ENDPOINT";

/// Settings for a [`Revenue`] client. Every setting has a default, documented on its method.
///
/// ```
/// use std::time::Duration;
///
/// let revenue = pulsora::Revenue::builder("sec_123")
///     .endpoint("https://pulsora.co/api/ingest")
///     .timeout(Duration::from_secs(5))
///     .max_retries(2)
///     .build()?;
/// # Ok::<(), pulsora::Error>(())
/// ```
#[derive(Clone)]
pub struct RevenueBuilder {
    /// `None` builds a dry-run client.
    token: Option<String>,
    endpoint: String,
    timeout: Duration,
    total_timeout: Duration,
    retry: RetryPolicy,
    user_agent: String,
    client: Option<reqwest::Client>,
}

impl RevenueBuilder {
    pub(crate) fn with_token(token: Option<String>) -> Self {
        RevenueBuilder {
            token,
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            timeout: Duration::from_secs(10),
            total_timeout: DEFAULT_TOTAL_TIMEOUT,
            retry: RetryPolicy::default(),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            client: None,
        }
    }

    /// A builder for a dry-run client: [`Revenue::track`] validates, logs the JSON body at
    /// `info` and succeeds without sending. It has no token, so the body has no `token` field.
    pub fn dry_run() -> Self {
        Self::with_token(None)
    }

    /// Settings from the process environment; see [`RevenueBuilder::from_vars`].
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Settings from a variable lookup (the environment, a config map, a test's table):
    ///
    /// - `PULSORA_API_TOKEN`: the secret token. Unset or blank → a dry-run client, so examples
    ///   and local runs work without an account.
    /// - `PULSORA_ENDPOINT`: overrides [`DEFAULT_ENDPOINT`] when set and not blank (checked at
    ///   [`build`](Self::build)).
    ///
    /// Other settings keep their defaults and can still be changed on the returned builder.
    ///
    /// ```
    /// use pulsora::RevenueBuilder;
    ///
    /// let revenue = RevenueBuilder::from_vars(|_| None).build()?;
    /// assert!(revenue.is_dry_run());
    ///
    /// let revenue = RevenueBuilder::from_vars(|name| match name {
    ///     "PULSORA_API_TOKEN" => Some("sec_123".into()),
    ///     "PULSORA_ENDPOINT" => Some("http://127.0.0.1:9/api/ingest".into()),
    ///     _ => None,
    /// })
    /// .build()?;
    /// assert!(!revenue.is_dry_run());
    /// assert_eq!(revenue.endpoint(), "http://127.0.0.1:9/api/ingest");
    /// # Ok::<(), pulsora::Error>(())
    /// ```
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut builder = Self::with_token(set(ENV_TOKEN));
        if let Some(endpoint) = set(ENV_ENDPOINT) {
            builder.endpoint = endpoint.trim().to_owned();
        }
        builder
    }

    /// The ingest URL. Default [`DEFAULT_ENDPOINT`]. Must be absolute `http` or `https`.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// Time allowed for one attempt, from sending to the whole answer. Default 10 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time allowed for a whole [`track`](Revenue::track) call: every attempt, backoff and
    /// `Retry-After` wait. Default 30 s ([`DEFAULT_TOTAL_TIMEOUT`]). A wait that would not fit
    /// ends the call with the last (transient) error at once.
    /// [`Revenue::track_within`] takes its own bound per call.
    pub fn total_timeout(mut self, budget: Duration) -> Self {
        self.total_timeout = budget;
        self
    }

    /// Retries after the first attempt (3 means at most 4 requests). Default 3, as Pulsora's
    /// revenue SDK. Every retry counts, 429s included, so the loop is always bounded.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.retry.max_retries = retries;
        self
    }

    /// Backoff before the first retry; it doubles each retry. Default 1 s.
    pub fn base_backoff(mut self, backoff: Duration) -> Self {
        self.retry.base_backoff = backoff;
        self
    }

    /// Upper bound of one backoff. Default 30 s.
    pub fn max_backoff(mut self, cap: Duration) -> Self {
        self.retry.max_backoff = cap;
        self
    }

    /// Full jitter (wait uniformly in `[0, backoff]`) so many clients do not retry in step.
    /// Default on. `Retry-After` waits are never jittered.
    pub fn jitter(mut self, on: bool) -> Self {
        self.retry.jitter = on;
        self
    }

    /// The longest `Retry-After` the client sleeps through. Default 60 s (Pulsora's SDK waits
    /// 60 s on a 429 without the header). When Pulsora asks for longer, `track` returns
    /// [`Error::RateLimited`] at once instead of holding the caller.
    pub fn max_retry_after(mut self, cap: Duration) -> Self {
        self.retry.max_retry_after = cap;
        self
    }

    /// The `User-Agent` header. Default [`DEFAULT_USER_AGENT`].
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Share a `reqwest::Client` (its pool, proxy and TLS settings). By default the client
    /// builds its own, which does not follow redirects (a redirected POST could silently turn
    /// into a GET); a shared client keeps its own redirect policy. Timeout and headers are set
    /// per request either way.
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Checks the settings and builds the client.
    ///
    /// Fails with [`ConfigError`] for an empty or public (`pub_…`) token, a token or user agent
    /// that cannot be a header, an endpoint that is not an absolute http(s) URL, or a TLS setup
    /// failure.
    pub fn build(self) -> Result<Revenue, Error> {
        let endpoint = parse_endpoint(&self.endpoint)?;
        let user_agent =
            HeaderValue::from_str(&self.user_agent).map_err(|_| ConfigError::UserAgent)?;
        let mode = match self.token {
            None => Mode::DryRun,
            Some(token) => {
                let token = Token::new(token)?;
                let client = match self.client {
                    Some(client) => client,
                    None => reqwest::Client::builder()
                        .redirect(reqwest::redirect::Policy::none())
                        .build()
                        .map_err(ConfigError::Client)?,
                };
                Mode::Send { token, client }
            }
        };
        Ok(Revenue {
            inner: Arc::new(Inner {
                mode,
                endpoint,
                timeout: self.timeout,
                total_timeout: self.total_timeout,
                retry: self.retry,
                user_agent,
            }),
        })
    }
}

fn parse_endpoint(endpoint: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: &str| ConfigError::Endpoint {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(endpoint).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    Ok(url)
}

impl fmt::Debug for RevenueBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevenueBuilder")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field(
                "endpoint",
                &Url::parse(&self.endpoint)
                    .map(|url| crate::client::redacted(&url).to_string())
                    .unwrap_or_else(|_| "[unparsable]".to_owned()),
            )
            .field("timeout", &self.timeout)
            .field("total_timeout", &self.total_timeout)
            .field("retry", &self.retry)
            .field("user_agent", &self.user_agent)
            .field("shared_client", &self.client.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_error(builder: RevenueBuilder) -> String {
        match builder.build() {
            Err(Error::Config(e)) => e.to_string(),
            other => format!("unexpected: {other:?}"),
        }
    }

    #[test]
    fn public_and_missing_tokens_are_refused_with_pulsoras_messages() {
        assert_eq!(
            config_error(Revenue::builder("pub_abc")),
            "Revenue events require secret token"
        );
        assert_eq!(config_error(Revenue::builder("")), "Missing API token");
    }

    #[test]
    fn endpoints_must_be_absolute_http_urls() {
        for bad in [
            "pulsora.co/api/ingest",
            "ftp://pulsora.co/x",
            "not a url",
            "http://",
        ] {
            let message = config_error(Revenue::builder("sec_1").endpoint(bad));
            assert!(message.starts_with("invalid endpoint"), "{bad}: {message}");
        }
        assert_eq!(
            config_error(Revenue::builder("sec_1").user_agent("a\nb")),
            "the user agent cannot be sent as an HTTP header value"
        );
    }

    #[test]
    fn environment_picks_the_mode_and_endpoint() {
        let dry = RevenueBuilder::from_vars(|name| (name == ENV_TOKEN).then(|| "  ".into()))
            .build()
            .unwrap();
        assert!(dry.is_dry_run());
        assert_eq!(dry.endpoint(), DEFAULT_ENDPOINT);
        let vars = |name: &str| match name {
            ENV_TOKEN => Some("sec_xyz".to_owned()),
            ENV_ENDPOINT => Some(" https://eu.example/api/ingest ".to_owned()),
            _ => None,
        };
        let live = RevenueBuilder::from_vars(vars).build().unwrap();
        assert!(!live.is_dry_run());
        assert_eq!(live.endpoint(), "https://eu.example/api/ingest");
        let public = RevenueBuilder::from_vars(|n| (n == ENV_TOKEN).then(|| "pub_1".into()));
        assert_eq!(config_error(public), "Revenue events require secret token");
    }

    #[test]
    fn debug_redacts_the_token() {
        let builder = Revenue::builder("sec_do_not_print");
        let shown = format!("{builder:?}");
        assert!(!shown.contains("do_not_print"), "{shown}");
        let revenue = builder.build().unwrap();
        let shown = format!("{revenue:?}");
        assert!(!shown.contains("do_not_print"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
