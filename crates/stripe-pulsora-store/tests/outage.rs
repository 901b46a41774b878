//! PostgreSQL going away under a running pool: every call fails fast with a transient error
//! (what the webhook answers as `503` + `Retry-After`), never hangs, and the same pool works
//! again once the server is back, with everything committed before the outage still there.
//! On a server of the test's own ([`pg_cluster`]), stopped cleanly and killed with `SIGKILL`.
#![cfg(feature = "postgres")]

#[path = "support/pg_cluster.rs"]
mod pg_cluster;

use pg_cluster::PgCluster;
use std::time::{Duration, Instant};
use stripe_pulsora_store::{
    ClaimOutcome, ClaimToken, Claims, Document, Documents, Postgres, Space, StoreError,
};

/// Longest one call may take while the server is down: the pool's wait and connect timeouts
/// are 2 s each, plus scheduling on a loaded machine.
const DOWN_BOUND: Duration = Duration::from_secs(6);
const LEASE: Duration = Duration::from_secs(60);
const KEEP: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// `pg_ctl stop -m fast`.
    Stop,
    /// `SIGKILL` to the server and its backends.
    Kill,
}

async fn timed<T>(what: &str, call: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let result = tokio::time::timeout(DOWN_BOUND * 2, call)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {:?}", DOWN_BOUND * 2));
    let took = started.elapsed();
    assert!(took <= DOWN_BOUND, "{what}: took {took:?}");
    result
}

fn assert_transient<T: std::fmt::Debug>(what: &str, result: Result<T, StoreError>) {
    match result {
        Err(error) if error.is_transient() => {}
        other => panic!("{what}: expected a transient error, got {other:?}"),
    }
}

async fn outage_and_recovery(fault: Fault) {
    let Some(mut pg) = tokio::task::block_in_place(PgCluster::start) else {
        return;
    };
    let db = Postgres::connect_with_pool_size(&pg.url(), 4)
        .await
        .expect("connect");
    let space = Space::new("outage");
    let (done, held, later) = (ClaimToken::new(), ClaimToken::new(), ClaimToken::new());
    // Before: one key processed, one leased, one document.
    assert_eq!(
        db.claim(&space, "done", done, LEASE).await,
        Ok(ClaimOutcome::Claimed)
    );
    assert_eq!(db.commit(&space, "done", done, KEEP).await, Ok(true));
    assert_eq!(
        db.claim(&space, "held", held, LEASE).await,
        Ok(ClaimOutcome::Claimed)
    );
    let doc = Document {
        key: "ledger".into(),
        value: "{\"mrr\":800}".into(),
        ttl: KEEP,
    };
    db.put_many(std::slice::from_ref(&doc)).await.expect("put");

    match fault {
        Fault::Stop => tokio::task::block_in_place(|| pg.stop()),
        Fault::Kill => tokio::task::block_in_place(|| pg.kill()),
    }
    // Down: every kind of call fails transiently, in bounded time, twice in a row (the second
    // finds the pool's connections already known dead).
    for round in 0..2 {
        let what = |call: &str| format!("{fault:?}, round {round}: {call}");
        assert_transient(&what("ping"), timed(&what("ping"), db.ping()).await);
        assert_transient(
            &what("claim"),
            timed(&what("claim"), db.claim(&space, "new", later, LEASE)).await,
        );
        assert_transient(
            &what("commit"),
            timed(&what("commit"), db.commit(&space, "held", held, KEEP)).await,
        );
        assert_transient(
            &what("release"),
            timed(&what("release"), db.release(&space, "held", held)).await,
        );
        let keys = ["ledger".to_owned()];
        assert_transient(&what("get"), timed(&what("get"), db.get_many(&keys)).await);
    }

    tokio::task::block_in_place(|| pg.restart());
    // Back: the same pool answers again (within a bound: the first call may meet a connection
    // that died with the old server), and nothing committed before the outage is lost.
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.ping().await.is_err() {
        assert!(Instant::now() < deadline, "{fault:?}: pool never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        db.claim(&space, "done", later, LEASE).await,
        Ok(ClaimOutcome::Processed),
        "{fault:?}: the committed key"
    );
    assert!(
        matches!(
            db.claim(&space, "held", later, LEASE).await,
            Ok(ClaimOutcome::InFlight { .. })
        ),
        "{fault:?}: the lease taken before the outage still holds"
    );
    // Its holder can still settle it: the release that failed during the outage works now.
    assert_eq!(db.release(&space, "held", held).await, Ok(true));
    assert_eq!(
        db.claim(&space, "new", later, LEASE).await,
        Ok(ClaimOutcome::Claimed)
    );
    let keys = ["ledger".to_owned()];
    assert_eq!(db.get_many(&keys).await, Ok(vec![Some(doc.value.clone())]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_fails_calls_fast_and_the_pool_recovers() {
    outage_and_recovery(Fault::Stop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_fails_calls_fast_and_the_pool_recovers() {
    outage_and_recovery(Fault::Kill).await;
}
