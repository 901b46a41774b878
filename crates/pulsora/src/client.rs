//! The client: one request body, sent with bounded retries, or logged in a dry run.

use crate::builder::RevenueBuilder;
use crate::error::Error;
use crate::event::{EventType, RevenueEvent};
use crate::response;
use crate::retry::{self, RetryPolicy};
use crate::token::Token;
use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::{StatusCode, Url};
use serde::Serialize;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The Pulsora revenue client. Cheap to clone (one shared connection pool).
///
/// Build it with [`Revenue::new`], [`Revenue::builder`], [`Revenue::from_env`] or
/// [`Revenue::dry_run`], then call [`track`](Revenue::track) per event. `Debug` never shows
/// the token.
#[derive(Clone)]
pub struct Revenue {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) mode: Mode,
    pub(crate) endpoint: Url,
    pub(crate) timeout: Duration,
    pub(crate) total_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) user_agent: HeaderValue,
}

pub(crate) enum Mode {
    Send {
        token: Token,
        client: reqwest::Client,
    },
    DryRun,
}

/// What a successful [`Revenue::track`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Receipt {
    /// The 2xx status Pulsora answered (202 as documented); `None` in a dry run.
    pub status: Option<u16>,
    /// Requests made, retries included; 0 in a dry run.
    pub attempts: u32,
}

impl Receipt {
    /// `true` when nothing was sent (dry run).
    pub fn is_dry_run(&self) -> bool {
        self.status.is_none()
    }
}

/// `{"type":"revenue","token":…,"data":{…}}`; the token also goes in `X-API-Token`, as in
/// Pulsora's raw-HTTP example.
#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    data: &'a RevenueEvent,
}

/// One attempt that did not end in a 2xx.
enum Failure {
    Status {
        status: StatusCode,
        message: String,
        retry_after: Option<Duration>,
    },
    Timeout,
    Network(reqwest::Error),
}

impl Failure {
    fn is_retriable(&self) -> bool {
        match self {
            // 408 and 425 say "send it again"; 409 and 413 will not change within seconds, so
            // they are left to the caller's later retry (Stripe's redelivery).
            Failure::Status { status, .. } => {
                status.is_server_error() || matches!(status.as_u16(), 408 | 425 | 429)
            }
            Failure::Timeout | Failure::Network(_) => true,
        }
    }

    fn into_error(self, attempts: u32, timeout: Duration) -> Error {
        match self {
            Failure::Status {
                status,
                message,
                retry_after,
            } => classify(status, message, retry_after, attempts),
            Failure::Timeout => Error::Timeout { timeout, attempts },
            Failure::Network(source) => Error::Network { attempts, source },
        }
    }
}

/// The one place a status becomes an error kind (see [`Disposition`](crate::Disposition)).
fn classify(
    status: StatusCode,
    message: String,
    retry_after: Option<Duration>,
    attempts: u32,
) -> Error {
    let code = status.as_u16();
    match code {
        429 => Error::RateLimited {
            retry_after,
            message,
            attempts,
        },
        500..=599 => Error::Server {
            status: code,
            message,
            attempts,
            retry_after,
        },
        // A refusal of this payload: Pulsora's validation errors.
        400 | 422 => Error::Rejected {
            status: code,
            message,
            attempts,
        },
        // The token (401, 403) or the endpoint (404, 405, 410, any redirect): every event
        // would fail alike, so the event is kept and an operator is told.
        401 | 403 | 404 | 405 | 410 | 300..=399 => Error::Misconfigured {
            status: code,
            message,
            attempts,
        },
        // 408, 409, 413, 425 and anything unknown: keep the event, try later.
        _ => Error::Unexpected {
            status: code,
            message,
            attempts,
        },
    }
}

impl Revenue {
    /// A client for `token` (a secret `sec_…` token) with every default.
    ///
    /// Fails with [`ConfigError`](crate::ConfigError) for an empty or public (`pub_…`) token.
    pub fn new(token: impl Into<String>) -> Result<Self, Error> {
        Self::builder(token).build()
    }

    /// A builder for `token`, to change the endpoint, timeout, retries or HTTP client.
    pub fn builder(token: impl Into<String>) -> RevenueBuilder {
        RevenueBuilder::with_token(Some(token.into()))
    }

    /// A client that validates and logs each event's JSON body (tracing, `info`) instead of
    /// sending it, and succeeds. For examples and local runs without a token.
    pub fn dry_run() -> Self {
        // Only the defaults are involved, and they are valid (tested).
        match RevenueBuilder::dry_run().build() {
            Ok(revenue) => revenue,
            Err(e) => unreachable!("default dry-run settings are valid: {e}"),
        }
    }

