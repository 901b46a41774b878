//! The one state store: [`KvStateStore`] over any backend of the shared store layer. Ledgers
//! and attribution are small JSON documents under prefixed keys (each write refreshes the
//! entry's time to live, per key kind: [`StateTtls`]); delivered transaction ids are claims of
//! the `sent` space; cross-instance subject locks are claims of the `lock` space.

mod backends;

#[cfg(feature = "postgres")]
pub use backends::PostgresStateStore;
#[cfg(feature = "redis")]
pub use backends::RedisStateStore;
#[cfg(feature = "sqlite")]
pub use backends::SqliteStateStore;
pub use backends::{MemoryStateStore, DEFAULT_MEMORY_SENT_IDS, DEFAULT_MEMORY_STATE_BYTES};

use crate::map::Subjects;
use crate::state::{Context, StateUpdate};
use crate::store::{
    ClaimOutcome, ClaimToken, RecordQuery, Records, StateError, StateStore, StoreFuture,
};
use std::fmt;
use std::time::{Duration, Instant};
use stripe_pulsora_store::{Document, Documents, Space};

/// How long a ledger or a learned attribution is kept after its last write: three years and
/// five weeks, longer than Stripe's longest billing interval (3 years), so even a triennial
/// subscription's renewal refreshes its ledger in time. A deleted subscription's ledger just
/// ages out.
pub const STATE_TTL: Duration = Duration::from_secs((3 * 365 + 35) * 24 * 60 * 60);

/// How long a delivered transaction id is remembered by default: 35 days (Stripe resends
/// manually for up to 30 days after an event).
pub const SENT_TTL: Duration = Duration::from_secs(35 * 24 * 60 * 60);

/// How long a transaction id stays claimed while it is being sent, by default: longer than any
/// Pulsora call with its retries, short enough that a crashed sender holds the id up briefly.
pub const SEND_LEASE: Duration = Duration::from_secs(2 * 60);

/// How long a subject lock lives if its holder dies before unlocking.
const LOCK_TTL: Duration = Duration::from_secs(30);
/// How long to wait for a busy subject before answering 503 (Stripe retries).
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// How long each kind of state is kept after its last write. Every field has a default
/// ([`Default`]); change one with struct update syntax:
///
/// ```
/// use std::time::Duration;
/// use stripe_revenue::{MemoryStateStore, StateTtls};
///
/// // Attribution forgotten after 90 days of silence.
/// let store = MemoryStateStore::new().with_ttls(StateTtls {
///     attribution: Duration::from_secs(90 * 86_400),
///     ..StateTtls::default()
/// });
/// # let _ = store;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateTtls {
    /// A subscription's MRR ledger. Default: [`STATE_TTL`] (3 years and 5 weeks).
    pub subscription: Duration,
    /// A charge's refund mark. Default: [`STATE_TTL`].
    pub charge: Duration,
    /// Attribution learned for a customer or subscription. Default: [`STATE_TTL`].
    pub attribution: Duration,
    /// A delivered transaction id. Default: [`SENT_TTL`] (35 days).
    pub sent: Duration,
    /// The lease on a transaction id being sent. Default: [`SEND_LEASE`] (2 minutes).
    pub send_lease: Duration,
}

impl Default for StateTtls {
    fn default() -> Self {
        Self {
            subscription: STATE_TTL,
            charge: STATE_TTL,
            attribution: STATE_TTL,
            sent: SENT_TTL,
            send_lease: SEND_LEASE,
        }
    }
}

/// The mapping's state over a backend `B` of the shared store layer: one implementation of
/// [`StateStore`] for memory, SQLite, Redis and PostgreSQL. Use the named forms
/// ([`MemoryStateStore`], `SqliteStateStore`, `RedisStateStore`, `PostgresStateStore`), or
/// [`over`](Self::over) to share one backend with the replay store.
#[derive(Clone)]
pub struct KvStateStore<B> {
    backend: B,
    ttls: StateTtls,
    sent: Space,
    locks: Space,
}

