//! `RevenueSync`: the async glue from a verified event to Pulsora.
//!
//! Per event: load the state of its customer/subscription/charge, map (pure), send each revenue
//! event not yet delivered, remember the new state. The outcome decides the webhook's answer:
//!
//! - a transient failure (Pulsora unreachable, 5xx, 429, 408, 409, 413, 425, an unknown status,
//!   or the inline budget spent) answers `503 pulsora_unavailable`, so the replay claim is
//!   released and Stripe retries;
//! - the state store down answers `503 state_store_unavailable`;
//! - Pulsora refusing the token (401, 403) or the endpoint being wrong (404, 3xx) answers
//!   `503 pulsora_misconfigured`: nothing is marked sent, the event is kept for Stripe's retry,
//!   the fault is logged at `error` and [`RevenueSync::readiness`] reports it until an event is
//!   accepted again;
//! - only a refusal of the payload itself (400, 422) or an unreadable event goes to the
//!   dead-letter hook and answers `200`, so Stripe does not retry a hopeless event for three days.
//!
//! Pulsora's part of one answer is bounded ([`RevenueSync::inline_budget`], default 9 s), so
//! Stripe gets its answer well inside its own timeout.
//!
//! With a durable store given to [`RevenueSync::outbox`], the same mapping ends differently:
//! the state update and the revenue events are committed together to the outbox and the answer
//! is `200` at once ([`SyncOutcome::Queued`]); an [`OutboxWorker`](crate::outbox::OutboxWorker)
//! delivers them (see [`crate::outbox`]).

use crate::held::{Held, Kind};
use crate::kv::MemoryStateStore;
use crate::map::{map_event, subjects, MapError};
use crate::outbox::store::OutboxStore;
use crate::outbox::Clock;
use crate::policy::Policy;
use crate::store::{ClaimOutcome, ClaimToken, StateError, StateStore};
use http::StatusCode;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use stripe_webhook_guard::VerifiedStripeEvent;

/// What happened to an event.
#[derive(Debug)]
#[non_exhaustive]
pub enum SyncOutcome {
    /// These revenue events were committed to the outbox with the state update (acknowledge
    /// first, [`RevenueSync::outbox`]); the worker delivers them.
    Queued {
        /// Rows added to the outbox.
        queued: usize,
        /// Revenue events skipped because their transaction id was already pending, dead or
        /// sent.
        already: usize,
    },
    /// These revenue events were delivered (possibly none: not a revenue event, or already sent).
    Delivered {
        /// How many were sent now.
        sent: usize,
        /// How many were skipped because an earlier delivery already sent them.
        already_sent: usize,
    },
    /// Worth retrying: answer `503` so Stripe redelivers.
    Transient(String),
    /// The state store failed: answer `503` so Stripe redelivers.
    StoreUnavailable(String),
    /// Pulsora refused the token or the endpoint: answer `503` (the event is kept, nothing is
    /// marked sent) until an operator fixes the configuration.
    Misconfigured(String),
    /// Not worth retrying: handed to the dead-letter hook, answer `200`.
    Permanent(String),
    /// Outside the revenue scope (test mode, live mode, a Connect account): acknowledged with
    /// `200`, nothing sent. See [`crate::scope`].
    Ignored(crate::Ignored),
}

impl SyncOutcome {
    /// The webhook status for this outcome.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Transient(_) | Self::StoreUnavailable(_) | Self::Misconfigured(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::OK,
        }
    }

    /// A small JSON body for the webhook answer.
    pub fn body(&self) -> serde_json::Value {
        match self {
            Self::Delivered { sent, already_sent } => {
                serde_json::json!({ "received": true, "sent": sent, "already_sent": already_sent })
            }
            Self::Queued { queued, already } => {
                serde_json::json!({ "received": true, "queued": queued, "already_sent": already })
            }
            Self::Transient(reason) => {
                serde_json::json!({ "error": "pulsora_unavailable", "message": reason })
            }
            Self::StoreUnavailable(reason) => {
                serde_json::json!({ "error": "state_store_unavailable", "message": reason })
            }
            // The reason names the status and Pulsora's message, never the token.
            Self::Misconfigured(reason) => {
                serde_json::json!({ "error": "pulsora_misconfigured", "message": reason })
            }
            Self::Permanent(reason) => {
                serde_json::json!({ "received": true, "dead_lettered": reason })
            }
            Self::Ignored(reason) => {
                serde_json::json!({ "received": true, "ignored": reason.as_str() })
            }
        }
    }
}

