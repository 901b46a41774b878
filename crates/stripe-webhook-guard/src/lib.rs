//! Stripe webhooks for tower/axum and actix-web: read the raw body, verify `Stripe-Signature`
//! exactly as Stripe's SDKs do (and more strictly where they are weak), and hand handlers a
//! typed [`VerifiedStripeEvent`].
//!
//! # The request path
//!
//! One framework-neutral engine runs every request; the tower [`StripeWebhookLayer`] and the
//! actix-web middleware only translate types. Per request, cheapest check first:
//!
//! 1. **Client and rate limit** — before the body is read. The client is the peer address;
//!    `X-Forwarded-For` is believed only from configured trusted proxies, read from the right
//!    (the left-most entry is client-controlled); IPv6 is bucketed by /64. Two GCRA budgets per
//!    client: all requests (100/s, burst 200: Stripe sends from a dozen addresses) and failed
//!    verifications (20 per minute). Only failures that cost a hash are charged (a signature
//!    that does not match or is out of its time window) and bodies that never arrive; requests
//!    without a `Stripe-Signature` cost nothing and are never charged. A client over its
//!    failure budget is refused before its body is read, except for a signed body of a declared
//!    length up to [`SMALL_SIGNED_BODY`] (256 KiB), which is still verified: behind a proxy not
//!    listed as trusted, a CDN or a NAT, the failures may be a forger's and the delivery
//!    Stripe's, so no one without the secret can make a signed delivery fail, and a forger's
//!    hashing stays bounded by the request budget times 256 KiB. Stripe's published addresses
//!    are never charged failures. Forwarded headers from a peer that is not a trusted proxy are
//!    ignored, with a warning logged once. Memory stays bounded (100,000 tracked clients).
//!    Optional allow-list ([`STRIPE_WEBHOOK_IPS`]) and exempt list. See [`rate_limit_guide`].
//! 2. **Body** — `Content-Length` over the limit (default 1 MiB) is refused with `413` before
//!    a byte is read; a chunked body is cut at the limit; a body that does not arrive within the
//!    read timeout (default 10 s) gets `408`. Body bytes held at once are bounded in total
//!    (32 MiB) and per client (4 MiB): a declared length that does not fit is answered
//!    `503 busy` before a byte is read, so stalled bodies cannot grow memory.
//! 3. **Signature** — the `Stripe-Signature` header is parsed strictly ([`SignatureHeader`]);
//!    HMAC-SHA256 over `t`, `.`, body, fed as bytes to a state keyed once per secret;
//!    constant-time comparison against every `v1` for every active secret; then the timestamp
//!    must be within 300 s in the past and 300 s in the future (configurable; disabling is
//!    explicit, never a magic `0`).
//! 4. **Parse** — the same bytes become a [`VerifiedStripeEvent`]: the envelope is parsed
//!    borrowed, `data.object` stays raw until you ask for it. A body that verifies but is not
//!    an event is a `400 invalid_event`, not a signature failure. Unknown event types and unknown
//!    fields are never errors.
//! 5. **Replay guard** — the event id is claimed before the handler runs: a processed id is
//!    answered `200 {"received":true,"duplicate":true}` without calling the handler, an id in
//!    flight elsewhere `409` with `Retry-After`. The claim is committed only when the handler
//!    answers 2xx; an error, a panic or a dropped request releases it, so Stripe's retry is
//!    processed and nothing is lost. A `moka` cache sits in front of a [`ReplayStore`]
//!    ([`MemoryStore`] by default, `SqliteStore`, `RedisStore`). See the `replay` docs on
//!    [`ReplayStore`].
//! 6. **Handler** — the event is in the request extensions (the [`VerifiedStripeEvent`]
//!    extractor reads it) and the untouched raw body is passed on, so `Bytes` or `String`
//!    extractors still see exactly what Stripe sent.
//!
//! Every refusal is `{"error": "<code>", "message": "<text>"}` ([`Rejection`]):
//!
//! | situation | status | code |
//! |---|---|---|
//! | over the rate limit | 429 + `Retry-After`, `RateLimit-*` | `rate_limited` |
//! | not on the allow-list (when on) | 403 | `ip_not_allowed` |
//! | body over the limit | 413 | `payload_too_large` |
//! | body too slow | 408 | `body_timeout` |
//! | too many body bytes held at once (in total or by this client) | 503 + `Retry-After` | `busy` |
//! | configured with a secret shorter than Stripe's (fail closed) | 500 | `weak_secret` |
//! | no `Stripe-Signature` | 400 | `missing_signature` |
//! | header unparsable, `t` duplicated, header repeated | 400 | `malformed_signature_header` |
//! | no `v1` | 400 | `no_v1_signature` |
//! | no `v1` matches any secret | 400 | `signature_mismatch` |
//! | timestamp too old / in the future | 400 | `timestamp_too_old` / `timestamp_in_future` |
//! | verified but not an event | 400 | `invalid_event` |
//! | event in flight elsewhere | 409 + `Retry-After` | `in_flight` |
//! | replay store down (fail closed, the default) | 503 + `Retry-After` | `store_unavailable` |
//! | event already processed | 200 | body `{"received":true,"duplicate":true}` |
//!
//! # axum
//!
//! ```
//! # #[cfg(feature = "axum")] {
//! use axum::{http::StatusCode, routing::post, Router};
//! use stripe_webhook_guard::{EventType, StripeWebhookLayer, VerifiedStripeEvent};
//!
//! async fn on_event(event: VerifiedStripeEvent) -> StatusCode {
//!     if event.event_type() == &EventType::InvoicePaid {
//!         let invoice: serde_json::Value = event.object().unwrap_or_default();
//!         println!("paid: {}", invoice["amount_paid"]);
//!     }
//!     StatusCode::OK
//! }
//!
//! let app: Router = Router::new()
//!     .route("/api/webhooks/stripe", post(on_event))
//!     // On the webhook route only: other routes, 404 and 405 never reach the pipeline.
//!     .route_layer(StripeWebhookLayer::new("whsec_…"));
//! # }
//! ```
//!
//! # actix-web
//!
//! `StripeWebhook` (feature `actix-web`, module `actix`) is the same pipeline as an actix-web
//! `Transform`, with the same builder methods; [`VerifiedStripeEvent`] is an actix extractor.
//! Build it **once, before `HttpServer::new`**, and clone it into the closure: actix runs the
//! closure once per worker, and clones share one replay cache and one set of rate-limit buckets.
//!
//! ```no_run
//! # #[cfg(feature = "actix-web")] {
//! use actix_web::{web, App, HttpResponse, HttpServer};
//! use stripe_webhook_guard::{EventType, StripeWebhook, VerifiedStripeEvent};
//!
//! async fn on_event(event: VerifiedStripeEvent) -> HttpResponse {
//!     if event.event_type() == &EventType::InvoicePaid {
//!         let invoice: serde_json::Value = event.object().unwrap_or_default();
//!         println!("paid: {}", invoice["amount_paid"]);
//!     }
//!     HttpResponse::Ok().finish()
//! }
//!
//! # actix_web::rt::System::new().block_on(async {
//! let webhook = StripeWebhook::new("whsec_…");
//! HttpServer::new(move || {
//!     App::new().service(
//!         web::resource("/api/webhooks/stripe")
//!             .wrap(webhook.clone())
//!             .route(web::post().to(on_event)),
//!     )
//! })
//! .bind(("127.0.0.1", 3000))?
//! .run()
//! .await
//! # }).unwrap();
//! # }
//! ```
//!
//! # Testing your own handlers
//!
//! [`sign`] builds the header Stripe would send (stripe-node's `generateTestHeaderString`):
//!
//! ```
//! let body = br#"{"id":"evt_1","object":"event","type":"ping","data":{"object":{}}}"#;
//! let header = stripe_webhook_guard::sign(body, "whsec_test", 1_700_000_000);
//! assert!(header.starts_with("t=1700000000,v1="));
//! ```
//!
//! # Feature flags
//!
//! | feature | what it adds |
//! |---|---|
//! | `axum` | `VerifiedStripeEvent: FromRequestParts`, `IntoResponse` for rejections, `ConnectInfo` peer addresses |
//! | `actix-web` | `StripeWebhook` (the actix-web middleware), `VerifiedStripeEvent: FromRequest`, `ResponseError` for rejections |
//! | `sqlite` | `SqliteStore`: processed ids in an embedded SQLite file (one process, survives restarts) |
//! | `redis` | `RedisStore`: claims shared by many instances through one Redis (`SET NX PX`) |
//! | `postgres` | `PostgresStore`: claims shared by many instances through one PostgreSQL database (`INSERT … ON CONFLICT`, leases) |
//!
//! Every store is a [`BackendStore`] over a backend of [`store`] (the `stripe-pulsora-store`
//! crate), the layer `stripe-revenue`'s state shares.
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod body_budget;
mod config;
mod drain;
mod engine;
mod event;
mod ratelimit;
mod rejection;
mod replay;
mod telemetry;
pub mod tower;
mod trusted;
mod verify;

