//! [`StripeWebhookMiddleware`]: the per-worker service that hands each request to the engine.

use crate::engine::{Engine, RequestHead};
use crate::event::VerifiedStripeEvent;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse};
use actix_web::error::{ErrorInternalServerError, InternalError};
use actix_web::HttpMessage;
use futures_util::future::LocalBoxFuture;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use super::response::to_actix;

/// The service [`StripeWebhook`](super::StripeWebhook) wraps around a route (one per worker).
///
/// The wrapped service receives the request with the untouched raw body as its payload (so
/// `web::Bytes` extracts exactly what Stripe signed) and the [`VerifiedStripeEvent`] in its
/// extensions. Refusals are answered here, as JSON, without calling it.
#[derive(Debug)]
pub struct StripeWebhookMiddleware<S> {
    // `Rc`: the response future must be `'static` and outlive `&self` (actix services are
    // per-thread, so no `Arc` is needed).
    service: Rc<S>,
    engine: Arc<Engine>,
}

impl<S> StripeWebhookMiddleware<S> {
    pub(crate) fn new(service: Rc<S>, engine: Arc<Engine>) -> Self {
        Self { service, engine }
    }
}

impl<S, B> Service<ServiceRequest> for StripeWebhookMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let head = RequestHead::from_headers(req.peer_addr().map(|a| a.ip()), req.headers());
        let payload = req.take_payload();
        let service = Rc::clone(&self.service);
        let engine = Arc::clone(&self.engine);

        Box::pin(async move {
            // The request waits here while the engine runs: the handler step forwards it, a
            // refusal needs it back to build a `ServiceResponse`. (Keeping a clone of the
            // `HttpRequest` instead would make actix's router panic: it needs the only reference.)
            let waiting = Cell::new(Some(req));
            let forward = |event: VerifiedStripeEvent| {
                let req = waiting.take();
                async move {
                    let Some(mut req) = req else {
                        return Err(ErrorInternalServerError("request already forwarded"));
                    };
                    let raw = event.raw_body().clone();
                    req.extensions_mut().insert(event);
                    req.set_payload(Payload::from(raw));
                    service.call(req).await
                }
            };

            match engine.process(head, payload, forward).await {
                Ok(handled) => handled.map(ServiceResponse::map_into_left_body),
                Err(rejection) => {
                    let response = to_actix(rejection.to_http_response());
                    match waiting.take() {
                        Some(req) => Ok(req.into_response(response).map_into_right_body()),
                        // Unreachable (the engine rejects only before the handler step), but an
                        // error renders the same answer without the request.
                        None => Err(InternalError::from_response(rejection, response).into()),
                    }
                }
            }
        })
    }
}
