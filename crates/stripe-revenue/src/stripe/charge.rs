use super::{Expandable, Metadata};
use serde::Deserialize;

/// A Charge (`ch_…`), the `data.object` of `charge.refunded`.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Charge {
    /// `ch_…`
    pub id: String,
    /// Amount intended to be collected, minor units.
    #[serde(default)]
    pub amount: i64,
    /// Amount captured, minor units (can be less than `amount` after a partial capture; 0 for
    /// an authorisation never captured).
    #[serde(default)]
    pub amount_captured: Option<i64>,
    /// Whether the charge was captured (`false`: an authorisation only).
    #[serde(default)]
    pub captured: Option<bool>,
    /// Cumulative refunded amount, minor units.
    #[serde(default)]
    pub amount_refunded: i64,
    /// `true` only when fully refunded.
    #[serde(default)]
    pub refunded: bool,
    /// Lower-case ISO currency.
    #[serde(default)]
    pub currency: Option<String>,
    /// The customer, if any.
    #[serde(default)]
    pub customer: Option<Expandable>,
    /// The PaymentIntent, if any.
    #[serde(default)]
    pub payment_intent: Option<Expandable>,
    /// The invoice (removed from Charge at `2025-03-31.basil`).
    #[serde(default)]
    pub invoice: Option<Expandable>,
    /// The refunds (older API versions, or when expanded; absent from webhooks since
    /// `2022-11-15`).
    #[serde(default)]
    pub refunds: Option<super::subscription::List<super::Refund>>,
    /// Charge metadata.
    #[serde(default)]
    pub metadata: Option<Metadata>,
}
