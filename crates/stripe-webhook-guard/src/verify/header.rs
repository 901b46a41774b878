//! Parsing of the `Stripe-Signature` header.
//!
//! Stripe documents the format as comma-separated `key=value` elements, where `t` is the
//! timestamp and each `v1` is a signature. The official SDKs disagree on the corner cases
//! (which of two `t` wins, whether `t=+123` or `t=123abc` is a number, whether an upper-case
//! `v1` matches). This parser picks one well-defined, strict reading:
//!
//! - elements are split on `,`, each at its **first** `=`; elements without `=` are ignored;
//! - keys match exactly (no trimming): only `t` and `v1` count, everything else (`v0`, `v2`,
//!   unknown keys) is ignored so a downgrade to a weaker scheme is impossible;
//! - `t` is a plain positive decimal integer without sign, spaces or leading zeros, so the text
//!   that is signed and the number that is checked are the same thing;
//! - a second `t` makes the header malformed (SDKs silently disagree on first-vs-last);
//! - every `v1` is collected; a `v1` that is not exactly 64 lower-case hex digits is skipped,
//!   as Stripe only ever sends lower-case hex (stripe-node and stripe-python reject upper case);
//! - any byte outside printable ASCII makes the header malformed.

use super::VerifyError;

/// Length in bytes of an HMAC-SHA256 tag.
pub(crate) const TAG_LEN: usize = 32;

/// Most `v1` signatures kept from one header. Stripe sends one per active secret (two during a
/// rotation); the cap keeps a hostile header from making us compare thousands of candidates.
const MAX_V1: usize = 8;

/// A parsed `Stripe-Signature` header: the timestamp (as text and as a number) and the decoded
/// `v1` candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader<'a> {
    timestamp_text: &'a [u8],
    timestamp: i64,
    v1: Vec<[u8; TAG_LEN]>,
}

impl<'a> SignatureHeader<'a> {
    /// Parses a header value. Never panics, whatever the input.
    ///
    /// ```
    /// use stripe_webhook_guard::SignatureHeader;
    ///
    /// let header = SignatureHeader::parse(
    ///     b"t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39",
    /// ).unwrap();
    /// assert_eq!(header.timestamp(), 1492774577);
    /// assert_eq!(header.v1_count(), 1);
    /// ```
    pub fn parse(value: &'a [u8]) -> Result<Self, VerifyError> {
        if value.iter().any(|b| !(0x20..=0x7e).contains(b)) {
            return Err(VerifyError::MalformedHeader(
                "header contains non-printable or non-ASCII bytes",
            ));
        }
        let mut timestamp: Option<(&[u8], i64)> = None;
        let mut v1 = Vec::new();
        for element in value.split(|b| *b == b',') {
            let Some(eq) = element.iter().position(|b| *b == b'=') else {
                continue;
            };
            let (key, val) = (&element[..eq], &element[eq + 1..]);
            match key {
                b"t" => {
                    if timestamp.is_some() {
                        return Err(VerifyError::MalformedHeader("duplicate timestamp `t`"));
                    }
                    let parsed = parse_timestamp(val).ok_or(VerifyError::MalformedHeader(
                        "timestamp `t` is not a positive decimal integer",
                    ))?;
                    timestamp = Some((val, parsed));
                }
                b"v1" if v1.len() < MAX_V1 => {
                    if let Some(tag) = decode_lower_hex(val) {
                        v1.push(tag);
                    }
                }
                _ => {}
            }
        }
        let (timestamp_text, timestamp) =
            timestamp.ok_or(VerifyError::MalformedHeader("no timestamp `t`"))?;
        if v1.is_empty() {
            return Err(VerifyError::NoV1Signature);
        }
        Ok(Self {
            timestamp_text,
            timestamp,
            v1,
        })
    }

    /// The timestamp `t`, in seconds since the Unix epoch.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The timestamp exactly as it appears in the header (the bytes that were signed).
    pub(crate) fn timestamp_text(&self) -> &'a [u8] {
        self.timestamp_text
    }

    /// How many well-formed `v1` signatures the header carries.
    pub fn v1_count(&self) -> usize {
        self.v1.len()
    }

    /// The decoded `v1` signatures.
    pub(crate) fn v1(&self) -> &[[u8; TAG_LEN]] {
        &self.v1
    }
}

/// `^[1-9][0-9]{0,18}$`, and it must fit an `i64`.
fn parse_timestamp(text: &[u8]) -> Option<i64> {
    match text {
        [b'1'..=b'9', rest @ ..] if rest.len() <= 18 && rest.iter().all(u8::is_ascii_digit) => {
            text.iter().try_fold(0i64, |acc, d| {
                acc.checked_mul(10)?.checked_add(i64::from(d - b'0'))
            })
        }
        _ => None,
    }
}

fn decode_lower_hex(text: &[u8]) -> Option<[u8; TAG_LEN]> {
    if text.len() != TAG_LEN * 2 {
        return None;
    }
    let mut out = [0u8; TAG_LEN];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Lower-case hex of a tag, for building headers.
pub(crate) fn encode_lower_hex(tag: &[u8; TAG_LEN]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(TAG_LEN * 2);
    for b in tag {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_grammar() {
        assert_eq!(parse_timestamp(b"1"), Some(1));
        assert_eq!(parse_timestamp(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b"0",
            b"01",
            b"+1",
            b"-1",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"12345678901234567890",
        ] {
            assert_eq!(
                parse_timestamp(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn hex_round_trip_and_case() {
        let tag = [0xabu8; TAG_LEN];
        let hex = encode_lower_hex(&tag);
        assert_eq!(decode_lower_hex(hex.as_bytes()), Some(tag));
        assert_eq!(decode_lower_hex(hex.to_uppercase().as_bytes()), None);
        assert_eq!(decode_lower_hex(&hex.as_bytes()[1..]), None);
    }
}
