//! The pure mapping: one verified Stripe event plus what earlier events taught → zero or more
//! Pulsora revenue events and the state changes to remember.
//!
//! An event takes one path through this module:
//! 1. [`parse`] reads `data.object` as the Stripe object its type announces ([`Object`]);
//! 2. attribution is resolved once, from the object (and related objects carried in the
//!    payload), then what earlier events taught, then the placeholder; what the object itself
//!    names is remembered for its customer and subscription;
//! 3. one pure function per Stripe object — [`checkout`], [`invoice`], [`subscription`],
//!    [`charge`] (charges, refunds, invoice payments), [`dispute`] — turns (object, subject
//!    state) into drafts and state updates; money out goes through one ledger per payment
//!    ([`payment`]);
//! 4. drafts become Pulsora requests (currency hook applied) in one place.
//!
//! Before all of it, the scope filter ([`crate::scope`]) leaves out test-mode or live-mode
//! events and Connect events, as the policy says.

pub(crate) mod adopt;
mod charge;
mod checkout;
mod dispute;
mod invoice;
mod payment;
mod subscription;

use crate::attribution::{self, Source};
use crate::draft::Draft;
use crate::policy::Policy;
use crate::scope::{self, Ignored, Livemode};
use crate::state::{Attribution, Context, StateUpdate};
use crate::stripe::{
    Charge, CheckoutSession, Discount, Dispute, Expandable, Invoice, InvoicePayment, Refund,
    Subscription,
};
use pulsora::RevenueEvent;
use serde_json::json;
use stripe_webhook_guard::{EventType, VerifiedStripeEvent};

/// The result of mapping one event.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    /// The revenue events to send, in order.
    pub events: Vec<RevenueEvent>,
    /// What to remember once they are delivered.
    pub updates: Vec<StateUpdate>,
    /// Why nothing (or less than expected) was emitted, for logs.
    pub notes: Vec<String>,
    /// Set when the scope filter left the event out (test mode, live mode, Connect).
    pub ignored: Option<Ignored>,
}

/// The ids an event concerns, so the caller can load their state before mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subjects {
    /// The customer, if known.
    pub customer: Option<String>,
    /// The subscription, if any.
    pub subscription: Option<String>,
    /// The payment whose money-out ledger the event reads: its PaymentIntent, else its charge
    /// (checkouts, charges, refunds, disputes, invoice payments, invoices before basil).
    pub charge: Option<String>,
}

/// The event's `data.object` could not be read as the object its type announces.
#[derive(Debug, thiserror::Error)]
#[error("{event_type} event {event_id}: data.object is not a valid {expected}: {source}")]
pub struct MapError {
    event_id: String,
    event_type: String,
    expected: &'static str,
    #[source]
    source: serde_json::Error,
}

/// The Stripe object an event carries, read once (one per event, on the stack briefly: the size
/// difference between variants does not matter).
#[allow(clippy::large_enum_variant)]
pub(crate) enum Object {
    Checkout(CheckoutSession),
    Invoice(Invoice),
    Subscription(Subscription),
    Charge(Charge),
    /// `customer.discount.*`: a discount and its coupon.
    Discount(Discount),
    /// The bridge's own adoption events (see [`adopt`]): the subscription, and whether to
    /// report an opening balance.
    Adopt(Subscription, bool),
    Refund(Refund),
    Dispute(Dispute),
    InvoicePayment(InvoicePayment),
    /// Not a revenue event.
    Other,
}

fn object<T: serde::de::DeserializeOwned>(
    event: &VerifiedStripeEvent,
    expected: &'static str,
) -> Result<T, MapError> {
    event.object().map_err(|source| MapError {
        event_id: event.id().to_owned(),
        event_type: event.event_type().to_string(),
        expected,
        source,
    })
}

