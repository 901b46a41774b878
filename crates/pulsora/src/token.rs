//! The secret API token: checked once, never printed.

use crate::error::ConfigError;
use reqwest::header::HeaderValue;
use std::fmt;

/// A `sec_…` token, ready as a sensitive header value. `Debug` shows only that it is redacted.
#[derive(Clone)]
pub(crate) struct Token {
    text: String,
    header: HeaderValue,
}

impl Token {
    /// Refuses an empty token, a public `pub_` token (Pulsora answers 403 to those for revenue)
    /// and one that cannot travel in a header. Only `pub_` is refused by prefix: the docs show
    /// the `pub_`/`sec_` prefixes but do not promise every secret token starts with `sec_`.
    pub(crate) fn new(text: String) -> Result<Self, ConfigError> {
        let text = text.trim().to_owned();
        if text.is_empty() {
            return Err(ConfigError::MissingToken);
        }
        if text.starts_with("pub_") {
            return Err(ConfigError::PublicToken);
        }
        let mut header =
            HeaderValue::from_str(&text).map_err(|_| ConfigError::TokenNotHeaderSafe)?;
        // Keeps it out of reqwest's and hyper's own debug output.
        header.set_sensitive(true);
        Ok(Token { text, header })
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    pub(crate) fn header(&self) -> &HeaderValue {
        &self.header
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_empty_public_and_unsendable_tokens() {
        assert!(matches!(
            Token::new("  ".into()),
            Err(ConfigError::MissingToken)
        ));
        assert!(matches!(
            Token::new("pub_123".into()),
            Err(ConfigError::PublicToken)
        ));
        assert!(matches!(
            Token::new("sec_1\n23".into()),
            Err(ConfigError::TokenNotHeaderSafe)
        ));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = Token::new("sec_very_secret".into()).unwrap();
        assert_eq!(token.as_str(), "sec_very_secret");
        assert!(token.header().is_sensitive());
        let shown = format!("{token:?} {:?}", token.header());
        assert!(!shown.contains("very_secret"), "{shown}");
    }
}
