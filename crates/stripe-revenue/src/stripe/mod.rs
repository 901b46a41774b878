//! The few Stripe object fields the mapping reads, typed leniently: every field is optional,
//! unknown fields are ignored, expandable references accept an id or an expanded object, and
//! both API shapes (before and after `2025-03-31.basil`) are understood.

mod charge;
mod checkout;
mod discount;
mod dispute;
mod expandable;
mod invoice;
mod invoice_payment;
mod refund;
mod subscription;

pub use charge::Charge;
pub use checkout::{CheckoutSession, TotalDetails};
pub use discount::{AppliesTo, Coupon, CouponRef, Discount, DiscountRef, DiscountSource};
pub use dispute::Dispute;
pub use expandable::Expandable;
pub use invoice::{Invoice, InvoiceLine, InvoiceTax, LineDiscountAmount, LinePeriod, LineTax};
pub use invoice_payment::{InvoicePayment, InvoicePaymentDetails};
pub use refund::Refund;
pub use subscription::{
    List, Price, PriceTier, Recurring, Subscription, SubscriptionItem, TaxRate, TransformQuantity,
};

use std::collections::BTreeMap;

/// Stripe metadata: string keys and string values.
pub type Metadata = BTreeMap<String, String>;
