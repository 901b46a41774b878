//! The outbox schema over SQLite (migration 2): rows, one head per queue, dead letters. Every
//! write runs in one `IMMEDIATE` transaction, which takes the file's write lock first: a second
//! process on the file waits for it (busy timeout), so two leasers never see the same head.

use super::{error, write_documents, Sqlite};
use crate::backend::{Document, Space, StoreFuture};
use crate::outbox::rules::{attempts, bounded, checked_rows, lease_end, row_limit, stats};
use crate::outbox::{DeadLetterRow, LeasedRow, Outbox, OutboxRow, OutboxStats};
use crate::time::millis;
use crate::{ClaimToken, StoreError};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use std::time::Duration;

/// The columns a leased row is read from, in [`leased`]'s order.
const LEASED_COLUMNS: &str =
    "id, queue, payload, stripe_event_id, seq, attempts, enqueued_at, last_error";

fn leased(row: &Row<'_>) -> rusqlite::Result<LeasedRow> {
    Ok(LeasedRow {
        row: OutboxRow {
            id: row.get(0)?,
            queue: row.get(1)?,
            payload: row.get(2)?,
            stripe_event_id: row.get(3)?,
        },
        seq: row.get(4)?,
        attempts: attempts(row.get(5)?),
        enqueued_at_ms: row.get(6)?,
        last_error: row.get(7)?,
    })
}

fn immediate(connection: &mut Connection) -> Result<Transaction<'_>, StoreError> {
    connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(error)
}

/// Inserts one row (unless its id is pending, dead, or sent in `space` at `now`) and makes it
/// its queue's head if the queue was empty; `true` when it was inserted. Shared by the commit
/// and by `retry_dead`.
fn enqueue(
    tx: &Transaction<'_>,
    space: &str,
    row: &OutboxRow,
    enqueued_at: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let seq: Option<i64> = tx
        .prepare_cached(
            "INSERT INTO stripe_pulsora_outbox
                 (id, queue, payload, stripe_event_id, enqueued_at, due_at, attempts)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, 0
             WHERE NOT EXISTS (SELECT 1 FROM stripe_pulsora_dead_letters WHERE id = ?1)
               AND NOT EXISTS (SELECT 1 FROM stripe_pulsora_claims
                               WHERE space = ?7 AND key = ?1 AND processed = 1 AND expires_at > ?6)
             ON CONFLICT (id) DO NOTHING
             RETURNING seq",
        )
        .and_then(|mut s| {
            s.query_row(
                params![
                    row.id,
                    row.queue,
                    row.payload,
                    row.stripe_event_id,
                    enqueued_at,
                    now,
                    space
                ],
                |r| r.get(0),
            )
            .optional()
        })
        .map_err(error)?;
    let Some(seq) = seq else {
        return Ok(false);
    };
    tx.prepare_cached(
        "INSERT INTO stripe_pulsora_outbox_heads (queue, seq, ready_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (queue) DO NOTHING",
    )
    .and_then(|mut s| s.execute(params![row.queue, seq, now]))
    .map_err(error)?;
    Ok(true)
}

