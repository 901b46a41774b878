//! The choices the default mapping makes, as one value you can change.

use crate::state::Attribution;
use rust_decimal::Decimal;
use std::fmt;
use std::sync::Arc;

/// The sign of a refund's `amount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefundSign {
    /// `amount: -12.50` (the original integration guide and Pulsora's usage page). Default.
    #[default]
    Negative,
    /// `amount: 12.50` with `event_type: "refund"` (Pulsora's validation text says amounts are
    /// positive; pick this if your account rejects negative refunds).
    Positive,
}

/// Which of the two invoice events carries invoice money. Stripe sends both for a paid invoice;
/// counting both would double revenue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvoiceEvent {
    /// `invoice.paid`: also fires for invoices marked paid out of band. Default.
    #[default]
    Paid,
    /// `invoice.payment_succeeded`, as the original integration guide.
    PaymentSucceeded,
}

/// Converts an amount to your account currency before it is sent (off by default).
pub trait CurrencyConverter: Send + Sync + 'static {
    /// Converts `amount` in `currency` (upper-case ISO) to `(converted, target_currency)`.
    /// Return `None` to send the original amount and currency.
    fn convert(&self, amount: Decimal, currency: &str) -> Option<(Decimal, String)>;
}

/// How Stripe events become Pulsora revenue events.
///
/// ```
/// use stripe_revenue::{Policy, RefundSign};
/// let policy = Policy::default().refund_sign(RefundSign::Positive);
/// assert_eq!(policy.refund_sign_value(), RefundSign::Positive);
/// ```
#[derive(Clone)]
pub struct Policy {
    pub(crate) refund_sign: RefundSign,
    pub(crate) invoice_event: InvoiceEvent,
    pub(crate) placeholder: Attribution,
    pub(crate) converter: Option<Arc<dyn CurrencyConverter>>,
    pub(crate) payment_processor: String,
}

/// The placeholder visitor fingerprint and session id used when no attribution is found.
pub const PLACEHOLDER_ATTRIBUTION: &str = "stripe_unattributed";

impl Default for Policy {
    fn default() -> Self {
        Self {
            refund_sign: RefundSign::default(),
            invoice_event: InvoiceEvent::default(),
            placeholder: Attribution {
                visitor_fingerprint: PLACEHOLDER_ATTRIBUTION.to_owned(),
                session_id: PLACEHOLDER_ATTRIBUTION.to_owned(),
            },
            converter: None,
            payment_processor: "stripe".to_owned(),
        }
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("refund_sign", &self.refund_sign)
            .field("invoice_event", &self.invoice_event)
            .field("placeholder", &self.placeholder)
            .field("converter", &self.converter.is_some())
            .finish()
    }
}

impl Policy {
    /// Sign of refund amounts. Default: negative.
    #[must_use]
    pub fn refund_sign(mut self, sign: RefundSign) -> Self {
        self.refund_sign = sign;
        self
    }

    /// The configured refund sign.
    pub fn refund_sign_value(&self) -> RefundSign {
        self.refund_sign
    }

    /// Which invoice event is counted. Default: `invoice.paid`.
    #[must_use]
    pub fn invoice_event(mut self, event: InvoiceEvent) -> Self {
        self.invoice_event = event;
        self
    }

    /// Attribution sent when none is found. Default: `stripe_unattributed` for both.
    #[must_use]
    pub fn placeholder(mut self, visitor_fingerprint: &str, session_id: &str) -> Self {
        self.placeholder = Attribution {
            visitor_fingerprint: visitor_fingerprint.to_owned(),
            session_id: session_id.to_owned(),
        };
        self
    }

    /// Converts amounts to your account currency.
    #[must_use]
    pub fn currency_converter(mut self, converter: impl CurrencyConverter) -> Self {
        self.converter = Some(Arc::new(converter));
        self
    }
}
