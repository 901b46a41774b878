//! Ready-made webhook handlers: put a [`RevenueSync`] in your app's state and route Stripe's
//! webhook to one of these behind the verification middleware, on the webhook route only.
//!
//! | feature | handler |
//! |---|---|
//! | `axum` | `revenue_handler`: `post(revenue_handler)` behind `StripeWebhookLayer` |
//! | `actix-web` | `actix_revenue_handler`: `web::post().to(actix_revenue_handler)` behind `StripeWebhook` |
//!
//! Each is [`RevenueSync::handle`] and the outcome's status and JSON body, nothing else: the
//! rules live in `stripe-revenue`, written once for both frameworks.
//!
//! With a durable store given to [`RevenueSync::outbox`], the handlers acknowledge first
//! (`200` once the events are committed) and the events wait for the delivery worker: start
//! it beside the server with [`RevenueSync::outbox_worker`] (see `stripe_revenue::outbox`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub use stripe_revenue::RevenueSync;
use stripe_revenue::SyncOutcome;

/// The `Retry-After` (seconds) sent with a handler's `503` (state store, Pulsora or its
/// configuration unavailable): the same wait the layer sends with its own `503`
/// ([`DEFAULT_REPLAY_RETRY_AFTER`](stripe_webhook_guard::DEFAULT_REPLAY_RETRY_AFTER)), so every
/// `503` of the route tells Stripe when to come back.
pub const RETRY_AFTER_SECS: u64 = stripe_webhook_guard::DEFAULT_REPLAY_RETRY_AFTER.as_secs();

/// The status, `Retry-After` (for a `503`) and JSON body both handlers answer with: the one
/// place the outcome becomes an HTTP answer.
///
/// ```
/// use stripe_pulsora_handlers::answer;
/// use stripe_revenue::SyncOutcome;
/// let (status, retry_after, body) = answer(&SyncOutcome::Transient("Pulsora timed out".into()));
/// assert_eq!((status, retry_after), (503, Some(10)));
/// assert_eq!(body["error"], "pulsora_unavailable");
/// ```
pub fn answer(outcome: &SyncOutcome) -> (u16, Option<u64>, serde_json::Value) {
    let status = outcome.status().as_u16();
    let retry_after = (status == 503).then_some(RETRY_AFTER_SECS);
    (status, retry_after, outcome.body())
}

#[cfg(feature = "axum")]
mod axum_handler {
    use super::RevenueSync;
    use axum::extract::State;
    use axum::http::{header, HeaderValue, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::Json;
    use stripe_webhook_guard::VerifiedStripeEvent;

    /// The axum handler: maps the verified event and sends it to Pulsora (or, with an
    /// [`outbox`](RevenueSync::outbox), commits it for the worker). Answers `200` when done (or
    /// when Pulsora refused the event for good), `503` when Pulsora or the state store is
    /// unavailable, so the replay claim is released and Stripe retries.
    ///
    /// ```no_run
    /// use axum::{routing::post, Router};
    /// use stripe_pulsora_handlers::{revenue_handler, RevenueSync};
    /// use stripe_webhook_guard::StripeWebhookLayer;
    ///
    /// let sync = RevenueSync::new(pulsora::Revenue::dry_run());
    /// let app: Router = Router::new()
    ///     .route("/api/webhooks/stripe", post(revenue_handler))
    ///     // `route_layer`: only the webhook route is verified; other routes and 404s are untouched.
    ///     .route_layer(StripeWebhookLayer::new("whsec_…"))
    ///     .with_state(sync);
    /// ```
    ///
    /// Acknowledge first, with the delivery worker beside the server (`store`: an
    /// `SqliteStateStore`, `PostgresStateStore`, …):
    ///
    /// ```no_run
    /// use axum::{routing::post, Router};
    /// use stripe_pulsora_handlers::{revenue_handler, RevenueSync};
    /// use stripe_revenue::{outbox::Outbox, KvStateStore};
    /// use stripe_webhook_guard::StripeWebhookLayer;
    ///
    /// fn app<B: Outbox>(store: KvStateStore<B>) -> Router {
    ///     let sync = RevenueSync::new(pulsora::Revenue::dry_run()).outbox(store);
    ///     if let Some(worker) = sync.outbox_worker() {
    ///         tokio::spawn(worker.run(std::future::pending()));
    ///     }
    ///     Router::new()
    ///         .route("/api/webhooks/stripe", post(revenue_handler))
    ///         .route_layer(StripeWebhookLayer::new("whsec_…"))
    ///         .with_state(sync)
    /// }
    /// ```
    pub async fn revenue_handler(
        State(sync): State<RevenueSync>,
        event: VerifiedStripeEvent,
    ) -> Response {
        let outcome = sync.handle(&event).await;
        let (status, retry_after, body) = super::answer(&outcome);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(feature = "axum")]
pub use axum_handler::revenue_handler;

#[cfg(feature = "actix-web")]
mod actix_handler {
    use super::RevenueSync;
    use actix_web::{web, HttpResponse};
    use stripe_webhook_guard::VerifiedStripeEvent;

    /// The actix-web handler, same behaviour as [`revenue_handler`](crate::revenue_handler):
    /// register the sync with `App::app_data(web::Data::new(sync))`.
    ///
    /// ```no_run
    /// use actix_web::{web, App};
    /// use stripe_pulsora_handlers::{actix_revenue_handler, RevenueSync};
    /// use stripe_webhook_guard::StripeWebhook;
    ///
    /// let sync = web::Data::new(RevenueSync::new(pulsora::Revenue::dry_run()));
    /// let app = App::new().app_data(sync.clone()).service(
    ///     // The middleware on the webhook resource only: other routes and 404s are untouched.
    ///     web::resource("/api/webhooks/stripe")
    ///         .wrap(StripeWebhook::new("whsec_…"))
    ///         .route(web::post().to(actix_revenue_handler)),
    /// );
    /// ```
    pub async fn actix_revenue_handler(
        sync: web::Data<RevenueSync>,
        event: VerifiedStripeEvent,
    ) -> HttpResponse {
        let outcome = sync.handle(&event).await;
        let (status, retry_after, body) = super::answer(&outcome);
        let status = actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = HttpResponse::build(status);
        if let Some(seconds) = retry_after {
            response.insert_header((actix_web::http::header::RETRY_AFTER, seconds));
        }
        response.json(body)
    }
}

#[cfg(feature = "actix-web")]
pub use actix_handler::actix_revenue_handler;