/// Reads `data.object` as the object the event type announces.
pub(crate) fn parse(event: &VerifiedStripeEvent) -> Result<Object, MapError> {
    Ok(match event.event_type() {
        EventType::CheckoutSessionCompleted | EventType::CheckoutSessionAsyncPaymentSucceeded => {
            Object::Checkout(object(event, "Checkout Session")?)
        }
        EventType::InvoicePaid | EventType::InvoicePaymentSucceeded => {
            Object::Invoice(object(event, "Invoice")?)
        }
        EventType::CustomerSubscriptionCreated
        | EventType::CustomerSubscriptionUpdated
        | EventType::CustomerSubscriptionDeleted => {
            Object::Subscription(object(event, "Subscription")?)
        }
        EventType::ChargeRefunded => Object::Charge(object(event, "Charge")?),
        EventType::RefundCreated
        | EventType::RefundUpdated
        | EventType::RefundFailed
        | EventType::ChargeRefundUpdated => Object::Refund(object(event, "Refund")?),
        EventType::ChargeDisputeCreated
        | EventType::ChargeDisputeUpdated
        | EventType::ChargeDisputeClosed
        | EventType::ChargeDisputeFundsWithdrawn
        | EventType::ChargeDisputeFundsReinstated => Object::Dispute(object(event, "Dispute")?),
        EventType::InvoicePaymentPaid => Object::InvoicePayment(object(event, "Invoice Payment")?),
        EventType::Other(kind) if kind.starts_with("customer.discount.") => {
            Object::Discount(object(event, "Discount")?)
        }
        EventType::Other(kind) if kind == adopt::ADOPTED || kind == adopt::OPENING_BALANCE => {
            Object::Adopt(
                object(event, "Subscription")?,
                kind == adopt::OPENING_BALANCE,
            )
        }
        _ => Object::Other,
    })
}

impl Object {
    fn subjects(&self) -> Subjects {
        let id = |e: &Option<Expandable>| e.as_ref().map(|e| e.id.clone());
        match self {
            Self::Checkout(s) => Subjects {
                customer: id(&s.customer),
                subscription: id(&s.subscription),
                charge: id(&s.payment_intent),
            },
            Self::Invoice(i) => Subjects {
                customer: id(&i.customer),
                subscription: i.subscription_id().map(str::to_owned),
                charge: charge::payment_key(i.payment_intent.as_ref(), i.charge.as_ref())
                    .map(str::to_owned),
            },
            Self::Subscription(s) | Self::Adopt(s, _) => Subjects {
                customer: id(&s.customer),
                subscription: Some(s.id.clone()),
                charge: None,
            },
            Self::Charge(c) => Subjects {
                customer: id(&c.customer),
                subscription: None,
                charge: Some(
                    charge::payment_key(c.payment_intent.as_ref(), None)
                        .unwrap_or(&c.id)
                        .to_owned(),
                ),
            },
            Self::Refund(r) => Subjects {
                charge: charge::payment_key(r.payment_intent.as_ref(), r.charge.as_ref())
                    .map(str::to_owned),
                ..Subjects::default()
            },
            Self::Dispute(d) => Subjects {
                charge: charge::payment_key(d.payment_intent.as_ref(), d.charge.as_ref())
                    .map(str::to_owned),
                ..Subjects::default()
            },
            Self::InvoicePayment(p) => Subjects {
                charge: p
                    .payment
                    .as_ref()
                    .and_then(|d| charge::payment_key(d.payment_intent.as_ref(), d.charge.as_ref()))
                    .map(str::to_owned),
                ..Subjects::default()
            },
            Self::Discount(d) => Subjects {
                customer: None,
                subscription: d.subscription.clone(),
                charge: None,
            },
            Self::Other => Subjects::default(),
        }
    }