/// Receives what could not be delivered and never will be (Pulsora refused it as invalid).
pub trait DeadLetter: Send + Sync + 'static {
    /// Called once per refused revenue event (or unreadable Stripe event).
    fn dead_letter(
        &self,
        stripe_event_id: &str,
        revenue_event: Option<&pulsora::RevenueEvent>,
        reason: &str,
    );
}

/// The default dead-letter hook: an `error` log line with the ids (never a token).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogDeadLetter;

impl DeadLetter for LogDeadLetter {
    fn dead_letter(
        &self,
        stripe_event_id: &str,
        revenue_event: Option<&pulsora::RevenueEvent>,
        reason: &str,
    ) {
        tracing::error!(
            event_id = stripe_event_id,
            transaction_id = revenue_event.map(|e| e.transaction_id.as_str()),
            "revenue event dead-lettered: {reason}"
        );
    }
}

/// Sends verified Stripe events to Pulsora. Cheap to clone.
///
/// ```no_run
/// # async fn demo(event: stripe_webhook_guard::VerifiedStripeEvent) {
/// use stripe_revenue::RevenueSync;
/// let sync = RevenueSync::new(pulsora::Revenue::dry_run());
/// let outcome = sync.handle(&event).await;
/// println!("{} {}", outcome.status(), outcome.body());
/// # }
/// ```
#[derive(Clone)]
pub struct RevenueSync {
    inner: Arc<Inner>,
}

struct Inner {
    client: pulsora::Revenue,
    policy: Policy,
    store: Arc<dyn StateStore>,
    dead_letter: Arc<dyn DeadLetter>,
    /// Events about one subscription or charge are mapped one at a time (read-modify-write of
    /// its ledger); different subjects proceed in parallel.
    stripes: Vec<tokio::sync::Mutex<()>>,
    /// Pulsora's part of one answer, retries included.
    inline_budget: std::time::Duration,
    /// Shared with the outbox worker: a configuration fault either one sees is readiness's.
    health: Arc<crate::health::Health>,
    /// Acknowledge first: where the revenue events go instead of Pulsora.
    outbox: Option<Arc<dyn OutboxStore>>,
    /// Wakes this process's outbox worker when rows were committed.
    wake: Arc<tokio::sync::Notify>,
    #[cfg(feature = "stripe-api")]
    stripe_api: Option<crate::StripeApi>,
}

impl fmt::Debug for RevenueSync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevenueSync")
            .field("client", &self.inner.client)
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

const STRIPES: usize = 64;

struct InnerParts {
    client: pulsora::Revenue,
    policy: Policy,
    store: Arc<dyn StateStore>,
    dead_letter: Arc<dyn DeadLetter>,
    outbox: Option<Arc<dyn OutboxStore>>,
    #[cfg(feature = "stripe-api")]
    stripe_api: Option<crate::StripeApi>,
}

impl RevenueSync {
    /// A sync with the default policy, in-memory state and the logging dead-letter hook.
    pub fn new(client: pulsora::Revenue) -> Self {
        Self::with_parts(
            client,
            Policy::default(),
            Arc::new(MemoryStateStore::new()),
            Arc::new(LogDeadLetter),
        )
    }

