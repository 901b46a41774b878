//! The API key: checked for its kind up front, never shown.

use std::fmt;

/// A Stripe secret (`sk_…`) or restricted (`rk_…`) key, live or test.
///
/// `Debug` and `Display` print only the kind (`sk_live_…`), never the key.
///
/// ```
/// use stripe_read::ApiKey;
///
/// let key = ApiKey::new("rk_test_51Hxxxxxxxxxxxxxxxxxxxxxxx").unwrap();
/// assert!(!key.is_live());
/// assert_eq!(format!("{key:?}"), "ApiKey(rk_test_…)");
/// assert!(ApiKey::new("pk_live_abc").is_err()); // publishable keys cannot read
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

/// The value given as a Stripe API key is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Empty or whitespace.
    #[error("the Stripe API key is empty")]
    Empty,
    /// A publishable key (`pk_…`): it cannot read objects.
    #[error("a publishable key (pk_…) cannot read the Stripe API; use a secret (sk_…) or restricted (rk_…) key")]
    Publishable,
    /// A webhook signing secret was given instead of an API key.
    #[error("that is a webhook signing secret (whsec_…), not an API key; use a secret (sk_…) or restricted (rk_…) key")]
    WebhookSecret,
    /// Anything else.
    #[error("not a Stripe API key: expected sk_live_…, sk_test_…, rk_live_… or rk_test_…")]
    Unrecognised,
}

const KINDS: [&str; 4] = ["sk_live_", "sk_test_", "rk_live_", "rk_test_"];

impl ApiKey {
    /// Checks the key's kind; the key itself is not sent anywhere.
    pub fn new(key: impl Into<String>) -> Result<Self, KeyError> {
        let key = key.into();
        let trimmed = key.trim();
        if trimmed.is_empty() {
            return Err(KeyError::Empty);
        }
        if trimmed.starts_with("pk_") {
            return Err(KeyError::Publishable);
        }
        if trimmed.starts_with("whsec_") {
            return Err(KeyError::WebhookSecret);
        }
        match KINDS.iter().find(|kind| trimmed.starts_with(*kind)) {
            Some(kind) if trimmed.len() > kind.len() => Ok(Self(trimmed.to_owned())),
            _ => Err(KeyError::Unrecognised),
        }
    }

    /// A live-mode key (`sk_live_…`, `rk_live_…`).
    pub fn is_live(&self) -> bool {
        self.0.contains("_live_")
    }

    /// A restricted key (`rk_…`): it reads only what its permissions allow.
    pub fn is_restricted(&self) -> bool {
        self.0.starts_with("rk_")
    }

    fn kind(&self) -> &str {
        KINDS
            .iter()
            .find(|kind| self.0.starts_with(*kind))
            .copied()
            .unwrap_or("?")
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({}…)", self.kind())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", self.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        for good in [
            "sk_live_x",
            "sk_test_x",
            "rk_live_x",
            "rk_test_x",
            " sk_test_x\n",
        ] {
            assert!(ApiKey::new(good).is_ok(), "{good:?}");
        }
        assert_eq!(ApiKey::new(""), Err(KeyError::Empty));
        assert_eq!(ApiKey::new("pk_test_x"), Err(KeyError::Publishable));
        assert_eq!(ApiKey::new("whsec_x"), Err(KeyError::WebhookSecret));
        assert_eq!(ApiKey::new("sk_live_"), Err(KeyError::Unrecognised));
        assert_eq!(ApiKey::new("sec_x"), Err(KeyError::Unrecognised));
    }

    #[test]
    fn never_shown() {
        let key = ApiKey::new("sk_live_supersecret").unwrap();
        assert!(!format!("{key:?}{key}").contains("supersecret"));
        assert!(key.is_live() && !key.is_restricted());
    }
}