    /// The attribution the payload names (the object's own metadata, then a related object's
    /// metadata snapshot), and the ids to remember it for.
    fn named_attribution(&self) -> (Option<Attribution>, Option<Attribution>, Vec<&str>) {
        fn id(e: &Option<Expandable>) -> Option<&str> {
            e.as_ref().map(Expandable::id)
        }
        match self {
            Self::Checkout(s) => (
                attribution::from_metadata(s.metadata.as_ref()),
                None,
                [id(&s.customer), id(&s.subscription)]
                    .into_iter()
                    .flatten()
                    .collect(),
            ),
            Self::Invoice(i) => (
                attribution::from_metadata(i.metadata.as_ref()),
                attribution::from_metadata(i.subscription_metadata()),
                [id(&i.customer), i.subscription_id()]
                    .into_iter()
                    .flatten()
                    .collect(),
            ),
            Self::Subscription(s) | Self::Adopt(s, _) => (
                attribution::from_metadata(s.metadata.as_ref()),
                None,
                [id(&s.customer), Some(s.id.as_str())]
                    .into_iter()
                    .flatten()
                    .collect(),
            ),
            // A charge's metadata is used for its refund, never remembered for the customer.
            Self::Charge(c) => (
                attribution::from_metadata(c.metadata.as_ref()),
                None,
                Vec::new(),
            ),
            Self::Refund(r) => (
                attribution::from_metadata(r.metadata.as_ref()),
                None,
                Vec::new(),
            ),
            Self::Dispute(d) => (
                attribution::from_metadata(d.metadata.as_ref()),
                None,
                Vec::new(),
            ),
            Self::Discount(_) | Self::InvoicePayment(_) | Self::Other => (None, None, Vec::new()),
        }
    }
}

/// Which ids the event concerns.
pub fn subjects(event: &VerifiedStripeEvent) -> Result<Subjects, MapError> {
    Ok(parse(event)?.subjects())
}

/// What every per-object mapping knows about the event besides its object and subject state.
pub(crate) struct Envelope<'a> {
    /// `evt_…`
    pub(crate) event_id: &'a str,
    /// The event type.
    pub(crate) event_type: &'a EventType,
    /// The event's `created` (Unix seconds; 0 if absent).
    pub(crate) created: i64,
    /// The API version the payload was rendered with.
    pub(crate) api_version: Option<&'a str>,
    /// The attribution resolved for this event.
    pub(crate) attribution: Attribution,
    /// Where it came from.
    pub(crate) source: Source,
    /// The mapping policy.
    pub(crate) policy: &'a Policy,
    /// The event itself (`previous_attributes`, the raw object).
    pub(crate) raw: &'a VerifiedStripeEvent,
    /// Fetch on notify: the subscription as Stripe has it now, and when it was read.
    pub(crate) fetched: Option<(&'a Subscription, i64)>,
}

/// What a per-object mapping returns.
#[derive(Default)]
pub(crate) struct Mapped {
    pub(crate) drafts: Vec<Draft>,
    pub(crate) updates: Vec<StateUpdate>,
    pub(crate) notes: Vec<String>,
}

impl Mapped {
    /// Nothing to send, with the reason.
    pub(crate) fn note(note: impl Into<String>) -> Self {
        Self {
            notes: vec![note.into()],
            ..Self::default()
        }
    }
}

