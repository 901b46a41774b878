//! # Rate limiting, in plain words
//!
//! The layer refuses floods *before* it reads a body or computes an HMAC, so a flood costs
//! you a hash lookup per request, not a megabyte read and a signature check. This page
//! explains what is counted, how, and what the numbers mean.
//!
//! ## Quota and burst
//!
//! A [`Quota`](crate::Quota) says two things:
//!
//! - the **rate**: how many requests per period a client may send in the long run.
//!   `Quota::per_second(100)` is 100 requests a second; `Quota::per_minute(20)` is 20 a
//!   minute. The constructors are named by unit so the number is always "requests per unit",
//!   never "units per request" (a mix-up other limiters' builders invite);
//! - the **burst**: how many requests a client that has been quiet may send at once, back to
//!   back. By default it equals the count; `.burst(200)` changes it.
//!
//! Think of a bucket holding `burst` tokens. Each request takes one; a request finding the
//! bucket empty is refused. Tokens drip back in continuously, one every `period / count`
//! (the [replenish interval](crate::Quota::replenish_interval): 10 ms for 100 per second,
//! 3 s for 20 per minute), never more than `burst` in the bucket. There is no window that
//! resets on the minute: a client refused now knows exactly when its next token arrives,
//! and that is the `Retry-After` it is sent.
//!
//! ## GCRA: the bucket as one number
//!
//! Keeping a real token count would need a timer to drip tokens in. The generic cell rate
//! algorithm (GCRA, from ATM networks; the algorithm of the `governor` crate too) gets the
//! same behaviour from one timestamp per client, its *theoretical arrival time* (TAT): the
//! moment its bucket would be full again if it stopped now.
//!
//! - A request at time `now` is allowed if `TAT − now ≤ (burst − 1) × interval`, that is if
//!   the client is less than a full bucket "in debt". Allowed, the TAT moves one interval
//!   later (`max(TAT, now) + interval`).
//! - Refused, nothing changes, and the wait is the excess debt:
//!   `TAT − now − (burst − 1) × interval`.
//! - A TAT in the past means a full bucket: such a client is indistinguishable from one never
//!   seen, so it can be forgotten at no cost. That is what keeps memory small.
//!
//! For `Quota::per_second(2).burst(2)` (interval 500 ms): a rested client sends two requests
//! at once (TAT = now + 1 s), the third is refused with 500 ms to wait (`Retry-After: 1`,
//! since the header is in whole seconds, rounded up and never 0), and after that one request
//! every 500 ms passes.
//!
//! ## Two budgets per client
//!
//! | budget | default | checked | charged |
//! |---|---|---|---|
//! | all requests ([`rate_limit`](crate::StripeWebhookLayer::rate_limit)) | 100/s, burst 200 | before the body is read | on every admitted request |
//! | failed verifications ([`failure_limit`](crate::StripeWebhookLayer::failure_limit)) | 20/min, burst 20 | before the body is read (refused if used up, except a signed body of declared length ≤ [`SMALL_SIGNED_BODY`](crate::SMALL_SIGNED_BODY)) | after a signature that was hashed and did not match or was out of its time window, or a body that did not arrive in time; never for a request without `Stripe-Signature` or with an unparsable one (no hashing happened), never for [`STRIPE_WEBHOOK_IPS`](crate::STRIPE_WEBHOOK_IPS) |
//!
//! The request budget is generous because Stripe sends every event from about a dozen
//! addresses ([`STRIPE_WEBHOOK_IPS`](crate::STRIPE_WEBHOOK_IPS)): a bulk operation or a
//! backlog being retried must not be throttled. The failure budget is strict because Stripe
//! never fails verification once your secret is right: a client that keeps sending bad
//! signatures is guessing, or replaying stale deliveries, and is cut off early, before its
//! body is read, until its budget refills. One exception keeps Stripe safe from whoever
//! shares its address (a proxy you did not list as trusted, a CDN, a NAT): a signed body of a
//! declared length up to 256 KiB is still verified, so the forger's failures cannot make
//! Stripe's delivery fail, while the forger's hashing stays bounded by the request budget
//! times 256 KiB. Either budget can be switched off
//! ([`no_rate_limit`](crate::StripeWebhookLayer::no_rate_limit),
//! [`no_failure_limit`](crate::StripeWebhookLayer::no_failure_limit)); clients in
//! [`exempt`](crate::StripeWebhookLayer::exempt) skip both.
//!
//! A refusal is `429` with `{"error":"rate_limited",…}`, `Retry-After` and
//! `RateLimit-Limit` (the burst of the budget that refused), `RateLimit-Remaining: 0` and
//! `RateLimit-Reset` (seconds until a request would pass). Stripe treats a 429 like any
//! failure and retries with backoff for up to three days, so nothing is lost.
//!
//! ## Who is a client
//!
//! The peer address of the connection, unless you configure
//! [`trusted_proxies`](crate::StripeWebhookLayer::trusted_proxies): only then, and only for
//! requests whose peer is one of them, `X-Forwarded-For` (or `Forwarded`) is read **from the
//! right**, skipping your proxies, and the first address that is not one of them is the
//! client. The left-most entry is whatever the client wrote, so it is never used just for
//! being first. An entry that is not an address stops the walk at the nearest proxy.
//!
//! IPv6 clients are counted per /64 ([`ipv6_prefix`](crate::StripeWebhookLayer::ipv6_prefix)):
//! one subscriber usually holds a whole /64 and could otherwise get a fresh budget with each
//! of its 2^64 addresses. `::ffff:1.2.3.4` is the IPv4 client `1.2.3.4`.
//!
//! With no peer address at all (axum served without
//! `into_make_service_with_connect_info::<SocketAddr>()`), every request is the same
//! "unknown" client: one shared budget, any allow-list refuses it, and a warning is logged
//! once. Serve with `ConnectInfo` so each client has its own budget.
//!
//! ## Memory
//!
//! At most [`max_tracked_clients`](crate::StripeWebhookLayer::max_tracked_clients) clients
//! (default 100,000, under 100 bytes each: about 10 MiB when full) are remembered, however
//! many addresses send.
//! Nothing needs a background task:
//!
//! - a client whose budgets are full again is forgotten for free (see GCRA above), and each
//!   new client arriving sweeps a couple of stored ones, so forgotten clients are reclaimed
//!   as traffic flows;
//! - if the table is full of clients that are all still busy (a flood from more addresses
//!   than the bound), a new client takes the place of the one closest to rested among a
//!   small sample. Being forgotten only ever gives a client a fresh budget, so the clients
//!   whose record matters most, those deep in a failure penalty, are the last to go. The
//!   table never grows past the bound and never refuses a request for being full (that would
//!   let a flood of addresses lock Stripe out).
//!
//! The bench `cargo bench -p stripe-webhook-guard --bench ratelimit` feeds a million distinct
//! addresses and reports the cost per check and the bytes per client.
//!
//! ## Seen through the layer
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use std::convert::Infallible;
//! use std::net::SocketAddr;
//! use stripe_webhook_guard::{Quota, StripeWebhookLayer};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let layer = StripeWebhookLayer::new("whsec_guide_0123456789abcdef0123456789abcdef")
//!     .rate_limit(Quota::per_minute(2))
//!     .no_failure_limit();
//! let app = layer.layer(service_fn(|_: Request<Full<Bytes>>| async {
//!     Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
//! }));
//! // What `ConnectInfo` (axum) or a custom server provides: the peer address.
//! let from = |peer: [u8; 4]| {
//!     let mut request = Request::post("/").body(Full::new(Bytes::new())).unwrap();
//!     request.extensions_mut().insert(SocketAddr::from((peer, 40_000)));
//!     request
//! };
//!
//! // Unsigned requests fail verification (400) but each one spends from the budget.
//! for _ in 0..2 {
//!     let response = app.clone().oneshot(from([203, 0, 113, 7])).await.unwrap();
//!     assert_eq!(response.status(), StatusCode::BAD_REQUEST);
//! }
//! let refused = app.clone().oneshot(from([203, 0, 113, 7])).await.unwrap();
//! assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(refused.headers()["retry-after"], "30");
//! assert_eq!(refused.headers()["ratelimit-limit"], "2");
//! assert_eq!(refused.headers()["ratelimit-remaining"], "0");
//!
//! // Another client has its own budget.
//! let other = app.clone().oneshot(from([198, 51, 100, 1])).await.unwrap();
//! assert_eq!(other.status(), StatusCode::BAD_REQUEST);
//! # }
//! ```
//!
//! ## References
//!
//! - ITU-T I.371 / ATM Forum TM 4.1: the generic cell rate algorithm.
//! - The `governor` crate's guide (`governor::_guide`), which this page follows in spirit.
//! - Brandur Leach, "Rate limiting, cells, and GCRA" (2015): GCRA explained with diagrams.
//! - IETF draft "RateLimit header fields for HTTP" (`draft-ietf-httpapi-ratelimit-headers`).
//! - Adam Pritchard, "The perils of the 'real' client IP" (2022): why X-Forwarded-For is read
//!   from the right.
