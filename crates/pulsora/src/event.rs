//! The revenue event: Pulsora's `data` object, field for field.

use crate::validate::{self, ValidationError};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Pulsora's `event_type`: the seven documented values, written in lower case on the wire.
///
/// Pulsora aggregates net new MRR from `subscription` and `upgrade`, contraction from
/// `downgrade`, and churn from `churn` and `refund`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// One-off money (`purchase`).
    Purchase,
    /// The first money of a subscription (`subscription`).
    Subscription,
    /// A subscription's recurring payment (`renewal`).
    Renewal,
    /// MRR went up (`upgrade`).
    Upgrade,
    /// MRR went down (`downgrade`).
    Downgrade,
    /// A subscription ended (`churn`).
    Churn,
    /// Money given back (`refund`); the only type whose `amount` may be negative.
    Refund,
}

impl EventType {
    /// Every value, in the order Pulsora's docs list them.
    pub const ALL: [EventType; 7] = [
        EventType::Purchase,
        EventType::Subscription,
        EventType::Renewal,
        EventType::Upgrade,
        EventType::Downgrade,
        EventType::Churn,
        EventType::Refund,
    ];

    /// The wire text: `"purchase"`, `"subscription"`, … `"refund"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::Purchase => "purchase",
            EventType::Subscription => "subscription",
            EventType::Renewal => "renewal",
            EventType::Upgrade => "upgrade",
            EventType::Downgrade => "downgrade",
            EventType::Churn => "churn",
            EventType::Refund => "refund",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = ValidationError;

