//! The pure mapping: one verified Stripe event plus what earlier events taught → zero or more
//! Pulsora revenue events and the state changes to remember.

use crate::attribution::{self, Source};
use crate::currency::{to_major, with_scale};
use crate::draft::Draft;
use crate::mrr::{list_mrr, subscription_mrr};
use crate::policy::{InvoiceEvent, Policy, RefundSign};
use crate::state::{ChargeLedger, Context, StateUpdate};
use crate::stripe::{Charge, CheckoutSession, Expandable, Invoice, Subscription};
use pulsora::{EventType as Kind, RevenueEvent};
use rust_decimal::Decimal;
use serde_json::json;
use stripe_webhook::{EventType, VerifiedStripeEvent};

/// The result of mapping one event.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    /// The revenue events to send, in order.
    pub events: Vec<RevenueEvent>,
    /// What to remember once they are delivered.
    pub updates: Vec<StateUpdate>,
    /// Why nothing (or less than expected) was emitted, for logs.
    pub notes: Vec<String>,
}

/// The ids an event concerns, so the caller can load their state before mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subjects {
    /// The customer, if known.
    pub customer: Option<String>,
    /// The subscription, if any.
    pub subscription: Option<String>,
    /// The charge, for refunds.
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

/// Which ids the event concerns.
pub fn subjects(event: &VerifiedStripeEvent) -> Result<Subjects, MapError> {
    let id = |e: &Option<Expandable>| e.as_ref().map(|e| e.id.clone());
    Ok(match event.event_type() {
        EventType::CheckoutSessionCompleted | EventType::CheckoutSessionAsyncPaymentSucceeded => {
            let s: CheckoutSession = object(event, "Checkout Session")?;
            Subjects {
                customer: id(&s.customer),
                subscription: id(&s.subscription),
                charge: None,
            }
        }
        EventType::InvoicePaid | EventType::InvoicePaymentSucceeded => {
            let i: Invoice = object(event, "Invoice")?;
            Subjects {
                customer: id(&i.customer),
                subscription: i.subscription_id().map(str::to_owned),
                charge: None,
            }
        }
        EventType::CustomerSubscriptionCreated
        | EventType::CustomerSubscriptionUpdated
        | EventType::CustomerSubscriptionDeleted => {
            let s: Subscription = object(event, "Subscription")?;
            Subjects {
                customer: id(&s.customer),
                subscription: Some(s.id),
                charge: None,
            }
        }
        EventType::ChargeRefunded => {
            let c: Charge = object(event, "Charge")?;
            Subjects {
                customer: id(&c.customer),
                subscription: None,
                charge: Some(c.id),
            }
        }
        _ => Subjects::default(),
    })
}

/// Maps one event. Pure: the same event and context always give the same result.
pub fn map_event(
    event: &VerifiedStripeEvent,
    context: &Context,
    policy: &Policy,
) -> Result<Mapping, MapError> {
    let mut mapper = Mapper {
        event,
        context,
        policy,
        out: Mapping::default(),
        drafts: Vec::new(),
    };
    match event.event_type() {
        EventType::CheckoutSessionCompleted | EventType::CheckoutSessionAsyncPaymentSucceeded => {
            mapper.checkout(object(event, "Checkout Session")?)
        }
        EventType::InvoicePaid if policy.invoice_event == InvoiceEvent::Paid => {
            mapper.invoice(object(event, "Invoice")?)
        }
        EventType::InvoicePaymentSucceeded
            if policy.invoice_event == InvoiceEvent::PaymentSucceeded =>
        {
            mapper.invoice(object(event, "Invoice")?)
        }
        EventType::CustomerSubscriptionCreated
        | EventType::CustomerSubscriptionUpdated
        | EventType::CustomerSubscriptionDeleted => {
            mapper.subscription(object(event, "Subscription")?)
        }
        EventType::ChargeRefunded => mapper.refund(object(event, "Charge")?),
        other => mapper.note(format!("{other} is not a revenue event")),
    }
    let processor = policy.payment_processor.as_str();
    mapper.out.events = mapper
        .drafts
        .into_iter()
        .map(|d| convert_currency(d, policy).into_revenue_event(processor))
        .collect();
    Ok(mapper.out)
}

