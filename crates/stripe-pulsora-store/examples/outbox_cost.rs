//! What the outbox adds to a webhook's store write on SQLite: `put_many` of the mapping's
//! documents (the inline path's write) against `commit_outbox` of the same documents plus one
//! row (the acknowledge-first path's write), one call at a time as a request would.
//!
//! `cargo run --release -p stripe-pulsora-store --features sqlite --example outbox_cost [calls]`

use std::time::{Duration, Instant};
use stripe_pulsora_store::{Document, Documents, Outbox, OutboxRow, Space, Sqlite};

fn documents(i: usize) -> Vec<Document> {
    let ttl = Duration::from_secs(86_400);
    vec![
        Document {
            key: format!("stripe-pulsora:sub:sub_{i}"),
            value: format!(r#"{{"mrr":1200,"currency":"eur","items":{i},"status":"active"}}"#),
            ttl,
        },
        Document {
            key: format!("stripe-pulsora:attr:cus_{i}"),
            value: r#"{"user_id":"u_1","source":"metadata"}"#.into(),
            ttl,
        },
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn report(name: &str, mut samples: Vec<Duration>, total: Duration) {
    samples.sort_unstable();
    println!(
        "{name:>14}: {:>7.0} calls/s, mean {:>6.1} µs, p50 {:>6.1} µs, p99 {:>6.1} µs",
        samples.len() as f64 / total.as_secs_f64(),
        total.as_secs_f64() * 1e6 / samples.len() as f64,
        percentile(&samples, 0.50).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6,
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let calls: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(5_000);
    let dir = tempfile::tempdir()?;
    let db = Sqlite::open(dir.path().join("cost.sqlite3"))?;
    let sent = Space::new("sent");
    let now = 1_767_225_600_000;
    // Interleaved call by call, so both sides see the same disk, WAL checkpoints and
    // neighbours on a shared machine.
    let (mut put, mut commit) = (Vec::with_capacity(calls), Vec::with_capacity(calls));
    let (mut put_total, mut commit_total) = (Duration::ZERO, Duration::ZERO);
    for i in 0..calls {
        let docs = documents(i);
        let t = Instant::now();
        db.put_many(&docs).await?;
        put.push(t.elapsed());
        put_total += t.elapsed();
        let row = OutboxRow {
            id: format!("in_{i}_payment"),
            queue: format!("sub_{i}"),
            payload: format!(r#"{{"transaction_id":"in_{i}_payment","amount":1200}}"#),
            stripe_event_id: format!("evt_{i}"),
        };
        let t = Instant::now();
        db.commit_outbox(&sent, &docs, &[row], now).await?;
        commit.push(t.elapsed());
        commit_total += t.elapsed();
    }
    println!("{calls} calls each, 2 documents; the commit adds 1 row (interleaved):");
    report("put_many", put, put_total);
    report("commit_outbox", commit, commit_total);
    Ok(())
}
