//! Stripe's minor-unit exponents. Stripe amounts are integers in the currency's minor unit *as
//! Stripe defines it*, which is not always ISO 4217: ISK and UGX are zero-decimal in ISO but
//! Stripe keeps them two-decimal for backwards compatibility, and MGA is the reverse. So the
//! table comes from Stripe's documentation, never from an ISO crate, and nothing divides by 100
//! blindly.

use rust_decimal::Decimal;

/// Zero-decimal currencies: the amount is in major units (`1000` JPY is ¥1,000).
const ZERO_DECIMAL: [&str; 15] = [
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "vnd", "vuv", "xaf",
    "xof", "xpf",
];

/// Three-decimal currencies: the amount is in thousandths (`5120` KWD is 5.120 KWD).
const THREE_DECIMAL: [&str; 5] = ["bhd", "jod", "kwd", "omr", "tnd"];

/// Number of decimal places Stripe uses for `currency` (case-insensitive): 0, 2 or 3.
///
/// ```
/// use stripe_revenue::currency::exponent;
/// assert_eq!(exponent("usd"), 2);
/// assert_eq!(exponent("JPY"), 0);
/// assert_eq!(exponent("kwd"), 3);
/// assert_eq!(exponent("isk"), 2); // Stripe keeps ISK two-decimal
/// assert_eq!(exponent("ugx"), 2); // … and UGX
/// ```
pub fn exponent(currency: &str) -> u32 {
    let lower = currency.to_ascii_lowercase();
    if ZERO_DECIMAL.contains(&lower.as_str()) {
        0
    } else if THREE_DECIMAL.contains(&lower.as_str()) {
        3
    } else {
        2
    }
}

/// An amount in Stripe's minor units as an exact decimal in major units.
///
/// ```
/// use stripe_revenue::currency::to_major;
/// assert_eq!(to_major(1999, "usd").to_string(), "19.99");
/// assert_eq!(to_major(1999, "jpy").to_string(), "1999");
/// assert_eq!(to_major(5120, "kwd").to_string(), "5.120");
/// ```
pub fn to_major(minor: i64, currency: &str) -> Decimal {
    Decimal::new(minor, exponent(currency))
}

/// A decimal amount of minor units (MRR can be fractional) in major units, rounded to the
/// currency's precision.
pub fn minor_decimal_to_major(minor: Decimal, currency: &str) -> Decimal {
    let exp = exponent(currency);
    let major = minor / Decimal::from(10i64.pow(exp));
    with_scale(
        major.round_dp_with_strategy(exp, rust_decimal::RoundingStrategy::MidpointNearestEven),
        currency,
    )
}

/// `amount` written with exactly the currency's number of decimals (`10` USD → `10.00`), so
/// every figure of one currency prints alike.
pub fn with_scale(mut amount: Decimal, currency: &str) -> Decimal {
    amount.rescale(exponent(currency));
    amount
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_special_currency_has_its_exponent() {
        for c in ZERO_DECIMAL {
            assert_eq!(exponent(c), 0, "{c}");
            assert_eq!(to_major(500, c).to_string(), "500", "{c}");
        }
        for c in THREE_DECIMAL {
            assert_eq!(exponent(c), 3, "{c}");
            assert_eq!(to_major(5120, c).to_string(), "5.120", "{c}");
        }
        for c in ["usd", "eur", "isk", "ugx", "huf", "twd", "mxn"] {
            assert_eq!(exponent(c), 2, "{c}");
            assert_eq!(to_major(500, c).to_string(), "5.00", "{c}");
        }
        assert_eq!(exponent("JPY"), 0);
    }

    #[test]
    fn fractional_minor_units_round_to_the_currency() {
        let third = Decimal::from(10000) / Decimal::from(12);
        assert_eq!(minor_decimal_to_major(third, "usd").to_string(), "8.33");
        assert_eq!(
            minor_decimal_to_major(Decimal::from(1000) / Decimal::from(3), "jpy").to_string(),
            "333"
        );
    }
}