/// After row `seq` of `queue` left the outbox: if it was the head, the next row (if any)
/// becomes the head, leasable from its due time.
fn advance_head(tx: &Transaction<'_>, queue: &str, seq: i64) -> Result<(), StoreError> {
    let head: Option<i64> = tx
        .prepare_cached("SELECT seq FROM stripe_pulsora_outbox_heads WHERE queue = ?1")
        .and_then(|mut s| s.query_row([queue], |r| r.get(0)).optional())
        .map_err(error)?;
    if head != Some(seq) {
        return Ok(());
    }
    let next: Option<(i64, i64)> = tx
        .prepare_cached(
            "SELECT seq, max(due_at, coalesce(lease_until, 0)) FROM stripe_pulsora_outbox
             WHERE queue = ?1 ORDER BY seq LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row([queue], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(error)?;
    match next {
        Some((seq, ready_at)) => tx
            .prepare_cached(
                "UPDATE stripe_pulsora_outbox_heads SET seq = ?2, ready_at = ?3 WHERE queue = ?1",
            )
            .and_then(|mut s| s.execute(params![queue, seq, ready_at])),
        None => tx
            .prepare_cached("DELETE FROM stripe_pulsora_outbox_heads WHERE queue = ?1")
            .and_then(|mut s| s.execute([queue])),
    }
    .map_err(error)?;
    Ok(())
}

fn set_ready(tx: &Transaction<'_>, queue: &str, ready_at: i64) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE stripe_pulsora_outbox_heads SET ready_at = ?2 WHERE queue = ?1")
        .and_then(|mut s| s.execute(params![queue, ready_at]))
        .map_err(error)?;
    Ok(())
}

impl Outbox for Sqlite {
    fn commit_outbox<'a>(
        &'a self,
        sent: &'a Space,
        documents: &'a [Document],
        rows: &'a [OutboxRow],
        now_ms: i64,
    ) -> StoreFuture<'a, usize> {
        Box::pin(async move {
            let rows: Vec<OutboxRow> = checked_rows(rows)?.into_iter().cloned().collect();
            let documents = documents.to_vec();
            let space = sent.name();
            self.run(move |connection, clock| {
                let tx = immediate(connection)?;
                // Documents on the store's clock, as put_many writes them.
                write_documents(&tx, &documents, clock)?;
                let mut enqueued = 0;
                for row in &rows {
                    enqueued += usize::from(enqueue(&tx, space, row, now_ms, now_ms)?);
                }
                tx.commit().map_err(error)?;
                Ok(enqueued)
            })
            .await
        })
    }

    fn lease_due<'a>(
        &'a self,
        now_ms: i64,
        limit: usize,
        token: ClaimToken,
        lease: Duration,
    ) -> StoreFuture<'a, Vec<LeasedRow>> {
        Box::pin(self.run(move |connection, _| {
            if limit == 0 {
                return Ok(Vec::new());
            }
            let until = lease_end(now_ms, lease);
            let tx = immediate(connection)?;
            let heads: Vec<(String, i64)> = tx
                .prepare_cached(
                    "SELECT queue, seq FROM stripe_pulsora_outbox_heads
                     WHERE ready_at <= ?1 ORDER BY ready_at, seq LIMIT ?2",
                )
                .and_then(|mut s| {
                    s.query_map(params![now_ms, row_limit(limit)], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?
                    .collect()
                })
                .map_err(error)?;
            let mut rows = Vec::with_capacity(heads.len());
            for (queue, seq) in heads {
                let row = tx
                    .prepare_cached(&format!(
                        "UPDATE stripe_pulsora_outbox SET lease_token = ?2, lease_until = ?3
                         WHERE seq = ?1 RETURNING {LEASED_COLUMNS}"
                    ))
                    .and_then(|mut s| {
                        s.query_row(params![seq, &token.to_bytes()[..], until], leased)
                            .optional()
                    })
                    .map_err(error)?;
                match row {
                    Some(row) => {
                        set_ready(&tx, &queue, until)?;
                        rows.push(row);
                    }
                    // A head without its row is never written; repair it rather than stall.
                    None => advance_head(&tx, &queue, seq)?,
                }
            }
            tx.commit().map_err(error)?;
            Ok(rows)
        }))
    }

    fn mark_sent<'a>(
        &'a self,
        sent: &'a Space,
        id: &'a str,
        token: ClaimToken,
        now_ms: i64,
        sent_ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        let (space, id) = (sent.name(), id.to_owned());
        Box::pin(self.run(move |connection, _| {
            let tx = immediate(connection)?;
            let removed: Option<(String, i64, Option<Vec<u8>>)> = tx
                .prepare_cached(
                    "DELETE FROM stripe_pulsora_outbox WHERE id = ?1
                     RETURNING queue, seq, lease_token",
                )
                .and_then(|mut s| {
                    s.query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                        .optional()
                })
                .map_err(error)?;
            let mut held = false;
            if let Some((queue, seq, holder)) = removed {
                held = holder.as_deref() == Some(&token.to_bytes()[..]);
                advance_head(&tx, &queue, seq)?;
            }
            tx.prepare_cached("DELETE FROM stripe_pulsora_dead_letters WHERE id = ?1")
                .and_then(|mut s| s.execute([&id]))
                .map_err(error)?;
            tx.prepare_cached(
                "INSERT INTO stripe_pulsora_claims (space, key, processed, token, expires_at)
                 VALUES (?1, ?2, 1, NULL, ?3)
                 ON CONFLICT (space, key) DO UPDATE
                     SET processed = 1, token = NULL, expires_at = excluded.expires_at",
            )
            .and_then(|mut s| {
                s.execute(params![space, id, now_ms.saturating_add(millis(sent_ttl))])
            })
            .map_err(error)?;
            tx.commit().map_err(error)?;
            Ok(held)
        }))
    }

    fn reschedule<'a>(
        &'a self,
        id: &'a str,
        token: ClaimToken,
        due_at_ms: i64,
        error_text: &'a str,
    ) -> StoreFuture<'a, bool> {
        let (id, text) = (id.to_owned(), bounded(error_text).to_owned());
        Box::pin(self.run(move |connection, _| {
            let tx = immediate(connection)?;
            let queue: Option<String> = tx
                .prepare_cached(
                    "UPDATE stripe_pulsora_outbox
                     SET attempts = attempts + 1, due_at = ?3, last_error = ?4,
                         lease_token = NULL, lease_until = NULL
                     WHERE id = ?1 AND lease_token = ?2 RETURNING queue",
                )
                .and_then(|mut s| {
                    s.query_row(params![id, &token.to_bytes()[..], due_at_ms, text], |r| {
                        r.get(0)
                    })
                    .optional()
                })
                .map_err(error)?;
            let Some(queue) = queue else {
                return Ok(false);
            };
            set_ready(&tx, &queue, due_at_ms)?;
            tx.commit().map_err(error)?;
            Ok(true)
        }))
    }

    fn release_lease<'a>(&'a self, id: &'a str, token: ClaimToken) -> StoreFuture<'a, bool> {
        let id = id.to_owned();
        Box::pin(self.run(move |connection, _| {
            let tx = immediate(connection)?;
            let released: Option<(String, i64)> = tx
                .prepare_cached(
                    "UPDATE stripe_pulsora_outbox SET lease_token = NULL, lease_until = NULL
                     WHERE id = ?1 AND lease_token = ?2 RETURNING queue, due_at",
                )
                .and_then(|mut s| {
                    s.query_row(params![id, &token.to_bytes()[..]], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()
                })
                .map_err(error)?;
            let Some((queue, due_at)) = released else {
                return Ok(false);
            };
            set_ready(&tx, &queue, due_at)?;
            tx.commit().map_err(error)?;
            Ok(true)
        }))
    }

    fn dead_letter<'a>(
        &'a self,
        id: &'a str,
        token: ClaimToken,
        reason: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, bool> {
        let (id, reason) = (id.to_owned(), bounded(reason).to_owned());
        Box::pin(self.run(move |connection, _| {
            let tx = immediate(connection)?;
            let removed: Option<(OutboxRow, i64, i64, i64)> = tx
                .prepare_cached(
                    "DELETE FROM stripe_pulsora_outbox WHERE id = ?1 AND lease_token = ?2
                     RETURNING id, queue, payload, stripe_event_id, seq, attempts, enqueued_at",
                )
                .and_then(|mut s| {
                    s.query_row(params![id, &token.to_bytes()[..]], |r| {
                        Ok((
                            OutboxRow {
                                id: r.get(0)?,
                                queue: r.get(1)?,
                                payload: r.get(2)?,
                                stripe_event_id: r.get(3)?,
                            },
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                        ))
                    })
                    .optional()
                })
                .map_err(error)?;
            let Some((row, seq, tries, enqueued_at)) = removed else {
                return Ok(false);
            };
            tx.prepare_cached(
                "INSERT INTO stripe_pulsora_dead_letters
                     (id, queue, payload, stripe_event_id, reason, attempts, enqueued_at, dead_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO UPDATE SET
                     queue = excluded.queue, payload = excluded.payload,
                     stripe_event_id = excluded.stripe_event_id, reason = excluded.reason,
                     attempts = excluded.attempts, enqueued_at = excluded.enqueued_at,
                     dead_at = excluded.dead_at",
            )
            .and_then(|mut s| {
                s.execute(params![
                    row.id,
                    row.queue,
                    row.payload,
                    row.stripe_event_id,
                    reason,
                    tries,
                    enqueued_at,
                    now_ms
                ])
            })
            .map_err(error)?;
            advance_head(&tx, &row.queue, seq)?;
            tx.commit().map_err(error)?;
            Ok(true)
        }))
    }

    fn stats(&self) -> StoreFuture<'_, OutboxStats> {
        Box::pin(self.run(|connection, _| {
            let (pending, oldest): (i64, Option<i64>) = connection
                .prepare_cached("SELECT count(*), min(enqueued_at) FROM stripe_pulsora_outbox")
                .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
                .map_err(error)?;
            let dead: i64 = connection
                .prepare_cached("SELECT count(*) FROM stripe_pulsora_dead_letters")
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .map_err(error)?;
            Ok(stats(pending, oldest, dead))
        }))
    }

    fn dead_letters(&self, limit: usize) -> StoreFuture<'_, Vec<DeadLetterRow>> {
        Box::pin(self.run(move |connection, _| {
            connection
                .prepare_cached(
                    "SELECT id, queue, payload, stripe_event_id, reason, attempts, enqueued_at, dead_at
                     FROM stripe_pulsora_dead_letters ORDER BY dead_at, id LIMIT ?1",
                )
                .and_then(|mut s| {
                    s.query_map([row_limit(limit)], |r| {
                        Ok(DeadLetterRow {
                            row: OutboxRow {
                                id: r.get(0)?,
                                queue: r.get(1)?,
                                payload: r.get(2)?,
                                stripe_event_id: r.get(3)?,
                            },
                            reason: r.get(4)?,
                            attempts: attempts(r.get(5)?),
                            enqueued_at_ms: r.get(6)?,
                            dead_at_ms: r.get(7)?,
                        })
                    })?
                    .collect()
                })
                .map_err(error)
        }))
    }

    fn retry_dead<'a>(&'a self, id: Option<&'a str>, now_ms: i64) -> StoreFuture<'a, u64> {
        let id = id.map(str::to_owned);
        Box::pin(self.run(move |connection, _| {
            let tx = immediate(connection)?;
            // In the order they died, so a queue gets its rows back in that order.
            let dead: Vec<(OutboxRow, i64)> = tx
                .prepare_cached(
                    "SELECT id, queue, payload, stripe_event_id, enqueued_at
                     FROM stripe_pulsora_dead_letters WHERE ?1 IS NULL OR id = ?1
                     ORDER BY dead_at, id",
                )
                .and_then(|mut s| {
                    s.query_map([&id], |r| {
                        Ok((
                            OutboxRow {
                                id: r.get(0)?,
                                queue: r.get(1)?,
                                payload: r.get(2)?,
                                stripe_event_id: r.get(3)?,
                            },
                            r.get(4)?,
                        ))
                    })?
                    .collect()
                })
                .map_err(error)?;
            tx.prepare_cached(
                "DELETE FROM stripe_pulsora_dead_letters WHERE ?1 IS NULL OR id = ?1",
            )
            .and_then(|mut s| s.execute([&id]))
            .map_err(error)?;
            let mut back = 0;
            for (row, enqueued_at) in &dead {
                // Not checked against the sent space: retrying is the operator's decision.
                back += u64::from(enqueue(&tx, "", row, *enqueued_at, now_ms)?);
            }
            tx.commit().map_err(error)?;
            Ok(back)
        }))
    }

    fn drop_dead<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        let id = id.to_owned();
        Box::pin(self.run(move |connection, _| {
            connection
                .prepare_cached("DELETE FROM stripe_pulsora_dead_letters WHERE id = ?1")
                .and_then(|mut s| s.execute([&id]))
                .map(|deleted| deleted > 0)
                .map_err(error)
        }))
    }
}
