//! Attribution from the Stripe API (feature `stripe-api`): when neither the event nor anything
//! learned earlier names the visit, ask Stripe for the customer's metadata, then for the
//! Checkout Session that created the subscription.

use crate::attribution::from_metadata;
use crate::map::Subjects;
use crate::state::Attribution;
use crate::stripe::Metadata;
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// Stripe's API base URL.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// A read-only Stripe API client for attribution lookups. The key is redacted in `Debug` and
/// never logged; a restricted key with read access to customers and Checkout Sessions is enough.
///
/// It also reads the current subscription for every subscription, invoice and discount event
/// (**fetch on notify**, [`StripeApi::current_subscription`]), so MRR comes from Stripe's own
/// object whatever order the events arrive in.
#[derive(Clone)]
pub struct StripeApi {
    http: reqwest::Client,
    key: String,
    base: String,
    /// Fetch on notify: `None` when the key is not a secret or restricted key.
    reader: Option<stripe_read::StripeClient>,
    cache: std::sync::Arc<std::sync::Mutex<FetchCache>>,
}

/// How long a fetched subscription answers for the same subscription's next events: a burst
/// of events about one change (updated, invoice paid, discount) reads Stripe once.
pub const FETCH_CACHE_TTL: Duration = Duration::from_secs(2);

/// Entries kept at most in the fetch cache (expired ones are dropped first).
const FETCH_CACHE_MAX: usize = 10_000;

type Fetched = Option<(crate::stripe::Subscription, i64)>;

#[derive(Default)]
struct FetchCache {
    entries: std::collections::HashMap<String, (std::time::Instant, Fetched)>,
}

impl fmt::Debug for StripeApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeApi")
            .field("base", &self.base)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// The lookup failed (network, Stripe 5xx/429): the delivery is retried later.
#[derive(Debug, thiserror::Error)]
#[error("Stripe API lookup failed: {0}")]
pub struct LookupError(String);

#[derive(Deserialize)]
struct WithMetadata {
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct SessionList {
    #[serde(default)]
    data: Vec<WithMetadata>,
}

impl StripeApi {
    /// A client for `key` (`sk_…` or `rk_…`) against the real API, 10 s timeout.
    pub fn new(key: impl Into<String>) -> Self {
        Self::with_base(key, STRIPE_API_BASE)
    }

    /// A client against another base URL (tests use a fake Stripe on loopback).
    pub fn with_base(key: impl Into<String>, base: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let key = key.into();
        let base = base.into().trim_end_matches('/').to_owned();
        let reader = match stripe_read::StripeClient::builder(key.clone())
            .base_url(base.clone())
            .timeout(Duration::from_secs(10))
            // A webhook answer cannot wait long: a longer Retry-After answers 503 instead, and
            // Stripe delivers again later.
            .max_retry_after(Duration::from_secs(2))
            .max_retries(2)
            .build()
        {
            Ok(reader) => Some(reader),
            Err(error) => {
                tracing::warn!("fetch on notify disabled: {error}");
                None
            }
        };
        Self {
            http,
            key,
            base,
            reader,
            cache: std::sync::Arc::default(),
        }
    }

    /// Fetch on notify: the subscription as Stripe has it now (discounts, item discounts and
    /// price tiers expanded), and when it was read (Unix seconds). Cached for
    /// [`FETCH_CACHE_TTL`]; `429` waits for `Retry-After` (up to 2 s, then transient);
    /// network errors and `5xx` are transient (the webhook answers `503`); a deleted object
    /// (`404`) or a key without read access to subscriptions gives `None` (payload rules apply).
    pub async fn current_subscription(&self, id: &str) -> Result<Fetched, LookupError> {
        let Some(reader) = &self.reader else {
            return Ok(None);
        };
        let now = std::time::Instant::now();
        if let Some((at, found)) = self.cache_lock().entries.get(id) {
            if now.duration_since(*at) < FETCH_CACHE_TTL {
                return Ok(found.clone());
            }
        }
        let params = stripe_read::Params::new()
            .expand("discounts")
            .expand("items.data.discounts")
            .expand("items.data.price.tiers");
        let path = format!("/v1/subscriptions/{}", encode(id));
        let found = match reader
            .get::<crate::stripe::Subscription>(&path, &params)
            .await
        {
            Ok(subscription) => {
                let read_at = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                Some((subscription, read_at))
            }
            Err(stripe_read::ApiError::NotFound(_)) => None,
            Err(error) if error.is_transient() => return Err(LookupError(error.to_string())),
            Err(error) => {
                tracing::warn!(
                    subscription = id,
                    "fetch on notify refused, payload rules apply: {error}"
                );
                None
            }
        };
        let mut cache = self.cache_lock();
        if cache.entries.len() >= FETCH_CACHE_MAX {
            cache
                .entries
                .retain(|_, (at, _)| now.duration_since(*at) < FETCH_CACHE_TTL);
            if cache.entries.len() >= FETCH_CACHE_MAX {
                cache.entries.clear();
            }
        }
        cache.entries.insert(id.to_owned(), (now, found.clone()));
        Ok(found)
    }

    fn cache_lock(&self) -> std::sync::MutexGuard<'_, FetchCache> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The customer's metadata, then the subscription's Checkout Session metadata.
    pub async fn attribution(
        &self,
        subjects: &Subjects,
    ) -> Result<Option<Attribution>, LookupError> {
        if let Some(customer) = &subjects.customer {
            let url = format!("{}/v1/customers/{}", self.base, encode(customer));
            if let Some(found) = self.get::<WithMetadata>(&url).await? {
                if let Some(attribution) = from_metadata(found.metadata.as_ref()) {
                    return Ok(Some(attribution));
                }
            }
        }
        if let Some(subscription) = &subjects.subscription {
            let url = format!(
                "{}/v1/checkout/sessions?subscription={}&limit=1",
                self.base,
                encode(subscription)
            );
            if let Some(list) = self.get::<SessionList>(&url).await? {
                return Ok(list
                    .data
                    .first()
                    .and_then(|s| from_metadata(s.metadata.as_ref())));
            }
        }
        Ok(None)
    }

    /// `Ok(None)` for 404 (deleted object): nothing to learn, not worth retrying.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<Option<T>, LookupError> {
        let response = self
            .http
            .get(url)
            .bearer_auth(&self.key)
            .send()
            .await
            .map_err(|e| LookupError(e.without_url().to_string()))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(LookupError(format!("Stripe answered {status}")));
        }
        if !status.is_success() {
            // 401/403: a wrong or too restricted key. Retrying will not help; fall back to the
            // placeholder and say why.
            tracing::warn!(%status, "Stripe API refused the attribution lookup; check STRIPE_API_KEY's permissions");
            return Ok(None);
        }
        response
            .json::<T>()
            .await
            .map(Some)
            .map_err(|e| LookupError(e.without_url().to_string()))
    }
}

/// Stripe ids are `[A-Za-z0-9_]`; anything else is percent-encoded so an id can't change the path.
fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
