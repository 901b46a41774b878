//! The choices the default mapping makes, as one value you can change.

use crate::scope::{Connect, Livemode};
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

/// What a payment's revenue amount is (`STRIPE_PULSORA_TAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tax {
    /// Revenue excludes tax, as Stripe's own revenue figures: an invoice's
    /// `amount_paid − (total − total_excluding_tax)`, a Checkout Session's
    /// `amount_total − total_details.amount_tax`. The tax goes in `metadata.tax`. Default.
    #[default]
    Exclude,
    /// Revenue is what the customer paid, tax included (`amount_paid`, `amount_total`).
    Include,
}

/// Refunds and lost disputes of payments the bridge never reported as revenue: PaymentIntents
/// API or Terminal sales, payments from before the bridge was installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnreportedPayments {
    /// Money out is sent only for payments whose money in was reported (a Checkout Session, or
    /// an invoice linked to the charge by `charge.invoice` before basil or by
    /// `invoice_payment.paid` from basil on), so Pulsora never subtracts money it never added.
    /// Default.
    #[default]
    Skip,
    /// Every refund and lost dispute of an own-account charge is sent (for Pulsora projects that
    /// also receive those payments from another source).
    Count,
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
    pub(crate) livemode: Option<Livemode>,
    pub(crate) connect: Connect,
    pub(crate) tax: Tax,
    pub(crate) unreported: UnreportedPayments,
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
            livemode: None,
            connect: Connect::default(),
            tax: Tax::default(),
            unreported: UnreportedPayments::default(),
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
            .field("livemode", &self.livemode)
            .field("connect", &self.connect)
            .field("tax", &self.tax)
            .field("unreported", &self.unreported)
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

    /// Which Stripe mode counts (`livemode`). Default when unset: [`Livemode::Live`] when
    /// [`RevenueSync`](crate::RevenueSync) sends to Pulsora with a token, [`Livemode::Any`] in a
    /// dry run (and for [`map_event`](crate::map_event) called on its own).
    ///
    /// ```
    /// use stripe_revenue::{Livemode, Policy};
    /// let policy = Policy::default().livemode(Livemode::Test);
    /// assert_eq!(policy.livemode_value(), Some(Livemode::Test));
    /// ```
    #[must_use]
    pub fn livemode(mut self, livemode: Livemode) -> Self {
        self.livemode = Some(livemode);
        self
    }

    /// The configured mode; `None` leaves the choice to the client (see [`Policy::livemode`]).
    pub fn livemode_value(&self) -> Option<Livemode> {
        self.livemode
    }

    /// What to do with Connect events (`account` set). Default: [`Connect::Ignore`].
    #[must_use]
    pub fn connect(mut self, connect: Connect) -> Self {
        self.connect = connect;
        self
    }

    /// Whether revenue includes tax. Default: [`Tax::Exclude`].
    #[must_use]
    pub fn tax(mut self, tax: Tax) -> Self {
        self.tax = tax;
        self
    }

    /// Refunds and lost disputes of payments the bridge never reported. Default:
    /// [`UnreportedPayments::Skip`].
    #[must_use]
    pub fn unreported_payments(mut self, rule: UnreportedPayments) -> Self {
        self.unreported = rule;
        self
    }

    /// The mode, with the client's default applied when none was chosen.
    pub(crate) fn resolve_livemode(mut self, dry_run: bool) -> Self {
        if self.livemode.is_none() {
            self.livemode = Some(if dry_run {
                Livemode::Any
            } else {
                Livemode::Live
            });
        }
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
