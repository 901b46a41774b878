//! Stripe signature verification, framework-free.
//!
//! The algorithm every official SDK implements, over bytes:
//!
//! ```text
//! expected = lowercase_hex(HMAC_SHA256(key = secret bytes, message = t || "." || body))
//! valid    = some v1 in the header equals expected (constant time), for some active secret
//! ```
//!
//! The timestamp, the dot and the body are fed to a pre-keyed HMAC state as three updates:
//! no copy of the body, no UTF-8 decoding (Stripe's Node and Python SDKs decode the body as text
//! and so can never verify a body that is not valid UTF-8).

mod error;
mod header;
mod secret;
mod sign;
mod tolerance;

pub use error::VerifyError;
pub use header::SignatureHeader;
pub use secret::{Secret, WeakSecret, MIN_SECRET_CHARS};
pub use sign::{sign, sign_with_secrets};
pub use tolerance::{Clock, FixedClock, SystemClock, Tolerance, DEFAULT_TOLERANCE};

use hmac::Mac;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Verifies `Stripe-Signature` headers against one or more active secrets.
///
/// Several secrets may be active at once: during a rotation (Stripe signs with the old and the
/// new secret for up to 24 hours), or when one route serves test and live mode, or account and
/// Connect endpoints.
///
/// ```
/// use stripe_webhook_guard::{sign, Verifier, VerifyError};
///
/// let verifier = Verifier::new("whsec_test_secret");
/// let body = br#"{"id":"evt_1","object":"event"}"#;
/// let header = sign(body, "whsec_test_secret", 1_700_000_000);
///
/// assert_eq!(verifier.verify_at(header.as_bytes(), body, 1_700_000_010), Ok(1_700_000_000));
/// assert_eq!(
///     verifier.verify_at(header.as_bytes(), b"{}", 1_700_000_010),
///     Err(VerifyError::SignatureMismatch),
/// );
/// ```
#[derive(Clone)]
pub struct Verifier {
    secrets: Arc<[Secret]>,
    tolerance: Tolerance,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("secrets", &self.secrets.len())
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for one secret, with the default tolerance (300 s past, 300 s future) and the
    /// system clock.
    pub fn new(secret: impl Into<Secret>) -> Self {
        Self {
            secrets: Arc::from(vec![secret.into()]),
            tolerance: Tolerance::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Adds another active secret.
    #[must_use]
    pub fn with_secret(mut self, secret: impl Into<Secret>) -> Self {
        let mut secrets = self.secrets.to_vec();
        secrets.push(secret.into());
        self.secrets = Arc::from(secrets);
        self
    }

    /// Replaces the timestamp tolerance.
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Tolerance) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Replaces the clock (tests use [`FixedClock`]).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The configured tolerance.
    pub fn tolerance(&self) -> Tolerance {
        self.tolerance
    }

    /// The first secret Stripe could not have issued, if any (see [`Secret::try_new`]). The
    /// verifier itself accepts any key (tests and vectors use short ones); the middleware
    /// refuses to run with one.
    pub fn weak_secret(&self) -> Option<WeakSecret> {
        self.secrets.iter().find_map(Secret::weakness)
    }

    /// Verifies a header value against a body at the clock's current time. Returns the signed
    /// timestamp.
    pub fn verify(&self, header: &[u8], body: &[u8]) -> Result<i64, VerifyError> {
        self.verify_at(header, body, self.clock.now_unix())
    }

    /// Verifies a header value against a body as if the time were `now` (Unix seconds).
    ///
    /// Checks run in stripe-node's order: header, then signature, then timestamp, so a forged
    /// request learns nothing about our clock.
    pub fn verify_at(&self, header: &[u8], body: &[u8], now: i64) -> Result<i64, VerifyError> {
        if header.is_empty() {
            return Err(VerifyError::MissingSignature);
        }
        let parsed = SignatureHeader::parse(header)?;
        if !self.any_signature_matches(&parsed, body) {
            return Err(VerifyError::SignatureMismatch);
        }
        self.check_timestamp(parsed.timestamp(), now)?;
        Ok(parsed.timestamp())
    }

    fn any_signature_matches(&self, header: &SignatureHeader<'_>, body: &[u8]) -> bool {
        // Every (secret, v1) pair is compared, without an early exit, so timing does not tell an
        // attacker which secret or which candidate came close.
        let mut matched = subtle::Choice::from(0);
        for secret in self.secrets.iter() {
            let mut mac = secret.mac();
            mac.update(header.timestamp_text());
            mac.update(b".");
            mac.update(body);
            let expected = mac.finalize().into_bytes();
            for candidate in header.v1() {
                matched |= expected.as_slice().ct_eq(candidate.as_slice());
            }
        }
        matched.into()
    }

    fn check_timestamp(&self, timestamp: i64, now: i64) -> Result<(), VerifyError> {
        let age = now.saturating_sub(timestamp);
        if let Some(past) = self.tolerance.past() {
            if age > 0 && age.unsigned_abs() > past.as_secs() {
                return Err(VerifyError::TimestampTooOld {
                    age_secs: age,
                    tolerance_secs: past.as_secs(),
                });
            }
        }
        if let Some(future) = self.tolerance.future() {
            if age < 0 && age.unsigned_abs() > future.as_secs() {
                return Err(VerifyError::TimestampInFuture {
                    ahead_secs: -age,
                    skew_secs: future.as_secs(),
                });
            }
        }
        Ok(())
    }
}
