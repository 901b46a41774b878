//! The `serve` command: the bridge on axum with health, readiness and metrics endpoints, and a
//! graceful shutdown that lets in-flight deliveries finish within a deadline.

pub use super::connections::ConnectionLimits;
use super::metrics::Metrics;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stripe_revenue::RevenueSync;
use stripe_webhook_guard::{Rejection, StripeWebhookLayer, VerifiedStripeEvent};

/// Shared state of the server's routes.
#[derive(Clone)]
pub struct AppState {
    /// The revenue sync.
    pub sync: RevenueSync,
    /// The counters behind `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The SQLite file the stores live in, if any: `/readyz` checks it is still there (an open
    /// connection keeps writing to a deleted file, and everything is lost at the next restart).
    pub store_file: Option<std::path::PathBuf>,
}

/// The bridge's routes for everything [`Bridge::from_config`](super::Bridge::from_config)
/// built: see [`router`]. When the bridge acknowledges first and its outbox worker is still in
/// [`Bridge::worker`](super::Bridge::worker), the worker is started here and runs as long as
/// the runtime; take it out first to stop it yourself on shutdown (the binary does).
pub fn app(mut bridge: super::Bridge) -> Router {
    if let Some(worker) = bridge.worker.take() {
        tokio::spawn(worker.run(std::future::pending()));
    }
    router_with(
        AppState {
            sync: bridge.sync,
            metrics: bridge.metrics,
            store_file: bridge.store_file,
        },
        bridge.layer,
    )
}

/// The bridge's routes: `POST /api/webhooks/stripe` behind `layer`, `GET /healthz`,
/// `GET /readyz`, `GET /metrics`.
pub fn router(layer: StripeWebhookLayer, sync: RevenueSync, metrics: Arc<Metrics>) -> Router {
    router_with(
        AppState {
            sync,
            metrics,
            store_file: None,
        },
        layer,
    )
}

fn router_with(state: AppState, layer: StripeWebhookLayer) -> Router {
    let metrics = state.metrics.clone();
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

/// The ready-made handler (status, `Retry-After` on a `503`, JSON body), on the server's state.
async fn webhook(State(state): State<AppState>, event: VerifiedStripeEvent) -> Response {
    // The sync counts its own outcomes (`stripe_pulsora_pulsora_events_total`).
    stripe_pulsora::revenue_handler(State(state.sync), event).await
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

/// Ready when a delivery could succeed now: the store file is there, the state store answers a
/// real read and write, and Pulsora has not refused the token or endpoint since the last
/// accepted event. The body says which check failed (never a secret).
async fn ready(State(state): State<AppState>) -> (StatusCode, String) {
    let unavailable = |reason: String| (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n"));
    if let Some(path) = &state.store_file {
        if !path.is_file() {
            return unavailable(format!(
                "state store unavailable: {} is missing",
                path.display()
            ));
        }
    }
    match state.sync.readiness().await {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(not_ready) => unavailable(not_ready.to_string()),
    }
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(state.sync.pulsora_fault().is_some()),
    )
}

/// Serves until SIGTERM or Ctrl-C, then stops accepting, lets in-flight deliveries finish for up
/// to `deadline`, and returns.
///
/// Deliveries still running at the deadline are cut *inside* the runtime (their tasks are
/// aborted and awaited), so each one drops its replay claim while the runtime can still run the
/// release: Stripe's retry is processed after the restart instead of waiting out the lease.
/// (`axum::serve` would leave such connections to be dropped by the runtime's own shutdown, when
/// nothing can run any more.)
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    deadline: Duration,
) -> std::io::Result<()> {
    serve_until(listener, app, deadline, shutdown_signal()).await
}

/// [`serve`] with the shutdown trigger given by the caller (tests restart a server this way),
/// with the default [`ConnectionLimits`].
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    app: Router,
    deadline: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(
        listener,
        app,
        deadline,
        ConnectionLimits::default(),
        shutdown,
    )
    .await
}

/// [`serve`] with the limits from the environment ([`ConnectionLimits::from_config`]): what
/// the binary and the axum example run.
pub async fn serve_configured(
    listener: tokio::net::TcpListener,
    app: Router,
    config: &super::EnvConfig,
) -> std::io::Result<()> {
    let limits = ConnectionLimits::from_config(config);
    serve_with(
        listener,
        app,
        config.shutdown_deadline,
        limits,
        shutdown_signal(),
    )
    .await
}

/// The accept loop: every connection gets the client address (`ConnectInfo`) and the
/// `limits` (header and idle timeout, connection caps, backed-off accept errors); see
/// [`ConnectionLimits`]. Stops accepting when `shutdown` completes, then lets in-flight
/// deliveries finish for up to `deadline` and cuts the rest.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: Router,
    deadline: Duration,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    use super::connections::{accept_backoff, Burst, OpenConnections};
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    let mut stop = std::pin::pin!(shutdown);
    let open = Arc::new(OpenConnections::default());
    let (mut accept_errors, mut shed) = (Burst::default(), Burst::default());
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: back off instead of spinning,
                        // and say so once per burst, not 20 times a second.
                        if accept_errors.hit() {
                            tracing::warn!("accept failed: {error}; backing off (logged once per burst)");
                        }
                        tokio::time::sleep(accept_backoff(accept_errors.count())).await;
                        continue;
                    }
                };
                let failed = accept_errors.end();
                if failed > 0 {
                    tracing::warn!(failed, "accepting connections again after {failed} failed accepts");
                }
                let admitted = match open.admit(peer.ip(), &limits) {
                    Ok(admitted) => {
                        let shed_count = shed.end();
                        if shed_count > 0 {
                            tracing::info!(shed = shed_count, "connection caps: {shed_count} connections were closed at once");
                        }
                        admitted
                    }
                    Err(cap) => {
                        if shed.hit() {
                            tracing::warn!(ip = %peer.ip(), "connection cap ({cap}) reached: new connections are closed at once (logged once per burst)");
                        }
                        drop(stream);
                        continue;
                    }
                };
                let service = app.clone().layer(axum::Extension(axum::extract::ConnectInfo(peer)));
                let connection = http1.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
                let connection = graceful.watch(connection);
                connections.spawn(async move {
                    let _ = connection.await;
                    drop(admitted);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut stop => break,
        }
    }
    drop(listener);
    tracing::info!(
        "shutting down: finishing in-flight deliveries (up to {} s)",
        deadline.as_secs()
    );
    if tokio::time::timeout(deadline, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown deadline reached; cutting the remaining deliveries (their claims are released)");
        connections.abort_all();
    }
    while connections.join_next().await.is_some() {}
    Ok(())
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