impl<B: Documents> KvStateStore<B> {
    /// State kept in `backend`, with the default [`StateTtls`].
    pub fn over(backend: B) -> Self {
        Self {
            backend,
            ttls: StateTtls::default(),
            // "1" is what delivered ids held in Redis before the claims: they stay delivered.
            sent: Space::new("sent").with_redis_processed_value("1"),
            locks: Space::new("lock"),
        }
    }

    /// Keeps each kind of state as long as `ttls` says.
    #[must_use]
    pub fn with_ttls(mut self, ttls: StateTtls) -> Self {
        self.ttls = ttls;
        self
    }

    /// The time-to-live settings.
    pub fn ttls(&self) -> StateTtls {
        self.ttls
    }

    /// The backend (to share it, or to inspect it).
    pub fn backend(&self) -> &B {
        &self.backend
    }

    async fn load_context(&self, subjects: &Subjects) -> Result<Context, StateError> {
        let mut keys = vec![
            subjects
                .subscription
                .as_deref()
                .map(subscription_key)
                .unwrap_or_default(),
            subjects
                .charge
                .as_deref()
                .map(charge_key)
                .unwrap_or_default(),
        ];
        // Attribution: the customer first, then the subscription.
        keys.extend(
            [&subjects.customer, &subjects.subscription]
                .into_iter()
                .flatten()
                .map(|id| attribution_key(id)),
        );
        let wanted: Vec<String> = keys.iter().filter(|k| !k.is_empty()).cloned().collect();
        let values = self.backend.get_many(&wanted).await?;
        let lookup = |key: &str| {
            wanted
                .iter()
                .position(|k| k == key)
                .and_then(|i| values.get(i).and_then(Option::as_ref))
        };
        let mut learned = None;
        for key in &keys[2..] {
            if let Some(found) = decode(lookup(key))? {
                learned = Some(found);
                break;
            }
        }
        Ok(Context {
            subscription: decode(lookup(&keys[0]))?,
            charge: decode(lookup(&keys[1]))?,
            learned,
            fetched: None,
        })
    }

    /// The documents that remember `updates` (what [`save`](StateStore::save) writes, and what
    /// the outbox commits in the same transaction as its rows).
    pub(crate) fn documents(&self, updates: &[StateUpdate]) -> Result<Vec<Document>, StateError> {
        let ttls = &self.ttls;
        let mut documents = Vec::with_capacity(updates.len());
        for update in updates {
            let (key, value, ttl) = match update {
                StateUpdate::Subscription(id, ledger) => {
                    (subscription_key(id), encode(ledger)?, ttls.subscription)
                }
                StateUpdate::Charge(id, ledger) => (charge_key(id), encode(ledger)?, ttls.charge),
                StateUpdate::Attribution(id, attribution) => {
                    (attribution_key(id), encode(attribution)?, ttls.attribution)
                }
                // The journal lives as long as the payment's money-out ledger.
                StateUpdate::Payment(id, record) => (payment_key(id), encode(record)?, ttls.charge),
            };
            documents.push(Document { key, value, ttl });
        }
        Ok(documents)
    }

    /// The claims space of delivered transaction ids.
    pub(crate) fn sent_space(&self) -> &Space {
        &self.sent
    }

    async fn save_updates(&self, updates: &[StateUpdate]) -> Result<(), StateError> {
        let documents = self.documents(updates)?;
        self.backend.put_many(&documents).await
    }

    async fn read_records(&self, query: &RecordQuery) -> Result<Records, StateError> {
        let mut records = Records::default();
        let keys: Vec<String> = query
            .payments
            .iter()
            .map(|id| payment_key(id))
            .chain(query.charges.iter().map(|id| charge_key(id)))
            .chain(query.subscriptions.iter().map(|id| subscription_key(id)))
            .collect();
        // Bounded batches: one round trip per few hundred keys, never one huge query.
        let mut values = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(500) {
            values.extend(self.backend.get_many(chunk).await?);
        }
        let mut values = values.into_iter();
        for id in &query.payments {
            if let Some(found) = decode(values.next().flatten().as_ref())? {
                records.payments.insert(id.clone(), found);
            }
        }
        for id in &query.charges {
            if let Some(found) = decode(values.next().flatten().as_ref())? {
                records.charges.insert(id.clone(), found);
            }
        }
        for id in &query.subscriptions {
            if let Some(found) = decode(values.next().flatten().as_ref())? {
                records.subscriptions.insert(id.clone(), found);
            }
        }
        Ok(records)
    }

