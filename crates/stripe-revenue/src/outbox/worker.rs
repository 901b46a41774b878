//! The delivery worker: leases due rows, sends each once, and records what Pulsora answered.

use super::backoff::{ms, Retries};
use super::clock::{Clock, SystemClock};
use super::store::OutboxStore;
use crate::health::Health;
use crate::store::{ClaimToken, StateError};
use crate::sync::{DeadLetter, LogDeadLetter};
use futures_util::StreamExt;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stripe_pulsora_store::{LeasedRow, Outbox};
use tokio::sync::Notify;

/// Default number of rows leased per pass: 32 (sent 8 at a time; rows not started within half
/// the lease are given back untried).
pub const DEFAULT_BATCH: usize = 32;
/// Default number of rows sent at once: 8 (each from a different queue, so order holds).
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Default lease on a row being sent: 30 s, three times the client's default per-attempt
/// timeout (10 s); a send takes at most one attempt. A worker that dies holding rows (a crash,
/// SIGKILL) gives them up when the lease expires: that is how long they wait.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// Default pause between passes when nothing is due: 1 s (rows committed by a
/// [`RevenueSync`](crate::RevenueSync) of the same process wake the worker at once).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Default pause between probes while Pulsora refuses the token or endpoint: 30 s.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(30);
/// Default interval between refreshes of the outbox gauges: 15 s.
pub const DEFAULT_STATS_INTERVAL: Duration = Duration::from_secs(15);

/// Delivers the outbox to Pulsora: leases due rows (the head of each queue, so one
/// subscription's events go out in ledger order), sends each with one attempt, and records the
/// answer:
///
/// | Pulsora's answer | the row |
/// |---|---|
/// | 2xx | marked sent (its transaction id joins the delivered ids) |
/// | network error, timeout, 5xx, 429, 408, 409, 413, 425 | tried again after a backoff with full jitter ([`Retries`]), at least Pulsora's `Retry-After`; past the horizon (7 days): dead letter |
/// | 400, 422, or an invalid event | dead letter, with Pulsora's message as the reason |
/// | 401, 403, 404, 405, 410, 3xx | stays pending, no attempt counted; delivery stops, logged loudly once, [`RevenueSync::readiness`](crate::RevenueSync::readiness) not ready, gauge `stripe_pulsora_outbox_blocked` = 1; one row is tried every [`probe_interval`](Self::probe_interval) until Pulsora accepts it |
///
/// Several workers (in one process or many, on one PostgreSQL or Redis) share an outbox: a
/// leased row is invisible to the others until its lease ends.
///
/// ```no_run
/// # #[cfg(feature = "sqlite")]
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use stripe_revenue::{RevenueSync, SqliteStateStore};
///
/// let sync = RevenueSync::new(pulsora::Revenue::from_env()?)
///     .outbox(SqliteStateStore::open("/var/lib/stripe-pulsora/state.sqlite3")?);
/// let worker = sync.outbox_worker().expect("an outbox was configured");
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let running = tokio::spawn(worker.run(async move { let _ = stopped.await; }));
/// // … serve webhooks with `sync` …
/// let _ = stop.send(()); // stops between rows; a restart resumes
/// running.await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OutboxWorker {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn OutboxStore>,
    client: pulsora::Revenue,
    health: Arc<Health>,
    wake: Arc<Notify>,
    dead_letter: Arc<dyn DeadLetter>,
    clock: Arc<dyn Clock>,
    retries: Retries,
    batch: usize,
    concurrency: usize,
    lease: Duration,
    poll: Duration,
    probe: Duration,
    stats_every: Duration,
    /// Pulsora's `Retry-After` holds every row back until then (clock ms), not only the one
    /// that got it: the limit is per token and address.
    paused_until_ms: AtomicI64,
}

/// What one [`pass`](OutboxWorker::pass) did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pass {
    /// Rows leased.
    pub leased: usize,
    /// Rows Pulsora accepted and that were marked sent.
    pub sent: usize,
    /// Rows that failed transiently and were rescheduled.
    pub retried: usize,
    /// Rows moved to the dead letters.
    pub dead_lettered: usize,
    /// Rows given back untried (shutdown, or a configuration fault stopped the pass).
    pub released: usize,
    /// `true` when Pulsora refused the token or endpoint during this pass.
    pub blocked: bool,
}

/// What became of one row.
enum Outcome {
    Sent,
    Retried,
    DeadLettered,
    Released,
    Blocked,
    /// The store failed; the lease expires and the row is tried again.
    StoreError,
}

