use super::Expandable;
use serde::Deserialize;

/// An InvoicePayment (`inpay_…`, from `2025-03-31.basil`), the `data.object` of
/// `invoice_payment.paid`: the link between an invoice and the PaymentIntent or charge that paid
/// it, which basil invoices and charges no longer carry themselves.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct InvoicePayment {
    /// `inpay_…`
    pub id: String,
    /// The invoice.
    #[serde(default)]
    pub invoice: Option<Expandable>,
    /// `paid`, `open` or `canceled`.
    #[serde(default)]
    pub status: Option<String>,
    /// The payment.
    #[serde(default)]
    pub payment: Option<InvoicePaymentDetails>,
}

/// `invoice_payment.payment`.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct InvoicePaymentDetails {
    /// `payment_intent`, `charge`, …
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The PaymentIntent, when `type` is `payment_intent`.
    #[serde(default)]
    pub payment_intent: Option<Expandable>,
    /// The charge, when `type` is `charge`.
    #[serde(default)]
    pub charge: Option<Expandable>,
}
