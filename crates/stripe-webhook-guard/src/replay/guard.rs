//! The decision per delivery: cache first, then the store (see the tables in the module docs).

use super::claim::{Claim, HeldKey};
use super::store::{ClaimOutcome, ClaimToken, ReplayStore, StoreError};
use super::ReplayConfig;
use crate::event::VerifiedStripeEvent;
use crate::rejection::Rejection;
use moka::future::Cache;
use moka::ops::compute::Op;
use moka::Expiry;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What this process knows about an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    /// A delivery in this process holds the claim.
    InFlight(ClaimToken),
    /// Committed: every later delivery is a duplicate.
    Processed,
}

/// Cache entries live as long as the store keeps the same state: a lease, or a processed id.
struct SlotExpiry {
    lease: Duration,
    processed: Duration,
}

impl SlotExpiry {
    fn ttl(&self, slot: &Slot) -> Option<Duration> {
        Some(match slot {
            Slot::InFlight(_) => self.lease,
            Slot::Processed => self.processed,
        })
    }
}

impl Expiry<Box<str>, Slot> for SlotExpiry {
    fn expire_after_create(&self, _: &Box<str>, slot: &Slot, _: Instant) -> Option<Duration> {
        self.ttl(slot)
    }

    fn expire_after_update(
        &self,
        _: &Box<str>,
        slot: &Slot,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        self.ttl(slot)
    }
}

/// The replay guard: one per engine, shared by every request.
#[derive(Clone)]
pub(crate) struct ReplayGuard {
    shared: Arc<Shared>,
}

/// What claims need after the request that made them is gone (a release spawned from `Drop`).
pub(super) struct Shared {
    pub(super) cache: Cache<Box<str>, Slot, foldhash::fast::RandomState>,
    pub(super) config: ReplayConfig,
}

/// How one key was decided.
enum Decision {
    Claimed { store_held: bool },
    Duplicate,
    InFlight(Duration),
    Unavailable(StoreError),
}

impl ReplayGuard {
    pub(crate) fn new(config: &ReplayConfig) -> Self {
        let mut config = config.clone();
        config.cache_in_front |= !config.store.answers_in_process();
        // Sized up front (bounded, so a huge capacity does not allocate a huge table at
        // startup): growing moka's table while it fills showed up as a fifth of the claim cost.
        let initial = config.cache_capacity.min(65_536) as usize;
        let cache = Cache::builder()
            .max_capacity(config.cache_capacity)
            .initial_capacity(initial)
            .expire_after(SlotExpiry {
                lease: config.lease_ttl,
                processed: config.processed_ttl,
            })
            // Ids are verified before they are hashed: a fast seeded hasher is enough.
            .build_with_hasher(foldhash::fast::RandomState::default());
        Self {
            shared: Arc::new(Shared { cache, config }),
        }
    }

    /// Claims the event's id (and its object key when configured), or says why not.
    pub(crate) async fn claim(&self, event: &VerifiedStripeEvent) -> Result<Claim, Rejection> {
        let event_id = event.id();
        let mut claim = Claim::new(Arc::clone(&self.shared), event_id);
        let mut keys = vec![Box::<str>::from(event_id)];
        if let Some(object_key) = self.object_key(event) {
            keys.push(object_key);
        }
        for key in keys {
            if let Err(rejection) = self.claim_key(&mut claim, key).await {
                // Give back what this delivery already holds (the event id, when the object key
                // was the one refused) before answering, so a retry is not refused by us.
                claim.finish(false).await;
                return Err(rejection);
            }
        }
        Ok(claim)
    }

    /// `object:<type>:<data.object.id>` for the configured types; it cannot collide with
    /// Stripe's `evt_…` ids.
    fn object_key(&self, event: &VerifiedStripeEvent) -> Option<Box<str>> {
        let types = &self.shared.config.dedupe_by_object;
        if !types.contains(event.event_type()) {
            return None;
        }
        let object_id = event.object_id()?;
        Some(format!("object:{}:{object_id}", event.event_type().as_str()).into_boxed_str())
    }

