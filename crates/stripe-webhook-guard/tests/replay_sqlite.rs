//! The SQLite store over real sockets: a restart (a new layer and store on the same file) still
//! answers duplicates for processed ids, and still processes ids that never succeeded.
#![cfg(all(feature = "axum", feature = "sqlite"))]

mod replay_support;

use replay_support::{deliver, layer, serve, Probe, Step};
use stripe_webhook_guard::{ClaimOutcome, ClaimToken, ReplayStore, SqliteStore};

#[tokio::test]
async fn a_restarted_guard_remembers_processed_ids() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("replay.sqlite3");

    // First life: one event processed, one whose handler failed.
    let before = Probe::scripted(&[Step::Fail]);
    let app = serve(
        layer().replay_store(SqliteStore::open(&path).expect("open")),
        before.clone(),
    )
    .await;
    assert_eq!(deliver(&app.url, "evt_failed_before").await.status, 500);
    assert!(deliver(&app.url, "evt_done_before").await.is_handled());
    assert!(deliver(&app.url, "evt_done_before").await.is_duplicate());
    app.shutdown().await;

    // Second life: a fresh layer (empty cache) and a fresh store on the same file.
    let after = Probe::new(std::time::Duration::ZERO);
    let app = serve(
        layer().replay_store(SqliteStore::open(&path).expect("reopen")),
        after.clone(),
    )
    .await;
    let done = deliver(&app.url, "evt_done_before").await;
    assert!(
        done.is_duplicate(),
        "processed before the restart: {done:?}"
    );
    let failed = deliver(&app.url, "evt_failed_before").await;
    assert!(
        failed.is_handled(),
        "its claim was released before the restart: {failed:?}"
    );
    assert_eq!(after.started(), 1);
    app.shutdown().await;

    // The same, seen by the store alone after both guards are gone.
    let store = SqliteStore::open(&path).expect("reopen");
    for id in ["evt_done_before", "evt_failed_before"] {
        let outcome = store
            .claim(
                id,
                ClaimToken::new(),
                stripe_webhook_guard::DEFAULT_LEASE_TTL,
            )
            .await
            .expect("claim");
        assert_eq!(outcome, ClaimOutcome::Processed, "{id}");
    }
}
