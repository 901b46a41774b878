//! The outbox schema over PostgreSQL (migration 2): rows, one head per queue, dead letters.
//!
//! Concurrency, in READ COMMITTED:
//! - Leasers lock queue heads with `FOR UPDATE SKIP LOCKED`, so several instances lease
//!   disjoint rows without waiting for each other.
//! - Every change of a queue's membership locks its head row first (a commit by its upsert,
//!   the others by `SELECT … FOR UPDATE` before touching the row), so a head is advanced only
//!   after seeing every committed row of its queue, and no queue is left without a head.
//! - A commit inserts its rows, then deletes those whose id became sent or dead meanwhile (a
//!   concurrent `mark_sent` the insert had to wait for): the insert's own check ran on a
//!   snapshot from before that wait.

use super::{document_columns, error, Postgres, UPSERT_DOCUMENTS};
use crate::backend::{Document, Space, StoreFuture};
use crate::outbox::rules::{attempts, bounded, checked_rows, lease_end, row_limit, stats};
use crate::outbox::{DeadLetterRow, LeasedRow, Outbox, OutboxRow, OutboxStats};
use crate::time::millis;
use crate::{ClaimToken, StoreError};
use deadpool_postgres::Transaction;
use std::time::Duration;
use tokio_postgres::Row;

fn outbox_row(row: &Row) -> OutboxRow {
    OutboxRow {
        id: row.get("id"),
        queue: row.get("queue"),
        payload: row.get("payload"),
        stripe_event_id: row.get("stripe_event_id"),
    }
}

/// Rows to enqueue as columns for `unnest`: id, queue, payload, event, enqueued at.
type Columns<'r> = (
    Vec<&'r str>,
    Vec<&'r str>,
    Vec<&'r str>,
    Vec<&'r str>,
    Vec<i64>,
);

fn columns<'r>(rows: impl Iterator<Item = (&'r OutboxRow, i64)>) -> Columns<'r> {
    let mut c: Columns<'r> = Default::default();
    for (row, enqueued_at) in rows {
        c.0.push(&row.id);
        c.1.push(&row.queue);
        c.2.push(&row.payload);
        c.3.push(&row.stripe_event_id);
        c.4.push(enqueued_at);
    }
    c
}

/// Inserts rows in order (skipping ids pending, dead, or sent in `space` at `now`), due at
/// `now`, and gives each queue that was empty its head. Returns how many went in. Shared by
/// the commit and by `retry_dead`.
async fn enqueue(
    tx: &Transaction<'_>,
    space: &str,
    rows: &Columns<'_>,
    now: i64,
) -> Result<usize, StoreError> {
    if rows.0.is_empty() {
        return Ok(0);
    }
    let insert = tx
        .prepare_cached(
            "INSERT INTO stripe_pulsora_outbox
                 (id, queue, payload, stripe_event_id, enqueued_at, due_at)
             SELECT i, q, p, e, t, $7
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])
                  WITH ORDINALITY AS u(i, q, p, e, t, n)
             WHERE NOT EXISTS (SELECT 1 FROM stripe_pulsora_dead_letters d WHERE d.id = u.i)
               AND NOT EXISTS (SELECT 1 FROM stripe_pulsora_claims c
                               WHERE c.space = $6 AND c.key = u.i AND c.processed
                                 AND c.expires_at > $7)
             ORDER BY n
             ON CONFLICT (id) DO NOTHING
             RETURNING seq",
        )
        .await
        .map_err(error)?;
    let inserted: Vec<i64> = tx
        .query(
            &insert,
            &[&rows.0, &rows.1, &rows.2, &rows.3, &rows.4, &space, &now],
        )
        .await
        .map_err(error)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if inserted.is_empty() {
        return Ok(0);
    }
    // A concurrent mark_sent or dead_letter of one of these ids, which the insert waited for,
    // is visible to this new statement: take those rows out again.
    let recheck = tx
        .prepare_cached(
            "DELETE FROM stripe_pulsora_outbox o WHERE o.seq = ANY($1)
               AND (EXISTS (SELECT 1 FROM stripe_pulsora_dead_letters d WHERE d.id = o.id)
                    OR EXISTS (SELECT 1 FROM stripe_pulsora_claims c
                               WHERE c.space = $2 AND c.key = o.id AND c.processed
                                 AND c.expires_at > $3))
             RETURNING seq",
        )
        .await
        .map_err(error)?;
    let late: Vec<i64> = tx
        .query(&recheck, &[&inserted, &space, &now])
        .await
        .map_err(error)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let kept: Vec<i64> = inserted.into_iter().filter(|s| !late.contains(s)).collect();
    // Heads in queue order (a fixed lock order between concurrent commits); an existing head
    // stays, but its row is locked (the no-op update) so nobody advances it past our rows.
    let heads = tx
        .prepare_cached(
            "INSERT INTO stripe_pulsora_outbox_heads AS h (queue, seq, ready_at)
             SELECT queue, min(seq), $2 FROM stripe_pulsora_outbox
             WHERE seq = ANY($1) GROUP BY queue ORDER BY queue
             ON CONFLICT (queue) DO UPDATE SET seq = h.seq",
        )
        .await
        .map_err(error)?;
    tx.execute(&heads, &[&kept, &now]).await.map_err(error)?;
    Ok(kept.len())
}

