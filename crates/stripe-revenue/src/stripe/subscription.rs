use super::discount::{Discount, DiscountRef};
use super::{Expandable, Metadata};
use serde::{Deserialize, Serialize};

/// A Subscription (`sub_…`), the `data.object` of `customer.subscription.*`.
///
/// It serializes back (without metadata) so the MRR ledger can keep the newest snapshot and
/// re-derive MRR when something learned later (a coupon, an invoice line) changes it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
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
    /// Subscription metadata (not kept in the ledger's snapshot).
    #[serde(default, skip_serializing)]
    pub metadata: Option<Metadata>,
    /// Creation time (Unix seconds).
    #[serde(default)]
    pub created: Option<i64>,
    /// End of the trial, if any (Unix seconds).
    #[serde(default)]
    pub trial_end: Option<i64>,
    /// When the subscription was canceled (Unix seconds).
    #[serde(default)]
    pub canceled_at: Option<i64>,
    /// When the subscription ended (Unix seconds).
    #[serde(default)]
    pub ended_at: Option<i64>,
    /// Whether it cancels at the end of the period (it still counts until then).
    #[serde(default)]
    pub cancel_at_period_end: Option<bool>,
    /// Paused payment collection (`behavior`, `resumes_at`); the status stays `active`.
    #[serde(default)]
    pub pause_collection: Option<serde_json::Value>,
    /// Discounts, newest API versions: ids in webhook payloads, objects when expanded.
    #[serde(default)]
    pub discounts: Option<Vec<DiscountRef>>,
    /// The single discount of older API versions (with its coupon).
    #[serde(default)]
    pub discount: Option<Discount>,
    /// Tax rates applied to items without their own (`inclusive` ones are inside the price).
    #[serde(default)]
    pub default_tax_rates: Option<Vec<TaxRate>>,
    /// The items.
    #[serde(default)]
    pub items: Option<List<SubscriptionItem>>,
}

/// A Stripe list (`{"object":"list","data":[…]}`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct List<T> {
    /// The elements of this page.
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
}

/// A subscription item (`si_…`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct SubscriptionItem {
    /// The price (older API versions also send a legacy `plan`, which is not read).
    #[serde(default)]
    pub price: Option<Price>,
    /// Quantity (absent means 1).
    #[serde(default)]
    pub quantity: Option<i64>,
    /// Discounts on this item only (ids in webhook payloads, objects when expanded).
    #[serde(default)]
    pub discounts: Option<Vec<DiscountRef>>,
    /// Tax rates of this item (override the subscription's `default_tax_rates`).
    #[serde(default)]
    pub tax_rates: Option<Vec<TaxRate>>,
}

/// A Price (`price_…`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
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
    /// `inclusive` (tax inside the amount), `exclusive` or `unspecified`.
    #[serde(default)]
    pub tax_behavior: Option<String>,
    /// Bill `ceil` or `floor` of `quantity ÷ divide_by` units (packages).
    #[serde(default)]
    pub transform_quantity: Option<TransformQuantity>,
    /// `graduated` or `volume` (tiered prices).
    #[serde(default)]
    pub tiers_mode: Option<String>,
    /// The tiers (only when expanded: `expand[]=…price.tiers`).
    #[serde(default)]
    pub tiers: Option<Vec<PriceTier>>,
}

/// The recurring terms of a price.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
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

/// `price.transform_quantity`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct TransformQuantity {
    /// Divide the quantity by this number.
    #[serde(default)]
    pub divide_by: Option<i64>,
    /// `up` or `down`.
    #[serde(default)]
    pub round: Option<String>,
}

/// One tier of a tiered price.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct PriceTier {
    /// Upper bound of the tier (inclusive); `null` for the last tier ("inf" on input).
    #[serde(default)]
    pub up_to: Option<i64>,
    /// Per-unit amount in the tier, minor units.
    #[serde(default)]
    pub unit_amount: Option<i64>,
    /// Per-unit amount as a decimal string.
    #[serde(default)]
    pub unit_amount_decimal: Option<String>,
    /// Flat amount for reaching the tier, minor units.
    #[serde(default)]
    pub flat_amount: Option<i64>,
    /// Flat amount as a decimal string.
    #[serde(default)]
    pub flat_amount_decimal: Option<String>,
}

/// A tax rate (`txr_…`), sent whole on subscriptions and items.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct TaxRate {
    /// Percentage, e.g. `20.0`.
    #[serde(default)]
    pub percentage: Option<f64>,
    /// Whether the tax is inside the price.
    #[serde(default)]
    pub inclusive: Option<bool>,
    /// Inactive rates are not applied to new invoices but stay on existing subscriptions.
    #[serde(default)]
    pub active: Option<bool>,
}
