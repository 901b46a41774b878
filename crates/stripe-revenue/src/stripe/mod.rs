//! The few Stripe object fields the mapping reads, typed leniently: every field is optional,
//! unknown fields are ignored, expandable references accept an id or an expanded object, and
//! both API shapes (before and after `2025-03-31.basil`) are understood.

mod charge;
mod checkout;
mod expandable;
mod invoice;
mod subscription;

pub use charge::Charge;
pub use checkout::CheckoutSession;
pub use expandable::Expandable;
pub use invoice::{Invoice, InvoiceLine};
pub use subscription::{Price, Recurring, Subscription, SubscriptionItem};

use std::collections::BTreeMap;

/// Stripe metadata: string keys and string values.
pub type Metadata = BTreeMap<String, String>;