    fn with_parts(
        client: pulsora::Revenue,
        policy: Policy,
        store: Arc<dyn StateStore>,
        dead_letter: Arc<dyn DeadLetter>,
    ) -> Self {
        let stripes = (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect();
        // No mode chosen: live when sending with a token, any in a dry run.
        let policy = policy.resolve_livemode(client.is_dry_run());
        Self {
            inner: Arc::new(Inner {
                client,
                policy,
                store,
                dead_letter,
                stripes,
                inline_budget: crate::health::DEFAULT_INLINE_BUDGET,
                health: Arc::default(),
                outbox: None,
                wake: Arc::default(),
                #[cfg(feature = "stripe-api")]
                stripe_api: None,
            }),
        }
    }

    fn rebuild(&self, change: impl FnOnce(&mut InnerParts)) -> Self {
        let i = &self.inner;
        let mut parts = InnerParts {
            client: i.client.clone(),
            policy: i.policy.clone(),
            store: i.store.clone(),
            dead_letter: i.dead_letter.clone(),
            outbox: i.outbox.clone(),
            #[cfg(feature = "stripe-api")]
            stripe_api: i.stripe_api.clone(),
        };
        change(&mut parts);
        #[allow(unused_mut)]
        let mut sync = Self::with_parts(parts.client, parts.policy, parts.store, parts.dead_letter);
        if let Some(inner) = Arc::get_mut(&mut sync.inner) {
            inner.inline_budget = i.inline_budget;
            inner.outbox = parts.outbox;
            #[cfg(feature = "stripe-api")]
            {
                inner.stripe_api = parts.stripe_api;
            }
        }
        sync
    }

    /// Replaces the mapping policy.
    #[must_use]
    pub fn policy(self, policy: Policy) -> Self {
        self.rebuild(|p| p.policy = policy)
    }

    /// Replaces the state store (use a persistent one when the process restarts or scales out).
    /// Events are still sent inline, before the answer; see [`outbox`](Self::outbox) to
    /// acknowledge first. Replaces an outbox set before.
    #[must_use]
    pub fn state_store(self, store: impl StateStore) -> Self {
        self.rebuild(|p| {
            p.store = Arc::new(store);
            p.outbox = None;
        })
    }

    /// Acknowledge first: `store` (SQLite, PostgreSQL or Redis) becomes the state store *and*
    /// the outbox. Each webhook commits its state update and its revenue events in one
    /// transaction and is answered `200` at once; Pulsora is never awaited on Stripe's request.
    /// Opt-in, because the events then wait for an [`OutboxWorker`](crate::outbox::OutboxWorker):
    /// run the one [`outbox_worker`](Self::outbox_worker) returns (the `stripe-pulsora` binary
    /// does). Without it (or with the in-memory store), delivery stays inline. See
    /// [`crate::outbox`].
    ///
    /// ```no_run
    /// # #[cfg(feature = "sqlite")]
    /// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use stripe_revenue::{RevenueSync, SqliteStateStore};
    /// let sync = RevenueSync::new(pulsora::Revenue::from_env()?)
    ///     .outbox(SqliteStateStore::open("state.sqlite3")?);
    /// assert!(sync.outbox_worker().is_some());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn outbox<B: stripe_pulsora_store::Outbox>(self, store: crate::KvStateStore<B>) -> Self {
        let store = Arc::new(store);
        self.rebuild(|p| {
            p.store = store.clone();
            p.outbox = Some(store);
        })
    }

    /// The worker that delivers this sync's outbox, sharing its Pulsora client, readiness and
    /// dead-letter hook, and woken by each commit; `None` without [`outbox`](Self::outbox).
    pub fn outbox_worker(&self) -> Option<crate::outbox::OutboxWorker> {
        let inner = &self.inner;
        inner.outbox.as_ref().map(|store| {
            crate::outbox::OutboxWorker::with_parts(
                store.clone(),
                inner.client.clone(),
                inner.health.clone(),
                inner.wake.clone(),
                inner.dead_letter.clone(),
            )
        })
    }

    /// `true` when webhooks are acknowledged first (an outbox is configured).
    pub fn acknowledges_first(&self) -> bool {
        self.inner.outbox.is_some()
    }

    /// Replaces the dead-letter hook.
    #[must_use]
    pub fn dead_letter(self, hook: impl DeadLetter) -> Self {
        self.rebuild(|p| p.dead_letter = Arc::new(hook))
    }

    /// Looks attribution up with the Stripe API when neither the event nor earlier events name
    /// the visit (feature `stripe-api`). The answer is remembered for the customer and the
    /// subscription, so Stripe is asked once per customer.
    #[cfg(feature = "stripe-api")]
    #[must_use]
    pub fn stripe_api(self, api: crate::StripeApi) -> Self {
        self.rebuild(|p| p.stripe_api = Some(api))
    }

    /// Bounds Pulsora's part of one webhook answer: every attempt, backoff and `Retry-After`
    /// wait of every revenue event the Stripe event maps to. Default 9 s
    /// ([`DEFAULT_INLINE_BUDGET`](crate::DEFAULT_INLINE_BUDGET)); when it runs out the answer
    /// is `503` and Stripe retries.
    #[must_use]
    pub fn inline_budget(self, budget: std::time::Duration) -> Self {
        let mut sync = self.rebuild(|_| {});
        if let Some(inner) = Arc::get_mut(&mut sync.inner) {
            inner.inline_budget = budget;
        }
        sync
    }

