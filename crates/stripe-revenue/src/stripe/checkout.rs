use super::{Expandable, Metadata};
use serde::Deserialize;

/// A Checkout Session (`cs_…`), the `data.object` of `checkout.session.*` events.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct CheckoutSession {
    /// `cs_…`
    pub id: String,
    /// `payment`, `subscription` or `setup`.
    #[serde(default)]
    pub mode: Option<String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    #[serde(default)]
    pub payment_status: Option<String>,
    /// Total after discounts and taxes, in minor units.
    #[serde(default)]
    pub amount_total: Option<i64>,
    /// Discounts, shipping and tax of `amount_total`.
    #[serde(default)]
    pub total_details: Option<TotalDetails>,
    /// Lower-case ISO currency.
    #[serde(default)]
    pub currency: Option<String>,
    /// The customer, if one was created or given.
    #[serde(default)]
    pub customer: Option<Expandable>,
    /// Your reconciliation id.
    #[serde(default)]
    pub client_reference_id: Option<String>,
    /// Session metadata: where the attribution normally lives.
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// The PaymentIntent (payment mode).
    #[serde(default)]
    pub payment_intent: Option<Expandable>,
    /// The subscription (subscription mode).
    #[serde(default)]
    pub subscription: Option<Expandable>,
    /// The invoice created by the session, if any.
    #[serde(default)]
    pub invoice: Option<Expandable>,
}

/// `checkout.session.total_details`.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct TotalDetails {
    /// The tax part of `amount_total`, minor units.
    #[serde(default)]
    pub amount_tax: Option<i64>,
    /// The discount already taken off `amount_total`, minor units.
    #[serde(default)]
    pub amount_discount: Option<i64>,
}
