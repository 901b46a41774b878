//! Exact money: decimals on the wire as their own text, and amounts from integer minor units.
//!
//! Pulsora wants `amount` and `mrr_impact` as JSON numbers in major units (`19.99`). Going through
//! an `f64` would print `19.990000000000002` for some sums, so the serializer writes the
//! decimal's own digits as a raw JSON number, and the deserializer reads the number's text back
//! without an `f64` in between. This does not depend on `rust_decimal`'s serde features (another
//! crate in the build turning on `serde-with-str` cannot change the wire format).

use rust_decimal::Decimal;
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use std::str::FromStr;

/// An amount from integer minor units and the currency's decimal exponent, exactly.
///
/// `exponent` is how many decimal places the currency has in its minor unit: 2 for USD and EUR
/// (cents), 0 for JPY and KRW, 3 for BHD, KWD, JOD, OMR and TND. Stripe amounts are integers in
/// those units, so a mapping never divides by 100.
///
/// Returns `None` when `exponent` is above 28 (the most a [`Decimal`] can hold).
///
/// ```
/// use pulsora::{from_minor_units, Decimal};
///
/// assert_eq!(from_minor_units(1999, 2), Some(Decimal::new(1999, 2)));
/// assert_eq!(from_minor_units(1999, 2).map(|d| d.to_string()).as_deref(), Some("19.99"));
/// assert_eq!(from_minor_units(500, 0).map(|d| d.to_string()).as_deref(), Some("500"));       // JPY
/// assert_eq!(from_minor_units(1500, 3).map(|d| d.to_string()).as_deref(), Some("1.500"));    // KWD
/// assert_eq!(from_minor_units(-4999, 2).map(|d| d.to_string()).as_deref(), Some("-49.99"));  // a refund
/// assert_eq!(from_minor_units(1, 29), None);
/// ```
pub fn from_minor_units(minor: i64, exponent: u32) -> Option<Decimal> {
    Decimal::try_new(minor, exponent).ok()
}

/// Writes `value` as a JSON number with exactly the decimal's digits (`19.99`, `1.500`, `-3`).
pub(crate) fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    // `Decimal`'s Display never uses exponent notation, so it is always a valid JSON number.
    let raw = RawValue::from_string(value.to_string()).map_err(S::Error::custom)?;
    raw.serialize(serializer)
}

/// Reads a JSON number (or a string holding one) into a decimal without passing through `f64`.
///
/// Works with `serde_json` (`from_str`, `from_slice`, `from_reader`, `from_value`), which is what
/// this crate speaks.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    parse_json_number(raw.get()).map_err(D::Error::custom)
}

/// `Option<Decimal>` with the same exact encoding; `null` reads as `None`.
pub(crate) mod option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(decimal) => super::serialize(decimal, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        match Option::<Box<RawValue>>::deserialize(deserializer)? {
            Some(raw) => parse_json_number(raw.get())
                .map(Some)
                .map_err(D::Error::custom),
            None => Ok(None),
        }
    }
}

fn parse_json_number(text: &str) -> Result<Decimal, String> {
    let text = text.trim();
    if text.starts_with('"') {
        let inner: String = serde_json::from_str(text).map_err(|e| e.to_string())?;
        return parse_decimal(inner.trim());
    }
    parse_decimal(text)
}

fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let parsed = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text)
    } else {
        Decimal::from_str_exact(text).or_else(|_| Decimal::from_str(text))
    };
    parsed.map_err(|e| format!("expected a decimal number, got {text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Wrap {
        #[serde(with = "super")]
        amount: Decimal,
        #[serde(
            with = "super::option",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        mrr: Option<Decimal>,
    }

    #[test]
    fn writes_the_decimal_text_as_a_number() {
        let w = Wrap {
            amount: Decimal::new(1999, 2),
            mrr: Some(Decimal::new(-15000, 3)),
        };
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(json, r#"{"amount":19.99,"mrr":-15.000}"#);
        let back: Wrap = serde_json::from_str(&json).unwrap();
        assert_eq!(back.amount.to_string(), "19.99");
        assert_eq!(back.mrr.unwrap().to_string(), "-15.000");
    }

    #[test]
    fn a_sum_that_breaks_floats_stays_exact() {
        // 0.1 + 0.2 in f64 is 0.30000000000000004.
        let w = Wrap {
            amount: Decimal::new(1, 1) + Decimal::new(2, 1),
            mrr: None,
        };
        assert_eq!(serde_json::to_string(&w).unwrap(), r#"{"amount":0.3}"#);
    }

    #[test]
    fn reads_long_numbers_strings_exponents_and_null_exactly() {
        let w: Wrap =
            serde_json::from_str(r#"{"amount":12345678901234567.123456789,"mrr":null}"#).unwrap();
        assert_eq!(w.amount.to_string(), "12345678901234567.123456789");
        assert_eq!(w.mrr, None);
        let w: Wrap = serde_json::from_str(r#"{"amount":"19.990","mrr":1.5e2}"#).unwrap();
        assert_eq!(w.amount.to_string(), "19.990");
        assert_eq!(w.mrr, Some(Decimal::new(150, 0)));
        let from_value: Wrap =
            serde_json::from_value(serde_json::json!({"amount": 19.99})).unwrap();
        assert_eq!(from_value.amount.to_string(), "19.99");
    }

    #[test]
    fn refuses_what_is_not_a_number() {
        assert!(serde_json::from_str::<Wrap>(r#"{"amount":true}"#).is_err());
        assert!(serde_json::from_str::<Wrap>(r#"{"amount":"abc"}"#).is_err());
    }
}
