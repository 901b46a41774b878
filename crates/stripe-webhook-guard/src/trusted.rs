//! Events that did not arrive over HTTP: read from Stripe's API (a backfill after an outage),
//! they need no signature, but they must meet the same replay guard as webhook deliveries, or
//! an event delivered both ways would be handled twice.

use crate::engine::HandlerOutcome;
use crate::event::VerifiedStripeEvent;
use crate::rejection::Rejection;
use std::future::Future;

/// A handler's `Result`, judged by `is_ok` (an `Ok` commits the claim, an `Err` releases it).
struct Judged<T, E>(Result<T, E>);

impl<T, E> HandlerOutcome for Judged<T, E> {
    fn is_success(&self) -> bool {
        self.0.is_ok()
    }
}

impl<A> crate::Webhook<A> {
    /// Runs `handler` for an event that is already trusted (read from Stripe's API with your
    /// key, not received over HTTP), through this layer's replay guard: the event id is claimed
    /// first, the claim is committed when the handler returns `Ok` and released on `Err` (or a
    /// panic, or the future being dropped), exactly as for a webhook delivery answered 2xx or
    /// not. An event already processed, by webhook or an earlier run, comes back as
    /// `Err(Rejection::Duplicate)` without calling the handler.
    ///
    /// Signature, body and rate-limit checks are skipped: they guard the HTTP edge, and this
    /// event never crossed it. Only hand it events you fetched from Stripe yourself.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use bytes::Bytes;
    /// use stripe_webhook_guard::{Rejection, StripeWebhookLayer, VerifiedStripeEvent};
    ///
    /// let layer = StripeWebhookLayer::new("whsec_0123456789abcdef0123456789abcdef");
    /// let body = r#"{"id":"evt_1","object":"event","type":"invoice.paid","created":1,"data":{"object":{"id":"in_1"}}}"#;
    /// let event = || VerifiedStripeEvent::from_verified_bytes(Bytes::from_static(body.as_bytes())).unwrap();
    ///
    /// let first = layer.deliver_trusted(event(), |e| async move { Ok::<_, ()>(e.id().to_owned()) }).await;
    /// assert_eq!(first.unwrap(), Ok("evt_1".to_owned()));
    /// let again = layer.deliver_trusted(event(), |_| async { Ok::<_, ()>(String::new()) }).await;
    /// assert!(matches!(again, Err(Rejection::Duplicate { .. })));
    /// # }
    /// ```
    pub async fn deliver_trusted<H, Fut, T, E>(
        &self,
        event: VerifiedStripeEvent,
        handler: H,
    ) -> Result<Result<T, E>, Rejection>
    where
        H: FnOnce(VerifiedStripeEvent) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let engine = self.engine();
        let judged = engine
            .deliver(event, |event| async move { Judged(handler(event).await) })
            .await?;
        Ok(judged.0)
    }
}