    /// Whether the state store answers (a ping).
    pub async fn ready(&self) -> Result<(), StateError> {
        self.inner.store.ping().await
    }

    /// Whether a delivery can succeed now (readiness probes): the state store answers a real
    /// read and write, and Pulsora has not refused the token or endpoint since the last
    /// accepted event.
    pub async fn readiness(&self) -> Result<(), crate::NotReady> {
        use crate::health::PROBE_TRANSACTION_ID as PROBE;
        let store = &self.inner.store;
        // A real write and read: a claim of the probe id, given back at once.
        let probe = async {
            store.ping().await?;
            let token = ClaimToken::new();
            if store.claim_sent(PROBE, token).await? == ClaimOutcome::Claimed {
                store.release_sent(PROBE, token).await?;
            }
            Ok::<_, StateError>(())
        };
        if let Err(error) = probe.await {
            return Err(crate::NotReady::StateStore(error.to_string()));
        }
        match self.inner.health.fault() {
            Some(reason) => Err(crate::NotReady::PulsoraMisconfigured(reason)),
            None => Ok(()),
        }
    }

    /// The configuration fault Pulsora last reported (401/403/404/3xx), until an event is
    /// accepted again. For metrics and alerts.
    pub fn pulsora_fault(&self) -> Option<String> {
        self.inner.health.fault()
    }

    /// The state store and the resolved policy (for reconcile).
    #[cfg(feature = "stripe-api")]
    pub(crate) fn state_and_policy(&self) -> (&dyn StateStore, &Policy) {
        (self.inner.store.as_ref(), &self.inner.policy)
    }

    /// Maps one verified event and delivers the result.
    pub async fn handle(&self, event: &VerifiedStripeEvent) -> SyncOutcome {
        let outcome = self.run(event).await;
        crate::telemetry::record(&outcome);
        match &outcome {
            SyncOutcome::Delivered { sent, already_sent } => tracing::info!(
                event_id = event.id(),
                event_type = %event.event_type(),
                sent,
                already_sent,
                "stripe event synced to Pulsora"
            ),
            SyncOutcome::Queued { queued, already } => tracing::info!(
                event_id = event.id(),
                event_type = %event.event_type(),
                queued,
                already_sent = already,
                "stripe event committed to the outbox"
            ),
            SyncOutcome::Transient(reason) => tracing::warn!(
                event_id = event.id(),
                event_type = %event.event_type(),
                "Pulsora sync failed, Stripe will retry: {reason}"
            ),
            SyncOutcome::StoreUnavailable(reason) => tracing::warn!(
                event_id = event.id(),
                event_type = %event.event_type(),
                "state store failed, Stripe will retry: {reason}"
            ),
            // Logged loudly where the fault is first seen (see `deliver_failed`).
            SyncOutcome::Misconfigured(reason) => tracing::warn!(
                event_id = event.id(),
                event_type = %event.event_type(),
                "event kept for Stripe's retry; Pulsora refused the configuration: {reason}"
            ),
            SyncOutcome::Permanent(reason) => tracing::error!(
                event_id = event.id(),
                event_type = %event.event_type(),
                "Pulsora sync failed for good: {reason}"
            ),
            SyncOutcome::Ignored(reason) => tracing::debug!(
                event_id = event.id(),
                event_type = %event.event_type(),
                reason = reason.as_str(),
                "stripe event outside the revenue scope; acknowledged, nothing sent"
            ),
        }
        outcome
    }

    async fn run(&self, event: &VerifiedStripeEvent) -> SyncOutcome {
        let inner = &self.inner;
        let livemode = inner.policy.livemode.unwrap_or(crate::Livemode::Any);
        if let Err(reason) = crate::scope::check(event, livemode, inner.policy.connect) {
            return SyncOutcome::Ignored(reason);
        }
        let subjects = match subjects(event) {
            Ok(subjects) => subjects,
            Err(error) => return self.unreadable(event, &error),
        };
        let _turn = inner.stripes[stripe_of(&subjects)].lock().await;
        // Across processes (a shared Redis), the store serializes the subject too.
        let subject = subject_of(&subjects).map(str::to_owned);
        let lock = match &subject {
            Some(subject) => match inner.store.lock(subject).await {
                Ok(token) => {
                    token.map(|token| Held::new(inner.store.clone(), Kind::Lock, subject, token))
                }
                Err(error) => return SyncOutcome::StoreUnavailable(error.to_string()),
            },
            None => None,
        };
        let outcome = self.run_locked(event, subjects).await;
        if let Some(lock) = lock {
            if let Err(error) = lock.release().await {
                // The lock expires by itself; the outcome stands.
                tracing::warn!(event_id = event.id(), %error, "state lock not released");
            }
        }
        outcome
    }

