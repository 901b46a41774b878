//! Attribution: which visit produced this revenue.
//!
//! Resolved in this order, first hit wins:
//! 1. the event object's own metadata (`visitor_fingerprint`, `session_id`);
//! 2. metadata carried in the payload for a related object (an invoice's subscription metadata
//!    snapshot, `parent.subscription_details.metadata` from basil on);
//! 3. what earlier events taught about this customer or subscription (the state store);
//! 4. optionally the Stripe API (feature `stripe-api`);
//! 5. the policy's placeholder, so revenue is never silently dropped (it shows as direct traffic).

use crate::state::Attribution;
use crate::stripe::Metadata;
use std::collections::BTreeMap;

/// Metadata key for the visitor fingerprint.
pub const VISITOR_FINGERPRINT: &str = "visitor_fingerprint";
/// Metadata key for the session id.
pub const SESSION_ID: &str = "session_id";

/// Where an attribution came from (sent to Pulsora in `metadata.attribution_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// The event object's metadata.
    Object,
    /// A related object's metadata carried in the payload.
    Related,
    /// Learned from an earlier event.
    Learned,
    /// Looked up with the Stripe API.
    StripeApi,
    /// The configured placeholder.
    Placeholder,
}

impl Source {
    /// A short lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Object => "object",
            Self::Related => "related",
            Self::Learned => "learned",
            Self::StripeApi => "stripe_api",
            Self::Placeholder => "placeholder",
        }
    }
}

/// Reads an attribution out of Stripe metadata; both keys must be present and non-empty.
pub fn from_metadata(metadata: Option<&Metadata>) -> Option<Attribution> {
    let metadata = metadata?;
    let fingerprint = metadata
        .get(VISITOR_FINGERPRINT)
        .filter(|v| !v.trim().is_empty())?;
    let session = metadata.get(SESSION_ID).filter(|v| !v.trim().is_empty())?;
    Some(Attribution {
        visitor_fingerprint: fingerprint.clone(),
        session_id: session.clone(),
    })
}

/// The metadata map to give Stripe when you create a Checkout Session (`metadata`, and
/// `subscription_data.metadata` / `payment_intent_data.metadata` so renewals and refunds carry it
/// too) or a Customer, as the original integration guide does.
///
/// ```
/// let metadata = stripe_revenue::attribution::checkout_metadata("fp_abc", "sess_xyz");
/// assert_eq!(metadata["visitor_fingerprint"], "fp_abc");
/// assert_eq!(metadata["session_id"], "sess_xyz");
/// ```
pub fn checkout_metadata(visitor_fingerprint: &str, session_id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            VISITOR_FINGERPRINT.to_owned(),
            visitor_fingerprint.to_owned(),
        ),
        (SESSION_ID.to_owned(), session_id.to_owned()),
    ])
}

/// Picks the first attribution in the documented order.
pub(crate) fn resolve(
    object: Option<Attribution>,
    related: Option<Attribution>,
    learned: Option<&Attribution>,
    placeholder: &Attribution,
) -> (Attribution, Source) {
    if let Some(a) = object {
        (a, Source::Object)
    } else if let Some(a) = related {
        (a, Source::Related)
    } else if let Some(a) = learned {
        (a.clone(), Source::Learned)
    } else {
        (placeholder.clone(), Source::Placeholder)
    }
}
