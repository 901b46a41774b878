//! The settings shared by the tower layer and the actix-web middleware, and the builder methods
//! both expose (generated once by [`config_builder_methods!`] so the two cannot drift apart).

use crate::ratelimit::RateLimitConfig;
use crate::replay::ReplayConfig;
use crate::verify::{Clock, Secret, Tolerance, Verifier};
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

/// Generates the builder methods on a type with a `config: WebhookConfig` field and a
/// `fn with_config(self, WebhookConfig) -> Self` that forgets any engine built from the old one.
macro_rules! config_builder_methods {
    () => {
        /// Checks every configured secret has Stripe's shape and length (`whsec_` and at least
        /// [`MIN_SECRET_CHARS`](crate::MIN_SECRET_CHARS) characters). A middleware built with a
        /// weaker one refuses every request with `500 weak_secret` (fail closed) and logs why
        /// once; call this at start-up to stop there instead.
        pub fn validate(&self) -> Result<(), $crate::WeakSecret> {
            match self.config.verifier.weak_secret() {
                Some(weak) => Err(weak),
                None => Ok(()),
            }
        }

        /// Adds another active signing secret. Stripe signs with every active secret, so during
        /// a rotation (old and new secret for up to 24 h), or to serve test and live mode or
        /// account and Connect endpoints on one route, add each one.
        pub fn secret(self, secret: impl Into<$crate::Secret>) -> Self {
            let mut config = self.config.clone();
            config.verifier = config.verifier.with_secret(secret);
            self.with_config(config)
        }

        /// How old a signature may be. Default: 300 seconds (Stripe's SDKs). To turn the
        /// timestamp check off entirely use [`disable_timestamp_check`](Self::disable_timestamp_check);
        /// `Duration::ZERO` here means "this very second", not "disabled".
        pub fn tolerance(self, past: std::time::Duration) -> Self {
            let mut config = self.config.clone();
            let tolerance = config.verifier.tolerance().with_past(past);
            config.verifier = config.verifier.with_tolerance(tolerance);
            self.with_config(config)
        }

        /// How far in the future a signature's timestamp may be (our clock running behind
        /// Stripe's). Default: 300 seconds.
        pub fn future_skew(self, future: std::time::Duration) -> Self {
            let mut config = self.config.clone();
            let tolerance = config.verifier.tolerance().with_future(future);
            config.verifier = config.verifier.with_tolerance(tolerance);
            self.with_config(config)
        }

        /// Accept signatures of any age. Only for replaying recorded fixtures in tests: it lets
        /// a captured delivery be replayed forever.
        pub fn disable_timestamp_check(self) -> Self {
            let mut config = self.config.clone();
            config.verifier = config
                .verifier
                .with_tolerance($crate::Tolerance::disabled());
            self.with_config(config)
        }

        /// Replaces the clock used for the timestamp check (tests use [`FixedClock`](crate::FixedClock)).
        pub fn clock(self, clock: impl $crate::Clock) -> Self {
            let mut config = self.config.clone();
            config.verifier = config.verifier.with_clock(clock);
            self.with_config(config)
        }

        /// Largest body accepted, in bytes. Default: 1 MiB ([`DEFAULT_BODY_LIMIT`](crate::DEFAULT_BODY_LIMIT)).
        /// A `Content-Length` over the limit is refused with `413` before the body is read; a
        /// chunked body is cut off as soon as it crosses the limit.
        pub fn body_limit(self, bytes: usize) -> Self {
            let mut config = self.config.clone();
            config.body_limit = bytes;
            self.with_config(config)
        }

        /// Time allowed to receive the whole body. Default: 10 seconds
        /// ([`DEFAULT_READ_TIMEOUT`](crate::DEFAULT_READ_TIMEOUT)). A slower body gets `408`.
        pub fn read_timeout(self, timeout: std::time::Duration) -> Self {
            let mut config = self.config.clone();
            config.read_timeout = timeout;
            self.with_config(config)
        }

        /// Most body bytes held in memory at once by all requests in progress (`total`) and by
        /// one client's (`per_client`). Defaults: 32 MiB and 4 MiB
        /// ([`DEFAULT_BODY_BUDGET`](crate::DEFAULT_BODY_BUDGET),
        /// [`DEFAULT_CLIENT_BODY_BUDGET`](crate::DEFAULT_CLIENT_BODY_BUDGET)). A request whose
        /// declared `Content-Length` does not fit is answered `503 busy` with `Retry-After`
        /// before a byte is read; a chunked body is reserved chunk by chunk. So stalled bodies
        /// cannot grow memory whatever their number.
        pub fn body_budget(self, total: usize, per_client: usize) -> Self {
            let mut config = self.config.clone();
            config.body_budget = (total, per_client);
            self.with_config(config)
        }

        $crate::ratelimit::rate_limit_builder_methods!();
        $crate::replay::replay_builder_methods!();
    };
}

pub(crate) use config_builder_methods;

// Silence "unused" for the trait import used only inside the macro expansion sites.
#[allow(dead_code)]
fn _assert_clock_object_safe(_: &dyn Clock, _: Tolerance) {}