    async fn lock_subject(&self, subject: &str) -> Result<Option<ClaimToken>, StateError> {
        if !self.backend.is_shared() {
            // One process: RevenueSync's own per-subject mutex is enough.
            return Ok(None);
        }
        let token = ClaimToken::new();
        let started = Instant::now();
        loop {
            match self
                .backend
                .claim(&self.locks, subject, token, LOCK_TTL)
                .await?
            {
                ClaimOutcome::Claimed => return Ok(Some(token)),
                ClaimOutcome::InFlight { .. } | ClaimOutcome::Processed => {}
            }
            if started.elapsed() > LOCK_WAIT {
                return Err(StateError::Unavailable(format!(
                    "subject {subject} is being updated by another instance"
                )));
            }
            // Jittered, so waiting instances do not poll in step.
            let wait = Duration::from_millis(rand::random_range(2..12));
            tokio::time::sleep(wait).await;
        }
    }
}

impl<B: Documents> StateStore for KvStateStore<B> {
    fn load<'a>(&'a self, subjects: &'a Subjects) -> StoreFuture<'a, Context> {
        Box::pin(self.load_context(subjects))
    }

    fn save<'a>(&'a self, updates: &'a [StateUpdate]) -> StoreFuture<'a, ()> {
        Box::pin(self.save_updates(updates))
    }

    fn claim_sent<'a>(
        &'a self,
        transaction_id: &'a str,
        token: ClaimToken,
    ) -> StoreFuture<'a, ClaimOutcome> {
        self.backend
            .claim(&self.sent, transaction_id, token, self.ttls.send_lease)
    }

    fn commit_sent<'a>(
        &'a self,
        transaction_id: &'a str,
        token: ClaimToken,
    ) -> StoreFuture<'a, bool> {
        self.backend
            .commit(&self.sent, transaction_id, token, self.ttls.sent)
    }

    fn release_sent<'a>(
        &'a self,
        transaction_id: &'a str,
        token: ClaimToken,
    ) -> StoreFuture<'a, bool> {
        self.backend.release(&self.sent, transaction_id, token)
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        self.backend.ping()
    }

    fn lock<'a>(&'a self, subject: &'a str) -> StoreFuture<'a, Option<ClaimToken>> {
        Box::pin(self.lock_subject(subject))
    }

    fn unlock<'a>(&'a self, subject: &'a str, token: ClaimToken) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.backend
                .release(&self.locks, subject, token)
                .await
                .map(|_| ())
        })
    }

    fn records<'a>(&'a self, query: &'a RecordQuery) -> StoreFuture<'a, Records> {
        Box::pin(self.read_records(query))
    }
}

impl<B: fmt::Debug> fmt::Debug for KvStateStore<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateStore")
            .field("backend", &self.backend)
            .field("ttls", &self.ttls)
            .finish_non_exhaustive()
    }
}

pub(crate) fn subscription_key(id: &str) -> String {
    format!("stripe-pulsora:sub:{id}")
}
pub(crate) fn charge_key(id: &str) -> String {
    format!("stripe-pulsora:charge:{id}")
}
pub(crate) fn attribution_key(id: &str) -> String {
    format!("stripe-pulsora:attr:{id}")
}
pub(crate) fn payment_key(id: &str) -> String {
    format!("stripe-pulsora:paid:{id}")
}

fn decode<T: serde::de::DeserializeOwned>(value: Option<&String>) -> Result<Option<T>, StateError> {
    value
        .map(|v| {
            serde_json::from_str(v)
                .map_err(|e| StateError::Backend(format!("corrupt state entry: {e}")))
        })
        .transpose()
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, StateError> {
    serde_json::to_string(value).map_err(|e| StateError::Backend(e.to_string()))
}
