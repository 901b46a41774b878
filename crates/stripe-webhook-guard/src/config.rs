//! The settings shared by the tower layer and the actix-web middleware, and [`Webhook`]: the one
//! type both are (`StripeWebhookLayer = Webhook<Tower>`, `StripeWebhook = Webhook<ActixWeb>`),
//! so every builder method is written once and the two cannot drift apart.

use crate::engine::{Engine, SharedEngine};
use crate::ratelimit::RateLimitConfig;
use crate::replay::ReplayConfig;
use crate::verify::{Clock, Secret, Tolerance, Verifier};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// Default body limit: 1 MiB. Stripe events are a few KiB; the largest real ones stay far below.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Default time allowed to receive the whole body once headers have arrived.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything the pipeline needs, before it is frozen into an engine.
#[derive(Clone, Debug)]
pub(crate) struct WebhookConfig {
    pub(crate) verifier: Verifier,
    pub(crate) body_limit: usize,
    pub(crate) read_timeout: Duration,
    /// Body bytes held by all requests at once, and by one client's.
    pub(crate) body_budget: (usize, usize),
    pub(crate) rate_limit: RateLimitConfig,
    pub(crate) replay: ReplayConfig,
}

impl WebhookConfig {
    pub(crate) fn new(secret: Secret) -> Self {
        Self {
            verifier: Verifier::new(secret),
            body_limit: DEFAULT_BODY_LIMIT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            body_budget: (
                crate::DEFAULT_BODY_BUDGET,
                crate::DEFAULT_CLIENT_BODY_BUDGET,
            ),
            rate_limit: RateLimitConfig::default(),
            replay: ReplayConfig::default(),
        }
    }
}

/// The webhook pipeline for one framework: its settings (secrets, tolerance, body limits, rate
/// limits, replay protection) and the engine built from them on first use. Every builder method
/// is written once, here, for both adapters: use it as [`StripeWebhookLayer`](crate::StripeWebhookLayer)
/// (a tower `Layer`, for axum) or as `StripeWebhook` (an actix-web `Transform`, feature
/// `actix-web`).
///
/// All clones share one engine (one replay cache, one set of rate-limit buckets). Each builder
/// method changes the settings in place and gives the result a new engine of its own, so a
/// value configured from a shared one never changes the original's behaviour.
#[must_use]
pub struct Webhook<A> {
    pub(crate) config: WebhookConfig,
    engine: SharedEngine,
    adapter: PhantomData<fn() -> A>,
}

impl<A> Clone for Webhook<A> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            engine: self.engine.clone(),
            adapter: PhantomData,
        }
    }
}

