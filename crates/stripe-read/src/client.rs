//! The client: one pooled HTTP client, the key, the base URL, the pinned version, retries.

use crate::error::ApiError;
use crate::key::{ApiKey, KeyError};
use crate::list::{Page, Pages};
use crate::params::Params;
use crate::retry::{parse_retry_after, RetryPolicy};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use std::fmt;
use std::time::{Duration, SystemTime};

/// Stripe's API.
pub const DEFAULT_BASE: &str = "https://api.stripe.com";

/// The `Stripe-Version` every request pins: objects come back in this shape whatever the
/// account's default version is. It is the first "basil" version, whose shapes the mapping reads
/// (it reads the older shapes too, for webhooks sent at older versions).
pub const PINNED_VERSION: &str = "2025-03-31.basil";

/// A read-only Stripe API client. Cheap to clone (one connection pool).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use stripe_read::{Params, StripeClient};
///
/// let stripe = StripeClient::builder(std::env::var("STRIPE_API_KEY")?)
///     .base_url(std::env::var("STRIPE_API_BASE").unwrap_or_else(|_| stripe_read::DEFAULT_BASE.into()))
///     .build()?;
/// let subscription: serde_json::Value = stripe
///     .get("/v1/subscriptions/sub_123", &Params::new().expand("discounts"))
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    key: ApiKey,
    base: String,
    version: String,
    retry: RetryPolicy,
}

impl fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeClient")
            .field("key", &self.key)
            .field("base", &self.base)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Settings for a [`StripeClient`].
#[derive(Debug, Clone)]
#[must_use]
pub struct StripeClientBuilder {
    key: Result<ApiKey, KeyError>,
    base: String,
    version: String,
    timeout: Duration,
    retry: RetryPolicy,
    http: Option<reqwest::Client>,
}

impl StripeClientBuilder {
    /// Another base URL: a proxy, or a fake Stripe on loopback in tests. Default
    /// [`DEFAULT_BASE`].
    pub fn base_url(mut self, base: impl Into<String>) -> Self {
        self.base = base.into().trim_end_matches('/').to_owned();
        self
    }

    /// Another pinned `Stripe-Version`. Default [`PINNED_VERSION`].
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Timeout of one request. Default 20 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries after the first attempt (network errors, `429`, `5xx`). Default 4.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.retry.max_retries = retries;
        self
    }

    /// Backoff before the first retry (doubles, full jitter, capped at 8 s). Default 500 ms.
    pub fn base_backoff(mut self, backoff: Duration) -> Self {
        self.retry.base_backoff = backoff;
        self
    }

    /// The longest `Retry-After` slept through; longer fails as transient. Default 30 s.
    pub fn max_retry_after(mut self, limit: Duration) -> Self {
        self.retry.max_retry_after = limit;
        self
    }

    /// Shares an existing `reqwest::Client` (its timeout then applies instead of
    /// [`timeout`](Self::timeout)).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The client; fails only for a key that is not a Stripe API key.
    pub fn build(self) -> Result<StripeClient, KeyError> {
        let key = self.key?;
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(self.timeout)
                // Never follow a redirect with the key in the header.
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("stripe-read/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_else(|_| reqwest::Client::new()),
        };
        Ok(StripeClient {
            http,
            key,
            base: self.base,
            version: self.version,
            retry: self.retry,
        })
    }
}

impl StripeClient {
    /// A client for `key` against Stripe's API with the defaults.
    pub fn new(key: impl Into<String>) -> Result<Self, KeyError> {
        Self::builder(key).build()
    }

    /// Settings for a client.
    pub fn builder(key: impl Into<String>) -> StripeClientBuilder {
        StripeClientBuilder {
            key: ApiKey::new(key),
            base: DEFAULT_BASE.to_owned(),
            version: PINNED_VERSION.to_owned(),
            timeout: Duration::from_secs(20),
            retry: RetryPolicy::default(),
            http: None,
        }
    }

    /// The key (redacted when shown).
    pub fn key(&self) -> &ApiKey {
        &self.key
    }

    /// The pinned `Stripe-Version`.
    pub fn pinned_version(&self) -> &str {
        &self.version
    }

    /// `GET {base}{path}?{params}`, decoded as `T`, with the client's retries.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &Params,
    ) -> Result<T, ApiError> {
        let url = format!("{}{}", self.base, path);
        let mut retry = 0;
        loop {
            let wait = match self.attempt(&url, params).await {
                Attempt::Done(body) => {
                    return serde_json::from_slice(&body)
                        .map_err(|e| ApiError::Decode(format!("{path}: {e}")))
                }
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry { error, after } => {
                    if retry >= self.retry.max_retries {
                        return Err(error);
                    }
                    retry += 1;
                    match after {
                        Some(after) if after > self.retry.max_retry_after => return Err(error),
                        Some(after) => after,
                        None => self.retry.backoff(retry),
                    }
                }
            };
            tracing::debug!(
                path,
                retry,
                wait_ms = wait.as_millis() as u64,
                "retrying a Stripe API call"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One page of a list endpoint.
    pub async fn list_page<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &Params,
    ) -> Result<Page<T>, ApiError> {
        let raw: Page<serde_json::Value> = self.get(path, params).await?;
        Page::typed(raw)
    }

    /// Every object of a list endpoint, page by page (`limit=100` unless `params` sets it,
    /// `starting_after` the last id of each page). Stripe lists newest first.
    pub fn list<T: DeserializeOwned>(&self, path: &str, params: Params) -> Pages<T> {
        let params = if params.get("limit").is_some() {
            params
        } else {
            params.with("limit", "100")
        };
        Pages::new(self.clone(), path.to_owned(), params)
    }

    async fn attempt(&self, url: &str, params: &Params) -> Attempt {
        let response = self
            .http
            .get(url)
            .query(params.pairs())
            .bearer_auth(self.key.expose())
            .header("Stripe-Version", &self.version)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            // `without_url`: the URL is not secret, but keep errors short and uniform.
            Err(error) => {
                return Attempt::Retry {
                    error: ApiError::Transient(error.without_url().to_string()),
                    after: None,
                }
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => {
                return Attempt::Retry {
                    error: ApiError::Transient(error.without_url().to_string()),
                    after: None,
                }
            }
        };
        if status.is_success() {
            return Attempt::Done(body.to_vec());
        }
        let message = stripe_message(&body).unwrap_or_else(|| status.to_string());
        match status {
            StatusCode::TOO_MANY_REQUESTS | StatusCode::CONFLICT => Attempt::Retry {
                error: ApiError::Transient(format!("Stripe answered {status}: {message}")),
                after: retry_after,
            },
            s if s.is_server_error() => Attempt::Retry {
                error: ApiError::Transient(format!("Stripe answered {status}: {message}")),
                after: retry_after,
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Attempt::Fail(ApiError::KeyRefused {
                    status: status.as_u16(),
                    message,
                })
            }
            StatusCode::NOT_FOUND => Attempt::Fail(ApiError::NotFound(message)),
            s if s.is_redirection() => Attempt::Fail(ApiError::Invalid {
                status: s.as_u16(),
                message: "Stripe's API never redirects: check STRIPE_API_BASE".to_owned(),
            }),
            s => Attempt::Fail(ApiError::Invalid {
                status: s.as_u16(),
                message,
            }),
        }
    }
}

enum Attempt {
    Done(Vec<u8>),
    Fail(ApiError),
    Retry {
        error: ApiError,
        after: Option<Duration>,
    },
}

/// Stripe's error body: `{"error": {"message": "…"}}`.
fn stripe_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["error"]["message"].as_str().map(str::to_owned)
}