#[cfg(feature = "axum")]
mod axum;

mod missing;

#[cfg(feature = "actix-web")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
pub mod actix;

pub use body_budget::{DEFAULT_BODY_BUDGET, DEFAULT_CLIENT_BODY_BUDGET};
pub use config::{Webhook, DEFAULT_BODY_LIMIT, DEFAULT_READ_TIMEOUT};
pub use event::{Created, EventKind, EventType, InvalidEvent, VerifiedStripeEvent};
pub use ratelimit::guide as rate_limit_guide;
pub use ratelimit::SMALL_SIGNED_BODY;
pub use ratelimit::{
    Cidr, CidrError, ClientRateLimiter, ForwardedHeader, Quota, DEFAULT_FAILURE_LIMIT,
    DEFAULT_IPV6_PREFIX, DEFAULT_MAX_TRACKED_CLIENTS, DEFAULT_RATE_LIMIT, STRIPE_WEBHOOK_IPS,
};
pub use rejection::Rejection;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use replay::PostgresStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use replay::RedisStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use replay::SqliteStore;
pub use replay::{
    BackendStore, ClaimOutcome, ClaimToken, MemoryStore, ReplayStore, StoreError, StoreFuture,
    DEFAULT_LEASE_TTL, DEFAULT_PROCESSED_TTL, DEFAULT_REPLAY_CACHE_CAPACITY,
    DEFAULT_REPLAY_RETRY_AFTER, DEFAULT_STORE_TIMEOUT,
};
/// The storage layer under the replay stores (and `stripe-revenue`'s state): backends, claims,
/// tokens, errors.
pub use stripe_pulsora_store as store;
pub use telemetry::{describe_metrics, DELIVERIES, REJECTIONS};
pub use tower::StripeWebhookLayer;
pub use verify::{
    sign, sign_with_secrets, Clock, FixedClock, Secret, SignatureHeader, SystemClock, Tolerance,
    Verifier, VerifyError, WeakSecret, DEFAULT_TOLERANCE, MIN_SECRET_CHARS,
};

pub use missing::MissingStripeWebhookLayer;

#[cfg(feature = "actix-web")]
pub use crate::actix::StripeWebhook;
