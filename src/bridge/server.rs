//! The `serve` command: the bridge on axum with health, readiness and metrics endpoints, and a
//! graceful shutdown that lets in-flight deliveries finish within a deadline.

use super::metrics::Metrics;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stripe_revenue::{RevenueSync, SyncOutcome};
use stripe_webhook::{Rejection, StripeWebhookLayer, VerifiedStripeEvent};

/// Shared state of the server's routes.
#[derive(Clone)]
pub struct AppState {
    /// The revenue sync.
    pub sync: RevenueSync,
    /// The counters behind `/metrics`.
    pub metrics: Arc<Metrics>,
}

/// The bridge's routes: `POST /api/webhooks/stripe` behind `layer`, `GET /healthz`,
/// `GET /readyz`, `GET /metrics`.
pub fn router(layer: StripeWebhookLayer, sync: RevenueSync, metrics: Arc<Metrics>) -> Router {
    let state = AppState {
        sync,
        metrics: metrics.clone(),
    };
    let webhook = Router::new()
        .route("/api/webhooks/stripe", post(webhook))
        .layer(layer)
        .layer(middleware::from_fn_with_state(metrics, measure));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(render_metrics))
        .merge(webhook)
        .with_state(state)
}

async fn webhook(State(state): State<AppState>, event: VerifiedStripeEvent) -> impl IntoResponse {
    let outcome = state.sync.handle(&event).await;
    match &outcome {
        SyncOutcome::Delivered { sent, already_sent } => {
            state.metrics.record_pulsora("sent", *sent as u64);
            state
                .metrics
                .record_pulsora("already_sent", *already_sent as u64);
        }
        SyncOutcome::Transient(_) => state.metrics.record_pulsora("transient_failure", 1),
        SyncOutcome::Permanent(_) => state.metrics.record_pulsora("permanent_failure", 1),
        _ => {}
    }
    (outcome.status(), Json(outcome.body()))
}

/// Times every webhook answer and counts it by outcome code.
async fn measure(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let outcome = match response.extensions().get::<Rejection>() {
        Some(rejection) => rejection.code().to_owned(),
        None if response.status().is_success() => "ok".to_owned(),
        None => format!("handler_{}", response.status().as_u16()),
    };
    metrics.record_request(&outcome, started.elapsed());
    response
}

async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    // Configuration was validated at start-up; the stores answer their own health below.
    match state.sync.ready().await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "state store unavailable\n"),
    }
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
}

/// Serves until SIGTERM or Ctrl-C, then stops accepting, lets in-flight deliveries finish for up
/// to `deadline`, and returns. Deliveries cut at the deadline are dropped, which releases their
/// replay claims so Stripe's retry is processed after the restart.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    deadline: Duration,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let mut rx = stop_rx;
        let _ = rx.wait_for(|stop| *stop).await;
    });
    let mut server = std::pin::pin!(std::future::IntoFuture::into_future(server));
    tokio::select! {
        result = &mut server => return result,
        () = shutdown_signal() => {
            tracing::info!("shutting down: finishing in-flight deliveries (up to {} s)", deadline.as_secs());
            let _ = stop_tx.send(true);
        }
    }
    match tokio::time::timeout(deadline, &mut server).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!("shutdown deadline reached; cutting the remaining deliveries (their claims are released)");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
