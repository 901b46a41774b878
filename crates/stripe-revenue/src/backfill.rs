//! Backfill: the events Stripe still keeps (30 days), through the webhook's own pipeline.
//!
//! Webhooks stop being retried after about three days; a bridge that was down longer, or was
//! installed after the fact, has a hole. [`backfill`] lists `GET /v1/events` for the revenue
//! event types in a window, and hands each one, **oldest first**, to
//! [`StripeWebhookLayer::deliver_trusted`] with [`RevenueSync::handle`] as the handler: the same
//! replay guard (an event already handled by webhook or by an earlier run is a duplicate, and is
//! skipped), the same scope filter, mapping, state and delivery as a webhook. So a rerun sends
//! nothing new, and a run stopped half way (Ctrl-C, an outage) resumes where it stopped: the
//! events it committed are duplicates the second time.
//!
//! A transient failure (Pulsora, the state or replay store, Stripe's API) stops the run with
//! [`BackfillError::Stopped`]: later events of the same subscription must not overtake the one
//! that failed, and a rerun picks it up.
//!
//! The replay store must outlive the process (SQLite, PostgreSQL, Redis): with the in-memory
//! default, a second run would not know what the first one sent. The `stripe-pulsora backfill`
//! command refuses that combination.

use crate::sync::{RevenueSync, SyncOutcome};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::ControlFlow;
use stripe_read::{ApiError, Params, StripeClient};
use stripe_webhook_guard::{Rejection, StripeWebhookLayer, VerifiedStripeEvent};

/// Stripe keeps events this long (docs.stripe.com/api/events/list: "events going back 30 days").
pub const EVENT_RETENTION_SECS: i64 = 30 * 86_400;

/// The event types the mapping turns into revenue (or learns from), listed to `GET /v1/events`
/// as `types[]` (Stripe accepts up to 20); everything else is not worth reading. Besides the
/// money and subscription events: `refund.created` (a refund by id), `invoice_payment.paid`
/// (basil: which PaymentIntent paid an invoice, so its refunds count) and
/// `customer.discount.*` (the coupon behind a discount that basil payloads name by id only).
pub const REVENUE_EVENT_TYPES: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice_payment.paid",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.discount.created",
    "customer.discount.updated",
    "customer.discount.deleted",
    "charge.refunded",
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.dispute.created",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    "charge.dispute.closed",
];

/// The window to backfill, as Unix seconds (`created` of the events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackfillWindow {
    /// Events created at or after this.
    pub since: i64,
    /// Events created at or before this; `None` for up to now.
    pub until: Option<i64>,
}

/// Where a run is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// A page of events was read; `read` so far.
    Listed {
        /// Events read so far.
        read: usize,
    },
    /// Listing is done; `total` events will be processed.
    Processing {
        /// Events to process.
        total: usize,
    },
    /// One more event was processed (or skipped).
    Processed {
        /// Events processed or skipped so far.
        done: usize,
        /// Of `total`.
        total: usize,
    },
}

/// What one event type contributed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeCounts {
    /// Events of this type read from Stripe.
    pub read: usize,
    /// Already handled (by webhook or an earlier run): skipped.
    pub duplicates: usize,
    /// Handled now.
    pub processed: usize,
    /// Revenue events sent to Pulsora (or queued for delivery) now.
    pub sent: usize,
    /// Revenue events an earlier delivery had already sent.
    pub already_sent: usize,
}

/// The result of a run: per event type, and in total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackfillSummary {
    /// Counts per Stripe event type.
    pub by_type: BTreeMap<String, TypeCounts>,
    /// The run only listed events (`--dry-run`): nothing was claimed, mapped or sent.
    pub dry_run: bool,
}

impl BackfillSummary {
    /// The sums over every type.
    pub fn total(&self) -> TypeCounts {
        self.by_type
            .values()
            .fold(TypeCounts::default(), |sum, c| TypeCounts {
                read: sum.read + c.read,
                duplicates: sum.duplicates + c.duplicates,
                processed: sum.processed + c.processed,
                sent: sum.sent + c.sent,
                already_sent: sum.already_sent + c.already_sent,
            })
    }
}

