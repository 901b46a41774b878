use super::subscription::List;
use super::{Expandable, Metadata, Price};
use serde::Deserialize;

/// An Invoice (`in_…`), the `data.object` of `invoice.paid` / `invoice.payment_succeeded`.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Invoice {
    /// `in_…`
    pub id: String,
    /// Amount paid, minor units.
    #[serde(default)]
    pub amount_paid: i64,
    /// Total after discounts, tax included, minor units.
    #[serde(default)]
    pub total: Option<i64>,
    /// Total after discounts, tax excluded, minor units (both API shapes; null on old invoices).
    #[serde(default)]
    pub total_excluding_tax: Option<i64>,
    /// Before basil: the tax amount.
    #[serde(default)]
    pub tax: Option<i64>,
    /// From basil on: the taxes, each with its amount.
    #[serde(default)]
    pub total_taxes: Option<Vec<InvoiceTax>>,
    /// Marked paid outside Stripe (both API shapes; deprecated in later versions, still sent).
    #[serde(default)]
    pub paid_out_of_band: Option<bool>,
    /// Before basil: the charge that paid the invoice.
    #[serde(default)]
    pub charge: Option<Expandable>,
    /// Lower-case ISO currency.
    #[serde(default)]
    pub currency: Option<String>,
    /// The customer.
    #[serde(default)]
    pub customer: Option<Expandable>,
    /// `subscription_create`, `subscription_cycle`, `subscription_update`, `manual`, …
    #[serde(default)]
    pub billing_reason: Option<String>,
    /// Invoice metadata.
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// Before `2025-03-31.basil`: the subscription.
    #[serde(default)]
    pub subscription: Option<Expandable>,
    /// Before basil (2024 versions): a snapshot of the subscription's metadata.
    #[serde(default)]
    pub subscription_details: Option<SubscriptionDetails>,
    /// From basil on: where the invoice came from.
    #[serde(default)]
    pub parent: Option<InvoiceParent>,
    /// Before basil: the PaymentIntent.
    #[serde(default)]
    pub payment_intent: Option<Expandable>,
    /// The lines (first page).
    #[serde(default)]
    pub lines: Option<List<InvoiceLine>>,
}

/// One entry of `invoice.total_taxes` (basil and later).
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct InvoiceTax {
    /// Tax amount, minor units.
    #[serde(default)]
    pub amount: i64,
}

/// `invoice.parent` (basil and later).
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct InvoiceParent {
    /// `subscription_details`, `quote_details`, …
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Present when the invoice belongs to a subscription.
    #[serde(default)]
    pub subscription_details: Option<SubscriptionDetails>,
}

/// The subscription an invoice belongs to, with its metadata snapshot.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct SubscriptionDetails {
    /// The subscription (basil: inside `parent.subscription_details`).
    #[serde(default)]
    pub subscription: Option<Expandable>,
    /// The subscription's metadata when the invoice was created.
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

/// An invoice line item.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct InvoiceLine {
    /// Line amount, minor units.
    #[serde(default)]
    pub amount: i64,
    /// Quantity.
    #[serde(default)]
    pub quantity: Option<i64>,
    /// Line description.
    #[serde(default)]
    pub description: Option<String>,
    /// Before basil: the price object.
    #[serde(default)]
    pub price: Option<Price>,
    /// Before basil: whether this line is a proration.
    #[serde(default)]
    pub proration: Option<bool>,
    /// Line metadata.
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// The billing period of the line (Unix seconds).
    #[serde(default)]
    pub period: Option<LinePeriod>,
    /// Money each discount took off this line (every API version).
    #[serde(default)]
    pub discount_amounts: Option<Vec<LineDiscountAmount>>,
    /// Before basil: tax amounts (`inclusive` ones are inside `amount`).
    #[serde(default)]
    pub tax_amounts: Option<Vec<LineTax>>,
    /// Basil and later: taxes (`tax_behavior: inclusive` ones are inside `amount`).
    #[serde(default)]
    pub taxes: Option<Vec<LineTax>>,
    /// Basil and later: what was priced (`pricing.price_details.price` is the price id).
    #[serde(default)]
    pub pricing: Option<serde_json::Value>,
    /// Basil and later: where the line comes from (proration flag inside).
    #[serde(default)]
    pub parent: Option<serde_json::Value>,
}