    /// A client from `PULSORA_API_TOKEN` (unset or blank → dry run) and `PULSORA_ENDPOINT`
    /// (overrides the endpoint). See [`RevenueBuilder::from_vars`].
    pub fn from_env() -> Result<Self, Error> {
        RevenueBuilder::from_env().build()
    }

    /// `true` when this client only logs.
    pub fn is_dry_run(&self) -> bool {
        matches!(self.inner.mode, Mode::DryRun)
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        self.inner.endpoint.as_str()
    }

    /// The exact JSON body [`track`](Self::track) sends for `event` (and logs in a dry run),
    /// after validating the event.
    ///
    /// A dry-run client has no token, so its body has no `token` field; otherwise the two
    /// bodies are the same.
    ///
    /// ```
    /// use pulsora::{EventType, Revenue, RevenueEvent, Decimal};
    ///
    /// let event = RevenueEvent::new(EventType::Purchase, Decimal::new(1999, 2))
    ///     .transaction_id("ch_1")
    ///     .customer_id("cus_1")
    ///     .visitor_fingerprint("fp_1")
    ///     .session_id("sess_1");
    /// let body = Revenue::dry_run().request_body(&event)?;
    /// assert_eq!(
    ///     body,
    ///     r#"{"type":"revenue","data":{"visitor_fingerprint":"fp_1","session_id":"sess_1","customer_id":"cus_1","amount":19.99,"transaction_id":"ch_1","event_type":"purchase"}}"#
    /// );
    /// # Ok::<(), pulsora::Error>(())
    /// ```
    pub fn request_body(&self, event: &RevenueEvent) -> Result<String, Error> {
        event.validate()?;
        let token = match &self.inner.mode {
            Mode::Send { token, .. } => Some(token.as_str()),
            Mode::DryRun => None,
        };
        serde_json::to_string(&Envelope {
            kind: "revenue",
            token,
            data: event,
        })
        .map_err(Error::Encode)
    }