impl fmt::Display for BackfillSummary {
    /// A plain table for people.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<42} {:>7} {:>10} {:>9} {:>6} {:>12}",
            "event type", "read", "duplicate", "processed", "sent", "already sent"
        )?;
        let total = self.total();
        for (name, c) in self.by_type.iter().chain([(&"total".to_owned(), &total)]) {
            writeln!(
                f,
                "{:<42} {:>7} {:>10} {:>9} {:>6} {:>12}",
                name, c.read, c.duplicates, c.processed, c.sent, c.already_sent
            )?;
        }
        if self.dry_run {
            writeln!(
                f,
                "dry run: events listed only; nothing was processed or sent"
            )?;
        }
        Ok(())
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackfillError {
    /// Listing events failed (after the client's retries).
    #[error("reading events from Stripe failed: {0}")]
    Stripe(#[from] ApiError),
    /// An event could not be processed now; nothing after it was attempted. Run again later:
    /// what was committed is skipped.
    #[error("stopped at {event_id} ({done} of {total} events done): {reason}")]
    Stopped {
        /// The event that failed.
        event_id: String,
        /// Events done before it.
        done: usize,
        /// Events in the window.
        total: usize,
        /// Why.
        reason: String,
        /// The counts up to the stop.
        summary: BackfillSummary,
    },
    /// `progress` asked to stop (Ctrl-C): the run stopped between two events, so nothing was
    /// cut half way. Run again to resume.
    #[error("interrupted after {done} of {total} events")]
    Interrupted {
        /// Events done.
        done: usize,
        /// Events in the window.
        total: usize,
        /// The counts up to the stop.
        summary: BackfillSummary,
    },
}

/// Lists the window's revenue events and runs each, oldest first, through `layer`'s replay
/// guard and `sync`. With `dry_run`, only lists and counts. `progress` hears where the run is;
/// returning `ControlFlow::Break` after an event stops the run there
/// ([`BackfillError::Interrupted`]): a clean stop for Ctrl-C, never in the middle of a delivery.
///
/// ```no_run
/// # async fn demo(layer: stripe_webhook_guard::StripeWebhookLayer, sync: stripe_revenue::RevenueSync) -> Result<(), Box<dyn std::error::Error>> {
/// use stripe_revenue::backfill::{backfill, BackfillWindow};
///
/// let stripe = stripe_read::StripeClient::new(std::env::var("STRIPE_API_KEY")?)?;
/// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
/// let window = BackfillWindow { since: now - 3 * 86_400, until: None };
/// let summary = backfill(&stripe, &layer, &sync, window, false, |_| std::ops::ControlFlow::Continue(())).await?;
/// println!("{summary}");
/// # Ok(()) }
/// ```
pub async fn backfill(
    stripe: &StripeClient,
    layer: &StripeWebhookLayer,
    sync: &RevenueSync,
    window: BackfillWindow,
    dry_run: bool,
    mut progress: impl FnMut(Progress) -> ControlFlow<()>,
) -> Result<BackfillSummary, BackfillError> {
    let mut params = Params::new()
        .each("types[]", REVENUE_EVENT_TYPES)
        .param("created[gte]", window.since);
    if let Some(until) = window.until {
        params = params.param("created[lte]", until);
    }
    // Stripe lists newest first; the pipeline wants Stripe's order of creation, so the window is
    // read whole, then walked backwards. Raw bytes only: a month of revenue events of a busy
    // account is a few thousand objects of a few KiB.
    let mut pages = stripe.list::<Box<serde_json::value::RawValue>>("/v1/events", params);
    let mut events = Vec::new();
    while let Some(page) = pages.next_page().await? {
        events.extend(page);
        let _ = progress(Progress::Listed { read: events.len() });
    }
    events.reverse();

    let mut summary = BackfillSummary {
        dry_run,
        ..BackfillSummary::default()
    };
    let total = events.len();
    let _ = progress(Progress::Processing { total });
    for (done, raw) in events.into_iter().enumerate() {
        let bytes = Bytes::from(raw.get().to_owned());
        let event = match VerifiedStripeEvent::from_verified_bytes(bytes) {
            Ok(event) => event,
            Err(error) => {
                // Stripe's own API answered with it: not an event we can read is a bug to
                // report, not a reason to stop the rest of the window.
                tracing::warn!("skipping an unreadable event from GET /v1/events: {error}");
                continue;
            }
        };
        let counts = summary
            .by_type
            .entry(event.event_type().to_string())
            .or_default();
        counts.read += 1;
        if dry_run {
            let _ = progress(Progress::Processed {
                done: done + 1,
                total,
            });
            continue;
        }
        let event_id = event.id().to_owned();
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
        match result {
            Ok(Ok(outcome)) => {
                counts.processed += 1;
                match outcome {
                    SyncOutcome::Delivered { sent, already_sent } => {
                        counts.sent += sent;
                        counts.already_sent += already_sent;
                    }
                    // Acknowledge first: committed to the outbox, the worker delivers it.
                    SyncOutcome::Queued { queued, already } => {
                        counts.sent += queued;
                        counts.already_sent += already;
                    }
                    _ => {}
                }
            }
            Err(Rejection::Duplicate { .. }) => counts.duplicates += 1,
            Ok(Err(outcome)) => {
                return Err(stopped(
                    event_id,
                    done,
                    total,
                    outcome.body().to_string(),
                    summary,
                ))
            }
            Err(rejection) => {
                return Err(stopped(
                    event_id,
                    done,
                    total,
                    rejection.to_string(),
                    summary,
                ))
            }
        }
        let next = progress(Progress::Processed {
            done: done + 1,
            total,
        });
        if next.is_break() && done + 1 < total {
            return Err(BackfillError::Interrupted {
                done: done + 1,
                total,
                summary,
            });
        }
    }
    Ok(summary)
}

fn stopped(
    event_id: String,
    done: usize,
    total: usize,
    reason: String,
    summary: BackfillSummary,
) -> BackfillError {
    BackfillError::Stopped {
        event_id,
        done,
        total,
        reason,
        summary,
    }
}
