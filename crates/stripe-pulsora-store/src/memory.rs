//! The in-memory backend: moka caches with per-entry expiry, one per space, and a byte-bounded
//! cache of documents. One process, gone on restart.

use crate::backend::{ClaimOutcome, Claims, Document, Documents, Space, StoreFuture};
use crate::ClaimToken;
use moka::future::Cache;
use moka::notification::RemovalCause;
use moka::ops::compute::Op;
use moka::Expiry;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// Keys reach these maps after their signature verified (event ids) or from our own mapping
/// (transaction ids), so an attacker cannot choose them: a fast seeded hasher is enough.
type Hasher = foldhash::fast::RandomState;

/// Default bound of the document cache: 64 MiB of keys and values (a subscription ledger is
/// about 250 bytes with its key, so about 250,000 subjects).
pub const DEFAULT_DOCUMENT_BYTES: u64 = 64 * 1024 * 1024;

/// A claim's state and when it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    /// `Some`: leased to this token; `None`: processed.
    holder: Option<ClaimToken>,
    expires: Instant,
}

#[derive(Debug, Clone)]
struct Doc {
    value: Arc<str>,
    expires: Instant,
}

/// Entries expire when their slot says: a lease after its lease time, a processed key after
/// its retention, a document after its time to live.
struct ByDeadline;

/// `now + wait`, saturating (a retention of `Duration::MAX` means "practically forever").
fn deadline(now: Instant, wait: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    now.checked_add(wait)
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
}

fn remaining(expires: Instant, now: Instant) -> Option<Duration> {
    Some(expires.saturating_duration_since(now))
}

impl Expiry<String, Slot> for ByDeadline {
    fn expire_after_create(&self, _: &String, slot: &Slot, now: Instant) -> Option<Duration> {
        remaining(slot.expires, now)
    }

    fn expire_after_update(
        &self,
        _: &String,
        slot: &Slot,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        remaining(slot.expires, now)
    }
}

impl Expiry<String, Doc> for ByDeadline {
    fn expire_after_create(&self, _: &String, doc: &Doc, now: Instant) -> Option<Duration> {
        remaining(doc.expires, now)
    }

    fn expire_after_update(
        &self,
        _: &String,
        doc: &Doc,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        remaining(doc.expires, now)
    }
}

/// `String` keys: moka's by-reference entry API wants the key's `ToOwned` form.
type ClaimCache = Cache<String, Slot, Hasher>;

/// Claims and documents in this process's memory ([moka] caches).
///
/// Claims are never evicted for room unless [`claim_capacity`](Self::claim_capacity) says so
/// (forgetting a processed replay id early would let its retry run again); they leave when
/// they expire. Each claim is one atomic per-key compute, so concurrent claims of one key see
/// exactly one `Claimed`. Documents live in one cache bounded by bytes
/// ([`DEFAULT_DOCUMENT_BYTES`]); when it is full the least useful ones are evicted, with one
/// warning in the log.
///
/// ```
/// use std::time::Duration;
/// use stripe_pulsora_store::{ClaimOutcome, ClaimToken, Claims, Memory, Space};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let memory = Memory::new();
/// let replay = Space::new("replay");
/// let (a, b) = (ClaimToken::new(), ClaimToken::new());
/// let lease = Duration::from_secs(60);
/// assert_eq!(memory.claim(&replay, "evt_1", a, lease).await?, ClaimOutcome::Claimed);
/// assert!(matches!(memory.claim(&replay, "evt_1", b, lease).await?, ClaimOutcome::InFlight { .. }));
/// assert!(memory.commit(&replay, "evt_1", a, Duration::from_secs(3600)).await?);
/// assert_eq!(memory.claim(&replay, "evt_1", b, lease).await?, ClaimOutcome::Processed);
/// # Ok::<_, stripe_pulsora_store::StoreError>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct Memory {
    inner: Arc<Inner>,
}

struct Inner {
    /// One cache per space; a handful at most, so a list under a read lock.
    spaces: RwLock<Vec<(&'static str, ClaimCache)>>,
    claim_capacity: Option<u64>,
    documents: Cache<String, Doc, Hasher>,
}

impl Memory {
    /// Unbounded claims (they leave when they expire) and [`DEFAULT_DOCUMENT_BYTES`] of
    /// documents.
    pub fn new() -> Self {
        Self::with_bounds(None, DEFAULT_DOCUMENT_BYTES)
    }

