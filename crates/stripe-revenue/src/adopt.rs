//! Adopt: every subscription that existed before the bridge enters its MRR ledger.
//!
//! [`adopt`] lists `GET /v1/subscriptions?status=all` (prices and discounts expanded) and hands
//! each one to the bridge's own pipeline as an adoption event (see the mapping's `adopt` rules):
//! the ledger takes the subscription's current MRR as its baseline, so the next webhook reports
//! the right movement. With `opening_balance`, the current MRR of every counting subscription
//! is reported once instead, as an `upgrade` with `metadata.opening_balance = true` and
//! transaction id `<sub>_opening`: an MRR movement, never money, so Pulsora's MRR equals
//! Stripe's from day one.
//!
//! Idempotent: the adoption events have fixed ids (`adopt_<sub>`, `opening_<sub>`), so a second
//! run meets the replay guard and changes nothing. Like [`backfill`](crate::backfill), it needs a
//! replay and state store that outlive the process.

use crate::mrr::{counts, subscription_mrr};
use crate::stripe::Subscription;
use crate::sync::{RevenueSync, SyncOutcome};
use bytes::Bytes;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};
use stripe_read::{ApiError, Params, StripeClient};
use stripe_webhook_guard::{Rejection, StripeWebhookLayer, VerifiedStripeEvent};

pub use crate::map::adopt::{ADOPTED, OPENING_BALANCE};

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdoptSummary {
    /// Subscriptions read (every status).
    pub read: usize,
    /// Entered the ledger (or, with an opening balance, reported) now.
    pub adopted: usize,
    /// Already adopted by an earlier run: skipped.
    pub already: usize,
    /// Revenue events sent now, or queued in the outbox (opening balances, or drift of known
    /// subscriptions).
    pub sent: usize,
    /// Stripe's MRR of the subscriptions that count (active, past due), per currency, in major
    /// units, as the mapping computes it.
    pub mrr: BTreeMap<String, Decimal>,
    /// Subscriptions that count towards MRR.
    pub counting: usize,
    /// Listed only: nothing was claimed, mapped or sent.
    pub dry_run: bool,
}

impl fmt::Display for AdoptSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "subscriptions read {} · counting towards MRR {} · adopted now {} · already adopted {} · revenue events sent {}",
            self.read, self.counting, self.adopted, self.already, self.sent
        )?;
        for (currency, mrr) in &self.mrr {
            writeln!(f, "MRR {currency} {mrr}")?;
        }
        if self.dry_run {
            writeln!(
                f,
                "dry run: subscriptions listed only; nothing was adopted or sent"
            )?;
        }
        Ok(())
    }
}

/// Why a run stopped. Rerun: what was adopted is skipped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdoptError {
    /// Listing subscriptions failed (after the client's retries).
    #[error("reading subscriptions from Stripe failed: {0}")]
    Stripe(#[from] ApiError),
    /// A subscription could not be adopted now.
    #[error("stopped at {subscription}: {reason}")]
    Stopped {
        /// The subscription that failed.
        subscription: String,
        /// Why.
        reason: String,
        /// The counts up to the stop.
        summary: AdoptSummary,
    },
}

/// The parameters of the subscription listing: every status, prices (in the items by default)
/// and discounts expanded, so MRR is computed from the objects alone.
pub fn subscription_params() -> Params {
    Params::new()
        .param("status", "all")
        .expand("data.discounts")
        .expand("data.items.data.discounts")
}

/// Adopts every subscription of the account; `progress` gets the number done so far.
///
/// ```no_run
/// # async fn demo(layer: stripe_webhook_guard::StripeWebhookLayer, sync: stripe_revenue::RevenueSync) -> Result<(), Box<dyn std::error::Error>> {
/// let stripe = stripe_read::StripeClient::new(std::env::var("STRIPE_API_KEY")?)?;
/// let summary = stripe_revenue::adopt::adopt(&stripe, &layer, &sync, true, false, |_| {}).await?;
/// println!("{summary}");
/// # Ok(()) }
/// ```
pub async fn adopt(
    stripe: &StripeClient,
    layer: &StripeWebhookLayer,
    sync: &RevenueSync,
    opening_balance: bool,
    dry_run: bool,
    mut progress: impl FnMut(usize),
) -> Result<AdoptSummary, AdoptError> {
    let mut summary = AdoptSummary {
        dry_run,
        ..AdoptSummary::default()
    };
    let read_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut pages = stripe.list::<serde_json::Value>("/v1/subscriptions", subscription_params());
    while let Some(page) = pages.next_page().await? {
        for object in page {
            summary.read += 1;
            let Ok(subscription) = serde_json::from_value::<Subscription>(object.clone()) else {
                tracing::warn!(
                    "skipping a subscription Stripe's API returned in an unreadable shape"
                );
                continue;
            };
            if subscription.status.as_deref().is_some_and(counts) {
                summary.counting += 1;
                let currency = subscription
                    .currency
                    .as_deref()
                    .unwrap_or("usd")
                    .to_ascii_uppercase();
                *summary.mrr.entry(currency).or_default() += subscription_mrr(&subscription);
            }
            if !dry_run {
                match adoption_event(&subscription.id, object, opening_balance, read_at, stripe) {
                    Some(event) => {
                        adopt_one(layer, sync, event, &subscription.id, &mut summary).await?
                    }
                    None => tracing::warn!(
                        subscription = subscription.id,
                        "skipping a subscription that does not fit an event envelope"
                    ),
                }
            }
            progress(summary.read);
        }
    }
    Ok(summary)
}

async fn adopt_one(
    layer: &StripeWebhookLayer,
    sync: &RevenueSync,
    event: VerifiedStripeEvent,
    subscription: &str,
    summary: &mut AdoptSummary,
) -> Result<(), AdoptError> {
    let result = layer
        .deliver_trusted(event, |event| async move {
            let outcome = sync.handle(&event).await;
            if outcome.status().is_success() {
                Ok(outcome)
            } else {
                Err(outcome)
            }
        })
        .await;
    let reason = match result {
        Ok(Ok(outcome)) => {
            summary.adopted += 1;
            match outcome {
                SyncOutcome::Delivered { sent, .. } => summary.sent += sent,
                // Acknowledge first: committed to the outbox, the worker delivers it.
                SyncOutcome::Queued { queued, .. } => summary.sent += queued,
                _ => {}
            }
            return Ok(());
        }
        Err(Rejection::Duplicate { .. }) => {
            summary.already += 1;
            return Ok(());
        }
        Ok(Err(outcome)) => outcome.body().to_string(),
        Err(rejection) => rejection.to_string(),
    };
    Err(AdoptError::Stopped {
        subscription: subscription.to_owned(),
        reason,
        summary: summary.clone(),
    })
}

/// The subscription wrapped in the bridge's adoption event.
fn adoption_event(
    id: &str,
    object: serde_json::Value,
    opening_balance: bool,
    read_at: i64,
    stripe: &StripeClient,
) -> Option<VerifiedStripeEvent> {
    let livemode = object["livemode"]
        .as_bool()
        .unwrap_or_else(|| stripe.key().is_live());
    let (kind, prefix) = if opening_balance {
        (OPENING_BALANCE, "opening")
    } else {
        (ADOPTED, "adopt")
    };
    let envelope = serde_json::json!({
        "id": format!("{prefix}_{id}"),
        "object": "event",
        "type": kind,
        "created": read_at,
        "livemode": livemode,
        "api_version": stripe.pinned_version(),
        "data": { "object": object },
    });
    VerifiedStripeEvent::from_verified_bytes(Bytes::from(envelope.to_string())).ok()
}
