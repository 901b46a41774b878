//! The claim semantics, one table of steps run against every backend: memory, SQLite, Redis
//! and PostgreSQL. Then what only concurrency shows: many claimers of one key, one winner.

mod support;

use std::sync::Arc;
use std::time::Duration;
use stripe_pulsora_store::{ClaimOutcome, ClaimToken, Claims, Memory, Space};

const LEASE: Duration = Duration::from_secs(60);
const KEEP: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(150);

#[derive(Debug, Clone, Copy)]
enum Expect {
    Claimed,
    Processed,
    InFlight,
    Yes,
    No,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Claim(&'static str, usize, Duration, Expect),
    Commit(&'static str, usize, Duration, Expect),
    Release(&'static str, usize, Expect),
    Sleep(Duration),
}

use Expect::*;
use Step::*;

/// Tokens are referred to by index: holder 0, 1, 2.
const TABLE: &[(&str, &[Step])] = &[
    (
        "claim, refuse a second claimer, commit, then processed for everyone",
        &[
            Claim("a", 0, LEASE, Claimed),
            Claim("a", 1, LEASE, InFlight),
            Claim("a", 0, LEASE, InFlight), // even the holder cannot claim twice
            Commit("a", 0, KEEP, Yes),
            Claim("a", 1, LEASE, Processed),
            Release("a", 0, No), // a processed key is not a lease any more
            Claim("a", 2, LEASE, Processed),
        ],
    ),
    (
        "only the holder may release",
        &[
            Claim("b", 0, LEASE, Claimed),
            Release("b", 1, No),
            Claim("b", 1, LEASE, InFlight),
            Release("b", 0, Yes),
            Release("b", 0, No), // nothing left to release
            Claim("b", 1, LEASE, Claimed),
        ],
    ),
    (
        "an expired lease frees the key; the late holder can neither release nor keep it",
        &[
            Claim("c", 0, SHORT, Claimed),
            Sleep(Duration::from_millis(300)),
            Claim("c", 1, LEASE, Claimed),
            Release("c", 0, No),
            Claim("c", 2, LEASE, InFlight),
            // The late holder's work did succeed: processed, but it is told it lost the lease.
            Commit("c", 0, KEEP, No),
            Claim("c", 2, LEASE, Processed),
            Release("c", 1, No),
        ],
    ),
    (
        "processed keys expire after their retention",
        &[
            Claim("d", 0, LEASE, Claimed),
            Commit("d", 0, SHORT, Yes),
            Claim("d", 1, LEASE, Processed),
            Sleep(Duration::from_millis(300)),
            Claim("d", 1, LEASE, Claimed),
        ],
    ),
    (
        "commit without a claim still records the key",
        &[Commit("e", 0, KEEP, No), Claim("e", 1, LEASE, Processed)],
    ),
    (
        "spaces are separate: the same key in another space is free",
        &[
            Claim("f", 0, LEASE, Claimed),
            Commit("f", 0, KEEP, Yes),
            Claim("other:f", 1, LEASE, Claimed),
        ],
    ),
];

async fn run_table(store: &dyn Claims, name: &str) {
    let space = Space::new("test").with_redis_prefix(support::unique("sp-test") + ":");
    let other = Space::new("test-other").with_redis_prefix(support::unique("sp-other") + ":");
    for (case, steps) in TABLE {
        let tokens = [ClaimToken::new(), ClaimToken::new(), ClaimToken::new()];
        let run = support::unique("k");
        for (index, step) in steps.iter().enumerate() {
            let context = format!("{name}: {case}: step {index} {step:?}");
            let at = |key: &str| match key.strip_prefix("other:") {
                Some(key) => (&other, format!("{run}-{key}")),
                None => (&space, format!("{run}-{key}")),
            };
            match *step {
                Claim(key, token, lease, expect) => {
                    let (space, key) = at(key);
                    let outcome = store
                        .claim(space, &key, tokens[token], lease)
                        .await
                        .unwrap_or_else(|e| panic!("{context}: {e}"));
                    match (expect, outcome) {
                        (Claimed, ClaimOutcome::Claimed) | (Processed, ClaimOutcome::Processed) => {
                        }
                        (InFlight, ClaimOutcome::InFlight { expires_in }) => {
                            assert!(expires_in <= LEASE, "{context}: {expires_in:?}")
                        }
                        _ => panic!("{context}: got {outcome:?}"),
                    }
                }
                Commit(key, token, ttl, expect) => {
                    let (space, key) = at(key);
                    let held = store
                        .commit(space, &key, tokens[token], ttl)
                        .await
                        .unwrap_or_else(|e| panic!("{context}: {e}"));
                    assert_eq!(held, matches!(expect, Yes), "{context}");
                }
                Release(key, token, expect) => {
                    let (space, key) = at(key);
                    let released = store
                        .release(space, &key, tokens[token])
                        .await
                        .unwrap_or_else(|e| panic!("{context}: {e}"));
                    assert_eq!(released, matches!(expect, Yes), "{context}");
                }
                Sleep(wait) => tokio::time::sleep(wait).await,
            }
        }
    }
    store
        .ping()
        .await
        .unwrap_or_else(|e| panic!("{name}: ping: {e}"));
}

/// 32 claimers of one key at once, on two handles of the backend: exactly one wins; after a
/// release exactly one of the next 32 wins; after a commit all see it processed.
async fn one_winner(a: Arc<dyn Claims>, b: Arc<dyn Claims>, name: &str) {
    let space = Space::new("race").with_redis_prefix(support::unique("sp-race") + ":");
    let key = support::unique("evt");
    let race = |space: Space, key: String| {
        let (a, b) = (a.clone(), b.clone());
        async move {
            let tasks: Vec<_> = (0..32)
                .map(|i| {
                    let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                    let (space, key) = (space.clone(), key.clone());
                    tokio::spawn(async move {
                        let token = ClaimToken::new();
                        let outcome = store.claim(&space, &key, token, LEASE).await;
                        (token, outcome)
                    })
                })
                .collect();
            let mut winners = Vec::new();
            for task in tasks {
                let (token, outcome) = task.await.expect("task");
                match outcome.expect("claim") {
                    ClaimOutcome::Claimed => winners.push(token),
                    ClaimOutcome::InFlight { .. } => {}
                    ClaimOutcome::Processed => panic!("nothing was committed yet"),
                }
            }
            winners
        }
    };
    let winners = race(space.clone(), key.clone()).await;
    assert_eq!(winners.len(), 1, "{name}: one winner");
    assert!(a.release(&space, &key, winners[0]).await.expect("release"));
    let winners = race(space.clone(), key.clone()).await;
    assert_eq!(winners.len(), 1, "{name}: one winner after the release");
    assert!(b
        .commit(&space, &key, winners[0], KEEP)
        .await
        .expect("commit"));
    let outcome = a.claim(&space, &key, ClaimToken::new(), LEASE).await;
    assert_eq!(outcome.expect("claim"), ClaimOutcome::Processed, "{name}");
}

#[tokio::test]
async fn memory_follows_the_table() {
    let memory = Memory::new();
    run_table(&memory, "memory").await;
    let shared: Arc<dyn Claims> = Arc::new(memory);
    one_winner(shared.clone(), shared, "memory").await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_follows_the_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.sqlite3");
    let db = stripe_pulsora_store::Sqlite::open(&path).expect("open");
    run_table(&db, "sqlite").await;
    // Two connections on one file (two stores opened on one path) still agree.
    let second = stripe_pulsora_store::Sqlite::open(&path).expect("open again");
    one_winner(Arc::new(db), Arc::new(second), "sqlite").await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_follows_the_table() {
    let Some(url) = support::redis_url() else {
        return;
    };
    let a = stripe_pulsora_store::Redis::connect(&url)
        .await
        .expect("connect");
    run_table(&a, "redis").await;
    let b = stripe_pulsora_store::Redis::connect(&url)
        .await
        .expect("connect");
    one_winner(Arc::new(a), Arc::new(b), "redis").await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_follows_the_table() {
    let Some(url) = support::fresh_postgres().await else {
        return;
    };
    let a = stripe_pulsora_store::Postgres::connect(&url)
        .await
        .expect("connect");
    run_table(&a, "postgres").await;
    let b = stripe_pulsora_store::Postgres::connect(&url)
        .await
        .expect("connect");
    one_winner(Arc::new(a), Arc::new(b), "postgres").await;
}
