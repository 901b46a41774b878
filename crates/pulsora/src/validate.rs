//! Checks made before anything is sent, with Pulsora's own messages where it has them.

use crate::event::{EventType, RevenueEvent};
use rust_decimal::Decimal;

/// Why an event was refused before sending. Nothing went over the network.
///
/// The first six messages are Pulsora's, verbatim (its docs, "API errors", Revenue list). The
/// currency and metadata rules are this crate's, for what the docs describe but do not check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// `visitor_fingerprint` is empty or blank.
    #[error("visitor_fingerprint is required.")]
    VisitorFingerprint,
    /// `session_id` is empty or blank.
    #[error("session_id is required.")]
    SessionId,
    /// `customer_id` is empty or blank.
    #[error("customer_id is required.")]
    CustomerId,
    /// `amount` is zero, or negative on anything but a refund.
    ///
    /// Pulsora documents "positive numbers only" and also shows a refund with a negative amount;
    /// this crate allows the sign for [`EventType::Refund`] only, so the caller chooses.
    #[error("amount must be a positive number.")]
    Amount,
    /// `transaction_id` is empty or blank.
    #[error("transaction_id is required.")]
    TransactionId,
    /// `event_type` text is not one of the seven documented values (from parsing text).
    #[error(
        "event_type must be one of: purchase, subscription, renewal, upgrade, downgrade, churn, refund."
    )]
    EventType,
    /// `currency` is present but not three ASCII letters.
    #[error("currency must be a three-letter ISO code.")]
    Currency,
    /// `metadata` is present but not a JSON object.
    #[error("metadata must be an object.")]
    Metadata,
}

pub(crate) fn event(event: &RevenueEvent) -> Result<(), ValidationError> {
    if is_blank(&event.visitor_fingerprint) {
        return Err(ValidationError::VisitorFingerprint);
    }
    if is_blank(&event.session_id) {
        return Err(ValidationError::SessionId);
    }
    if is_blank(&event.customer_id) {
        return Err(ValidationError::CustomerId);
    }
    let refund = event.event_type == Some(EventType::Refund);
    if event.amount.is_zero() || (event.amount < Decimal::ZERO && !refund) {
        return Err(ValidationError::Amount);
    }
    if is_blank(&event.transaction_id) {
        return Err(ValidationError::TransactionId);
    }
    if let Some(currency) = &event.currency {
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(ValidationError::Currency);
        }
    }
    if let Some(metadata) = &event.metadata {
        if !metadata.is_object() {
            return Err(ValidationError::Metadata);
        }
    }
    Ok(())
}

fn is_blank(value: &str) -> bool {
    value.trim().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid(event_type: EventType, amount: Decimal) -> RevenueEvent {
        RevenueEvent::new(event_type, amount)
            .visitor_fingerprint("fp")
            .session_id("sess")
            .customer_id("cus")
            .transaction_id("tx")
    }

    fn message(event: RevenueEvent) -> String {
        match event.validate() {
            Ok(()) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_complete_event_is_valid() {
        assert_eq!(
            message(valid(EventType::Purchase, Decimal::new(1999, 2))),
            "ok"
        );
    }

    #[test]
    fn required_fields_use_pulsoras_messages() {
        let ok = valid(EventType::Purchase, Decimal::ONE);
        assert_eq!(
            message(ok.clone().visitor_fingerprint("")),
            "visitor_fingerprint is required."
        );
        assert_eq!(
            message(ok.clone().session_id(" ")),
            "session_id is required."
        );
        assert_eq!(
            message(ok.clone().customer_id("\t")),
            "customer_id is required."
        );
        assert_eq!(
            message(ok.transaction_id("")),
            "transaction_id is required."
        );
    }

    #[test]
    fn amount_is_positive_except_for_refunds() {
        let negative = Decimal::new(-4999, 2);
        assert_eq!(
            message(valid(EventType::Purchase, Decimal::ZERO)),
            "amount must be a positive number."
        );
        for t in EventType::ALL {
            let expected = if t == EventType::Refund {
                "ok"
            } else {
                "amount must be a positive number."
            };
            assert_eq!(message(valid(t, negative)), expected, "{t}");
        }
        assert_eq!(
            message(valid(EventType::Refund, Decimal::new(4999, 2))),
            "ok"
        );
        assert_eq!(
            message(valid(EventType::Refund, Decimal::ZERO)),
            "amount must be a positive number."
        );
        let mut untyped = valid(EventType::Refund, negative);
        untyped.event_type = None;
        assert_eq!(message(untyped), "amount must be a positive number.");
    }

    #[test]
    fn mrr_impact_may_be_negative() {
        let churn =
            valid(EventType::Churn, Decimal::new(2999, 2)).mrr_impact(Decimal::new(-2999, 2));
        assert_eq!(message(churn), "ok");
    }

    #[test]
    fn event_type_text_uses_pulsoras_message() {
        let err = "Purchase".parse::<EventType>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "event_type must be one of: purchase, subscription, renewal, upgrade, downgrade, churn, refund."
        );
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
        }
    }

    #[test]
    fn currency_and_metadata_shapes() {
        let ok = valid(EventType::Purchase, Decimal::ONE);
        assert_eq!(message(ok.clone().currency("usd")), "ok");
        assert_eq!(
            message(ok.clone().currency("US")),
            "currency must be a three-letter ISO code."
        );
        assert_eq!(
            message(ok.clone().currency("U$D")),
            "currency must be a three-letter ISO code."
        );
        assert_eq!(message(ok.clone().metadata(json!({"plan": "pro"}))), "ok");
        assert_eq!(
            message(ok.metadata(json!(["plan"]))),
            "metadata must be an object."
        );
    }
}