    async fn claim_key(&self, claim: &mut Claim, key: Box<str>) -> Result<(), Rejection> {
        let shared = &*self.shared;
        let config = &shared.config;
        let token = claim.token();
        // Recorded before the store is asked: if this future is dropped while the store call is
        // pending, the claim's `Drop` releases whatever the store may have granted us.
        claim.hold(HeldKey {
            key: key.clone(),
            store_held: true,
        });

        let mut decision = Decision::Duplicate;
        if !config.cache_in_front {
            let outcome = with_timeout(
                config.store_timeout,
                config.store.claim(&key, token, config.lease_ttl),
            )
            .await;
            decision = decide(outcome, token, config).0;
        }
        let decided = &mut decision;
        let store_key = &*key;
        if config.cache_in_front {
            shared
                .cache
                .entry(key.clone())
                .and_compute_with(|entry| async move {
                    let (slot, op) = match entry.map(|entry| entry.into_value()) {
                        Some(Slot::Processed) => (Decision::Duplicate, Op::Nop),
                        Some(Slot::InFlight(_)) => {
                            (Decision::InFlight(config.retry_after), Op::Nop)
                        }
                        None => {
                            let outcome = with_timeout(
                                config.store_timeout,
                                config.store.claim(store_key, token, config.lease_ttl),
                            )
                            .await;
                            decide(outcome, token, config)
                        }
                    };
                    *decided = slot;
                    op
                })
                .await;
        }

        match decision {
            Decision::Claimed { store_held } => {
                claim.set_store_held(store_held);
                Ok(())
            }
            Decision::Unavailable(error) => {
                // The call may have reached the store before failing (a timeout): keep the key so
                // it is released, in the background, like any fail-open key.
                claim.set_store_held(false);
                Err(self.rejection(claim.event_id(), Decision::Unavailable(error)))
            }
            refused => {
                // Duplicate or in flight: the store granted us nothing to give back.
                claim.forget_last();
                Err(self.rejection(claim.event_id(), refused))
            }
        }
    }

    fn rejection(&self, event_id: &str, decision: Decision) -> Rejection {
        let retry_after = self.shared.config.retry_after;
        match decision {
            Decision::Duplicate | Decision::Claimed { .. } => Rejection::Duplicate {
                event_id: event_id.to_owned(),
            },
            Decision::InFlight(wait) => Rejection::InFlight {
                event_id: event_id.to_owned(),
                retry_after: wait,
            },
            Decision::Unavailable(error) => {
                tracing::warn!(event_id, %error, "replay store unavailable; refusing with 503 (fail closed)");
                Rejection::StoreUnavailable {
                    reason: error.to_string(),
                    retry_after,
                }
            }
        }
    }
}

/// The store's answer on a cache miss, and what the cache should remember of it.
fn decide(
    outcome: Result<ClaimOutcome, StoreError>,
    token: ClaimToken,
    config: &ReplayConfig,
) -> (Decision, Op<Slot>) {
    match outcome {
        Ok(ClaimOutcome::Claimed) => (
            Decision::Claimed { store_held: true },
            Op::Put(Slot::InFlight(token)),
        ),
        Ok(ClaimOutcome::Processed) => (Decision::Duplicate, Op::Put(Slot::Processed)),
        // Another instance holds it: not cached, so the next delivery asks the store again
        // and sees it processed (or free, if that instance failed).
        Ok(ClaimOutcome::InFlight { expires_in }) => (
            Decision::InFlight(expires_in.min(config.retry_after)),
            Op::Nop,
        ),
        Err(error) if config.fail_open => {
            tracing::warn!(%error, "replay store unavailable; proceeding on the in-process cache (fail open)");
            (
                Decision::Claimed { store_held: false },
                Op::Put(Slot::InFlight(token)),
            )
        }
        Err(error) => (Decision::Unavailable(error), Op::Nop),
    }
}

/// A store call bounded in time: a hung backend must not hang every webhook request.
pub(super) async fn with_timeout<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Unavailable(format!(
            "no answer within {} ms",
            limit.as_millis()
        ))),
    }
}