/// Locks the head of `id`'s queue, so the changes that follow see every committed row of that
/// queue and no leaser or commit moves the head meanwhile.
async fn lock_queue_of(tx: &Transaction<'_>, id: &str) -> Result<(), StoreError> {
    let lock = tx
        .prepare_cached(
            "SELECT 1 FROM stripe_pulsora_outbox_heads
             WHERE queue = (SELECT queue FROM stripe_pulsora_outbox WHERE id = $1)
             FOR UPDATE",
        )
        .await
        .map_err(error)?;
    tx.query(&lock, &[&id]).await.map_err(error)?;
    Ok(())
}

/// After row `seq` of `queue` left the outbox: if it was the head, the next row (if any)
/// becomes the head, leasable from its due time.
async fn advance_head(tx: &Transaction<'_>, queue: &str, seq: i64) -> Result<(), StoreError> {
    let advance = tx
        .prepare_cached(
            "WITH head AS (
                 SELECT queue FROM stripe_pulsora_outbox_heads
                 WHERE queue = $1 AND seq = $2 FOR UPDATE
             ), next AS (
                 SELECT seq, greatest(due_at, coalesce(lease_until, 0)) AS ready_at
                 FROM stripe_pulsora_outbox WHERE queue = $1 ORDER BY seq LIMIT 1
             ), moved AS (
                 UPDATE stripe_pulsora_outbox_heads h SET seq = next.seq, ready_at = next.ready_at
                 FROM head, next WHERE h.queue = head.queue
                 RETURNING 1
             )
             DELETE FROM stripe_pulsora_outbox_heads h USING head
             WHERE h.queue = head.queue AND NOT EXISTS (SELECT 1 FROM next)",
        )
        .await
        .map_err(error)?;
    tx.execute(&advance, &[&queue, &seq]).await.map_err(error)?;
    Ok(())
}

async fn set_ready(tx: &Transaction<'_>, queue: &str, ready_at: i64) -> Result<(), StoreError> {
    let update = tx
        .prepare_cached("UPDATE stripe_pulsora_outbox_heads SET ready_at = $2 WHERE queue = $1")
        .await
        .map_err(error)?;
    tx.execute(&update, &[&queue, &ready_at])
        .await
        .map_err(error)?;
    Ok(())
}

