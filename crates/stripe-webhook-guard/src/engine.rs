//! The one request pipeline. Both framework adapters translate their request into a
//! [`RequestHead`] and a body stream, call [`Engine::process`], and translate the result back;
//! every rule lives here.

use crate::body::{check_content_length, declared_length, read_limited};
use crate::body_budget::BodyBudget;
use crate::config::WebhookConfig;
use crate::drain::{drain, DRAIN_BYTES, DRAIN_TIME};
use crate::event::VerifiedStripeEvent;
use crate::ratelimit::Admission;
use crate::rejection::Rejection;
use crate::replay::ReplayGuard;
use crate::verify::VerifyError;
use bytes::Bytes;
use futures_util::Stream;
use std::fmt::Display;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use tracing::Instrument;

/// Header names the pipeline reads.
pub(crate) const STRIPE_SIGNATURE: &str = "stripe-signature";

/// Read-only access to a framework's header map: each adapter implements it in a few lines.
pub(crate) trait HeaderSource {
    /// Calls `f` with the bytes of every value of header `name` (lower-case), in order.
    fn for_each_value(&self, name: &'static str, f: &mut dyn FnMut(&[u8]));
}

/// What the pipeline needs from a request before reading its body.
#[derive(Debug, Clone)]
pub(crate) struct RequestHead {
    pub(crate) peer: Option<IpAddr>,
    pub(crate) signature: SignatureValue,
    pub(crate) content_length: Option<Bytes>,
    /// Every `X-Forwarded-For` value, in order (only believed from trusted proxies).
    pub(crate) forwarded_for: Vec<Bytes>,
    /// Every `Forwarded` (RFC 7239) value, in order (only believed from trusted proxies).
    pub(crate) forwarded: Vec<Bytes>,
}

/// The `Stripe-Signature` header as it arrived.
#[derive(Debug, Clone)]
pub(crate) enum SignatureValue {
    Missing,
    One(Bytes),
    /// Sent more than once: a proxy merged two requests, or someone is probing the parser.
    Repeated,
}

impl RequestHead {
    pub(crate) fn from_headers(peer: Option<IpAddr>, headers: &impl HeaderSource) -> Self {
        let mut signature = SignatureValue::Missing;
        headers.for_each_value(STRIPE_SIGNATURE, &mut |value| {
            signature = match signature {
                SignatureValue::Missing => SignatureValue::One(Bytes::copy_from_slice(value)),
                _ => SignatureValue::Repeated,
            };
        });
        let mut content_length = None;
        headers.for_each_value("content-length", &mut |value| {
            content_length = Some(Bytes::copy_from_slice(value));
        });
        let mut forwarded_for = Vec::new();
        headers.for_each_value("x-forwarded-for", &mut |value| {
            forwarded_for.push(Bytes::copy_from_slice(value));
        });
        let mut forwarded = Vec::new();
        headers.for_each_value("forwarded", &mut |value| {
            forwarded.push(Bytes::copy_from_slice(value));
        });
        Self {
            peer,
            signature,
            content_length,
            forwarded_for,
            forwarded,
        }
    }
}

/// A handler's answer, as far as the pipeline cares: did it succeed (2xx)?
pub(crate) trait HandlerOutcome {
    fn is_success(&self) -> bool;
}

impl<B, E> HandlerOutcome for Result<http::Response<B>, E> {
    fn is_success(&self) -> bool {
        matches!(self, Ok(response) if response.status().is_success())
    }
}

/// The engine built from a configuration on first use and shared by every clone of the
/// adapter holding it: one replay cache and one set of rate-limit buckets per configured layer,
/// however many routes (axum) or workers (actix) use it.
#[derive(Clone, Debug, Default)]
pub(crate) struct SharedEngine(Arc<OnceLock<Arc<Engine>>>);

impl SharedEngine {
    pub(crate) fn get(&self, config: &WebhookConfig) -> Arc<Engine> {
        Arc::clone(self.0.get_or_init(|| Arc::new(Engine::new(config.clone()))))
    }
}

/// The frozen configuration, shared by every request (and every actix worker).
#[derive(Debug)]
pub(crate) struct Engine {
    config: WebhookConfig,
    admission: Admission,
    replay: ReplayGuard,
    /// A secret anyone could guess: every request is refused (fail closed).
    weak_secret: bool,
    bodies: BodyBudget,
}

impl Engine {
    pub(crate) fn new(config: WebhookConfig) -> Self {
        let admission = Admission::new(&config.rate_limit);
        let replay = ReplayGuard::new(&config.replay);
        let weak_secret = match config.verifier.weak_secret() {
            Some(weak) => {
                tracing::error!("{weak}; every Stripe webhook request will be refused with 500");
                true
            }
            None => false,
        };
        let bodies = BodyBudget::new(config.body_budget.0, config.body_budget.1);
        Self {
            config,
            admission,
            replay,
            weak_secret,
            bodies,
        }
    }

    /// Runs the pipeline: body, signature, parse, then the handler with the verified event.
    pub(crate) async fn process<S, E, H, Fut, R>(
        &self,
        head: RequestHead,
        body: S,
        handler: H,
    ) -> Result<R, Rejection>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Display,
        H: FnOnce(VerifiedStripeEvent) -> Fut,
        Fut: Future<Output = R>,
        R: HandlerOutcome,
    {
        let peer = head.peer;
        let result = self.run(head, body, handler).await;
        if let Err(rejection) = &result {
            log_rejection(peer, rejection);
            crate::telemetry::rejected(rejection);
        }
        result
    }