impl fmt::Debug for ReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.shared.config;
        f.debug_struct("ReplayGuard")
            .field("store", &config.store)
            .field("cached", &self.shared.cache.entry_count())
            .field("processed_ttl", &config.processed_ttl)
            .field("lease_ttl", &config.lease_ttl)
            .field("fail_open", &config.fail_open)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(super) fn store(&self) -> &dyn ReplayStore {
        &*self.config.store
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::MemoryStore;
    use bytes::Bytes;

    fn event(id: &str, event_type: &str, object_id: &str) -> VerifiedStripeEvent {
        let body = format!(
            r#"{{"id":"{id}","object":"event","type":"{event_type}","data":{{"object":{{"id":"{object_id}"}}}}}}"#
        );
        VerifiedStripeEvent::from_verified_bytes(Bytes::from(body)).expect("event")
    }

    fn guard(config: ReplayConfig) -> ReplayGuard {
        ReplayGuard::new(&config)
    }

    #[tokio::test]
    async fn cache_stays_within_its_capacity() {
        for (capacity, inserts) in [(1_000u64, 10_000usize), (100, 1_000)] {
            let config = ReplayConfig {
                cache_capacity: capacity,
                // As with any store given to `replay_store`: the cache sits in front.
                cache_in_front: true,
                ..ReplayConfig::default()
            };
            let guard = guard(config);
            for i in 0..inserts {
                let claim = guard
                    .claim(&event(&format!("evt_{i}"), "invoice.paid", "in_1"))
                    .await
                    .expect("new id");
                claim.finish(true).await;
            }
            guard.shared.cache.run_pending_tasks().await;
            let cached = guard.shared.cache.entry_count();
            assert!(cached <= capacity, "{cached} cached, cap {capacity}");
            assert!(cached > 0);
        }
    }

    #[tokio::test]
    async fn decisions_follow_the_table() {
        let guard = guard(ReplayConfig::default());
        let first = guard
            .claim(&event("evt_a", "invoice.paid", "in_1"))
            .await
            .expect("claimed");
        // Same process, claim held: 409.
        let again = guard.claim(&event("evt_a", "invoice.paid", "in_1")).await;
        assert!(
            matches!(again, Err(Rejection::InFlight { .. })),
            "{again:?}"
        );
        // Failure releases: the retry is claimed.
        first.finish(false).await;
        let retry = guard
            .claim(&event("evt_a", "invoice.paid", "in_1"))
            .await
            .expect("released");
        retry.finish(true).await;
        let dup = guard.claim(&event("evt_a", "invoice.paid", "in_1")).await;
        assert!(matches!(dup, Err(Rejection::Duplicate { .. })), "{dup:?}");
    }

    #[tokio::test]
    async fn store_processed_is_cached() {
        let store = Arc::new(MemoryStore::new());
        let token = ClaimToken::new();
        store
            .commit("evt_elsewhere", token, DEFAULT_TTL)
            .await
            .expect("memory store");
        let config = ReplayConfig {
            store: store.clone(),
            cache_in_front: true,
            ..ReplayConfig::default()
        };
        let guard = guard(config);
        let dup = guard
            .claim(&event("evt_elsewhere", "invoice.paid", "in_1"))
            .await;
        assert!(matches!(dup, Err(Rejection::Duplicate { .. })));
        assert_eq!(
            guard.shared.cache.get("evt_elsewhere").await,
            Some(Slot::Processed)
        );
    }

    #[tokio::test]
    async fn object_key_dedupes_listed_types_only() {
        use crate::event::EventType;
        let config = ReplayConfig {
            dedupe_by_object: vec![EventType::InvoicePaid],
            ..ReplayConfig::default()
        };
        let guard = guard(config);
        guard
            .claim(&event("evt_1", "invoice.paid", "in_1"))
            .await
            .expect("first")
            .finish(true)
            .await;
        // A second event object for the same change.
        let twin = guard.claim(&event("evt_2", "invoice.paid", "in_1")).await;
        assert!(matches!(twin, Err(Rejection::Duplicate { .. })), "{twin:?}");
        // The twin's own id was given back, not left claimed.
        assert_eq!(guard.shared.cache.get("evt_2").await, None);
        // Unlisted types repeat freely per object.
        for id in ["evt_3", "evt_4"] {
            guard
                .claim(&event(id, "customer.subscription.updated", "sub_1"))
                .await
                .expect("not deduplicated by object")
                .finish(true)
                .await;
        }
    }

    /// `Drop` cannot spawn the release without a runtime: it must not panic; the lease
    /// expires instead.
    #[test]
    fn a_claim_dropped_outside_a_runtime_does_not_panic() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let guard = guard(ReplayConfig::default());
        let claim = runtime
            .block_on(guard.claim(&event("evt_orphan", "invoice.paid", "in_1")))
            .expect("claimed");
        drop(runtime);
        drop(claim);
    }

    const DEFAULT_TTL: Duration = Duration::from_secs(60);
}
