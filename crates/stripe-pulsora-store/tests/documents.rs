//! Documents over every backend: written together, read back in order, absent after their
//! time to live; the memory backend stays within its byte bound.

mod support;

use std::time::Duration;
use stripe_pulsora_store::{Document, Documents, Memory};

async fn round_trip(store: &dyn Documents, name: &str) {
    let run = support::unique("doc");
    let key = |k: &str| format!("{run}:{k}");
    let documents = vec![
        Document {
            key: key("a"),
            value: r#"{"v":1}"#.into(),
            ttl: Duration::from_secs(60),
        },
        Document {
            key: key("short"),
            value: "2".into(),
            ttl: Duration::from_millis(150),
        },
        // The same key twice in one write: the last one wins.
        Document {
            key: key("a"),
            value: r#"{"v":3}"#.into(),
            ttl: Duration::from_secs(60),
        },
    ];
    store
        .put_many(&documents)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let keys = [key("missing"), key("a"), key("short")];
    let values = store
        .get_many(&keys)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        values,
        [None, Some(r#"{"v":3}"#.to_owned()), Some("2".to_owned())],
        "{name}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let values = store
        .get_many(&keys[2..])
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(values, [None], "{name}: expired");
    assert!(store.get_many(&[]).await.expect("empty").is_empty());
    store.put_many(&[]).await.expect("empty write");
}

#[tokio::test]
async fn memory_documents() {
    round_trip(&Memory::new(), "memory").await;
}

#[tokio::test]
async fn memory_documents_stay_within_their_byte_bound() {
    let memory = Memory::with_bounds(None, 1024 * 1024);
    for chunk in 0..100 {
        let documents: Vec<Document> = (0..100)
            .map(|i| Document {
                key: format!("stripe-pulsora:sub:sub_{chunk}_{i}"),
                value: "x".repeat(200),
                ttl: Duration::from_secs(3600),
            })
            .collect();
        memory.put_many(&documents).await.expect("put");
    }
    let bytes = memory.document_bytes().await;
    assert!(bytes <= 1024 * 1024, "{bytes} bytes held, bound 1 MiB");
    assert!(
        bytes > 512 * 1024,
        "{bytes}: the bound is used, not emptied"
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_documents() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = stripe_pulsora_store::Sqlite::open(dir.path().join("s.sqlite3")).expect("open");
    round_trip(&db, "sqlite").await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_documents() {
    let Some(url) = support::redis_url() else {
        return;
    };
    let redis = stripe_pulsora_store::Redis::connect(&url)
        .await
        .expect("connect");
    round_trip(&redis, "redis").await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_documents() {
    let Some(url) = support::fresh_postgres().await else {
        return;
    };
    let db = stripe_pulsora_store::Postgres::connect(&url)
        .await
        .expect("connect");
    round_trip(&db, "postgres").await;
}