    /// Parses the exact wire text (case-sensitive, as Pulsora checks it).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(ValidationError::EventType)
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One revenue event: the `data` object of a Pulsora `revenue` request.
///
/// Build it with [`RevenueEvent::new`] and one chained setter per documented field; the setter
/// names are the wire names, so the code reads like Pulsora's field table. The fields are public
/// for reading and adjusting; the struct is `#[non_exhaustive]` so fields Pulsora documents later
/// can be added without breaking callers.
///
/// | field | required | notes |
/// |---|---|---|
/// | `visitor_fingerprint` | yes | from `@pulsora/core` in the browser |
/// | `session_id` | yes | from `@pulsora/core` in the browser |
/// | `customer_id` | yes | your customer id (no emails: Pulsora promises no PII) |
/// | `amount` | yes | major units, `> 0`; negative only for [`EventType::Refund`] |
/// | `currency` | no | ISO code, Pulsora's default is USD; sent as given (not upper-cased) |
/// | `transaction_id` | yes | stable across retries: Pulsora dedups on it |
/// | `payment_processor` | no | free text: `stripe`, `paddle`, … |
/// | `event_type` | no on the wire | always set by [`RevenueEvent::new`] |
/// | `customer_subscription_id` | no | |
/// | `mrr_impact` | no | signed MRR delta in major units |
/// | `is_recurring` | no | `true` for recurring charges |
/// | `metadata` | no | a JSON object |
///
/// Absent optional fields are omitted from the JSON, never sent as `null`. Missing required
/// fields are reported by [`RevenueEvent::validate`] (and so by [`Revenue::track`]) with
/// Pulsora's own messages.
///
/// ```
/// use pulsora::{from_minor_units, EventType, RevenueEvent};
/// use serde_json::json;
///
/// // Stripe says 2999 in minor units of a 2-decimal currency.
/// let amount = from_minor_units(2999, 2).expect("exponent ≤ 28");
/// let event = RevenueEvent::new(EventType::Subscription, amount)
///     .currency("USD")
///     .transaction_id("in_1Nv0")
///     .customer_id("cus_42")
///     .visitor_fingerprint("fp_abc")
///     .session_id("sess_xyz")
///     .payment_processor("stripe")
///     .customer_subscription_id("sub_789")
///     .mrr_impact(amount)
///     .is_recurring(true)
///     .metadata(json!({ "plan": "pro", "seats": 5 }));
/// assert!(event.validate().is_ok());
/// assert_eq!(
///     serde_json::to_string(&event).unwrap(),
///     r#"{"visitor_fingerprint":"fp_abc","session_id":"sess_xyz","customer_id":"cus_42","amount":29.99,"currency":"USD","transaction_id":"in_1Nv0","payment_processor":"stripe","event_type":"subscription","customer_subscription_id":"sub_789","mrr_impact":29.99,"is_recurring":true,"metadata":{"plan":"pro","seats":5}}"#
/// );
/// ```
///
/// [`Revenue::track`]: crate::Revenue::track
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RevenueEvent {
    /// Visitor fingerprint from `@pulsora/core` (required, non-blank).
    pub visitor_fingerprint: String,
    /// Session id from `@pulsora/core` (required, non-blank).
    pub session_id: String,
    /// Your customer identifier (required, non-blank).
    pub customer_id: String,
    /// Gross amount in major units, exact (required; positive, or negative for a refund).
    #[serde(with = "crate::money")]
    pub amount: Decimal,
    /// ISO currency code; Pulsora assumes USD when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Unique, retry-stable transaction reference: charge, invoice, refund id (required).
    pub transaction_id: String,
    /// Payment processor name, e.g. `stripe`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_processor: Option<String>,
    /// What kind of revenue this is; omitted from the JSON when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<EventType>,
    /// Subscription identifier, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_subscription_id: Option<String>,
    /// Monthly recurring revenue delta in major units; may be negative (downgrade, churn).
    #[serde(
        with = "crate::money::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub mrr_impact: Option<Decimal>,
    /// `true` for recurring charges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_recurring: Option<bool>,
    /// Extra context (plan, coupon, campaign…); must be a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

impl RevenueEvent {
    /// A new event of `event_type` for `amount` (major units, exact); every other field empty.
    ///
    /// Set the required ids with the chained setters before sending. For amounts in integer
    /// minor units use [`from_minor_units`](crate::from_minor_units) or `Decimal::new(minor, exponent)`.
    pub fn new(event_type: EventType, amount: Decimal) -> Self {
        RevenueEvent {
            visitor_fingerprint: String::new(),
            session_id: String::new(),
            customer_id: String::new(),
            amount,
            currency: None,
            transaction_id: String::new(),
            payment_processor: None,
            event_type: Some(event_type),
            customer_subscription_id: None,
            mrr_impact: None,
            is_recurring: None,
            metadata: None,
        }
    }

    /// Sets `visitor_fingerprint`.
    pub fn visitor_fingerprint(mut self, value: impl Into<String>) -> Self {
        self.visitor_fingerprint = value.into();
        self
    }

    /// Sets `session_id`.
    pub fn session_id(mut self, value: impl Into<String>) -> Self {
        self.session_id = value.into();
        self
    }

    /// Sets `customer_id`.
    pub fn customer_id(mut self, value: impl Into<String>) -> Self {
        self.customer_id = value.into();
        self
    }

    /// Sets `amount` (major units, exact).
    pub fn amount(mut self, value: Decimal) -> Self {
        self.amount = value;
        self
    }

    /// Sets `currency`, sent exactly as given.
    pub fn currency(mut self, value: impl Into<String>) -> Self {
        self.currency = Some(value.into());
        self
    }

    /// Sets `transaction_id`.
    pub fn transaction_id(mut self, value: impl Into<String>) -> Self {
        self.transaction_id = value.into();
        self
    }

    /// Sets `payment_processor`.
    pub fn payment_processor(mut self, value: impl Into<String>) -> Self {
        self.payment_processor = Some(value.into());
        self
    }

    /// Sets `event_type`.
    pub fn event_type(mut self, value: EventType) -> Self {
        self.event_type = Some(value);
        self
    }

    /// Sets `customer_subscription_id`.
    pub fn customer_subscription_id(mut self, value: impl Into<String>) -> Self {
        self.customer_subscription_id = Some(value.into());
        self
    }

    /// Sets `mrr_impact` (major units, exact, may be negative).
    pub fn mrr_impact(mut self, value: Decimal) -> Self {
        self.mrr_impact = Some(value);
        self
    }

    /// Sets `is_recurring`.
    pub fn is_recurring(mut self, value: bool) -> Self {
        self.is_recurring = Some(value);
        self
    }

    /// Sets `metadata`; it must be a JSON object (checked by [`validate`](Self::validate)).
    pub fn metadata(mut self, value: serde_json::Value) -> Self {
        self.metadata = Some(value);
        self
    }

    /// Checks the event as Pulsora's SDK does before sending, with Pulsora's messages.
    ///
    /// See [`ValidationError`] for the rules. Returns the first problem, in the order Pulsora
    /// lists them.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::event(self)
    }
}