    /// Validates `event` and sends it to Pulsora, retrying what may succeed later, all within
    /// the client's [`total_timeout`](crate::RevenueBuilder::total_timeout).
    ///
    /// - 2xx → `Ok` (Pulsora documents 202; the body is not required).
    /// - Network errors, timeouts, 5xx, 408, 425 and 429 are retried up to `max_retries` times
    ///   with exponential backoff and full jitter; a `Retry-After` (seconds or HTTP-date)
    ///   replaces the backoff, and one longer than `max_retry_after`, or than what is left of
    ///   the time allowed, ends the loop at once.
    /// - Any other status is returned at once, classified by [`Error::disposition`]: 400 and
    ///   422 as [`Error::Rejected`], 401/403/404/3xx as [`Error::Misconfigured`], anything
    ///   else as [`Error::Unexpected`] (transient).
    ///
    /// Use a retry-stable `transaction_id` (the processor's charge or invoice id): a timed-out
    /// attempt may still have arrived, and Pulsora dedups on it.
    ///
    /// ```no_run
    /// use pulsora::{from_minor_units, EventType, Revenue, RevenueEvent};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let revenue = Revenue::new("sec_123")?;
    /// let amount = from_minor_units(4999, 2).ok_or("exponent too large")?; // 49.99
    /// let event = RevenueEvent::new(EventType::Purchase, amount)
    ///     .currency("USD")
    ///     .transaction_id("ch_3NvXyz")
    ///     .customer_id("cus_42")
    ///     .visitor_fingerprint("fp_abc")
    ///     .session_id("sess_xyz")
    ///     .payment_processor("stripe");
    /// match revenue.track(&event).await {
    ///     Ok(receipt) => println!("accepted after {} attempt(s)", receipt.attempts),
    ///     Err(e) if e.is_transient() => eprintln!("try again later: {e}"),
    ///     Err(e) => eprintln!("dropped for good: {e}"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn track(&self, event: &RevenueEvent) -> Result<Receipt, Error> {
        self.track_within(event, self.inner.total_timeout).await
    }

    /// [`track`](Self::track) with its own bound on the whole call: every attempt, backoff and
    /// `Retry-After` wait fits in `budget`, so a caller answering someone else (a webhook
    /// answering Stripe) can promise an answer time. When the budget runs out the error is
    /// transient ([`Error::BudgetSpent`], or the last failure when the next wait would not fit).
    ///
    /// ```no_run
    /// # async fn run(revenue: pulsora::Revenue, event: pulsora::RevenueEvent) {
    /// use std::time::Duration;
    /// match revenue.track_within(&event, Duration::from_secs(9)).await {
    ///     Ok(_) => {}
    ///     Err(e) if e.is_transient() => { /* answer 503: the sender retries later */ }
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// # }
    /// ```
    pub async fn track_within(
        &self,
        event: &RevenueEvent,
        budget: Duration,
    ) -> Result<Receipt, Error> {
        let body = self.request_body(event)?;
        let event_type = event.event_type.map_or("", EventType::as_str);
        match &self.inner.mode {
            Mode::DryRun => {
                tracing::info!(
                    dry_run = true,
                    endpoint = %redacted(&self.inner.endpoint),
                    transaction_id = %event.transaction_id,
                    event_type,
                    body = %body,
                    "pulsora dry run: revenue event not sent"
                );
                Ok(Receipt {
                    status: None,
                    attempts: 0,
                })
            }
            Mode::Send { token, client } => {
                let deadline = Instant::now() + budget;
                self.send(
                    client,
                    token,
                    body,
                    &event.transaction_id,
                    event_type,
                    deadline,
                )
                .await
                .map_err(|error| match error {
                    Error::Timeout { attempts, .. } if Instant::now() >= deadline => {
                        Error::BudgetSpent { budget, attempts }
                    }
                    other => other,
                })
            }
        }
    }

    /// One request, no retry: validates `event`, sends it once with the per-attempt timeout
    /// ([`RevenueBuilder::timeout`](crate::RevenueBuilder::timeout)) and classifies the answer
    /// like [`track`](Self::track). For callers that own the retries (an outbox worker that
    /// reschedules a failed delivery for later): the error's
    /// [`retry_after`](Error::retry_after) carries Pulsora's `Retry-After`. A dry-run client
    /// logs the body and succeeds, as `track` does.
    ///
    /// ```no_run
    /// # async fn run(revenue: pulsora::Revenue, event: pulsora::RevenueEvent) {
    /// match revenue.track_once(&event).await {
    ///     Ok(_) => { /* mark it sent */ }
    ///     Err(e) if e.is_transient() => { /* try again after e.retry_after() or a backoff */ }
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// # }
    /// ```
    pub async fn track_once(&self, event: &RevenueEvent) -> Result<Receipt, Error> {
        let body = self.request_body(event)?;
        let event_type = event.event_type.map_or("", EventType::as_str);
        let (token, client) = match &self.inner.mode {
            Mode::DryRun => return self.track_within(event, self.inner.timeout).await,
            Mode::Send { token, client } => (token, client),
        };
        let timeout = self.inner.timeout;
        match self.attempt(client, token, &body, timeout).await {
            Ok(status) => {
                tracing::debug!(
                    transaction_id = %event.transaction_id,
                    event_type,
                    status = status.as_u16(),
                    "pulsora accepted revenue event"
                );
                Ok(Receipt {
                    status: Some(status.as_u16()),
                    attempts: 1,
                })
            }
            Err(failure) => Err(failure.into_error(1, timeout)),
        }
    }

    async fn send(
        &self,
        client: &reqwest::Client,
        token: &Token,
        body: String,
        transaction_id: &str,
        event_type: &str,
        deadline: Instant,
    ) -> Result<Receipt, Error> {
        let policy = self.inner.retry;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = self.inner.timeout.min(left);
            let failure = match self.attempt(client, token, &body, timeout).await {
                Ok(status) => {
                    tracing::debug!(
                        transaction_id,
                        event_type,
                        status = status.as_u16(),
                        attempts,
                        "pulsora accepted revenue event"
                    );
                    return Ok(Receipt {
                        status: Some(status.as_u16()),
                        attempts,
                    });
                }
                Err(failure) => failure,
            };
            let left = deadline.saturating_duration_since(Instant::now());
            let wait = match retry_wait(&failure, &policy, attempts) {
                // A wait that would not leave time for another attempt ends the call now:
                // the caller comes back later instead of being held.
                Some(wait) if wait < left => wait,
                _ => return Err(failure.into_error(attempts, timeout)),
            };
            tracing::warn!(
                transaction_id,
                event_type,
                attempt = attempts,
                status = failure_status(&failure),
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "pulsora revenue attempt failed; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        client: &reqwest::Client,
        token: &Token,
        body: &str,
        timeout: Duration,
    ) -> Result<StatusCode, Failure> {
        if timeout.is_zero() {
            return Err(Failure::Timeout);
        }
        let sent = client
            .post(self.inner.endpoint.clone())
            .timeout(timeout)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("x-api-token", token.header().clone())
            .header(USER_AGENT, self.inner.user_agent.clone())
            .body(body.to_owned())
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(e) if e.is_timeout() => return Err(Failure::Timeout),
            Err(e) => return Err(Failure::Network(e)),
        };
        let status = response.status();
        if status.is_success() {
            // Drain (bounded) so the connection can go back to the pool.
            response::read_limited(&mut response).await;
            return Ok(status);
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
        let body = response::read_limited(&mut response).await;
        Err(Failure::Status {
            status,
            message: response::message(status, &body),
            retry_after,
        })
    }
}