    async fn run<S, E, H, Fut, R>(
        &self,
        head: RequestHead,
        body: S,
        handler: H,
    ) -> Result<R, Rejection>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Display,
        H: FnOnce(VerifiedStripeEvent) -> Fut,
        Fut: Future<Output = R>,
        R: HandlerOutcome,
    {
        if self.weak_secret {
            return Err(Rejection::WeakSecret);
        }
        // 1. Who is asking, and may they? Decided before a byte of the body is read.
        let client = self.admission.admit(&head)?;

        // 2. The raw body, bounded in size, time and bytes held at once. A client over its
        // failure budget got here only with a small signed body: hold it to that size.
        let limit = if client.over_failure_budget {
            self.config.body_limit.min(crate::SMALL_SIGNED_BODY)
        } else {
            self.config.body_limit
        };
        // A refused body is read and discarded (bounded) so the `413` reaches a client that is
        // still sending, instead of a connection reset (see `drain`).
        let mut body = std::pin::pin!(body);
        if let Err(rejection) = check_content_length(head.content_length.as_deref(), limit) {
            drain(body.as_mut(), DRAIN_BYTES, DRAIN_TIME).await;
            return Err(rejection);
        }
        // Reserved before a byte is read, released when this request ends.
        let mut reservation = self.bodies.reservation(client.limiter_key());
        let prepaid = declared_length(head.content_length.as_deref())
            .map_or(0, |len| usize::try_from(len).unwrap_or(usize::MAX));
        reservation.grow(prepaid)?;
        let raw = match read_limited(
            body.as_mut(),
            limit,
            self.config.read_timeout,
            &mut reservation,
            prepaid,
        )
        .await
        {
            Ok(raw) => raw,
            Err(rejection) => {
                // A body that never arrives holds a connection and memory: charged like a
                // failed signature.
                if matches!(rejection, Rejection::BodyTimeout { .. }) {
                    self.admission.record_failure(&client);
                }
                if matches!(rejection, Rejection::PayloadTooLarge { .. }) {
                    // A chunked body cut at the limit: let the answer through too.
                    drop(reservation);
                    drain(body.as_mut(), DRAIN_BYTES, DRAIN_TIME).await;
                }
                return Err(rejection);
            }
        };

        // 3. The signature. Only failures that cost a hash are charged to the client's
        // failure budget (see `Admission::record_failure`).
        if let Err(error) = self.verify(&head.signature, &raw) {
            if matches!(
                error,
                VerifyError::SignatureMismatch
                    | VerifyError::TimestampTooOld { .. }
                    | VerifyError::TimestampInFuture { .. }
            ) {
                self.admission.record_failure(&client);
            }
            return Err(error.into());
        }

        // 4. The same bytes become the typed event.
        let event = VerifiedStripeEvent::from_verified_bytes(raw)?;
        tracing::debug!(event_id = event.id(), event_type = %event.event_type(), "verified Stripe event");

        // 5. Claim the event id; 6. run the handler; commit on 2xx, release otherwise.
        self.deliver(event, handler).await
    }

    /// Steps 5 and 6 alone, for an event that is already trusted: one read from Stripe's API by
    /// a backfill goes through the same replay guard as a webhook delivery, so each event is
    /// handled once whichever way it arrived. A panic or a dropped future drops the claim,
    /// which releases it.
    pub(crate) async fn deliver<H, Fut, R>(
        &self,
        event: VerifiedStripeEvent,
        handler: H,
    ) -> Result<R, Rejection>
    where
        H: FnOnce(VerifiedStripeEvent) -> Fut,
        Fut: Future<Output = R>,
        R: HandlerOutcome,
    {
        // One span per delivery around the handler, in both adapters and for backfills, so
        // every line the handler logs carries the event it is about.
        let span = tracing::info_span!(
            "stripe_event",
            event_id = event.id(),
            event_type = %event.event_type()
        );
        let claim = self.replay.claim(&event).instrument(span.clone()).await?;
        let outcome = handler(event).instrument(span.clone()).await;
        crate::telemetry::delivered(outcome.is_success());
        claim.finish(outcome.is_success()).instrument(span).await;
        Ok(outcome)
    }

    fn verify(&self, signature: &SignatureValue, body: &[u8]) -> Result<i64, VerifyError> {
        match signature {
            SignatureValue::Missing => Err(VerifyError::MissingSignature),
            SignatureValue::Repeated => Err(VerifyError::MalformedHeader(
                "the header was sent more than once",
            )),
            SignatureValue::One(value) => self.config.verifier.verify(value, body),
        }
    }
}

fn log_rejection(peer: Option<IpAddr>, rejection: &Rejection) {
    let ip = peer.map(tracing::field::display);
    match rejection {
        Rejection::Duplicate { event_id } => {
            tracing::debug!(event_id = %event_id, "duplicate Stripe event acknowledged")
        }
        Rejection::Verify(_) | Rejection::InvalidEvent(_) => {
            tracing::warn!(
                ip,
                code = rejection.code(),
                "Stripe webhook rejected: {rejection}"
            )
        }
        _ => tracing::info!(
            ip,
            code = rejection.code(),
            "Stripe webhook refused: {rejection}"
        ),
    }
}
