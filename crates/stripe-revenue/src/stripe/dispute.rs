use super::{Expandable, Metadata};
use serde::Deserialize;

/// A Dispute (`dp_…`), the `data.object` of `charge.dispute.*` events.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Dispute {
    /// `dp_…`
    pub id: String,
    /// Disputed amount, minor units.
    #[serde(default)]
    pub amount: i64,
    /// The disputed charge.
    #[serde(default)]
    pub charge: Option<Expandable>,
    /// The disputed PaymentIntent.
    #[serde(default)]
    pub payment_intent: Option<Expandable>,
    /// Lower-case ISO currency.
    #[serde(default)]
    pub currency: Option<String>,
    /// `warning_needs_response`, …, `needs_response`, `under_review`, `won`, `lost`,
    /// `warning_closed`.
    #[serde(default)]
    pub status: Option<String>,
    /// Dispute metadata.
    #[serde(default)]
    pub metadata: Option<Metadata>,
}