impl<A> fmt::Debug for Webhook<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The verifier's Debug redacts the secrets.
        f.debug_struct("Webhook")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<A> Webhook<A> {
    /// Accepts events signed with `secret` (the endpoint's `whsec_…`), with the defaults: 300 s
    /// tolerance each way, 1 MiB body limit, 10 s read timeout.
    ///
    /// A secret Stripe could not have issued (shorter than `whsec_` and
    /// [`MIN_SECRET_CHARS`](crate::MIN_SECRET_CHARS) characters) is not refused here, but the
    /// middleware then fails closed: every request gets `500 weak_secret`. Use
    /// [`try_new`](Self::try_new) or [`validate`](Self::validate) to fail at start-up instead.
    pub fn new(secret: impl Into<Secret>) -> Self {
        Self::from_config(WebhookConfig::new(secret.into()))
    }

    /// Like [`new`](Self::new), but refuses a secret Stripe could not have issued (`whsec_`
    /// and at least [`MIN_SECRET_CHARS`](crate::MIN_SECRET_CHARS) characters).
    ///
    /// ```
    /// # use stripe_webhook_guard::*;
    /// # type T = StripeWebhookLayer;
    /// assert!(T::try_new("whsec_").is_err());
    /// assert!(T::try_new("whsec_0123456789abcdefghijklmnopqrstuv").is_ok());
    /// ```
    pub fn try_new(secret: impl AsRef<[u8]>) -> Result<Self, crate::WeakSecret> {
        Ok(Self::new(crate::Secret::try_new(secret)?))
    }

    pub(crate) fn from_config(config: WebhookConfig) -> Self {
        Self {
            config,
            engine: SharedEngine::default(),
            adapter: PhantomData,
        }
    }

    /// After a builder method: the changed settings get an engine of their own.
    pub(crate) fn reconfigured(mut self) -> Self {
        self.engine = SharedEngine::default();
        self
    }

    /// The engine this value and its clones share, built on first use.
    pub(crate) fn engine(&self) -> Arc<Engine> {
        self.engine.get(&self.config)
    }

    /// The same settings for another framework, with an engine of its own (build it once and
    /// clone it).
    ///
    /// ```
    /// # #[cfg(feature = "actix-web")] {
    /// use stripe_webhook_guard::{StripeWebhook, StripeWebhookLayer};
    /// let layer = StripeWebhookLayer::new("whsec_…").body_limit(64 * 1024);
    /// let middleware: StripeWebhook = layer.for_adapter();
    /// # }
    /// ```
    pub fn for_adapter<B>(&self) -> Webhook<B> {
        Webhook::from_config(self.config.clone())
    }

    /// Checks every configured secret has Stripe's shape and length (`whsec_` and at least
    /// [`MIN_SECRET_CHARS`](crate::MIN_SECRET_CHARS) characters). A middleware built with a
    /// weaker one refuses every request with `500 weak_secret` (fail closed) and logs why
    /// once; call this at start-up to stop there instead.
    pub fn validate(&self) -> Result<(), crate::WeakSecret> {
        match self.config.verifier.weak_secret() {
            Some(weak) => Err(weak),
            None => Ok(()),
        }
    }

    /// Adds another active signing secret. Stripe signs with every active secret, so during
    /// a rotation (old and new secret for up to 24 h), or to serve test and live mode or
    /// account and Connect endpoints on one route, add each one.
    pub fn secret(mut self, secret: impl Into<crate::Secret>) -> Self {
        self.config.verifier = self.config.verifier.with_secret(secret);
        self.reconfigured()
    }

    /// How old a signature may be. Default: 300 seconds (Stripe's SDKs). To turn the
    /// timestamp check off entirely use [`disable_timestamp_check`](Self::disable_timestamp_check);
    /// `Duration::ZERO` here means "this very second", not "disabled".
    pub fn tolerance(mut self, past: std::time::Duration) -> Self {
        let tolerance = self.config.verifier.tolerance().with_past(past);
        self.config.verifier = self.config.verifier.with_tolerance(tolerance);
        self.reconfigured()
    }

    /// How far in the future a signature's timestamp may be (our clock running behind
    /// Stripe's). Default: 300 seconds.
    pub fn future_skew(mut self, future: std::time::Duration) -> Self {
        let tolerance = self.config.verifier.tolerance().with_future(future);
        self.config.verifier = self.config.verifier.with_tolerance(tolerance);
        self.reconfigured()
    }

    /// Accept signatures of any age. Only for replaying recorded fixtures in tests: it lets
    /// a captured delivery be replayed forever.
    pub fn disable_timestamp_check(mut self) -> Self {
        self.config.verifier = self
            .config
            .verifier
            .with_tolerance(crate::Tolerance::disabled());
        self.reconfigured()
    }

    /// Replaces the clock used for the timestamp check (tests use [`FixedClock`](crate::FixedClock)).
    pub fn clock(mut self, clock: impl crate::Clock) -> Self {
        self.config.verifier = self.config.verifier.with_clock(clock);
        self.reconfigured()
    }

    /// Largest body accepted, in bytes. Default: 1 MiB ([`DEFAULT_BODY_LIMIT`](crate::DEFAULT_BODY_LIMIT)).
    /// A `Content-Length` over the limit is refused with `413` before the body is read; a
    /// chunked body is cut off as soon as it crosses the limit.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.config.body_limit = bytes;
        self.reconfigured()
    }

    /// Time allowed to receive the whole body. Default: 10 seconds
    /// ([`DEFAULT_READ_TIMEOUT`](crate::DEFAULT_READ_TIMEOUT)). A slower body gets `408`.
    pub fn read_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.config.read_timeout = timeout;
        self.reconfigured()
    }

    /// Most body bytes held in memory at once by all requests in progress (`total`) and by
    /// one client's (`per_client`). Defaults: 32 MiB and 4 MiB
    /// ([`DEFAULT_BODY_BUDGET`](crate::DEFAULT_BODY_BUDGET),
    /// [`DEFAULT_CLIENT_BODY_BUDGET`](crate::DEFAULT_CLIENT_BODY_BUDGET)). A request whose
    /// declared `Content-Length` does not fit is answered `503 busy` with `Retry-After`
    /// before a byte is read; a chunked body is reserved chunk by chunk. So stalled bodies
    /// cannot grow memory whatever their number.
    pub fn body_budget(mut self, total: usize, per_client: usize) -> Self {
        self.config.body_budget = (total, per_client);
        self.reconfigured()
    }
}

// Silence "unused" for the trait import used only inside the macro expansion sites.
#[allow(dead_code)]
fn _assert_clock_object_safe(_: &dyn Clock, _: Tolerance) {}
