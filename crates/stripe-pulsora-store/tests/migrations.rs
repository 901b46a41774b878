//! Migrations: several instances starting at once migrate once; an SQLite file written by the
//! separate stores of earlier versions keeps its replay ids, sent marks and ledgers.

mod support;

use std::time::Duration;
use stripe_pulsora_store::{ClaimOutcome, ClaimToken, Claims, Space};

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_instances_starting_at_once_migrate_once() {
    let Some(url) = support::fresh_postgres().await else {
        return;
    };
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { stripe_pulsora_store::Postgres::connect(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for start in starts {
        stores.push(start.await.expect("task").expect("every instance starts"));
    }
    let client = stores[0].pool().get().await.expect("client");
    let applied: i64 = client
        .query_one("SELECT count(*) FROM stripe_pulsora_migrations", &[])
        .await
        .expect("query")
        .get(0);
    assert_eq!(applied, 2);
    // And a restart finds nothing to do.
    stripe_pulsora_store::Postgres::connect(&url)
        .await
        .expect("restart");
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_files_of_the_earlier_stores_are_imported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("old.sqlite3");
    let far = 4_102_444_800_000_i64; // 2100-01-01
    {
        let old = rusqlite::Connection::open(&path).expect("open");
        old.execute_batch(&format!(
            "CREATE TABLE stripe_webhook_replay (key TEXT PRIMARY KEY NOT NULL, processed INTEGER NOT NULL,
                 token BLOB, expires_at INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO stripe_webhook_replay VALUES ('evt_old', 1, NULL, {far});
             CREATE TABLE stripe_revenue_state (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL,
                 expires_at INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO stripe_revenue_state VALUES ('stripe-pulsora:sent:cs_1', '1', {far});
             INSERT INTO stripe_revenue_state VALUES ('stripe-pulsora:sub:sub_1', '{{}}', {far});"
        ))
        .expect("old schema");
    }
    let db = stripe_pulsora_store::Sqlite::open(&path).expect("migrate");
    let lease = Duration::from_secs(60);
    let replay = Space::new("replay");
    let sent = Space::new("sent");
    let outcome = db.claim(&replay, "evt_old", ClaimToken::new(), lease).await;
    assert_eq!(outcome.expect("claim"), ClaimOutcome::Processed);
    let outcome = db.claim(&sent, "cs_1", ClaimToken::new(), lease).await;
    assert_eq!(outcome.expect("claim"), ClaimOutcome::Processed);
    let ledger =
        stripe_pulsora_store::Documents::get_many(&db, &["stripe-pulsora:sub:sub_1".into()])
            .await
            .expect("get");
    assert_eq!(ledger, [Some("{}".to_owned())]);
    drop(db);
    // Opening again applies nothing and keeps everything.
    let db = stripe_pulsora_store::Sqlite::open(&path).expect("reopen");
    let outcome = db.claim(&replay, "evt_old", ClaimToken::new(), lease).await;
    assert_eq!(outcome.expect("claim"), ClaimOutcome::Processed);
}