impl OutboxWorker {
    /// A worker for the outbox in `store`, sending with `client` (its per-attempt timeout
    /// applies; its retry settings do not: the worker owns the retries). For a worker beside a
    /// [`RevenueSync`](crate::RevenueSync), prefer
    /// [`RevenueSync::outbox_worker`](crate::RevenueSync::outbox_worker): it shares the
    /// readiness state and is woken by each commit.
    pub fn new<B: Outbox>(client: pulsora::Revenue, store: crate::KvStateStore<B>) -> Self {
        Self::with_parts(
            Arc::new(store),
            client,
            Arc::default(),
            Arc::default(),
            Arc::new(LogDeadLetter),
        )
    }

    pub(crate) fn with_parts(
        store: Arc<dyn OutboxStore>,
        client: pulsora::Revenue,
        health: Arc<Health>,
        wake: Arc<Notify>,
        dead_letter: Arc<dyn DeadLetter>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                client,
                health,
                wake,
                dead_letter,
                clock: Arc::new(SystemClock),
                retries: Retries::default(),
                batch: DEFAULT_BATCH,
                concurrency: DEFAULT_CONCURRENCY,
                lease: DEFAULT_LEASE,
                poll: DEFAULT_POLL_INTERVAL,
                probe: DEFAULT_PROBE_INTERVAL,
                stats_every: DEFAULT_STATS_INTERVAL,
                paused_until_ms: AtomicI64::new(i64::MIN),
            }),
        }
    }

    fn change(self, f: impl FnOnce(&mut Inner)) -> Self {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            store: shared.store.clone(),
            client: shared.client.clone(),
            health: shared.health.clone(),
            wake: shared.wake.clone(),
            dead_letter: shared.dead_letter.clone(),
            clock: shared.clock.clone(),
            retries: shared.retries,
            batch: shared.batch,
            concurrency: shared.concurrency,
            lease: shared.lease,
            poll: shared.poll,
            probe: shared.probe,
            stats_every: shared.stats_every,
            paused_until_ms: AtomicI64::new(shared.paused_until_ms.load(Ordering::SeqCst)),
        });
        let mut inner = inner;
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The clock due times are read from. Default: the system clock. A
    /// [`ManualClock`](super::ManualClock) simulates days in a test.
    #[must_use]
    pub fn clock(self, clock: impl Clock) -> Self {
        self.change(|i| i.clock = Arc::new(clock))
    }

    /// Backoff and horizon. Default: [`Retries::default`] (1 s doubling to 10 min, 7 days).
    #[must_use]
    pub fn retries(self, retries: Retries) -> Self {
        self.change(|i| i.retries = retries)
    }

    /// Rows leased per pass. Default [`DEFAULT_BATCH`].
    #[must_use]
    pub fn batch(self, rows: usize) -> Self {
        self.change(|i| i.batch = rows.max(1))
    }

    /// Rows sent at once. Default [`DEFAULT_CONCURRENCY`].
    #[must_use]
    pub fn concurrency(self, rows: usize) -> Self {
        self.change(|i| i.concurrency = rows.max(1))
    }

    /// Lease on a row being sent. Default [`DEFAULT_LEASE`]; keep it well above the client's
    /// per-attempt timeout.
    #[must_use]
    pub fn lease(self, lease: Duration) -> Self {
        self.change(|i| i.lease = lease)
    }

    /// Pause between passes when nothing is due. Default [`DEFAULT_POLL_INTERVAL`].
    #[must_use]
    pub fn poll_interval(self, every: Duration) -> Self {
        self.change(|i| i.poll = every)
    }

    /// Pause between probes while Pulsora refuses the token or endpoint. Default
    /// [`DEFAULT_PROBE_INTERVAL`].
    #[must_use]
    pub fn probe_interval(self, every: Duration) -> Self {
        self.change(|i| i.probe = every)
    }

    /// Interval between refreshes of the outbox gauges. Default [`DEFAULT_STATS_INTERVAL`].
    #[must_use]
    pub fn stats_interval(self, every: Duration) -> Self {
        self.change(|i| i.stats_every = every)
    }

    /// The configuration fault that stopped delivery (401/403/404/3xx), until Pulsora accepts
    /// an event again.
    pub fn fault(&self) -> Option<String> {
        self.inner.health.fault()
    }

    /// Runs passes until `shutdown` completes, then stops between rows: rows being sent finish
    /// (one attempt each, bounded by the client's timeout), rows leased but not started are
    /// given back. Rows left pending are sent by the next run. Store errors are logged and
    /// retried after the poll interval.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let stop = AtomicBool::new(false);
        let mut shutdown = std::pin::pin!(shutdown);
        let mut stats_at = Instant::now();
        self.refresh_metrics().await;
        tracing::info!(
            batch = self.inner.batch,
            concurrency = self.inner.concurrency,
            horizon_s = self.inner.retries.horizon.as_secs(),
            "outbox worker started"
        );
        loop {
            let pass = self.pass_until(&stop);
            let mut pass = std::pin::pin!(pass);
            let result = tokio::select! {
                result = &mut pass => result,
                () = &mut shutdown => {
                    stop.store(true, Ordering::SeqCst);
                    pass.await
                }
            };
            if stop.load(Ordering::SeqCst) {
                break;
            }
            if stats_at.elapsed() >= self.inner.stats_every {
                stats_at = Instant::now();
                self.refresh_metrics().await;
            }
            let wait = match &result {
                Err(error) => {
                    tracing::warn!(%error, "outbox pass failed; trying again");
                    self.inner.poll
                }
                Ok(pass) if pass.blocked || self.inner.health.fault().is_some() => self.inner.probe,
                // A full batch: more may be due at once.
                Ok(pass) if pass.leased >= self.inner.batch => continue,
                Ok(_) => self.pause_left().unwrap_or(self.inner.poll),
            };
            let woken = self.inner.wake.notified();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                // New rows: no need to wait out the poll interval (but keep the probe pace and
                // any Retry-After pause).
                () = woken, if self.inner.health.fault().is_none() && self.pause_left().is_none() => {}
                () = &mut shutdown => break,
            }
        }
        self.refresh_metrics().await;
        tracing::info!("outbox worker stopped");
    }

    /// One pass: leases the due rows (one row, a probe, while Pulsora refuses the
    /// configuration) and delivers them. Deterministic, for tests and simulations with a
    /// [`ManualClock`](super::ManualClock); [`run`](Self::run) calls it in a loop.
    pub async fn pass(&self) -> Result<Pass, StateError> {
        self.pass_until(&AtomicBool::new(false)).await
    }

    async fn pass_until(&self, stop: &AtomicBool) -> Result<Pass, StateError> {
        let inner = &self.inner;
        let mut pass = Pass::default();
        if self.pause_left().is_some() {
            return Ok(pass);
        }
        let limit = if inner.health.fault().is_some() {
            1
        } else {
            inner.batch
        };
        let token = ClaimToken::new();
        let now = inner.clock.now_ms();
        let rows = inner
            .store
            .lease_due(now, limit, token, inner.lease)
            .await?;
        let leased_at = Instant::now();
        pass.leased = rows.len();
        // Rows of one pass belong to different queues (each is the head of its own), so they
        // may go out at once without breaking any queue's order.
        let blocked = AtomicBool::new(false);
        let outcomes: Vec<Outcome> = futures_util::stream::iter(rows)
            .map(|row| self.deliver(row, token, stop, &blocked, leased_at))
            .buffer_unordered(inner.concurrency)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Outcome::Sent => pass.sent += 1,
                Outcome::Retried => pass.retried += 1,
                Outcome::DeadLettered => pass.dead_lettered += 1,
                Outcome::Released => pass.released += 1,
                Outcome::Blocked => {
                    pass.released += 1;
                    pass.blocked = true;
                }
                Outcome::StoreError => {}
            }
        }
        Ok(pass)
    }

    async fn deliver(
        &self,
        leased: LeasedRow,
        token: ClaimToken,
        stop: &AtomicBool,
        blocked: &AtomicBool,
        leased_at: Instant,
    ) -> Outcome {
        let inner = &self.inner;
        let id = leased.row.id.as_str();
        // Between rows: a shutdown or a refused configuration gives the rest back untried. So
        // does a lease half spent waiting for the rows before it (Pulsora hanging): a send is
        // never started on a lease that could end before it.
        if stop.load(Ordering::SeqCst)
            || blocked.load(Ordering::SeqCst)
            || leased_at.elapsed() > inner.lease / 2
        {
            return self.release(id, token).await;
        }
        let event: pulsora::RevenueEvent = match serde_json::from_str(&leased.row.payload) {
            Ok(event) => event,
            Err(error) => {
                let reason = format!("unreadable outbox payload: {error}");
                return self.bury(&leased, None, token, &reason).await;
            }
        };
        let result = inner.client.track_once(&event).await;
        let now = inner.clock.now_ms();
        match result {
            Ok(_) => {
                if inner.health.clear() {
                    crate::telemetry::outbox_blocked(false);
                    tracing::info!("Pulsora accepts events again: outbox delivery resumes");
                }
                match inner.store.mark_sent(id, token, now).await {
                    Ok(true) => {
                        crate::telemetry::delivery("sent");
                        Outcome::Sent
                    }
                    Ok(false) => {
                        // Our lease had ended and another worker took the row: it may be sent
                        // twice (same transaction id).
                        crate::telemetry::delivery("lease_lost");
                        tracing::warn!(
                            transaction_id = id,
                            "outbox row sent after its lease ended; it may be sent twice \
                             (raise the lease above the client's timeout)"
                        );
                        Outcome::Sent
                    }
                    Err(error) => {
                        crate::telemetry::delivery("store_error");
                        tracing::warn!(transaction_id = id, %error,
                            "sent, but not marked sent: the row is sent again after its lease (same transaction id)");
                        Outcome::StoreError
                    }
                }
            }
            Err(error) if error.is_misconfiguration() => {
                blocked.store(true, Ordering::SeqCst);
                let reason = error.to_string();
                if inner.health.set_fault(&reason) {
                    crate::telemetry::outbox_blocked(true);
                    tracing::error!(
                        status = error.status(),
                        transaction_id = id,
                        "PULSORA REFUSED THE CONFIGURATION (token or endpoint): {reason}. Outbox \
                         delivery is stopped and every row stays pending; fix PULSORA_API_TOKEN / \
                         PULSORA_ENDPOINT. /readyz is not ready until Pulsora accepts an event \
                         (one row is tried every {} s).",
                        inner.probe.as_secs()
                    );
                }
                crate::telemetry::delivery("configuration_fault");
                match self.release(id, token).await {
                    Outcome::StoreError => Outcome::StoreError,
                    _ => Outcome::Blocked,
                }
            }
            Err(error) if error.is_transient() => {
                let retry_after = error.retry_after();
                if let Some(wait) = retry_after {
                    self.pause_for(now, wait);
                }
                let failures = leased.attempts.saturating_add(1);
                let message = error.to_string();
                match inner
                    .retries
                    .next_due(now, leased.enqueued_at_ms, failures, retry_after)
                {
                    Some(due) => match inner.store.reschedule(id, token, due, &message).await {
                        Ok(_) => {
                            crate::telemetry::delivery("retry");
                            tracing::debug!(
                                transaction_id = id,
                                attempts = failures,
                                due_in_ms = due - now,
                                "Pulsora delivery failed; rescheduled: {message}"
                            );
                            Outcome::Retried
                        }
                        Err(error) => self.store_error(id, &error),
                    },
                    None => {
                        let reason = format!(
                            "not delivered within the {} h horizon ({failures} attempts); last error: {message}",
                            inner.retries.horizon.as_secs() / 3600
                        );
                        self.bury(&leased, Some(&event), token, &reason).await
                    }
                }
            }
            Err(error) => {
                let reason = error.to_string();
                self.bury(&leased, Some(&event), token, &reason).await
            }
        }
    }

    async fn release(&self, id: &str, token: ClaimToken) -> Outcome {
        match self.inner.store.release_lease(id, token).await {
            Ok(_) => Outcome::Released,
            Err(error) => self.store_error(id, &error),
        }
    }

    /// Moves a row to the dead letters and tells the dead-letter hook.
    async fn bury(
        &self,
        leased: &LeasedRow,
        event: Option<&pulsora::RevenueEvent>,
        token: ClaimToken,
        reason: &str,
    ) -> Outcome {
        let inner = &self.inner;
        let id = leased.row.id.as_str();
        match inner
            .store
            .dead_letter(id, token, reason, inner.clock.now_ms())
            .await
        {
            Ok(_) => {
                crate::telemetry::delivery("dead_letter");
                inner
                    .dead_letter
                    .dead_letter(&leased.row.stripe_event_id, event, reason);
                Outcome::DeadLettered
            }
            Err(error) => self.store_error(id, &error),
        }
    }

    fn store_error(&self, id: &str, error: &StateError) -> Outcome {
        crate::telemetry::delivery("store_error");
        tracing::warn!(transaction_id = id, %error, "outbox store failed; the row is tried again after its lease");
        Outcome::StoreError
    }

    fn pause_for(&self, now: i64, wait: Duration) {
        let until = now.saturating_add(ms(wait));
        self.inner
            .paused_until_ms
            .fetch_max(until, Ordering::SeqCst);
    }

    /// How long Pulsora's last `Retry-After` still holds every row back, if it does.
    fn pause_left(&self) -> Option<Duration> {
        let until = self.inner.paused_until_ms.load(Ordering::SeqCst);
        let now = self.inner.clock.now_ms();
        (until > now).then(|| Duration::from_millis(u64::try_from(until - now).unwrap_or(0)))
    }

    /// Reads the outbox's depth, oldest pending row and dead letters into the gauges.
    pub async fn refresh_metrics(&self) {
        match self.inner.store.stats().await {
            Ok(stats) => {
                let now = self.inner.clock.now_ms();
                crate::telemetry::outbox_stats(&stats, now);
            }
            Err(error) => tracing::warn!(%error, "outbox statistics unavailable"),
        }
    }
}

impl fmt::Debug for OutboxWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("OutboxWorker")
            .field("client", &inner.client)
            .field("retries", &inner.retries)
            .field("batch", &inner.batch)
            .field("concurrency", &inner.concurrency)
            .field("lease", &inner.lease)
            .finish_non_exhaustive()
    }
}
