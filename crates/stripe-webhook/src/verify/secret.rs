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
/// let secret = stripe_webhook::Secret::new("whsec_test_secret");
/// assert_eq!(format!("{secret:?}"), "Secret(\"whsec_…\")");
/// ```
#[derive(Clone)]
pub struct Secret {
    keyed: HmacSha256,
    looks_like_whsec: bool,
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
        }
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