/// How long to wait before the next attempt, or `None` to stop with this failure.
fn retry_wait(failure: &Failure, policy: &RetryPolicy, attempts: u32) -> Option<Duration> {
    if !failure.is_retriable() || attempts > policy.max_retries {
        return None;
    }
    let asked = match failure {
        Failure::Status {
            status,
            retry_after,
            ..
        } => match retry_after {
            Some(wait) => Some(*wait),
            None if *status == StatusCode::TOO_MANY_REQUESTS => {
                Some(retry::DEFAULT_RATE_LIMIT_WAIT)
            }
            None => None,
        },
        _ => None,
    };
    match asked {
        // Waiting less than asked would only earn another 429; come back later instead.
        Some(wait) if wait > policy.max_retry_after => None,
        Some(wait) => Some(wait),
        None => Some(policy.backoff(attempts)),
    }
}

/// The endpoint without `user:password@`: what logs and `Debug` show.
pub(crate) fn redacted(endpoint: &Url) -> Url {
    let mut shown = endpoint.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        // Only fails for URLs that cannot have credentials, which then have none to hide.
        let _ = shown.set_username("redacted");
        let _ = shown.set_password(None);
    }
    shown
}

fn failure_status(failure: &Failure) -> Option<u16> {
    match failure {
        Failure::Status { status, .. } => Some(status.as_u16()),
        _ => None,
    }
}

impl fmt::Debug for Revenue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        let mut s = f.debug_struct("Revenue");
        match &inner.mode {
            Mode::Send { token, .. } => s.field("token", token),
            Mode::DryRun => s.field("dry_run", &true),
        };
        s.field("endpoint", &redacted(&inner.endpoint).as_str())
            .field("timeout", &inner.timeout)
            .field("total_timeout", &inner.total_timeout)
            .field("retry", &inner.retry)
            .field("user_agent", &inner.user_agent)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, retry_after: Option<u64>) -> Failure {
        Failure::Status {
            status: StatusCode::from_u16(code).unwrap(),
            message: String::new(),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            jitter: false,
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn what_is_retried_and_how_long_it_waits() {
        let p = policy();
        for code in [400, 401, 403, 404, 422, 301] {
            assert_eq!(retry_wait(&status(code, None), &p, 1), None, "{code}");
        }
        assert_eq!(
            retry_wait(&status(500, None), &p, 1),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            retry_wait(&status(503, None), &p, 2),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_wait(&status(503, Some(7)), &p, 1),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_wait(&Failure::Timeout, &p, 3),
            Some(Duration::from_secs(4))
        );
        assert_eq!(retry_wait(&status(500, None), &p, 4), None, "retries spent");
    }

    #[test]
    fn rate_limits_honour_retry_after_within_the_cap() {
        let p = policy();
        assert_eq!(
            retry_wait(&status(429, Some(1)), &p, 1),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            retry_wait(&status(429, None), &p, 1),
            Some(Duration::from_secs(60))
        );
        assert_eq!(retry_wait(&status(429, Some(61)), &p, 1), None);
        assert_eq!(retry_wait(&status(429, Some(1)), &p, 4), None, "429s count");
    }

    #[test]
    fn credentials_in_the_endpoint_are_never_shown() {
        let revenue = crate::RevenueBuilder::dry_run()
            .endpoint("https://user:hunter2@pulsora.example/api/ingest")
            .build()
            .unwrap();
        let shown = format!("{revenue:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("user:"),
            "{shown}"
        );
        assert_eq!(
            redacted(&revenue.inner.endpoint).as_str(),
            "https://redacted@pulsora.example/api/ingest"
        );
    }

    #[test]
    fn every_status_has_one_disposition() {
        use crate::Disposition::*;
        let cases: &[(u16, crate::Disposition)] = &[
            (400, Drop),
            (422, Drop),
            (401, FixConfiguration),
            (403, FixConfiguration),
            (404, FixConfiguration),
            (301, FixConfiguration),
            (302, FixConfiguration),
            (308, FixConfiguration),
            (408, Retry),
            (409, Retry),
            (413, Retry),
            (425, Retry),
            (429, Retry),
            (418, Retry),
            (500, Retry),
            (503, Retry),
        ];
        for &(code, expected) in cases {
            let error = status(code, None).into_error(1, Duration::from_secs(1));
            assert_eq!(error.disposition(), expected, "{code}");
        }
    }

    #[test]
    fn dry_run_defaults_are_valid() {
        let revenue = Revenue::dry_run();
        assert!(revenue.is_dry_run());
        assert_eq!(revenue.endpoint(), crate::DEFAULT_ENDPOINT);
    }
}
