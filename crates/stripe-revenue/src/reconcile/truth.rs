//! Stripe's side: the window's revenue objects read from the API, turned into amounts by the
//! mapping's own rules (scope, tax, one transaction per payment, refunds that did not fail,
//! lost disputes, MRR of every subscription).

use super::ReconcileWindow;
use crate::policy::{Policy, Tax};
use crate::scope::Livemode;
use crate::stripe::{CheckoutSession, Dispute, Expandable, Invoice, Refund, Subscription};
use serde_json::Value;
use std::collections::HashMap;
use stripe_read::{ApiError, Params, StripeClient};

/// What kind of Stripe object a figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ObjectKind {
    /// A Checkout Session (`cs_…`) in payment mode.
    CheckoutSession,
    /// A paid invoice (`in_…`).
    Invoice,
    /// A refund (`re_…`).
    Refund,
    /// A dispute (`dp_…`).
    Dispute,
    /// A payment (PaymentIntent `pi_…` or charge `ch_…`): its refunded total as a whole.
    Payment,
    /// A subscription (`sub_…`): its MRR.
    Subscription,
}

impl ObjectKind {
    /// `checkout_session`, `invoice`, `refund`, `dispute`, `payment`, `subscription`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CheckoutSession => "checkout_session",
            Self::Invoice => "invoice",
            Self::Refund => "refund",
            Self::Dispute => "dispute",
            Self::Payment => "payment",
            Self::Subscription => "subscription",
        }
    }
}

/// Money in by Stripe: one per payment (transaction id), as the mapping keys it.
#[derive(Debug, Clone)]
pub(crate) struct MoneyIn {
    /// The transaction id (the invoice, else the PaymentIntent, else the session).
    pub(crate) key: String,
    /// The object behind it (`cs_…` or `in_…`).
    pub(crate) object: String,
    pub(crate) kind: ObjectKind,
    pub(crate) currency: String,
    /// Minor units, tax excluded unless the policy includes it.
    pub(crate) amount: i64,
    pub(crate) created: i64,
}

/// A refund by Stripe.
#[derive(Debug, Clone)]
pub(crate) struct RefundFact {
    pub(crate) id: String,
    pub(crate) payment: String,
    pub(crate) currency: String,
    /// What it takes out (0 once failed or cancelled), minor units.
    pub(crate) counted: i64,
    pub(crate) created: i64,
}

/// A dispute by Stripe.
#[derive(Debug, Clone)]
pub(crate) struct DisputeFact {
    pub(crate) id: String,
    pub(crate) payment: String,
    pub(crate) currency: String,
    /// What it takes out (its amount once lost, else 0), minor units.
    pub(crate) lost: i64,
    pub(crate) created: i64,
}

/// Everything read from Stripe.
#[derive(Debug, Default)]
pub(crate) struct Truth {
    pub(crate) money_in: Vec<MoneyIn>,
    /// Payment key → whether its money in is revenue in scope (a paid Checkout Session or
    /// invoice of the mode that counts). Payments absent here were not seen in the window.
    pub(crate) payments: HashMap<String, bool>,
    pub(crate) refunds: Vec<RefundFact>,
    pub(crate) disputes: Vec<DisputeFact>,
    pub(crate) subscriptions: Vec<Subscription>,
}

/// `created[gte]` / `created[lte]` of the window.
fn windowed(params: Params, window: &ReconcileWindow) -> Params {
    let params = params.param("created[gte]", window.since);
    match window.until {
        Some(until) => params.param("created[lte]", until),
        None => params,
    }
}

/// Whether an object's `livemode` is the mode that counts; objects without the field (refunds)
/// are judged by their payment.
fn in_mode(object: &Value, policy: &Policy) -> bool {
    !matches!(
        (
            policy.livemode.unwrap_or(Livemode::Any),
            object["livemode"].as_bool(),
        ),
        (Livemode::Live, Some(false)) | (Livemode::Test, Some(true))
    )
}