/// Maps one event. Pure: the same event and context always give the same result.
pub fn map_event(
    event: &VerifiedStripeEvent,
    context: &Context,
    policy: &Policy,
) -> Result<Mapping, MapError> {
    let livemode = policy.livemode.unwrap_or(Livemode::Any);
    let account = match scope::check(event, livemode, policy.connect) {
        Ok(account) => account,
        Err(reason) => {
            return Ok(Mapping {
                notes: vec![format!("ignored: {reason}")],
                ignored: Some(reason),
                ..Mapping::default()
            })
        }
    };
    let object = parse(event)?;
    if matches!(object, Object::Other) {
        return Ok(Mapping {
            notes: vec![format!("{} is not a revenue event", event.event_type())],
            ..Mapping::default()
        });
    }

    // Attribution, once per event: what the payload names, then what earlier events taught,
    // then the placeholder. What the payload names is remembered for later events.
    let (own, related, keys) = object.named_attribution();
    // What earlier events taught: about the customer or subscription, else about the payment
    // (refund and dispute objects name no customer).
    let learned = context
        .learned
        .as_ref()
        .or_else(|| context.charge.as_ref().and_then(|l| l.attribution.as_ref()));
    let (attribution, source) = attribution::resolve(own, related, learned, &policy.placeholder);
    let mut updates = Vec::new();
    if !matches!(source, Source::Placeholder | Source::Learned) {
        for key in keys {
            updates.push(StateUpdate::Attribution(
                key.to_owned(),
                attribution.clone(),
            ));
        }
    }

    let envelope = Envelope {
        event_id: event.id(),
        event_type: event.event_type(),
        created: event.created_unix().unwrap_or(0),
        api_version: event.api_version(),
        attribution,
        source,
        policy,
        raw: event,
        fetched: context.fetched.as_ref().map(|(s, at)| (s, *at)),
    };
    let payment = context.charge.as_ref();
    let mapped = match &object {
        Object::Checkout(session) => checkout::map(session, payment, &envelope),
        Object::Invoice(invoice) => {
            invoice::map(invoice, context.subscription.as_ref(), payment, &envelope)
        }
        Object::Subscription(sub) => {
            subscription::map(sub, context.subscription.as_ref(), &envelope)
        }
        Object::Charge(charge) => charge::map_charge(charge, payment, &envelope),
        Object::Refund(refund) => charge::map_refund(refund, payment, &envelope),
        Object::Dispute(dispute) => dispute::map(dispute, payment, &envelope),
        Object::InvoicePayment(paid) => charge::map_invoice_payment(paid, payment, &envelope),
        Object::Discount(d) => subscription::discount(d, context.subscription.as_ref(), &envelope),
        Object::Adopt(sub, opening) => {
            adopt::map(sub, context.subscription.as_ref(), *opening, &envelope)
        }
        Object::Other => Mapped::default(),
    };
    let mut mapped = mapped;
    // The journal of money in, before any conversion: what reconcile compares with Stripe.
    let journal: Vec<StateUpdate> = mapped
        .drafts
        .iter()
        .filter_map(|d| payment_record(d, &envelope))
        .collect();
    mapped.updates.extend(journal);
    if let Some(converter) = &policy.converter {
        crate::ledger::convert_mrr(&mut mapped.drafts, &mut mapped.updates, converter.as_ref());
    }
    updates.extend(mapped.updates);
    let processor = policy.payment_processor.as_str();
    Ok(Mapping {
        events: mapped
            .drafts
            .into_iter()
            .map(|mut d| {
                if let Some(account) = &account {
                    d.metadata["stripe_account"] = json!(account);
                }
                convert_currency(d, policy).into_revenue_event(processor)
            })
            .collect(),
        updates,
        notes: mapped.notes,
        ignored: None,
    })
}

/// The journal entry of a draft that reports money in (purchase, subscription, renewal).
fn payment_record(draft: &Draft, event: &Envelope<'_>) -> Option<StateUpdate> {
    if !crate::is_collected_money(draft.kind) {
        return None;
    }
    let scale = rust_decimal::Decimal::from(10i64.pow(crate::currency::exponent(&draft.currency)));
    let minor = rust_decimal::prelude::ToPrimitive::to_i64(&(draft.amount * scale).trunc())?;
    Some(StateUpdate::Payment(
        draft.transaction_id.clone(),
        crate::state::PaymentRecord {
            currency: draft.currency.to_ascii_lowercase(),
            amount: minor,
            created: event.created,
            event: event.event_id.to_owned(),
        },
    ))
}

/// Applies the policy's currency conversion hook (off by default) to the amount and the MRR
/// change, keeping the original figures in the metadata.
fn convert_currency(mut draft: Draft, policy: &Policy) -> Draft {
    let Some(converter) = &policy.converter else {
        return draft;
    };
    let Some((amount, currency)) = converter.convert(draft.amount, &draft.currency) else {
        return draft;
    };
    draft.metadata["original_amount"] = json!(draft.amount.to_string());
    draft.metadata["original_currency"] = json!(draft.currency);
    // A subscription's MRR change was converted by its ledger (one rate per subscription).
    match draft.metadata.get("mrr_impact_converted").cloned() {
        Some(converted) => {
            draft.mrr_impact = converted
                .as_str()
                .and_then(|c| c.parse().ok())
                .or(draft.mrr_impact);
            if let Some(map) = draft.metadata.as_object_mut() {
                map.remove("mrr_impact_converted");
            }
        }
        None => {
            if let Some(mrr) = draft.mrr_impact {
                draft.mrr_impact = converter
                    .convert(mrr, &draft.currency)
                    .map(|(converted, _)| converted)
                    .or(Some(mrr));
            }
        }
    }
    draft.amount = amount;
    draft.currency = currency;
    draft
}
