//! Test infrastructure: the servers `scripts/test` starts, unique names, and skips that fail
//! under `CI`.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

/// Missing test infrastructure: a failure in CI, a note and a skip on a developer machine.
pub fn unavailable(what: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} (CI is set, so this is a failure, not a skip)");
    }
    eprintln!("skipped: {what} (run scripts/test to get one)");
}

/// A name no other test run uses (a shared Redis or PostgreSQL outlives runs).
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `STRIPE_PULSORA_TEST_REDIS_URL`, or a skip.
pub fn redis_url() -> Option<String> {
    let url = std::env::var("STRIPE_PULSORA_TEST_REDIS_URL").ok();
    if url.is_none() {
        unavailable("STRIPE_PULSORA_TEST_REDIS_URL is not set");
    }
    url
}

/// `STRIPE_PULSORA_TEST_POSTGRES_URL`, or a skip.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("STRIPE_PULSORA_TEST_POSTGRES_URL").ok();
    if url.is_none() {
        unavailable("STRIPE_PULSORA_TEST_POSTGRES_URL is not set");
    }
    url
}

/// A fresh, empty database on the test server (so migrations start from nothing), or a skip.
pub async fn fresh_postgres() -> Option<String> {
    let url = postgres_url()?;
    let name = unique("sp_test").to_lowercase();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test server");
    let task = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    drop(client);
    let _ = task.await;
    let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
    Some(format!("{base}/{name}"))
}
