//! A client for Pulsora's revenue ingest API: validated events, exact money, bounded retries.
//!
//! Pulsora attributes revenue to the visitor and session that led to it. A server sends one
//! revenue event per money movement (a purchase, a subscription's first invoice, a renewal, an
//! upgrade, a downgrade, a churn, a refund) to its single ingest endpoint. This crate builds
//! those events, checks them the way Pulsora's own SDK does, and delivers them.
//!
//! # Usage
//!
//! ```no_run
//! use pulsora::{EventType, Revenue, RevenueEvent, Decimal};
//! use serde_json::json;
//!
//! # async fn run() -> Result<(), pulsora::Error> {
//! // PULSORA_API_TOKEN=sec_… sends; unset, the client only logs what it would send.
//! let revenue = Revenue::from_env()?;
//!
//! let event = RevenueEvent::new(EventType::Purchase, Decimal::new(4999, 2)) // 49.99
//!     .currency("USD")
//!     .transaction_id("ch_3NvXyz")        // stable across retries: Pulsora dedups on it
//!     .customer_id("cus_42")
//!     .visitor_fingerprint("fp_abc")      // from @pulsora/core in the browser
//!     .session_id("sess_xyz")
//!     .payment_processor("stripe")
//!     .metadata(json!({ "plan": "pro" }));
//!
//! let receipt = revenue.track(&event).await?;
//! # let _ = receipt;
//! # Ok(())
//! # }
//! ```
//!
//! # The request
//!
//! `POST https://pulsora.co/api/ingest` ([`DEFAULT_ENDPOINT`]) with `Content-Type:
//! application/json`, `X-API-Token: sec_…` and the body
//! `{"type":"revenue","token":"sec_…","data":{…}}`, where `data` is the [`RevenueEvent`] with
//! absent optional fields left out. [`Revenue::request_body`] returns that exact body.
//!
//! # Money
//!
//! Amounts are [`Decimal`]s in major units and go on the wire as their own digits: `19.99`
//! is sent as the JSON number `19.99`, never through an `f64` that could print
//! `19.990000000000002`. From integer minor units (as Stripe sends them), use
//! [`from_minor_units`]`(minor, exponent)` or `Decimal::new(minor, exponent)`, with the
//! currency's exponent (2 for USD, 0 for JPY, 3 for KWD). `mrr_impact` is a signed decimal.
//!
//! # Validation
//!
//! Before sending, [`RevenueEvent::validate`] applies Pulsora's rules with Pulsora's messages
//! ([`ValidationError`]): the fingerprint, session, customer and transaction ids are required
//! and not blank, `amount` is positive (negative only for [`EventType::Refund`]; zero never).
//! A public `pub_…` token is refused when the client is built ("Revenue events require secret
//! token"): Pulsora accepts revenue only with a secret token.
//!
//! # Retries and errors
//!
//! Network errors, timeouts, 5xx and 429 are retried up to `max_retries` times (default 3, so
//! at most 4 requests) with exponential backoff (1 s doubling, capped at 30 s) and full jitter.
//! A `Retry-After` header (seconds or HTTP-date) replaces the backoff; on a 429 without one the
//! client waits 60 s as Pulsora's SDK does; a wait longer than `max_retry_after` (60 s) is not
//! slept through. Every attempt counts, and the whole call is bounded (`total_timeout`, 30 s;
//! [`Revenue::track_within`] per call), so the loop always ends in time. Redirects are never
//! followed: the token would travel to another address.
//!
//! [`Error::disposition`] says what to do with a failed event ([`Disposition`]): retry later
//! (network, timeout, 5xx, 429, 408, 409, 413, 425, unknown statuses), drop it (400 and 422:
//! Pulsora refused this payload; or it failed validation), or fix the configuration (401 and
//! 403: the token; 404, 405, 410 and 3xx: the endpoint), keeping the event meanwhile.
//! Refusals carry the status and Pulsora's message.
//!
//! # Dry run and environment
//!
//! [`Revenue::dry_run`] validates each event, logs the JSON body with `tracing` at `info`
//! (fields `dry_run`, `endpoint`, `transaction_id`, `event_type`, `body`) and succeeds
//! without sending. [`Revenue::from_env`] reads `PULSORA_API_TOKEN` (unset or blank → dry
//! run) and `PULSORA_ENDPOINT` (overrides the endpoint, e.g. for a regional host).
//!
//! # Secrets
//!
//! The token is never logged, and `Debug` for [`Revenue`] and [`RevenueBuilder`] shows
//! `[redacted]`. The dry-run body has no token at all.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod builder;
mod client;
mod error;
mod event;
mod money;
mod response;
mod retry;
mod token;
mod validate;

pub use builder::{
    RevenueBuilder, DEFAULT_ENDPOINT, DEFAULT_TOTAL_TIMEOUT, DEFAULT_USER_AGENT, ENV_ENDPOINT,
    ENV_TOKEN,
};
pub use client::{Receipt, Revenue};
pub use error::{ConfigError, Disposition, Error};
pub use event::{EventType, RevenueEvent};
pub use money::from_minor_units;
pub use rust_decimal::Decimal;
pub use validate::ValidationError;