    async fn run_locked(
        &self,
        event: &VerifiedStripeEvent,
        subjects: crate::map::Subjects,
    ) -> SyncOutcome {
        let inner = &self.inner;
        let deadline = std::time::Instant::now() + inner.inline_budget;
        #[allow(unused_mut)]
        let mut context = match inner.store.load(&subjects).await {
            Ok(context) => context,
            Err(error) => return SyncOutcome::StoreUnavailable(error.to_string()),
        };
        // Fetch on notify: Stripe's current subscription decides MRR, whatever the order.
        #[cfg(feature = "stripe-api")]
        if let (Some(api), Some(id)) = (&inner.stripe_api, subjects.subscription.as_deref()) {
            let kind = event.event_type().as_str();
            if ["customer.subscription.", "invoice.", "customer.discount."]
                .iter()
                .any(|p| kind.starts_with(p))
            {
                match api.current_subscription(id).await {
                    Ok(found) => context.fetched = found,
                    Err(error) => return SyncOutcome::Transient(error.to_string()),
                }
            }
        }
        #[allow(unused_mut)]
        let mut mapping = match map_event(event, &context, &inner.policy) {
            Ok(mapping) => mapping,
            Err(error) => return self.unreadable(event, &error),
        };
        #[cfg(feature = "stripe-api")]
        if let Some(api) = &inner.stripe_api {
            if mapping.events.iter().any(uses_placeholder) {
                match api.attribution(&subjects).await {
                    Ok(Some(found)) => {
                        context.learned = Some(found);
                        mapping = match map_event(event, &context, &inner.policy) {
                            Ok(mapping) => mapping,
                            Err(error) => return self.unreadable(event, &error),
                        };
                        for event in &mut mapping.events {
                            if let Some(metadata) = event.metadata.as_mut() {
                                metadata["attribution_source"] = serde_json::json!("stripe_api");
                            }
                        }
                        remember_lookup(&mut mapping, &subjects, &context);
                    }
                    Ok(None) => {}
                    Err(error) => return SyncOutcome::Transient(error.to_string()),
                }
            }
        }
        for note in &mapping.notes {
            tracing::debug!(event_id = event.id(), "{note}");
        }
        // The one fork: enqueue (acknowledge first) or send now.
        if let Some(outbox) = &inner.outbox {
            let queue = subject_of(&subjects);
            return match enqueue(&**outbox, event, &mapping, queue).await {
                Ok(outcome) => {
                    if matches!(outcome, SyncOutcome::Queued { queued, .. } if queued > 0) {
                        inner.wake.notify_one();
                    }
                    outcome
                }
                Err(error) => SyncOutcome::StoreUnavailable(error.to_string()),
            };
        }
        let (mut sent, mut already_sent, mut refused) = (0, 0, None);
        for revenue_event in &mapping.events {
            let transaction_id = revenue_event.transaction_id.as_str();
            // Claimed before sending, atomically per transaction id across every delivery and
            // instance: two events that map to one payment (ten events about one
            // PaymentIntent) send it once.
            let token = ClaimToken::new();
            let claim = match inner.store.claim_sent(transaction_id, token).await {
                Ok(ClaimOutcome::Claimed) => {
                    Held::new(inner.store.clone(), Kind::Sent, transaction_id, token)
                }
                Ok(ClaimOutcome::Processed) => {
                    already_sent += 1;
                    continue;
                }
                Ok(ClaimOutcome::InFlight { .. }) => {
                    // Another delivery is sending it now; Stripe's retry will find it sent (or
                    // released, and send it).
                    return SyncOutcome::Transient(format!(
                        "transaction {transaction_id} is being sent by another delivery"
                    ));
                }
                Err(error) => return SyncOutcome::StoreUnavailable(error.to_string()),
            };
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match inner.client.track_within(revenue_event, left).await {
                Ok(_) => {
                    sent += 1;
                    if inner.health.clear() {
                        tracing::info!("Pulsora accepts events again: configuration fault cleared");
                    }
                }
                Err(error) if error.is_misconfiguration() => {
                    release(claim, event).await;
                    let reason = error.to_string();
                    if inner.health.set_fault(&reason) {
                        tracing::error!(
                            event_id = event.id(),
                            status = error.status(),
                            "PULSORA REFUSED THE CONFIGURATION (token or endpoint): {reason}. \
                             Events are kept and answered 503 so Stripe retries them; fix \
                             PULSORA_API_TOKEN / PULSORA_ENDPOINT. /readyz is not ready until \
                             Pulsora accepts an event."
                        );
                    }
                    return SyncOutcome::Misconfigured(reason);
                }
                Err(error) if !error.is_permanent() => {
                    release(claim, event).await;
                    return SyncOutcome::Transient(error.to_string());
                }
                Err(error) => {
                    let reason = error.to_string();
                    inner
                        .dead_letter
                        .dead_letter(event.id(), Some(revenue_event), &reason);
                    refused = Some(reason);
                }
            }
            // Refused events are committed too: a retry of this Stripe event must not
            // dead-letter them again.
            if let Err(error) = claim.commit().await {
                return SyncOutcome::StoreUnavailable(error.to_string());
            }
        }
        if let Err(error) = inner.store.save(&mapping.updates).await {
            return SyncOutcome::StoreUnavailable(error.to_string());
        }
        match refused {
            Some(reason) => SyncOutcome::Permanent(reason),
            None => SyncOutcome::Delivered { sent, already_sent },
        }
    }