struct Mapper<'a> {
    event: &'a VerifiedStripeEvent,
    context: &'a Context,
    policy: &'a Policy,
    out: Mapping,
    drafts: Vec<Draft>,
}

impl Mapper<'_> {
    fn note(&mut self, note: String) {
        self.out.notes.push(note);
    }

    fn created(&self) -> i64 {
        self.event.created_unix().unwrap_or(0)
    }

    fn attribution(
        &self,
        object: Option<crate::state::Attribution>,
        related: Option<crate::state::Attribution>,
    ) -> (crate::state::Attribution, Source) {
        attribution::resolve(
            object,
            related,
            self.context.learned.as_ref(),
            &self.policy.placeholder,
        )
    }

    /// Remembers an attribution for the customer and the subscription, so later events without
    /// metadata (renewals, refunds) find it.
    fn learn(
        &mut self,
        attribution: &crate::state::Attribution,
        source: Source,
        keys: &[Option<&str>],
    ) {
        if matches!(source, Source::Placeholder | Source::Learned) {
            return;
        }
        for key in keys.iter().flatten() {
            self.out.updates.push(StateUpdate::Attribution(
                (*key).to_owned(),
                attribution.clone(),
            ));
        }
    }

    fn checkout(&mut self, session: CheckoutSession) {
        let found = attribution::from_metadata(session.metadata.as_ref());
        let (attribution, source) = self.attribution(found, None);
        let customer = session.customer.as_ref().map(Expandable::id);
        let subscription = session.subscription.as_ref().map(Expandable::id);
        self.learn(&attribution, source, &[customer, subscription]);

        match session.mode.as_deref() {
            Some("payment") => {}
            Some("subscription") => {
                return self.note(
                    "subscription checkout: attribution learned; money comes from the invoice"
                        .into(),
                )
            }
            other => return self.note(format!("checkout mode {other:?} carries no revenue")),
        }
        if session.payment_status.as_deref() != Some("paid") {
            return self.note("checkout not paid yet; waiting for async_payment_succeeded".into());
        }
        let (Some(amount), Some(currency)) = (session.amount_total, session.currency.as_deref())
        else {
            return self.note("checkout without amount_total or currency".into());
        };
        if amount <= 0 {
            return self.note("checkout total is zero".into());
        }
        let payment_intent = session.payment_intent.as_ref().map(Expandable::id);
        let transaction_id = payment_intent.unwrap_or(&session.id).to_owned();
        let customer_id = customer
            .map(str::to_owned)
            .or_else(|| session.client_reference_id.clone())
            .unwrap_or_else(|| format!("guest_{transaction_id}"));
        let mut metadata =
            json!({ "checkout_session": session.id, "stripe_event": self.event.id() });
        if let Some(pi) = payment_intent {
            metadata["payment_intent"] = json!(pi);
        }
        self.drafts.push(Draft {
            kind: Kind::Purchase,
            amount: to_major(amount, currency),
            currency: currency.to_ascii_uppercase(),
            transaction_id,
            customer_id,
            attribution,
            attribution_source: source,
            subscription_id: None,
            mrr_impact: None,
            is_recurring: None,
            metadata,
        });
    }

    fn invoice(&mut self, invoice: Invoice) {
        let subscription_id = invoice.subscription_id().map(str::to_owned);
        let related = attribution::from_metadata(invoice.subscription_metadata());
        let found = attribution::from_metadata(invoice.metadata.as_ref());
        let (attribution, source) = self.attribution(found, related);
        let customer = invoice.customer.as_ref().map(Expandable::id);
        self.learn(
            &attribution,
            source,
            &[customer, subscription_id.as_deref()],
        );

        let Some(currency) = invoice.currency.as_deref() else {
            return self.note("invoice without currency".into());
        };
        if invoice.amount_paid <= 0 {
            return self.note("invoice paid nothing (trial, credit or 100% discount)".into());
        }
        let reason = invoice.billing_reason.as_deref().unwrap_or("manual");
        let mut draft = Draft {
            kind: Kind::Purchase,
            amount: to_major(invoice.amount_paid, currency),
            currency: currency.to_ascii_uppercase(),
            transaction_id: invoice.id.clone(),
            customer_id: customer.map_or_else(|| format!("guest_{}", invoice.id), str::to_owned),
            attribution,
            attribution_source: source,
            subscription_id: None,
            mrr_impact: None,
            is_recurring: None,
            metadata: json!({ "invoice": invoice.id, "billing_reason": reason, "stripe_event": self.event.id() }),
        };
        if let Some(subscription_id) = subscription_id {
            let mut ledger = self.context.subscription.clone().unwrap_or_default();
            draft.kind = match reason {
                "subscription_create" => Kind::Subscription,
                // The first paid invoice after a trial starts the subscription's revenue.
                "subscription_cycle" | "subscription" if !ledger.invoiced && ledger.trialed => {
                    Kind::Subscription
                }
                "subscription_cycle" | "subscription" => Kind::Renewal,
                // Prorations and manual invoices on a subscription are one-off money.
                _ => Kind::Purchase,
            };
            draft.subscription_id = Some(subscription_id.clone());
            draft.is_recurring = Some(draft.kind != Kind::Purchase);
            if draft.kind != Kind::Purchase {
                // Older API versions carry the price on each line, so the invoice states the MRR
                // itself. From basil on, lines only name the price: the items' MRR learned from
                // the subscription's own events is used instead.
                // A paid cycle means the subscription is active, so it is worth its items' MRR.
                let stated = invoice_lines_mrr(&invoice, currency).or(ledger.list_mrr);
                if let Some(stated) = stated {
                    if ledger.state_created.is_none_or(|c| self.created() >= c) {
                        ledger.known_mrr = Some(stated);
                        ledger.state_created = Some(self.created());
                    }
                }
                let delta = ledger
                    .known_mrr
                    .map_or(Decimal::ZERO, |known| known - ledger.reported_mrr);
                let delta = with_scale(delta, currency);
                draft.mrr_impact = Some(delta);
                ledger.reported_mrr += delta;
            }
            ledger.invoiced = true;
            self.out
                .updates
                .push(StateUpdate::Subscription(subscription_id, ledger));
        }
        self.drafts.push(draft);
    }

    fn subscription(&mut self, subscription: Subscription) {
        let found = attribution::from_metadata(subscription.metadata.as_ref());
        let (attribution, source) = self.attribution(found, None);
        let customer = subscription.customer.as_ref().map(Expandable::id);
        self.learn(
            &attribution,
            source,
            &[customer, Some(subscription.id.as_str())],
        );

        let mut ledger = self.context.subscription.clone().unwrap_or_default();
        let status = subscription.status.clone().unwrap_or_default();
        if status == "trialing" {
            ledger.trialed = true;
        }
        if ledger.state_created.is_some_and(|c| self.created() < c) {
            self.out
                .updates
                .push(StateUpdate::Subscription(subscription.id.clone(), ledger));
            return self
                .note("older than the subscription state already applied; MRR unchanged".into());
        }
        let currency = subscription.currency.as_deref().unwrap_or("usd");
        let deleted = self.event.event_type() == &EventType::CustomerSubscriptionDeleted;
        let current = if deleted {
            with_scale(Decimal::ZERO, currency)
        } else {
            subscription_mrr(&subscription)
        };
        ledger.known_mrr = Some(current);
        ledger.list_mrr = Some(list_mrr(&subscription));
        ledger.state_created = Some(self.created());
        let delta = with_scale(current - ledger.reported_mrr, currency);

        let kind = if delta.is_zero() {
            None
        } else if current.is_zero() {
            Some(Kind::Churn)
        } else if ledger.reported_mrr.is_zero() {
            // MRR starting (trial or incomplete → active): the first paid invoice reports it with
            // its money. Only when that invoice was already reported without MRR (basil payloads
            // name prices without amounts) does the start go out here, as net-new MRR.
            ledger.invoiced.then_some(Kind::Upgrade)
        } else if delta > Decimal::ZERO {
            Some(Kind::Upgrade)
        } else {
            Some(Kind::Downgrade)
        };
        let Some(kind) = kind else {
            self.out
                .updates
                .push(StateUpdate::Subscription(subscription.id.clone(), ledger));
            return self.note(format!(
                "subscription {status}: no MRR change to report now"
            ));
        };
        ledger.reported_mrr += delta;
        let customer_id = customer
            .map(str::to_owned)
            .unwrap_or_else(|| format!("guest_{}", subscription.id));
        let amount = if kind == Kind::Churn || current.is_zero() {
            delta.abs()
        } else {
            current
        };
        let mut metadata = json!({ "status": status, "stripe_event": self.event.id(), "previous_mrr": (current - delta).to_string(), "new_mrr": current.to_string() });
        if let Some(interval) = first_interval(&subscription) {
            metadata["interval"] = json!(interval);
        }
        self.out
            .updates
            .push(StateUpdate::Subscription(subscription.id.clone(), ledger));
        self.drafts.push(Draft {
            kind,
            amount,
            currency: currency.to_ascii_uppercase(),
            transaction_id: format!("{}_{}", subscription.id, self.event.id()),
            customer_id,
            attribution,
            attribution_source: source,
            subscription_id: Some(subscription.id),
            mrr_impact: Some(delta),
            is_recurring: Some(true),
            metadata,
        });
    }

    fn refund(&mut self, charge: Charge) {
        let found = attribution::from_metadata(charge.metadata.as_ref());
        let (attribution, source) = self.attribution(found, None);
        let ledger = self.context.charge.unwrap_or_default();
        let Some(currency) = charge.currency.as_deref() else {
            return self.note("charge without currency".into());
        };
        // `amount_refunded` is cumulative and only grows, so the newest total minus the largest
        // total already reported is the new money, whatever order the events arrive in.
        let new_minor = charge.amount_refunded - ledger.refunded_reported;
        if new_minor <= 0 {
            return self.note("no refunded amount beyond what was already reported".into());
        }
        self.out.updates.push(StateUpdate::Charge(
            charge.id.clone(),
            ChargeLedger {
                refunded_reported: charge.amount_refunded,
            },
        ));
        let amount = to_major(new_minor, currency);
        let amount = match self.policy.refund_sign {
            RefundSign::Negative => -amount,
            RefundSign::Positive => amount,
        };
        let payment = charge
            .payment_intent
            .as_ref()
            .map(Expandable::id)
            .unwrap_or(&charge.id);
        let customer_id = charge
            .customer
            .as_ref()
            .map(|c| c.id.clone())
            .unwrap_or_else(|| format!("guest_{payment}"));
        self.drafts.push(Draft {
            kind: Kind::Refund,
            amount,
            currency: currency.to_ascii_uppercase(),
            transaction_id: format!("{}_refund_{}", charge.id, charge.amount_refunded),
            customer_id,
            attribution,
            attribution_source: source,
            subscription_id: None,
            mrr_impact: None,
            is_recurring: None,
            metadata: json!({
                "original_charge": charge.id,
                "partial": charge.amount_refunded < charge.amount,
                "refunded_total": to_major(charge.amount_refunded, currency).to_string(),
                "stripe_event": self.event.id(),
            }),
        });
    }
}

/// MRR stated by an invoice's own lines (older API versions, where each line has its price).
fn invoice_lines_mrr(invoice: &Invoice, currency: &str) -> Option<Decimal> {
    let lines = invoice.lines.as_ref()?;
    let mut total = Decimal::ZERO;
    let mut any = false;
    for line in lines.data.iter().filter(|l| l.proration != Some(true)) {
        let price = line.price.as_ref()?;
        if let Ok(monthly) = crate::mrr::price_monthly_minor(price) {
            total += monthly * Decimal::from(line.quantity.unwrap_or(1));
            any = true;
        }
    }
    any.then(|| crate::currency::minor_decimal_to_major(total, currency))
}

fn first_interval(subscription: &Subscription) -> Option<String> {
    subscription
        .items
        .as_ref()?
        .data
        .first()?
        .price
        .as_ref()?
        .recurring
        .as_ref()?
        .interval
        .clone()
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
    if let Some(mrr) = draft.mrr_impact {
        draft.mrr_impact = converter
            .convert(mrr, &draft.currency)
            .map(|(converted, _)| converted)
            .or(Some(mrr));
    }
    draft.amount = amount;
    draft.currency = currency;
    draft
}
