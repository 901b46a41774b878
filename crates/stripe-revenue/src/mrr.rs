//! Monthly recurring revenue of a subscription, exactly.
//!
//! MRR = Σ over items of `unit amount × quantity`, normalised to one month:
//! `month ÷ interval_count`, `year ÷ (12 × interval_count)`, `week × 52 ÷ (12 × interval_count)`,
//! `day × 365 ÷ (12 × interval_count)`. Unit amounts come from `unit_amount_decimal` when present
//! (it can carry fractions of a cent) and `unit_amount` otherwise. Metered and tiered prices have
//! no fixed unit amount, so they are excluded (with a logged note) rather than guessed. Only
//! `active` and `past_due` subscriptions count: a trial, an incomplete first payment, a paused,
//! unpaid or canceled subscription has an MRR of zero.

use crate::currency::minor_decimal_to_major;
use crate::stripe::{Price, Subscription, SubscriptionItem};
use rust_decimal::Decimal;
use std::str::FromStr;

/// Statuses whose items count towards MRR.
const COUNTED_STATUSES: [&str; 2] = ["active", "past_due"];

/// Why an item was left out of MRR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exclusion {
    /// `recurring.usage_type = metered`: the amount depends on usage.
    Metered,
    /// `billing_scheme = tiered`: the amount depends on the tier reached.
    Tiered,
    /// A one-time price on a subscription.
    NotRecurring,
    /// No usable unit amount or interval.
    Incomplete,
}

/// MRR of a subscription in the currency's major units, rounded to its precision.
///
/// ```
/// use stripe_revenue::{mrr::subscription_mrr, stripe::Subscription};
///
/// let sub: Subscription = serde_json::from_value(serde_json::json!({
///     "id": "sub_1", "status": "active", "currency": "usd",
///     "items": {"data": [
///         {"quantity": 3, "price": {"unit_amount": 1000, "recurring": {"interval": "month"}}},
///         {"quantity": 1, "price": {"unit_amount": 12000, "recurring": {"interval": "year"}}}
///     ]}
/// })).unwrap();
/// assert_eq!(subscription_mrr(&sub).to_string(), "40.00");
/// ```
pub fn subscription_mrr(subscription: &Subscription) -> Decimal {
    let currency = subscription.currency.as_deref().unwrap_or("usd");
    let status = subscription.status.as_deref().unwrap_or("active");
    if !COUNTED_STATUSES.contains(&status) {
        return crate::currency::with_scale(Decimal::ZERO, currency);
    }
    list_mrr(subscription)
}

/// MRR of the subscription's items whatever its status: what it will be worth once active (a
/// paid invoice means it is).
pub fn list_mrr(subscription: &Subscription) -> Decimal {
    let currency = subscription.currency.as_deref().unwrap_or("usd");
    let items = subscription
        .items
        .as_ref()
        .map(|l| l.data.as_slice())
        .unwrap_or_default();
    let minor: Decimal = items
        .iter()
        .filter_map(|item| match item_monthly_minor(item) {
            Ok(monthly) => Some(monthly),
            Err(reason) => {
                tracing::info!(
                    subscription = %subscription.id,
                    price = item.price.as_ref().and_then(|p| p.id.as_deref()),
                    ?reason,
                    "subscription item excluded from MRR"
                );
                None
            }
        })
        .sum();
    minor_decimal_to_major(minor, currency)
}

/// One item's monthly amount in minor units (not rounded).
pub fn item_monthly_minor(item: &SubscriptionItem) -> Result<Decimal, Exclusion> {
    let price = item.price.as_ref().ok_or(Exclusion::Incomplete)?;
    let quantity = Decimal::from(item.quantity.unwrap_or(1));
    Ok(price_monthly_minor(price)? * quantity)
}

/// A price's monthly amount per unit, in minor units (not rounded).
pub fn price_monthly_minor(price: &Price) -> Result<Decimal, Exclusion> {
    let recurring = price.recurring.as_ref().ok_or(Exclusion::NotRecurring)?;
    if recurring.usage_type.as_deref() == Some("metered") {
        return Err(Exclusion::Metered);
    }
    if price.billing_scheme.as_deref() == Some("tiered") {
        return Err(Exclusion::Tiered);
    }
    let unit = price
        .unit_amount_decimal
        .as_deref()
        .and_then(|d| Decimal::from_str(d).ok())
        .or_else(|| price.unit_amount.map(Decimal::from))
        .ok_or(Exclusion::Incomplete)?;
    let count = Decimal::from(recurring.interval_count.unwrap_or(1).max(1));
    let twelve = Decimal::from(12);
    let monthly = match recurring.interval.as_deref() {
        Some("month") => unit / count,
        Some("year") => unit / (twelve * count),
        Some("week") => unit * Decimal::from(52) / (twelve * count),
        Some("day") => unit * Decimal::from(365) / (twelve * count),
        _ => return Err(Exclusion::Incomplete),
    };
    Ok(monthly)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sub(status: &str, currency: &str, items: serde_json::Value) -> Subscription {
        serde_json::from_value(json!({"id": "sub_t", "status": status, "currency": currency, "items": {"data": items}}))
            .unwrap()
    }

    #[test]
    fn normalises_intervals_and_counts() {
        let items = json!([
            {"quantity": 2, "price": {"unit_amount": 3000, "recurring": {"interval": "month", "interval_count": 3}}},
            {"price": {"unit_amount": 700, "recurring": {"interval": "week"}}},
            {"price": {"unit_amount": 100, "recurring": {"interval": "day"}}},
            {"price": {"unit_amount_decimal": "2400.5", "recurring": {"interval": "year", "interval_count": 2}}}
        ]);
        // 2×3000/3 = 2000; 700×52/12 = 3033.33…; 100×365/12 = 3041.66…; 2400.5/24 = 100.02…
        // total 8175.02… cents → 81.75
        assert_eq!(
            subscription_mrr(&sub("active", "usd", items)).to_string(),
            "81.75"
        );
    }

    #[test]
    fn excludes_metered_tiered_and_non_counting_statuses() {
        let items = json!([
            {"price": {"unit_amount": 1000, "recurring": {"interval": "month"}}},
            {"price": {"unit_amount": 5, "recurring": {"interval": "month", "usage_type": "metered"}}},
            {"price": {"billing_scheme": "tiered", "recurring": {"interval": "month"}}}
        ]);
        assert_eq!(
            subscription_mrr(&sub("active", "usd", items.clone())).to_string(),
            "10.00"
        );
        for status in [
            "trialing",
            "incomplete",
            "canceled",
            "unpaid",
            "paused",
            "incomplete_expired",
        ] {
            assert_eq!(
                subscription_mrr(&sub(status, "usd", items.clone())),
                Decimal::ZERO,
                "{status}"
            );
        }
        assert_eq!(
            subscription_mrr(&sub("past_due", "usd", items)).to_string(),
            "10.00"
        );
    }

    #[test]
    fn zero_and_three_decimal_currencies() {
        let items = json!([{"price": {"unit_amount": 12000, "recurring": {"interval": "year"}}}]);
        assert_eq!(
            subscription_mrr(&sub("active", "jpy", items.clone())).to_string(),
            "1000"
        );
        assert_eq!(
            subscription_mrr(&sub("active", "kwd", items)).to_string(),
            "1.000"
        );
    }
}
