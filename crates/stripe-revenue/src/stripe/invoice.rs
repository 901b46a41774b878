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