/// `line.period`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[non_exhaustive]
pub struct LinePeriod {
    /// Start, Unix seconds.
    #[serde(default)]
    pub start: i64,
    /// End, Unix seconds.
    #[serde(default)]
    pub end: i64,
}

/// One entry of `line.discount_amounts`.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct LineDiscountAmount {
    /// Minor units taken off.
    #[serde(default)]
    pub amount: i64,
}

/// One entry of `line.tax_amounts` (before basil) or `line.taxes` (basil).
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct LineTax {
    /// Tax, minor units.
    #[serde(default)]
    pub amount: i64,
    /// Before basil: the tax is inside the line amount.
    #[serde(default)]
    pub inclusive: Option<bool>,
    /// Basil: `inclusive` or `exclusive`.
    #[serde(default)]
    pub tax_behavior: Option<String>,
}

impl InvoiceLine {
    /// The price id, from `price.id` (before basil) or `pricing.price_details.price` (basil).
    pub fn price_id(&self) -> Option<&str> {
        self.price
            .as_ref()
            .and_then(|p| p.id.as_deref())
            .or_else(|| self.pricing.as_ref()?["price_details"]["price"].as_str())
    }

    /// Whether the line is a proration, in either API shape.
    pub fn is_proration(&self) -> bool {
        self.proration == Some(true)
            || self.parent.as_ref().is_some_and(|p| {
                p["subscription_item_details"]["proration"] == true
                    || p["invoice_item_details"]["proration"] == true
            })
    }

    /// Tax inside `amount` (inclusive taxes), minor units, in either API shape.
    pub fn inclusive_tax(&self) -> i64 {
        let legacy = self.tax_amounts.iter().flatten();
        let basil = self.taxes.iter().flatten();
        legacy
            .chain(basil)
            .filter(|t| t.inclusive == Some(true) || t.tax_behavior.as_deref() == Some("inclusive"))
            .map(|t| t.amount)
            .sum()
    }
}

impl Invoice {
    /// The subscription id, from `subscription` (before basil) or
    /// `parent.subscription_details.subscription` (basil and later).
    pub fn subscription_id(&self) -> Option<&str> {
        self.subscription
            .as_ref()
            .or_else(|| {
                self.parent
                    .as_ref()
                    .and_then(|p| p.subscription_details.as_ref())
                    .and_then(|d| d.subscription.as_ref())
            })
            .map(Expandable::id)
    }

    /// The tax in the invoice's total, minor units, from either API shape:
    /// `total − total_excluding_tax`, else `tax` (before basil), else the sum of `total_taxes`.
    pub fn tax_amount(&self) -> i64 {
        if let (Some(total), Some(excluding)) = (self.total, self.total_excluding_tax) {
            return (total - excluding).max(0);
        }
        if let Some(tax) = self.tax {
            return tax.max(0);
        }
        self.total_taxes.as_ref().map_or(0, |taxes| {
            taxes.iter().map(|t| t.amount).sum::<i64>().max(0)
        })
    }

    /// The metadata snapshot of the invoice's subscription, from either API shape.
    pub fn subscription_metadata(&self) -> Option<&Metadata> {
        self.parent
            .as_ref()
            .and_then(|p| p.subscription_details.as_ref())
            .and_then(|d| d.metadata.as_ref())
            .or_else(|| {
                self.subscription_details
                    .as_ref()
                    .and_then(|d| d.metadata.as_ref())
            })
            .or_else(|| self.subscription.as_ref().and_then(|s| s.metadata.as_ref()))
    }
}
