use super::{Expandable, Metadata};
use serde::Deserialize;

/// A Subscription (`sub_…`), the `data.object` of `customer.subscription.*`.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Subscription {
    /// `sub_…`
    pub id: String,
    /// `active`, `trialing`, `incomplete`, `past_due`, `canceled`, `unpaid`, `paused`, …
    #[serde(default)]
    pub status: Option<String>,
    /// The customer.
    #[serde(default)]
    pub customer: Option<Expandable>,
    /// Lower-case ISO currency.
    #[serde(default)]
    pub currency: Option<String>,
    /// Subscription metadata.
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// End of the trial, if any (Unix seconds).
    #[serde(default)]
    pub trial_end: Option<i64>,
    /// The items.
    #[serde(default)]
    pub items: Option<List<SubscriptionItem>>,
}

/// A Stripe list (`{"object":"list","data":[…]}`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct List<T> {
    /// The elements of this page.
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
}

/// A subscription item (`si_…`).
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct SubscriptionItem {
    /// The price (older API versions also send a legacy `plan`, which is not read).
    #[serde(default)]
    pub price: Option<Price>,
    /// Quantity (absent means 1).
    #[serde(default)]
    pub quantity: Option<i64>,
}

/// A Price (`price_…`).
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Price {
    /// `price_…`
    #[serde(default)]
    pub id: Option<String>,
    /// The product, if present.
    #[serde(default)]
    pub product: Option<Expandable>,
    /// Unit amount in minor units (null for tiered prices and for decimal amounts).
    #[serde(default)]
    pub unit_amount: Option<i64>,
    /// Unit amount in minor units as a decimal string (up to 12 places).
    #[serde(default)]
    pub unit_amount_decimal: Option<String>,
    /// `per_unit` or `tiered`.
    #[serde(default)]
    pub billing_scheme: Option<String>,
    /// Lower-case ISO currency.
    #[serde(default)]
    pub currency: Option<String>,
    /// Recurring terms (absent for one-time prices).
    #[serde(default)]
    pub recurring: Option<Recurring>,
}

/// The recurring terms of a price.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Recurring {
    /// `day`, `week`, `month` or `year`.
    #[serde(default)]
    pub interval: Option<String>,
    /// Number of intervals between bills (absent means 1).
    #[serde(default)]
    pub interval_count: Option<i64>,
    /// `licensed` or `metered`.
    #[serde(default)]
    pub usage_type: Option<String>,
}