impl Outbox for Postgres {
    fn commit_outbox<'a>(
        &'a self,
        sent: &'a Space,
        documents: &'a [Document],
        rows: &'a [OutboxRow],
        now_ms: i64,
    ) -> StoreFuture<'a, usize> {
        Box::pin(async move {
            let rows = checked_rows(rows)?;
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(error)?;
            if !documents.is_empty() {
                let (keys, values, ttls) = document_columns(documents);
                let upsert = tx.prepare_cached(UPSERT_DOCUMENTS).await.map_err(error)?;
                tx.execute(&upsert, &[&keys, &values, &ttls])
                    .await
                    .map_err(error)?;
            }
            let columns = columns(rows.into_iter().map(|row| (row, now_ms)));
            let enqueued = enqueue(&tx, sent.name(), &columns, now_ms).await?;
            tx.commit().await.map_err(error)?;
            Ok(enqueued)
        })
    }

    fn lease_due<'a>(
        &'a self,
        now_ms: i64,
        limit: usize,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'a, Vec<LeasedRow>> {
        Box::pin(async move {
            if limit == 0 {
                return Ok(Vec::new());
            }
            let until = lease_end(now_ms, lease);
            let client = self.client().await?;
            // One statement: lock ready heads others have not locked, push their readiness to
            // the end of the lease, and stamp the token on their rows.
            let lease_rows = client
                .prepare_cached(
                    "WITH picked AS (
                         SELECT queue, seq, ready_at FROM stripe_pulsora_outbox_heads
                         WHERE ready_at <= $1 ORDER BY ready_at, seq LIMIT $2
                         FOR UPDATE SKIP LOCKED
                     ), heads AS (
                         -- By primary key: a join here lets the planner scan every head.
                         UPDATE stripe_pulsora_outbox_heads SET ready_at = $3
                         WHERE queue = ANY(ARRAY(SELECT queue FROM picked))
                     )
                     UPDATE stripe_pulsora_outbox o SET lease_token = $4, lease_until = $3
                     FROM picked WHERE o.seq = picked.seq
                     RETURNING o.id, o.queue, o.payload, o.stripe_event_id, o.seq, o.attempts,
                               o.enqueued_at, o.last_error, picked.ready_at",
                )
                .await
                .map_err(error)?;
            let token = token.to_bytes();
            let rows = client
                .query(
                    &lease_rows,
                    &[&now_ms, &row_limit(limit), &until, &&token[..]],
                )
                .await
                .map_err(error)?;
            let mut leased: Vec<(i64, LeasedRow)> = rows
                .iter()
                .map(|r| {
                    let tries: i32 = r.get("attempts");
                    (
                        r.get("ready_at"),
                        LeasedRow {
                            row: outbox_row(r),
                            seq: r.get("seq"),
                            attempts: attempts(i64::from(tries)),
                            enqueued_at_ms: r.get("enqueued_at"),
                            last_error: r.get("last_error"),
                        },
                    )
                })
                .collect();
            leased.sort_by_key(|(ready_at, row)| (*ready_at, row.seq));
            Ok(leased.into_iter().map(|(_, row)| row).collect())
        })
    }

    fn mark_sent<'a>(
        &'a self,
        sent: &'a Space,
        id: &'a str,
        token: ClaimToken,
        now_ms: i64,
        sent_ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(error)?;
            lock_queue_of(&tx, id).await?;
            let remove = tx
                .prepare_cached(
                    "DELETE FROM stripe_pulsora_outbox WHERE id = $1
                     RETURNING queue, seq, lease_token",
                )
                .await
                .map_err(error)?;
            let mut held = false;
            if let Some(row) = tx.query_opt(&remove, &[&id]).await.map_err(error)? {
                let holder: Option<Vec<u8>> = row.get(2);
                held = holder.as_deref() == Some(&token.to_bytes()[..]);
                advance_head(&tx, row.get(0), row.get(1)).await?;
            }
            let undead = tx
                .prepare_cached("DELETE FROM stripe_pulsora_dead_letters WHERE id = $1")
                .await
                .map_err(error)?;
            tx.execute(&undead, &[&id]).await.map_err(error)?;
            let record = tx
                .prepare_cached(
                    "INSERT INTO stripe_pulsora_claims (space, key, processed, token, expires_at)
                     VALUES ($1, $2, true, NULL, $3)
                     ON CONFLICT (space, key) DO UPDATE
                         SET processed = true, token = NULL, expires_at = excluded.expires_at",
                )
                .await
                .map_err(error)?;
            let expires = now_ms.saturating_add(millis(sent_ttl));
            tx.execute(&record, &[&sent.name(), &id, &expires])
                .await
                .map_err(error)?;
            tx.commit().await.map_err(error)?;
            Ok(held)
        })
    }

    fn reschedule<'a>(
        &'a self,
        id: &'a str,
        token: ClaimToken,
        due_at_ms: i64,
        error_text: &'a str,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(error)?;
            lock_queue_of(&tx, id).await?;
            let update = tx
                .prepare_cached(
                    "UPDATE stripe_pulsora_outbox
                     SET attempts = attempts + 1, due_at = $3, last_error = $4,
                         lease_token = NULL, lease_until = NULL
                     WHERE id = $1 AND lease_token = $2 RETURNING queue",
                )
                .await
                .map_err(error)?;
            let token = token.to_bytes();
            let text = bounded(error_text);
            let Some(row) = tx
                .query_opt(&update, &[&id, &&token[..], &due_at_ms, &text])
                .await
                .map_err(error)?
            else {
                return Ok(false);
            };
            set_ready(&tx, row.get(0), due_at_ms).await?;
            tx.commit().await.map_err(error)?;
            Ok(true)
        })
    }

    fn release_lease<'a>(&'a self, id: &'a str, token: ClaimToken) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(error)?;
            lock_queue_of(&tx, id).await?;
            let update = tx
                .prepare_cached(
                    "UPDATE stripe_pulsora_outbox SET lease_token = NULL, lease_until = NULL
                     WHERE id = $1 AND lease_token = $2 RETURNING queue, due_at",
                )
                .await
                .map_err(error)?;
            let token = token.to_bytes();
            let Some(row) = tx
                .query_opt(&update, &[&id, &&token[..]])
                .await
                .map_err(error)?
            else {
                return Ok(false);
            };
            set_ready(&tx, row.get(0), row.get(1)).await?;
            tx.commit().await.map_err(error)?;
            Ok(true)
        })
    }

    fn dead_letter<'a>(
        &'a self,
        id: &'a str,
        token: ClaimToken,
        reason: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(error)?;
            lock_queue_of(&tx, id).await?;
            let bury = tx
                .prepare_cached(
                    "WITH gone AS (
                         DELETE FROM stripe_pulsora_outbox WHERE id = $1 AND lease_token = $2
                         RETURNING *
                     )
                     INSERT INTO stripe_pulsora_dead_letters
                         (id, queue, payload, stripe_event_id, reason, attempts, enqueued_at, dead_at)
                     SELECT id, queue, payload, stripe_event_id, $3, attempts, enqueued_at, $4
                     FROM gone
                     ON CONFLICT (id) DO UPDATE SET
                         queue = excluded.queue, payload = excluded.payload,
                         stripe_event_id = excluded.stripe_event_id, reason = excluded.reason,
                         attempts = excluded.attempts, enqueued_at = excluded.enqueued_at,
                         dead_at = excluded.dead_at
                     RETURNING queue, (SELECT seq FROM gone)",
                )
                .await
                .map_err(error)?;
            let token = token.to_bytes();
            let reason = bounded(reason);
            let Some(row) = tx
                .query_opt(&bury, &[&id, &&token[..], &reason, &now_ms])
                .await
                .map_err(error)?
            else {
                return Ok(false);
            };
            advance_head(&tx, row.get(0), row.get(1)).await?;
            tx.commit().await.map_err(error)?;
            Ok(true)
        })
    }

    fn stats(&self) -> StoreFuture<'_, OutboxStats> {
        Box::pin(async move {
            let client = self.client().await?;
            let query = client
                .prepare_cached(
                    "SELECT (SELECT count(*) FROM stripe_pulsora_outbox),
                            (SELECT min(enqueued_at) FROM stripe_pulsora_outbox),
                            (SELECT count(*) FROM stripe_pulsora_dead_letters)",
                )
                .await
                .map_err(error)?;
            let row = client.query_one(&query, &[]).await.map_err(error)?;
            Ok(stats(row.get(0), row.get(1), row.get(2)))
        })
    }

    fn dead_letters(&self, limit: usize) -> StoreFuture<'_, Vec<DeadLetterRow>> {
        Box::pin(async move {
            let client = self.client().await?;
            let query = client
                .prepare_cached(
                    "SELECT id, queue, payload, stripe_event_id, reason, attempts, enqueued_at,
                            dead_at
                     FROM stripe_pulsora_dead_letters ORDER BY dead_at, id LIMIT $1",
                )
                .await
                .map_err(error)?;
            let rows = client
                .query(&query, &[&row_limit(limit)])
                .await
                .map_err(error)?;
            Ok(rows
                .iter()
                .map(|r| {
                    let tries: i32 = r.get("attempts");
                    DeadLetterRow {
                        row: outbox_row(r),
                        reason: r.get("reason"),
                        attempts: attempts(i64::from(tries)),
                        enqueued_at_ms: r.get("enqueued_at"),
                        dead_at_ms: r.get("dead_at"),
                    }
                })
                .collect())
        })
    }

    fn retry_dead<'a>(&'a self, id: Option<&'a str>, now_ms: i64) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(error)?;
            // In the order they died, so a queue gets its rows back in that order.
            let take = tx
                .prepare_cached(
                    "WITH gone AS (
                         DELETE FROM stripe_pulsora_dead_letters
                         WHERE $1::text IS NULL OR id = $1 RETURNING *
                     )
                     SELECT id, queue, payload, stripe_event_id, enqueued_at FROM gone
                     ORDER BY dead_at, id",
                )
                .await
                .map_err(error)?;
            let dead: Vec<(OutboxRow, i64)> = tx
                .query(&take, &[&id])
                .await
                .map_err(error)?
                .iter()
                .map(|r| (outbox_row(r), r.get("enqueued_at")))
                .collect();
            let columns = columns(dead.iter().map(|(row, at)| (row, *at)));
            // Not checked against the sent space: retrying is the operator's decision.
            let back = enqueue(&tx, "", &columns, now_ms).await?;
            tx.commit().await.map_err(error)?;
            Ok(u64::try_from(back).unwrap_or(u64::MAX))
        })
    }

    fn drop_dead<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let client = self.client().await?;
            let delete = client
                .prepare_cached("DELETE FROM stripe_pulsora_dead_letters WHERE id = $1")
                .await
                .map_err(error)?;
            let deleted = client.execute(&delete, &[&id]).await.map_err(error)?;
            Ok(deleted > 0)
        })
    }
}
