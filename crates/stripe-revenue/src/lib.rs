//! Verified Stripe events → Pulsora revenue events: exact money, MRR that adds up, attribution.
//!
//! Two layers:
//!
//! - a **pure mapping**, [`map_event`]: one [`VerifiedStripeEvent`](stripe_webhook_guard::VerifiedStripeEvent)
//!   plus what earlier events taught ([`state::Context`]) gives zero or more
//!   [`pulsora::RevenueEvent`]s and the [`state::StateUpdate`]s to remember. No I/O, so every rule
//!   is tested directly (golden files per event type and API shape; scenarios in Stripe's order,
//!   shuffled, and with every event delivered twice);
//! - [`RevenueSync`]: loads the state of the event's customer, subscription or charge from a
//!   [`StateStore`], maps, sends each revenue event not yet delivered with the Pulsora client, and
//!   saves the new state. Its [`SyncOutcome`] becomes the webhook's answer: `503` for a transient
//!   failure (so the replay claim is released and Stripe retries), `200` otherwise.
//!
//! ```no_run
//! # async fn demo(event: stripe_webhook_guard::VerifiedStripeEvent) {
//! use stripe_revenue::RevenueSync;
//!
//! let sync = RevenueSync::new(pulsora::Revenue::dry_run()); // logs the payloads it would send
//! let outcome = sync.handle(&event).await;
//! println!("{} {}", outcome.status(), outcome.body());
//! # }
//! ```
//!
//! This crate knows no web framework: the ready-made axum and actix-web handlers around
//! [`RevenueSync::handle`] are the `stripe-pulsora-handlers` crate (re-exported by the
//! `stripe-pulsora` facade as `revenue_handler` and `actix_revenue_handler`).
//!
//! # The mapping
//!
//! Every event first passes the scope filter ([`scope`]): test-mode events while live mode
//! counts (the default with a Pulsora token), live-mode events while test mode counts, and
//! Connect events (`account` set) are acknowledged and left out.
//!
//! | Stripe event | when | Pulsora `event_type` (transaction id) |
//! |---|---|---|
//! | `checkout.session.completed` / `…async_payment_succeeded` | mode `payment`, paid | `purchase` (the session's invoice if it created one, else its PaymentIntent) |
//! | `checkout.session.completed` | mode `subscription` | nothing: attribution learned; money comes from the invoice |
//! | `invoice.paid` and/or `invoice.payment_succeeded` | first invoice of a subscription, amount > 0 | `subscription` + `mrr_impact` (the invoice) |
//! | same | cycle invoice | `renewal` |
//! | same | other paid invoices | `purchase` |
//! | same | paid out of band | nothing: no money moved through Stripe |
//! | `customer.subscription.created/updated` | MRR up / down | `upgrade` / `downgrade` |
//! | `customer.subscription.updated/deleted` | MRR to 0 | `churn` |
//! | `charge.refunded`, `refund.created/updated/failed`, `charge.refund.updated` | the payment's refunded total changed | `refund` (`{payment}_refund_{n}`; a failed refund is a refund of the opposite sign) |
//! | `charge.dispute.closed` (or any dispute event) | status `lost` | `refund` (the dispute id) |
//! | `invoice_payment.paid` | basil: links the invoice's PaymentIntent | nothing itself; that payment's refunds and disputes now count |
//!
//! Revenue excludes tax by default ([`Tax`]); refunds and disputes count only for payments the
//! bridge reported ([`UnreportedPayments`]) and never exceed `amount_captured`.
//!
//! Invariants: **money once** (transaction ids from Stripe object ids, delivered ids
//! remembered; one id per payment however many events announce it); **money out from a ledger**
//! (refunds by id and the newest charge snapshot, so a failed refund gives the money back once,
//! whatever the order); **MRR adds up** (a ledger per subscription: each event reports
//! `current − reported`, an event older than the ledger's state is not applied); **exact money**
//! (integers in Stripe's minor units with Stripe's exponent per currency, see [`currency`]);
//! **both API shapes** (before and after `2025-03-31.basil`).
//!
//! # Attribution
//!
//! The object's metadata, then a related object's metadata in the payload, then what earlier
//! events taught, then the Stripe API (feature `stripe-api`), then a placeholder — see
//! [`attribution`].
//!
//! # Feature flags
//!
//! | feature | what it adds |
//! |---|---|
//! | `fixtures` | [`fixtures`]: realistic Stripe events for tests, demos and `trigger` |
//! | `sqlite` | [`SqliteStateStore`] |
//! | `redis` | [`RedisStateStore`] |
//! | `postgres` | [`PostgresStateStore`] |
//! | `stripe-api` | [`StripeApi`], the attribution lookup; [`backfill`], [`adopt`](mod@adopt), [`reconcile()`] |
//!
//! # Acknowledge first
//!
//! With a durable store, [`RevenueSync::outbox`] answers Stripe as soon as the state and the
//! revenue events are committed, and an [`OutboxWorker`](outbox::OutboxWorker) delivers them
//! with backoff, a 7-day horizon and dead letters: see [`outbox`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "stripe-api")]
pub mod adopt;
pub mod attribution;
#[cfg(feature = "stripe-api")]
pub mod backfill;
pub mod currency;
mod draft;
#[cfg(feature = "fixtures")]
pub mod fixtures;
mod health;
mod held;
mod kv;
mod ledger;
mod map;
pub mod mrr;
pub mod outbox;
mod policy;
#[cfg(feature = "stripe-api")]
pub mod reconcile;
pub mod scope;
pub mod state;
mod store;
pub mod stripe;
#[cfg(feature = "stripe-api")]
mod stripe_api;
mod sync;
mod telemetry;

pub use draft::is_collected_money;
pub use health::{NotReady, DEFAULT_INLINE_BUDGET};
#[cfg(feature = "postgres")]
pub use kv::PostgresStateStore;
#[cfg(feature = "redis")]
pub use kv::RedisStateStore;
#[cfg(feature = "sqlite")]
pub use kv::SqliteStateStore;
pub use kv::{
    KvStateStore, MemoryStateStore, StateTtls, DEFAULT_MEMORY_SENT_IDS, DEFAULT_MEMORY_STATE_BYTES,
    SEND_LEASE, SENT_TTL, STATE_TTL,
};
pub use map::{map_event, subjects, MapError, Mapping, Subjects};
pub use policy::{
    CurrencyConverter, Policy, RefundSign, Tax, UnreportedPayments, PLACEHOLDER_ATTRIBUTION,
};
#[cfg(feature = "stripe-api")]
pub use reconcile::reconcile;
pub use scope::{Connect, Ignored, Livemode};
pub use store::{
    ClaimOutcome, ClaimToken, RecordQuery, Records, StateError, StateStore, StoreFuture,
};
#[cfg(feature = "stripe-api")]
pub use stripe_api::{LookupError, StripeApi, FETCH_CACHE_TTL, STRIPE_API_BASE};
pub use sync::{DeadLetter, LogDeadLetter, RevenueSync, SyncOutcome};
pub use telemetry::{describe_metrics, PULSORA_EVENTS};
