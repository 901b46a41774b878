//! The `ReplayStore` contract, one table of steps run against every store: claim, commit,
//! release, expiry with short TTLs, and "only the holder may release".

mod replay_support;

use std::time::Duration;
use stripe_webhook_guard::{ClaimOutcome, ClaimToken, MemoryStore, ReplayStore};

const LEASE: Duration = Duration::from_secs(60);
const KEEP: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(150);

/// What a step expects.
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

/// Tokens are referred to by index: claim 0, claim 1, claim 2.
const TABLE: &[(&str, &[Step])] = &[
    (
        "claim, refuse a second claimer, commit, then processed for everyone",
        &[
            Claim("a", 0, LEASE, Claimed),
            Claim("a", 1, LEASE, InFlight),
            Claim("a", 0, LEASE, InFlight), // even the holder cannot claim twice
            Commit("a", 0, KEEP, Yes),
            Claim("a", 1, LEASE, Processed),
            Release("a", 0, No), // a processed id is not a lease any more
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
        "an expired lease frees the id; the late holder can neither release nor keep it",
        &[
            Claim("c", 0, SHORT, Claimed),
            Sleep(Duration::from_millis(300)),
            Claim("c", 1, LEASE, Claimed),
            Release("c", 0, No),
            Claim("c", 2, LEASE, InFlight),
            // The late holder's handler did succeed: the id is processed, but it is told it
            // had lost the lease.
            Commit("c", 0, KEEP, No),
            Claim("c", 2, LEASE, Processed),
            Release("c", 1, No),
            Claim("c", 2, LEASE, Processed),
        ],
    ),
    (
        "processed ids expire after their retention",
        &[
            Claim("d", 0, LEASE, Claimed),
            Commit("d", 0, SHORT, Yes),
            Claim("d", 1, LEASE, Processed),
            Sleep(Duration::from_millis(300)),
            Claim("d", 1, LEASE, Claimed),
        ],
    ),
    (
        "commit without a claim still records the id",
        &[Commit("e", 0, KEEP, No), Claim("e", 1, LEASE, Processed)],
    ),
];

async fn run_table(store: &dyn ReplayStore, name: &str) {
    for (case, steps) in TABLE {
        let tokens = [ClaimToken::new(), ClaimToken::new(), ClaimToken::new()];
        // Keys are unique per run, so a shared Redis never sees a previous run's ids.
        let run = replay_support::unique("k");
        for (index, step) in steps.iter().enumerate() {
            let context = format!("{name}: {case}: step {index} {step:?}");
            match *step {
                Claim(key, token, lease, expect) => {
                    let key = format!("{run}-{key}");
                    let outcome = store
                        .claim(&key, tokens[token], lease)
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
                    let key = format!("{run}-{key}");
                    let held = store
                        .commit(&key, tokens[token], ttl)
                        .await
                        .unwrap_or_else(|e| panic!("{context}: {e}"));
                    assert_eq!(held, matches!(expect, Yes), "{context}");
                }
                Release(key, token, expect) => {
                    let key = format!("{run}-{key}");
                    let released = store
                        .release(&key, tokens[token])
                        .await
                        .unwrap_or_else(|e| panic!("{context}: {e}"));
                    assert_eq!(released, matches!(expect, Yes), "{context}");
                }
                Sleep(wait) => tokio::time::sleep(wait).await,
            }
        }
    }
}

#[tokio::test]
async fn memory_store_follows_the_contract() {
    let store = MemoryStore::new();
    run_table(&store, "memory").await;
    assert!(!store.is_empty());
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_store_follows_the_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        stripe_webhook_guard::SqliteStore::open(dir.path().join("replay.sqlite3")).expect("open");
    run_table(&store, "sqlite").await;
}

/// Expired rows are deleted: by `purge_expired`, and by the first claim after a (re)start
/// (then at most once a minute).
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_store_deletes_expired_rows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("replay.sqlite3");
    let store = stripe_webhook_guard::SqliteStore::open(&path).expect("open");
    let token = ClaimToken::new();
    for i in 0..10 {
        store
            .commit(&format!("evt_{i}"), token, SHORT)
            .await
            .expect("commit");
    }
    store.commit("evt_kept", token, KEEP).await.expect("commit");
    tokio::time::sleep(SHORT * 2).await;
    assert_eq!(store.purge_expired().await.expect("purge"), 10);
    assert_eq!(store.purge_expired().await.expect("purge"), 0);

    for i in 0..10 {
        store
            .commit(&format!("evt_{i}"), token, SHORT)
            .await
            .expect("commit");
    }
    drop(store);
    tokio::time::sleep(SHORT * 2).await;
    let restarted = stripe_webhook_guard::SqliteStore::open(&path).expect("reopen");
    let outcome = restarted
        .claim("evt_new", ClaimToken::new(), LEASE)
        .await
        .expect("claim");
    assert_eq!(outcome, ClaimOutcome::Claimed);
    assert_eq!(
        restarted.purge_expired().await.expect("purge"),
        0,
        "the claim swept them"
    );
    let kept = restarted
        .claim("evt_kept", ClaimToken::new(), LEASE)
        .await
        .expect("claim");
    assert_eq!(kept, ClaimOutcome::Processed);
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_store_follows_the_contract() {
    let Some(url) = replay_support::redis_url() else {
        return;
    };
    let store = stripe_webhook_guard::RedisStore::connect(&url)
        .await
        .expect("connect")
        .with_prefix(replay_support::unique("stripe-webhook-test") + ":");
    run_table(&store, "redis").await;
    // The Debug form names the prefix, never the URL.
    assert!(!format!("{store:?}").contains(&url));
}

/// A store shared through an `Arc` behaves as the store itself.
#[tokio::test]
async fn an_arc_of_a_store_is_a_store() {
    let store = std::sync::Arc::new(MemoryStore::new());
    run_table(&store, "arc<memory>").await;
}

/// The moka-backed store of the shared layer follows the same table.
#[tokio::test]
async fn moka_backend_store_follows_the_contract() {
    let store =
        stripe_webhook_guard::BackendStore::over(stripe_webhook_guard::store::Memory::new());
    run_table(&store, "moka").await;
    assert!(store.answers_in_process());
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_store_follows_the_contract() {
    let Ok(url) = std::env::var("STRIPE_PULSORA_TEST_POSTGRES_URL") else {
        replay_support::unavailable("STRIPE_PULSORA_TEST_POSTGRES_URL is not set");
        return;
    };
    let store = stripe_webhook_guard::PostgresStore::connect(&url)
        .await
        .expect("connect");
    run_table(&store, "postgres").await;
    // The Debug form never shows the URL.
    assert!(!format!("{store:?}").contains(&url));
}
