use super::{Expandable, Metadata};
use serde::Deserialize;

/// A Refund (`re_…`), the `data.object` of `refund.created` / `refund.updated` /
/// `refund.failed` and `charge.refund.updated`, and an element of a charge's `refunds.data`.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Refund {
    /// `re_…`
    pub id: String,
    /// Amount, minor units.
    #[serde(default)]
    pub amount: i64,
    /// The refunded charge.
    #[serde(default)]
    pub charge: Option<Expandable>,
    /// The refunded PaymentIntent.
    #[serde(default)]
    pub payment_intent: Option<Expandable>,
    /// Lower-case ISO currency.
    #[serde(default)]
    pub currency: Option<String>,
    /// `pending`, `requires_action`, `succeeded`, `failed` or `canceled`.
    #[serde(default)]
    pub status: Option<String>,
    /// When the refund was created (Unix seconds).
    #[serde(default)]
    pub created: Option<i64>,
    /// Refund metadata.
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

impl Refund {
    /// A failed or cancelled refund gave the money back to the merchant.
    pub fn reversed(&self) -> bool {
        matches!(self.status.as_deref(), Some("failed" | "canceled"))
    }
}