    /// At most `claims` claims per space (the least useful are evicted past it, which lets a
    /// forgotten key be claimed again) and `document_bytes` of documents.
    pub fn with_bounds(claims: Option<u64>, document_bytes: u64) -> Self {
        static WARNED: AtomicBool = AtomicBool::new(false);
        let documents = Cache::builder()
            .max_capacity(document_bytes)
            .weigher(|key: &String, doc: &Doc| {
                // Key and value bytes plus moka's own bookkeeping (about 150 bytes).
                u32::try_from(key.len() + doc.value.len() + 150).unwrap_or(u32::MAX)
            })
            .expire_after(ByDeadline)
            .eviction_listener(|_, _, cause| {
                if cause == RemovalCause::Size && !WARNED.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "the in-memory state store is full and forgets its least used entries; \
                         use a persistent store (SQLite, PostgreSQL, Redis) to keep them all"
                    );
                }
            })
            .build_with_hasher(Hasher::default());
        Self {
            inner: Arc::new(Inner {
                spaces: RwLock::new(Vec::new()),
                claim_capacity: claims,
                documents,
            }),
        }
    }

    /// The configured bound on claims per space (`None`: only expiry removes them).
    pub fn claim_capacity(&self) -> Option<u64> {
        self.inner.claim_capacity
    }

    /// Claims held in `space` (leases and processed keys), counting expired ones not yet
    /// dropped.
    pub async fn claim_count(&self, space: &Space) -> u64 {
        let cache = self.space(space);
        cache.run_pending_tasks().await;
        cache.entry_count()
    }

    /// Bytes the documents weigh (keys, values and bookkeeping), after pending evictions.
    pub async fn document_bytes(&self) -> u64 {
        self.inner.documents.run_pending_tasks().await;
        self.inner.documents.weighted_size()
    }

    fn space(&self, space: &Space) -> ClaimCache {
        let name = space.name();
        {
            let spaces = self
                .inner
                .spaces
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((_, cache)) = spaces.iter().find(|(n, _)| *n == name) {
                return cache.clone();
            }
        }
        let mut spaces = self
            .inner
            .spaces
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, cache)) = spaces.iter().find(|(n, _)| *n == name) {
            return cache.clone();
        }
        let mut builder = Cache::builder().expire_after(ByDeadline);
        if let Some(capacity) = self.inner.claim_capacity {
            builder = builder.max_capacity(capacity);
        }
        let cache = builder.build_with_hasher(Hasher::default());
        spaces.push((name, cache.clone()));
        cache
    }
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memory")
            .field("claim_capacity", &self.inner.claim_capacity)
            .field("documents", &self.inner.documents.entry_count())
            .finish_non_exhaustive()
    }
}

/// A live slot (moka drops expired entries lazily; the deadline is checked here as well).
fn live(entry: Option<moka::Entry<String, Slot>>, now: Instant) -> Option<Slot> {
    entry
        .map(moka::Entry::into_value)
        .filter(|slot| slot.expires > now)
}

impl Claims for Memory {
    fn claim<'a>(
        &'a self,
        space: &'a Space,
        key: &'a str,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        Box::pin(async move {
            let cache = self.space(space);
            let mut outcome = ClaimOutcome::Claimed;
            let decided = &mut outcome;
            cache
                .entry_by_ref(key)
                .and_compute_with(|entry| {
                    let now = Instant::now();
                    let (answer, op) = match live(entry, now) {
                        Some(Slot { holder: None, .. }) => (ClaimOutcome::Processed, Op::Nop),
                        Some(Slot {
                            holder: Some(_),
                            expires,
                        }) => (
                            ClaimOutcome::InFlight {
                                expires_in: expires - now,
                            },
                            Op::Nop,
                        ),
                        None => (
                            ClaimOutcome::Claimed,
                            Op::Put(Slot {
                                holder: Some(token),
                                expires: deadline(now, lease),
                            }),
                        ),
                    };
                    *decided = answer;
                    std::future::ready(op)
                })
                .await;
            Ok(outcome)
        })
    }

    fn commit<'a>(
        &'a self,
        space: &'a Space,
        key: &'a str,
        token: ClaimToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let cache = self.space(space);
            let mut held = false;
            let was_held = &mut held;
            cache
                .entry_by_ref(key)
                .and_compute_with(|entry| {
                    let now = Instant::now();
                    *was_held = matches!(live(entry, now), Some(Slot { holder: Some(h), .. }) if h == token);
                    std::future::ready(Op::Put(Slot {
                        holder: None,
                        expires: deadline(now, ttl),
                    }))
                })
                .await;
            Ok(held)
        })
    }

    fn release<'a>(
        &'a self,
        space: &'a Space,
        key: &'a str,
        token: ClaimToken,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let cache = self.space(space);
            let mut released = false;
            let done = &mut released;
            cache
                .entry_by_ref(key)
                .and_compute_with(|entry| {
                    let now = Instant::now();
                    let op = match live(entry, now) {
                        Some(Slot {
                            holder: Some(holder),
                            ..
                        }) if holder == token => {
                            *done = true;
                            Op::Remove
                        }
                        _ => Op::Nop,
                    };
                    std::future::ready(op)
                })
                .await;
            Ok(released)
        })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn is_shared(&self) -> bool {
        false
    }

    fn is_in_process(&self) -> bool {
        true
    }
}

impl Documents for Memory {
    fn get_many<'a>(&'a self, keys: &'a [String]) -> StoreFuture<'a, Vec<Option<String>>> {
        Box::pin(async move {
            let now = Instant::now();
            let mut values = Vec::with_capacity(keys.len());
            for key in keys {
                let doc = self.inner.documents.get(key.as_str()).await;
                values.push(
                    doc.filter(|doc| doc.expires > now)
                        .map(|doc| doc.value.to_string()),
                );
            }
            Ok(values)
        })
    }

    fn put_many<'a>(&'a self, documents: &'a [Document]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let now = Instant::now();
            for document in documents {
                let doc = Doc {
                    value: Arc::from(document.value.as_str()),
                    expires: deadline(now, document.ttl),
                };
                self.inner.documents.insert(document.key.clone(), doc).await;
            }
            Ok(())
        })
    }
}
