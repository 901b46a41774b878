use std::fmt;
use std::str::FromStr;

macro_rules! event_types {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, )*) => {
        /// The `type` of a Stripe event.
        ///
        /// The types this workspace acts on are named; every other type, including ones Stripe
        /// adds in the future, is [`EventType::Other`] and never an error.
        ///
        /// ```
        /// use stripe_webhook_guard::EventType;
        ///
        /// assert_eq!("invoice.paid".parse::<EventType>().unwrap(), EventType::InvoicePaid);
        /// assert_eq!(EventType::from("made.up"), EventType::Other("made.up".into()));
        /// assert_eq!(EventType::ChargeRefunded.as_str(), "charge.refunded");
        /// ```
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum EventType {
            $( $(#[$doc])* #[doc = concat!("`", $name, "`")] $variant, )*
            /// Any other event type, kept verbatim.
            Other(String),
        }

        impl EventType {
            /// The type as Stripe spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $name, )*
                    Self::Other(other) => other,
                }
            }
        }

        impl From<&str> for EventType {
            fn from(value: &str) -> Self {
                match value {
                    $( $name => Self::$variant, )*
                    other => Self::Other(other.to_owned()),
                }
            }
        }
    };
}

event_types! {
    CheckoutSessionCompleted => "checkout.session.completed",
    CheckoutSessionAsyncPaymentSucceeded => "checkout.session.async_payment_succeeded",
    CheckoutSessionAsyncPaymentFailed => "checkout.session.async_payment_failed",
    CheckoutSessionExpired => "checkout.session.expired",
    InvoicePaid => "invoice.paid",
    InvoicePaymentSucceeded => "invoice.payment_succeeded",
    InvoicePaymentFailed => "invoice.payment_failed",
    InvoiceCreated => "invoice.created",
    InvoiceFinalized => "invoice.finalized",
    CustomerCreated => "customer.created",
    CustomerUpdated => "customer.updated",
    CustomerDeleted => "customer.deleted",
    CustomerSubscriptionCreated => "customer.subscription.created",
    CustomerSubscriptionUpdated => "customer.subscription.updated",
    CustomerSubscriptionDeleted => "customer.subscription.deleted",
    CustomerSubscriptionTrialWillEnd => "customer.subscription.trial_will_end",
    CustomerSubscriptionPaused => "customer.subscription.paused",
    CustomerSubscriptionResumed => "customer.subscription.resumed",
    ChargeSucceeded => "charge.succeeded",
    ChargeFailed => "charge.failed",
    ChargeRefunded => "charge.refunded",
    ChargeRefundUpdated => "charge.refund.updated",
    ChargeDisputeCreated => "charge.dispute.created",
    ChargeDisputeUpdated => "charge.dispute.updated",
    ChargeDisputeClosed => "charge.dispute.closed",
    ChargeDisputeFundsWithdrawn => "charge.dispute.funds_withdrawn",
    ChargeDisputeFundsReinstated => "charge.dispute.funds_reinstated",
    RefundCreated => "refund.created",
    RefundUpdated => "refund.updated",
    RefundFailed => "refund.failed",
    InvoicePaymentPaid => "invoice_payment.paid",
    PaymentIntentSucceeded => "payment_intent.succeeded",
    PaymentIntentPaymentFailed => "payment_intent.payment_failed",
}

impl From<String> for EventType {
    fn from(value: String) -> Self {
        match Self::from(value.as_str()) {
            Self::Other(_) => Self::Other(value),
            known => known,
        }
    }
}

impl FromStr for EventType {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(s))
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Self::from(text.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_known_and_unknown() {
        for name in [
            "invoice.paid",
            "customer.subscription.deleted",
            "v1.billing.meter.error_report_triggered",
        ] {
            assert_eq!(EventType::from(name).as_str(), name);
            assert_eq!(EventType::from(name.to_owned()).to_string(), name);
        }
        assert!(matches!(
            EventType::from("invoice.paid"),
            EventType::InvoicePaid
        ));
        assert!(matches!(EventType::from("x.y"), EventType::Other(_)));
    }
}