    fn unreadable(&self, event: &VerifiedStripeEvent, error: &MapError) -> SyncOutcome {
        let reason = error.to_string();
        self.inner
            .dead_letter
            .dead_letter(event.id(), None, &reason);
        SyncOutcome::Permanent(reason)
    }
}

/// Commits the mapping's state and its revenue events as outbox rows, in one transaction.
async fn enqueue(
    outbox: &dyn OutboxStore,
    event: &VerifiedStripeEvent,
    mapping: &crate::Mapping,
    queue: Option<&str>,
) -> Result<SyncOutcome, StateError> {
    let rows = crate::outbox::store::rows(&mapping.events, queue, event.id())?;
    let now = crate::outbox::SystemClock.now_ms();
    let queued = outbox.commit(&mapping.updates, &rows, now).await?;
    Ok(SyncOutcome::Queued {
        queued,
        already: rows.len().saturating_sub(queued),
    })
}

/// Gives a send claim back after a failed attempt, so Stripe's retry may send it. If even that
/// fails, its lease expires by itself ([`StateTtls::send_lease`](crate::StateTtls)).
async fn release(claim: Held, event: &VerifiedStripeEvent) {
    if let Err(error) = claim.release().await {
        tracing::warn!(event_id = event.id(), %error, "send claim not released");
    }
}

#[cfg(feature = "stripe-api")]
fn uses_placeholder(event: &pulsora::RevenueEvent) -> bool {
    event
        .metadata
        .as_ref()
        .is_some_and(|m| m["attribution_source"] == "placeholder")
}

/// A looked-up attribution is remembered for the customer and subscription, so the API is asked
/// once per customer, not once per event.
#[cfg(feature = "stripe-api")]
fn remember_lookup(
    mapping: &mut crate::Mapping,
    subjects: &crate::Subjects,
    context: &crate::state::Context,
) {
    if let Some(found) = &context.learned {
        for key in [&subjects.customer, &subjects.subscription]
            .into_iter()
            .flatten()
        {
            mapping.updates.push(crate::state::StateUpdate::Attribution(
                key.clone(),
                found.clone(),
            ));
        }
    }
}

/// The id whose state an event reads and writes: its subscription, else its charge, else its
/// customer (attribution).
fn subject_of(subjects: &crate::map::Subjects) -> Option<&str> {
    subjects
        .subscription
        .as_deref()
        .or(subjects.charge.as_deref())
        .or(subjects.customer.as_deref())
}

fn stripe_of(subjects: &crate::map::Subjects) -> usize {
    let key = subject_of(subjects);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    (hasher.finish() % STRIPES as u64) as usize
}