fn created(object: &Value) -> i64 {
    object["created"].as_i64().unwrap_or(0)
}

fn key_of(payment_intent: Option<&Expandable>, charge: Option<&Expandable>) -> Option<String> {
    payment_intent.or(charge).map(|e| e.id.clone())
}

async fn all(stripe: &StripeClient, path: &str, params: Params) -> Result<Vec<Value>, ApiError> {
    stripe.list::<Value>(path, params).collect_all().await
}

/// Reads the window's Checkout Sessions, paid invoices, refunds and disputes, and every
/// subscription.
pub(crate) async fn read(
    stripe: &StripeClient,
    policy: &Policy,
    window: &ReconcileWindow,
) -> Result<Truth, ApiError> {
    let mut truth = Truth::default();
    let mut by_key: HashMap<String, MoneyIn> = HashMap::new();

    let invoices = all(
        stripe,
        "/v1/invoices",
        windowed(Params::new().param("status", "paid"), window).expand("data.payments"),
    )
    .await?;
    for object in &invoices {
        let Ok(invoice) = serde_json::from_value::<Invoice>(object.clone()) else {
            tracing::warn!("reconcile: skipping an invoice in an unreadable shape");
            continue;
        };
        let scope = in_mode(object, policy);
        for payment in invoice_payments(&invoice, object) {
            truth.payments.insert(payment, scope);
        }
        if let Some(money) = invoice_money(&invoice, object, policy).filter(|_| scope) {
            by_key.insert(money.key.clone(), money);
        }
    }

    let sessions = all(
        stripe,
        "/v1/checkout/sessions",
        windowed(Params::new().param("status", "complete"), window),
    )
    .await?;
    for object in &sessions {
        let Ok(session) = serde_json::from_value::<CheckoutSession>(object.clone()) else {
            tracing::warn!("reconcile: skipping a Checkout Session in an unreadable shape");
            continue;
        };
        let scope = in_mode(object, policy);
        let Some(money) = session_money(&session, object, policy) else {
            continue;
        };
        if let Some(pi) = &session.payment_intent {
            truth.payments.insert(pi.id.clone(), scope);
        }
        // One payment, one transaction: the invoice the session created, if listed, is the
        // object behind it.
        if scope {
            by_key.entry(money.key.clone()).or_insert(money);
        }
    }
    truth.money_in = by_key.into_values().collect();
    truth
        .money_in
        .sort_by(|a, b| (a.created, &a.key).cmp(&(b.created, &b.key)));

    for object in all(stripe, "/v1/refunds", windowed(Params::new(), window)).await? {
        if let Some(fact) = refund_fact(&object) {
            truth.refunds.push(fact);
        }
    }
    for object in all(stripe, "/v1/disputes", windowed(Params::new(), window)).await? {
        if !in_mode(&object, policy) {
            continue;
        }
        let Ok(dispute) = serde_json::from_value::<Dispute>(object.clone()) else {
            continue;
        };
        let Some(payment) = key_of(dispute.payment_intent.as_ref(), dispute.charge.as_ref()) else {
            continue;
        };
        truth.disputes.push(DisputeFact {
            lost: if dispute.status.as_deref() == Some("lost") {
                dispute.amount
            } else {
                0
            },
            id: dispute.id,
            payment,
            currency: dispute.currency.unwrap_or_default().to_ascii_lowercase(),
            created: created(&object),
        });
    }

    for object in all(
        stripe,
        "/v1/subscriptions",
        crate::adopt::subscription_params(),
    )
    .await?
    {
        if !in_mode(&object, policy) {
            continue;
        }
        match serde_json::from_value::<Subscription>(object) {
            Ok(subscription) => truth.subscriptions.push(subscription),
            Err(_) => tracing::warn!("reconcile: skipping a subscription in an unreadable shape"),
        }
    }
    Ok(truth)
}

