use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// A webhook signing secret (`whsec_…`), keyed once so each verification only clones the
/// prepared HMAC state.
///
/// The secret is used exactly as Stripe's SDKs use it: the UTF-8 bytes of the whole string,
/// prefix included, no base64 decoding. Its `Debug` output never shows it.
///
/// ```
/// let secret = stripe_webhook_guard::Secret::new("whsec_test_secret");
/// assert_eq!(format!("{secret:?}"), "Secret(\"whsec_…\")");
/// ```
#[derive(Clone)]
pub struct Secret {
    keyed: HmacSha256,
    looks_like_whsec: bool,
    strong: bool,
}

/// Characters Stripe puts after `whsec_` in an endpoint's signing secret (at least): a secret
/// with fewer is refused by [`StripeWebhookLayer::try_new`](crate::StripeWebhookLayer::try_new)
/// and the middleware fails closed with it.
pub const MIN_SECRET_CHARS: usize = 32;

/// The webhook signing secret is not one Stripe could have issued: anyone could guess it and
/// sign events. The secret itself is never shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the Stripe webhook signing secret is too weak: expected `whsec_` followed by at least {min} \
     characters (the endpoint's signing secret from the Stripe dashboard or `stripe listen`), got \
     {shape}"
)]
pub struct WeakSecret {
    min: usize,
    shape: &'static str,
}

impl WeakSecret {
    fn of(bytes: &[u8]) -> Option<Self> {
        let shape = match bytes.strip_prefix(b"whsec_") {
            None if bytes.is_empty() => "an empty value",
            None => "a value without the `whsec_` prefix",
            Some(rest) if char_count(rest) < MIN_SECRET_CHARS => "a shorter value",
            Some(_) => return None,
        };
        Some(Self {
            min: MIN_SECRET_CHARS,
            shape,
        })
    }
}

fn char_count(bytes: &[u8]) -> usize {
    std::str::from_utf8(bytes).map_or(bytes.len(), |text| text.chars().count())
}

impl Secret {
    /// Prepares a secret. A secret with surrounding whitespace or without the `whsec_` prefix is
    /// accepted (some tests use plain strings) but logged as a warning, because it is the most
    /// common cause of "signature mismatch" in production.
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        let bytes = secret.as_ref();
        let looks_like_whsec = bytes.starts_with(b"whsec_");
        if !looks_like_whsec {
            tracing::warn!("Stripe webhook secret does not start with `whsec_`; is it the endpoint's signing secret?");
        }
        if bytes.first().is_some_and(u8::is_ascii_whitespace)
            || bytes.last().is_some_and(u8::is_ascii_whitespace)
        {
            tracing::warn!("Stripe webhook secret has leading or trailing whitespace; signatures will not match");
        }
        // HMAC accepts keys of any length, so this cannot fail.
        let keyed = match HmacSha256::new_from_slice(bytes) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
        };
        Self {
            keyed,
            looks_like_whsec,
            strong: WeakSecret::of(bytes).is_none(),
        }
    }

    /// Prepares a secret, refusing one Stripe could not have issued (`whsec_` and at least
    /// [`MIN_SECRET_CHARS`] characters).
    ///
    /// ```
    /// use stripe_webhook_guard::Secret;
    /// assert!(Secret::try_new("whsec_").is_err());
    /// assert!(Secret::try_new("whsec_short").is_err());
    /// assert!(Secret::try_new("whsec_0123456789abcdefghijklmnopqrstuv").is_ok());
    /// ```
    pub fn try_new(secret: impl AsRef<[u8]>) -> Result<Self, WeakSecret> {
        match WeakSecret::of(secret.as_ref()) {
            Some(weak) => Err(weak),
            None => Ok(Self::new(secret)),
        }
    }

    /// `true` when the secret has Stripe's shape and length (see [`Secret::try_new`]).
    pub fn is_strong(&self) -> bool {
        self.strong
    }

    /// Why the secret is weak, if it is.
    pub(crate) fn weakness(&self) -> Option<WeakSecret> {
        (!self.strong).then_some(WeakSecret {
            min: MIN_SECRET_CHARS,
            shape: if self.looks_like_whsec {
                "a shorter value"
            } else {
                "a value without the `whsec_` prefix"
            },
        })
    }

    /// A fresh HMAC state keyed with this secret.
    pub(crate) fn mac(&self) -> HmacSha256 {
        self.keyed.clone()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = if self.looks_like_whsec {
            "whsec_…"
        } else {
            "…"
        };
        f.debug_tuple("Secret").field(&shown).finish()
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&String> for Secret {
    fn from(value: &String) -> Self {
        Self::new(value)
    }
}
