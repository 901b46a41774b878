//! The outbox semantics, one table of steps run against every durable backend (SQLite,
//! PostgreSQL, Redis) on an injected clock; then what each backend shows only for itself: the
//! documents and rows of a commit land together or not at all (a failing statement, a dropped
//! connection), and concurrent leasers on separate connections never get the same row.
#![cfg(any(feature = "sqlite", feature = "redis", feature = "postgres"))]

mod support;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stripe_pulsora_store::{
    ClaimOutcome, ClaimToken, Document, Outbox, OutboxRow, OutboxStats, Space,
};

const LEASE: Duration = Duration::from_secs(60);
const LEASE_MS: i64 = 60_000;
const SENT_TTL: Duration = Duration::from_secs(3600);

/// Offsets from the test's start, in ms: the clock is injected, nothing sleeps.
type At = i64;

#[derive(Debug, Clone, Copy)]
enum Step {
    /// Commit rows written `id@queue`, at a time; expect how many were new.
    Commit(At, &'static [&'static str], usize),
    /// Commit rows with one document `key=value`; expect how many were new.
    CommitWithDoc(&'static [&'static str], &'static str, usize),
    /// The document's value now.
    Doc(&'static str, Option<&'static str>),
    /// Lease as holder `h` at a time, up to a limit; expect these ids, in order.
    Lease(At, usize, usize, &'static [&'static str]),
    /// Lease one row as holder `h`; expect its id, attempts and last error.
    LeaseOne(At, usize, &'static str, u32, Option<&'static str>),
    Sent(&'static str, usize, At, bool),
    Reschedule(&'static str, usize, At, &'static str, bool),
    Release(&'static str, usize, bool),
    Dead(&'static str, usize, &'static str, At, bool),
    /// pending, oldest enqueue offset, dead.
    Stats(u64, Option<At>, u64),
    /// Dead letter ids (oldest death first) with their reasons.
    DeadList(&'static [(&'static str, &'static str)]),
    Retry(Option<&'static str>, At, u64),
    Drop(&'static str, bool),
    /// The inline path sent the id (claim + commit in the `sent` space).
    InlineSent(&'static str),
    /// The inline path is sending the id now (a claim, not committed).
    InlineSending(&'static str),
    /// What the inline path's claim of the id answers.
    InlineSees(&'static str, Seen),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Processed,
    Free,
}

use Step::*;

const TABLE: &[(&str, &[Step])] = &[
    (
        "enqueue is idempotent: pending, sent (by the outbox or inline) and dead ids are skipped",
        &[
            Commit(0, &["a@q1", "b@q2", "a@q3"], 2), // a repeated within the batch: once
            Commit(0, &["a@q1"], 0),                 // pending
            InlineSent("c"),
            Commit(0, &["c@q4"], 0), // sent by the inline path
            InlineSending("d"),
            Commit(0, &["d@q5"], 1), // an inline send in flight is not a send
            Lease(0, 10, 0, &["a", "b", "d"]),
            Sent("a", 0, 0, true),
            Commit(5, &["a@q1"], 0), // sent by the outbox
            Dead("b", 0, "422 amount", 5, true),
            Commit(5, &["b@q2"], 0), // dead
            Stats(1, Some(0), 1),
            InlineSees("a", Seen::Processed),
        ],
    ),
    (
        "documents and rows are written together",
        &[
            CommitWithDoc(&["t1@sub"], "ledger={\"mrr\":1}", 1),
            Doc("ledger", Some("{\"mrr\":1}")),
            // A repeated row still writes its documents (the state moved on).
            CommitWithDoc(&["t1@sub"], "ledger={\"mrr\":2}", 0),
            Doc("ledger", Some("{\"mrr\":2}")),
            CommitWithDoc(&[], "other=1", 0),
            Doc("other", Some("1")),
            Stats(1, Some(0), 0),
        ],
    ),
    (
        "per-queue order: the next row waits while the first is pending, leased or backing off",
        &[
            Commit(0, &["1@q", "2@q", "3@r"], 3),
            Lease(0, 10, 0, &["1", "3"]), // other queues proceed
            Lease(0, 10, 1, &[]),         // 1 leased: 2 waits
            Reschedule("1", 0, 1_000, "503 from Pulsora", true),
            Lease(500, 10, 1, &[]), // 1 backing off: 2 still waits
            Sent("3", 0, 500, true),
            LeaseOne(1_000, 1, "1", 1, Some("503 from Pulsora")),
            Reschedule("1", 1, 3_000, "timeout", true),
            LeaseOne(3_000, 1, "1", 2, Some("timeout")),
            Lease(3_000, 10, 0, &[]),
            Sent("1", 1, 3_000, true),
            Lease(3_000, 10, 0, &["2"]),
            Stats(1, Some(0), 0),
        ],
    ),
    (
        "an expired lease is leasable again; the late holder can no longer change the row, \
         but its success is still recorded",
        &[
            Commit(0, &["x@q"], 1),
            Lease(0, 10, 0, &["x"]),
            Lease(LEASE_MS - 1, 10, 1, &[]),
            Lease(LEASE_MS, 10, 1, &["x"]),
            Reschedule("x", 0, LEASE_MS, "late", false),
            Release("x", 0, false),
            Dead("x", 0, "late", LEASE_MS, false),
            Release("x", 1, true),
            Release("x", 1, false), // nothing left to release
            LeaseOne(LEASE_MS, 2, "x", 0, None),
            Sent("x", 0, LEASE_MS, false), // the late holder's send did succeed
            Stats(0, None, 0),
            Lease(10 * LEASE_MS, 10, 1, &[]),
            InlineSees("x", Seen::Processed),
            Commit(10 * LEASE_MS, &["x@q"], 0),
        ],
    ),
    (
        "a lease that expired but was not taken over is still its holder's",
        &[
            Commit(0, &["y@q"], 1),
            Lease(0, 1, 0, &["y"]),
            Reschedule("y", 0, 2 * LEASE_MS, "slow", true),
            LeaseOne(2 * LEASE_MS, 0, "y", 1, Some("slow")),
        ],
    ),
    (
        "the limit, and the earliest leasable first",
        &[
            Commit(0, &["a@q1", "b@q2", "c@q3"], 3),
            Lease(0, 0, 0, &[]),
            Lease(0, 2, 0, &["a", "b"]),
            Reschedule("a", 0, 100, "e", true),
            Reschedule("b", 0, 50, "e", true),
            Lease(100, 10, 1, &["c", "b", "a"]),
        ],
    ),
    (
        "dead letters: listed, retried once to the end of their queue, dropped",
        &[
            Commit(0, &["1@q", "2@q", "3@r"], 3),
            Lease(0, 10, 0, &["1", "3"]),
            Dead("1", 0, "422: amount must be positive", 10, true),
            Dead("3", 0, "horizon passed", 20, true),
            DeadList(&[
                ("1", "422: amount must be positive"),
                ("3", "horizon passed"),
            ]),
            Stats(1, Some(0), 2),
            Lease(30, 10, 1, &["2"]), // the dead row no longer holds its queue up
            Retry(Some("1"), 40, 1),
            Retry(Some("1"), 40, 0),
            Lease(40, 10, 1, &[]), // 1 is back, behind 2 (still leased)
            Sent("2", 1, 40, true),
            LeaseOne(40, 1, "1", 0, None),
            Drop("3", true),
            Drop("3", false),
            DeadList(&[]),
            Stats(1, Some(0), 0),
            Retry(None, 50, 0),
        ],
    ),
    (
        "retry every dead letter; a late success removes a dead letter",
        &[
            Commit(0, &["a@q1", "b@q2"], 2),
            Commit(7, &["z@q3"], 1),
            Lease(7, 10, 0, &["a", "b", "z"]),
            Dead("a", 0, "422", 10, true),
            Dead("b", 0, "422", 10, true),
            Retry(None, 20, 2),
            Stats(3, Some(0), 0),
            Lease(20, 10, 1, &["a", "b"]),
            // z's lease expires, another holder dead-letters it, then the first send succeeds.
            Lease(7 + LEASE_MS, 10, 2, &["z"]),
            Dead("z", 2, "horizon passed", 7 + LEASE_MS, true),
            Sent("z", 0, 7 + LEASE_MS, false),
            DeadList(&[]),
            Commit(8 + LEASE_MS, &["z@q3"], 0),
            Stats(2, Some(0), 0),
        ],
    ),
    (
        "mark_sent of an id never leased records it sent",
        &[
            Sent("u", 0, 0, false),
            Commit(0, &["u@q"], 0),
            InlineSees("u", Seen::Processed),
            InlineSees("never", Seen::Free),
            Stats(0, None, 0),
        ],
    ),
];

fn start_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn rows(run: &str, specs: &[&str]) -> Vec<OutboxRow> {
    specs
        .iter()
        .map(|spec| {
            let (id, queue) = spec.split_once('@').expect("id@queue");
            OutboxRow {
                id: format!("{run}-{id}"),
                queue: format!("{run}-{queue}"),
                payload: format!(r#"{{"transaction_id":"{run}-{id}"}}"#),
                stripe_event_id: format!("evt_{id}"),
            }
        })
        .collect()
}

type Fresh = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Arc<dyn Outbox>>>>>;

async fn run_table(fresh: Fresh, name: &str) {
    for (case, steps) in TABLE {
        let store = fresh().await;
        let run = support::unique("o");
        let sent = Space::new("sent").with_redis_prefix(support::unique("sp-sent") + ":");
        let tokens = [ClaimToken::new(), ClaimToken::new(), ClaimToken::new()];
        let t0 = start_ms();
        let id = |id: &str| format!("{run}-{id}");
        for (index, step) in steps.iter().enumerate() {
            let context = format!("{name}: {case}: step {index} {step:?}");
            let fail = |e: stripe_pulsora_store::StoreError| -> ! { panic!("{context}: {e}") };
            match *step {
                Commit(at, specs, expect) => {
                    let new = store
                        .commit_outbox(&sent, &[], &rows(&run, specs), t0 + at)
                        .await
                        .unwrap_or_else(|e| fail(e));
                    assert_eq!(new, expect, "{context}");
                }
                CommitWithDoc(specs, doc, expect) => {
                    let (key, value) = doc.split_once('=').expect("key=value");
                    let document = Document {
                        key: id(key),
                        value: value.into(),
                        ttl: Duration::from_secs(60),
                    };
                    let new = store
                        .commit_outbox(&sent, &[document], &rows(&run, specs), t0)
                        .await
                        .unwrap_or_else(|e| fail(e));
                    assert_eq!(new, expect, "{context}");
                }
                Doc(key, expect) => {
                    let values = store.get_many(&[id(key)]).await.unwrap_or_else(|e| fail(e));
                    assert_eq!(values, [expect.map(str::to_owned)], "{context}");
                }
                Lease(at, limit, holder, expect) => {
                    let leased = store
                        .lease_due(t0 + at, limit, tokens[holder], LEASE)
                        .await
                        .unwrap_or_else(|e| fail(e));
                    let got: Vec<&str> = leased
                        .iter()
                        .map(|l| l.row.id.strip_prefix(&format!("{run}-")).unwrap_or("?"))
                        .collect();
                    assert_eq!(got, expect, "{context}");
                    for l in &leased {
                        let payload = format!(r#"{{"transaction_id":"{}"}}"#, l.row.id);
                        assert_eq!(l.row.payload, payload, "{context}: payload");
                        assert!(l.row.stripe_event_id.starts_with("evt_"), "{context}");
                    }
                }
                LeaseOne(at, holder, expect, tries, error) => {
                    let leased = store
                        .lease_due(t0 + at, 1, tokens[holder], LEASE)
                        .await
                        .unwrap_or_else(|e| fail(e));
                    assert_eq!(leased.len(), 1, "{context}");
                    let l = &leased[0];
                    assert_eq!(l.row.id, id(expect), "{context}");
                    assert_eq!(l.attempts, tries, "{context}");
                    assert_eq!(l.last_error.as_deref(), error, "{context}");
                    assert!(l.enqueued_at_ms >= t0 && l.seq > 0, "{context}: {l:?}");
                }
                Sent(key, holder, at, expect) => {
                    let held = store
                        .mark_sent(&sent, &id(key), tokens[holder], t0 + at, SENT_TTL)
                        .await
                        .unwrap_or_else(|e| fail(e));
                    assert_eq!(held, expect, "{context}");
                }
                Reschedule(key, holder, due, error, expect) => {
                    let held = store
                        .reschedule(&id(key), tokens[holder], t0 + due, error)
                        .await
                        .unwrap_or_else(|e| fail(e));
                    assert_eq!(held, expect, "{context}");
                }
                Release(key, holder, expect) => {
                    let held = store
                        .release_lease(&id(key), tokens[holder])
                        .await
                        .unwrap_or_else(|e| fail(e));
                    assert_eq!(held, expect, "{context}");
                }
                Dead(key, holder, reason, at, expect) => {
                    let held = store
                        .dead_letter(&id(key), tokens[holder], reason, t0 + at)
                        .await
                        .unwrap_or_else(|e| fail(e));
                    assert_eq!(held, expect, "{context}");
                }
                Stats(pending, oldest, dead) => {
                    let stats = store.stats().await.unwrap_or_else(|e| fail(e));
                    let expect = OutboxStats {
                        pending,
                        oldest_pending_enqueued_at_ms: oldest.map(|at| t0 + at),
                        dead,
                    };
                    assert_eq!(stats, expect, "{context}");
                }
                DeadList(expect) => {
                    let dead = store.dead_letters(100).await.unwrap_or_else(|e| fail(e));
                    let got: Vec<(String, String)> = dead
                        .iter()
                        .map(|d| (d.row.id.clone(), d.reason.clone()))
                        .collect();
                    let want: Vec<(String, String)> = expect
                        .iter()
                        .map(|(k, r)| (id(k), (*r).to_owned()))
                        .collect();
                    assert_eq!(got, want, "{context}");
                    for d in &dead {
                        assert!(d.dead_at_ms >= d.enqueued_at_ms, "{context}: {d:?}");
                        assert!(d.row.stripe_event_id.starts_with("evt_"), "{context}");
                    }
                }
                Retry(key, at, expect) => {
                    let key = key.map(id);
                    let back = store
                        .retry_dead(key.as_deref(), t0 + at)
                        .await
                        .unwrap_or_else(|e| fail(e));
                    assert_eq!(back, expect, "{context}");
                }
                Drop(key, expect) => {
                    let dropped = store.drop_dead(&id(key)).await.unwrap_or_else(|e| fail(e));
                    assert_eq!(dropped, expect, "{context}");
                }
                InlineSent(key) => {
                    let token = ClaimToken::new();
                    let claim = store.claim(&sent, &id(key), token, LEASE).await;
                    assert_eq!(claim.unwrap_or_else(|e| fail(e)), ClaimOutcome::Claimed);
                    assert!(store
                        .commit(&sent, &id(key), token, SENT_TTL)
                        .await
                        .unwrap_or_else(|e| fail(e)));
                }
                InlineSending(key) => {
                    let claim = store.claim(&sent, &id(key), ClaimToken::new(), LEASE).await;
                    assert_eq!(claim.unwrap_or_else(|e| fail(e)), ClaimOutcome::Claimed);
                }
                InlineSees(key, seen) => {
                    let token = ClaimToken::new();
                    let claim = store
                        .claim(&sent, &id(key), token, LEASE)
                        .await
                        .unwrap_or_else(|e| fail(e));
                    let got = match claim {
                        ClaimOutcome::Processed => Seen::Processed,
                        ClaimOutcome::Claimed => {
                            store.release(&sent, &id(key), token).await.ok();
                            Seen::Free
                        }
                        other => panic!("{context}: {other:?}"),
                    };
                    assert_eq!(got, seen, "{context}");
                }
            }
        }
    }
}

/// 60 queues × 5 rows, drained by four leasers on two connections (handles) at once: every row
/// is leased exactly once, and each queue's rows are sent in enqueue order.
async fn disjoint_leases(a: Arc<dyn Outbox>, b: Arc<dyn Outbox>, name: &str) {
    let run = support::unique("c");
    let sent = Space::new("sent").with_redis_prefix(support::unique("sp-sent") + ":");
    let now = start_ms();
    let mut all = Vec::new();
    for position in 0..5 {
        for queue in 0..60 {
            all.push(OutboxRow {
                id: format!("{run}-{queue}-{position}"),
                queue: format!("{run}-{queue}"),
                payload: "{}".into(),
                stripe_event_id: "evt".into(),
            });
        }
    }
    assert_eq!(
        a.commit_outbox(&sent, &[], &all, now)
            .await
            .expect("commit"),
        300
    );
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let sent = sent.clone();
            tokio::spawn(async move {
                let token = ClaimToken::new();
                let mut got = Vec::new();
                loop {
                    let leased = store.lease_due(now, 7, token, LEASE).await.expect("lease");
                    if leased.is_empty() {
                        if store.stats().await.expect("stats").pending == 0 {
                            return got;
                        }
                        tokio::task::yield_now().await;
                        continue;
                    }
                    for row in leased {
                        got.push(row.row.id.clone());
                        assert!(store
                            .mark_sent(&sent, &row.row.id, token, now, SENT_TTL)
                            .await
                            .expect("mark sent"));
                    }
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut order: HashMap<String, Vec<u32>> = HashMap::new();
    let mut per_worker = Vec::new();
    for worker in workers {
        let got = worker.await.expect("worker");
        per_worker.push(got.len());
        for id in got {
            assert!(seen.insert(id.clone()), "{name}: {id} leased twice");
            let (queue, position) = id.rsplit_once('-').expect("queue-position");
            order
                .entry(queue.to_owned())
                .or_default()
                .push(position.parse().expect("position"));
        }
    }
    assert_eq!(seen.len(), 300, "{name}: every row leased");
    eprintln!("{name}: rows per leaser {per_worker:?}");
    // Within one worker the order is its send order; across workers a queue's rows are still
    // sent one after the other, so each worker sees its share of a queue ascending.
    for (queue, positions) in order {
        let mut sorted = positions.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 3, 4], "{name}: {queue}");
    }
    let stats = a.stats().await.expect("stats");
    assert_eq!(stats.pending, 0, "{name}");
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use stripe_pulsora_store::Sqlite;

    fn fresh(dir: Arc<tempfile::TempDir>) -> Fresh {
        Box::new(move || {
            let path = dir.path().join(support::unique("o") + ".sqlite3");
            Box::pin(async move { Arc::new(Sqlite::open(path).expect("open")) as Arc<dyn Outbox> })
        })
    }

    #[tokio::test]
    async fn sqlite_follows_the_outbox_table() {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        run_table(fresh(dir), "sqlite").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_leasers_on_two_connections_never_share_a_row() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("o.sqlite3");
        let a = Sqlite::open(&path).expect("open");
        let b = Sqlite::open(&path).expect("open again");
        disjoint_leases(Arc::new(a), Arc::new(b), "sqlite").await;
    }

    /// A statement failing mid-commit (a trigger refusing the second row) leaves neither the
    /// documents nor the first row behind.
    #[tokio::test]
    async fn sqlite_commit_is_all_or_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("o.sqlite3");
        let db = Sqlite::open(&path).expect("open");
        rusqlite::Connection::open(&path)
            .expect("second connection")
            .execute_batch(
                "CREATE TRIGGER refuse BEFORE INSERT ON stripe_pulsora_outbox
                 WHEN NEW.id = 'boom' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
            )
            .expect("trigger");
        all_or_nothing(&db, "sqlite", "boom").await;
    }
}

/// Commits a document and two rows whose second (`poison`) fails in the backend: an error,
/// and nothing written; then the same without the poison row lands.
#[allow(dead_code)]
async fn all_or_nothing(store: &dyn Outbox, name: &str, poison: &str) {
    let sent = Space::new("sent").with_redis_prefix(support::unique("sp-sent") + ":");
    let run = support::unique("a");
    let document = Document {
        key: format!("{run}-ledger"),
        value: "{\"mrr\":100}".into(),
        ttl: Duration::from_secs(60),
    };
    let mut batch = rows(&run, &["ok@q1"]);
    batch.push(OutboxRow {
        id: poison.into(),
        queue: format!("{run}-q2"),
        payload: "{}".into(),
        stripe_event_id: "evt".into(),
    });
    let now = start_ms();
    let failed = store
        .commit_outbox(&sent, std::slice::from_ref(&document), &batch, now)
        .await;
    assert!(
        failed.is_err(),
        "{name}: the poisoned commit failed: {failed:?}"
    );
    let before = store.stats().await.expect("stats");
    assert_eq!(before.pending, 0, "{name}: no row left behind");
    let values = store.get_many(std::slice::from_ref(&document.key)).await;
    assert_eq!(
        values.expect("get"),
        [None],
        "{name}: no document left behind"
    );
    let landed = store
        .commit_outbox(&sent, std::slice::from_ref(&document), &batch[..1], now)
        .await
        .expect("commit");
    assert_eq!(landed, 1, "{name}");
    let values = store.get_many(std::slice::from_ref(&document.key)).await;
    assert_eq!(
        values.expect("get"),
        [Some(document.value.clone())],
        "{name}"
    );
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use stripe_pulsora_store::{Documents, Postgres};

    fn fresh() -> Fresh {
        Box::new(|| {
            Box::pin(async {
                let url = support::fresh_postgres()
                    .await
                    .expect("checked by the caller");
                Arc::new(Postgres::connect(&url).await.expect("connect")) as Arc<dyn Outbox>
            })
        })
    }

    #[tokio::test]
    async fn postgres_follows_the_outbox_table() {
        if support::postgres_url().is_none() {
            return;
        }
        run_table(fresh(), "postgres").await;
    }

    /// Two instances (two pools) on one database: leases are disjoint, queue order holds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_leasers_on_two_pools_never_share_a_row() {
        let Some(url) = support::fresh_postgres().await else {
            return;
        };
        let a = Postgres::connect(&url).await.expect("connect");
        let b = Postgres::connect(&url).await.expect("connect");
        disjoint_leases(Arc::new(a), Arc::new(b), "postgres").await;
    }

    /// A commit of an id that another instance is marking sent right now: the commit's insert
    /// waits for that transaction (the row's unique id), and its own check of the sent space
    /// ran before. The commit must still see the id sent, not enqueue it again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_commit_racing_a_mark_sent_does_not_enqueue_twice() {
        let Some(url) = support::fresh_postgres().await else {
            return;
        };
        let db = Postgres::connect(&url).await.expect("connect");
        let sent = Space::new("sent");
        let now = start_ms();
        let row = rows("race", &["x@q"]);
        assert_eq!(
            db.commit_outbox(&sent, &[], &row, now)
                .await
                .expect("commit"),
            1
        );
        // What mark_sent does, held open in a transaction of our own.
        let mut marker = db.pool().get().await.expect("client");
        let tx = marker.transaction().await.expect("begin");
        tx.batch_execute(&format!(
            "DELETE FROM stripe_pulsora_outbox WHERE id = 'race-x';
             DELETE FROM stripe_pulsora_outbox_heads WHERE queue = 'race-q';
             INSERT INTO stripe_pulsora_claims (space, key, processed, token, expires_at)
                 VALUES ('sent', 'race-x', true, NULL, {});",
            now + 3_600_000
        ))
        .await
        .expect("mark sent by hand");
        let committing = {
            let (db, sent, row) = (db.clone(), sent.clone(), row.clone());
            tokio::spawn(async move { db.commit_outbox(&sent, &[], &row, now).await })
        };
        // Wait until the commit is blocked on our transaction, then let it go.
        let admin = db.pool().get().await.expect("client");
        let mut waiting = false;
        for _ in 0..200 {
            let blocked: i64 = admin
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    &[],
                )
                .await
                .expect("activity")
                .get(0);
            if blocked > 0 {
                waiting = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(waiting, "the commit waited for the marking transaction");
        tx.commit().await.expect("commit the mark");
        let enqueued = committing.await.expect("task").expect("commit");
        assert_eq!(enqueued, 0, "the id was sent meanwhile");
        let stats = db.stats().await.expect("stats");
        assert_eq!(stats.pending, 0);
        assert!(db
            .lease_due(now, 10, ClaimToken::new(), LEASE)
            .await
            .expect("lease")
            .is_empty());
    }

    const REFUSE: &str = "
        CREATE FUNCTION refuse_in_test() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.id = 'boom' THEN RAISE EXCEPTION 'refused by the test'; END IF;
            IF NEW.id = 'slow' THEN PERFORM pg_sleep(30); END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse BEFORE INSERT ON stripe_pulsora_outbox
            FOR EACH ROW EXECUTE FUNCTION refuse_in_test();";

    /// A failing statement mid-commit (a trigger refusing the second row), then a connection
    /// killed mid-commit (the server terminates the backend while the second row's trigger
    /// sleeps): both times neither the documents nor the first row remain.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_commit_is_all_or_nothing() {
        let Some(url) = support::fresh_postgres().await else {
            return;
        };
        let db = Postgres::connect(&url).await.expect("connect");
        let admin = db.pool().get().await.expect("client");
        admin.batch_execute(REFUSE).await.expect("trigger");
        all_or_nothing(&db, "postgres (failing statement)", "boom").await;

        let sent = Space::new("sent");
        let run = support::unique("k");
        let document = Document {
            key: format!("{run}-ledger"),
            value: "{}".into(),
            ttl: Duration::from_secs(60),
        };
        let mut batch = rows(&run, &["first@q1"]);
        batch.push(OutboxRow {
            id: "slow".into(),
            queue: format!("{run}-q2"),
            payload: "{}".into(),
            stripe_event_id: "evt".into(),
        });
        let committing = {
            let (db, document, batch) = (db.clone(), document.clone(), batch.clone());
            tokio::spawn(async move {
                db.commit_outbox(&sent, &[document], &batch, start_ms())
                    .await
            })
        };
        let database: String = admin
            .query_one("SELECT current_database()", &[])
            .await
            .expect("database")
            .get(0);
        let mut killed = false;
        for _ in 0..200 {
            let sleeping = admin
                .query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE datname = $1 AND wait_event = 'PgSleep'",
                    &[&database],
                )
                .await
                .expect("terminate");
            if !sleeping.is_empty() {
                killed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(killed, "the commit reached the sleeping trigger");
        let outcome = tokio::time::timeout(Duration::from_secs(10), committing)
            .await
            .expect("the killed commit answers")
            .expect("task");
        let error = outcome.expect_err("a killed connection fails the commit");
        assert!(error.is_transient(), "{error}");
        // A fresh instance sees nothing of it.
        let after = Postgres::connect(&url).await.expect("connect");
        let stats = after.stats().await.expect("stats");
        assert_eq!(
            stats.pending, 1,
            "only the row of the earlier successful commit"
        );
        let values = after.get_many(std::slice::from_ref(&document.key)).await;
        assert_eq!(values.expect("get"), [None]);
        let leased = after
            .lease_due(start_ms(), 10, ClaimToken::new(), LEASE)
            .await
            .expect("lease");
        assert!(
            leased.iter().all(|l| !l.row.id.contains("first")),
            "{leased:?}"
        );
    }
}

#[cfg(feature = "redis")]
mod redis {
    use super::*;
    use stripe_pulsora_store::Redis;

    async fn connect(url: &str, prefix: &str) -> Redis {
        Redis::connect(url)
            .await
            .expect("connect")
            .with_outbox_prefix(prefix)
    }

    fn fresh(url: String) -> Fresh {
        Box::new(move || {
            let url = url.clone();
            Box::pin(async move {
                let prefix = support::unique("sp-outbox") + ":";
                Arc::new(connect(&url, &prefix).await) as Arc<dyn Outbox>
            })
        })
    }

    #[tokio::test]
    async fn redis_follows_the_outbox_table() {
        let Some(url) = support::redis_url() else {
            return;
        };
        run_table(fresh(url), "redis").await;
    }

    /// Two connections on one server: leases are disjoint, queue order holds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn redis_leasers_on_two_connections_never_share_a_row() {
        let Some(url) = support::redis_url() else {
            return;
        };
        let prefix = support::unique("sp-outbox") + ":";
        let a = connect(&url, &prefix).await;
        let b = connect(&url, &prefix).await;
        disjoint_leases(Arc::new(a), Arc::new(b), "redis").await;
    }

    /// Redis has no rollback: a key of the wrong type where the second row's queue goes must
    /// fail the script before its first write (documents included).
    #[tokio::test]
    async fn redis_commit_is_all_or_nothing() {
        let Some(url) = support::redis_url() else {
            return;
        };
        let prefix = support::unique("sp-outbox") + ":";
        let db = connect(&url, &prefix).await;
        let mut connection = db.connection();
        // A string where the second row's hash would go.
        ::redis::cmd("SET")
            .arg(format!("{prefix}row:poison"))
            .arg("not a hash")
            .query_async::<()>(&mut connection)
            .await
            .expect("poison");
        all_or_nothing(&db, "redis", "poison").await;
    }
}