/// Every refund of one payment (whatever its date), when the window's refunds do not explain
/// what the bridge reported for it.
pub(crate) async fn refunds_of(
    stripe: &StripeClient,
    payment: &str,
) -> Result<Vec<RefundFact>, ApiError> {
    let filter = if payment.starts_with("pi_") {
        "payment_intent"
    } else {
        "charge"
    };
    let objects = all(stripe, "/v1/refunds", Params::new().param(filter, payment)).await?;
    Ok(objects.iter().filter_map(refund_fact).collect())
}

fn refund_fact(object: &Value) -> Option<RefundFact> {
    let refund = serde_json::from_value::<Refund>(object.clone()).ok()?;
    let payment = key_of(refund.payment_intent.as_ref(), refund.charge.as_ref())?;
    Some(RefundFact {
        // The mapping's rule: a refund counts until it fails or is cancelled (a pending one
        // is already in the charge's `amount_refunded`).
        counted: if refund.reversed() { 0 } else { refund.amount },
        id: refund.id,
        payment,
        currency: refund.currency.unwrap_or_default().to_ascii_lowercase(),
        created: created(object),
    })
}

/// The payments of an invoice: `payment_intent` / `charge` before basil, the expanded
/// `payments` (InvoicePayments) from basil on.
fn invoice_payments(invoice: &Invoice, object: &Value) -> Vec<String> {
    let mut out: Vec<String> = key_of(invoice.payment_intent.as_ref(), invoice.charge.as_ref())
        .into_iter()
        .collect();
    for paid in object["payments"]["data"].as_array().into_iter().flatten() {
        let payment = &paid["payment"];
        let id = payment["payment_intent"]
            .as_str()
            .or_else(|| payment["payment_intent"]["id"].as_str())
            .or_else(|| payment["charge"].as_str())
            .or_else(|| payment["charge"]["id"].as_str());
        if let Some(id) = id {
            out.push(id.to_owned());
        }
    }
    out
}

/// A paid invoice's money, as the invoice mapping counts it.
fn invoice_money(invoice: &Invoice, object: &Value, policy: &Policy) -> Option<MoneyIn> {
    if invoice.paid_out_of_band == Some(true) || invoice.amount_paid <= 0 {
        return None;
    }
    let currency = invoice.currency.as_deref()?.to_ascii_lowercase();
    let tax = invoice.tax_amount().clamp(0, invoice.amount_paid.max(0));
    let amount = match policy.tax {
        Tax::Exclude => invoice.amount_paid - tax,
        Tax::Include => invoice.amount_paid,
    };
    (amount > 0).then(|| MoneyIn {
        key: invoice.id.clone(),
        object: invoice.id.clone(),
        kind: ObjectKind::Invoice,
        currency,
        amount,
        created: created(object),
    })
}

/// A paid payment-mode Checkout Session's money, as the checkout mapping counts it.
fn session_money(session: &CheckoutSession, object: &Value, policy: &Policy) -> Option<MoneyIn> {
    if session.mode.as_deref() != Some("payment")
        || session.payment_status.as_deref() != Some("paid")
    {
        return None;
    }
    let total = session.amount_total?;
    let currency = session.currency.as_deref()?.to_ascii_lowercase();
    let tax = session
        .total_details
        .as_ref()
        .and_then(|t| t.amount_tax)
        .unwrap_or(0)
        .clamp(0, total.max(0));
    let amount = match policy.tax {
        Tax::Exclude => total - tax,
        Tax::Include => total,
    };
    let key = session
        .invoice
        .as_ref()
        .or(session.payment_intent.as_ref())
        .map_or_else(|| session.id.clone(), |e| e.id.clone());
    (amount > 0).then(|| MoneyIn {
        key,
        object: session.id.clone(),
        kind: ObjectKind::CheckoutSession,
        currency,
        amount,
        created: created(object),
    })
}
