//! The outbox schema over Redis: one Lua script per method, so each runs atomically. Keys under
//! the outbox prefix `P` (default [`DEFAULT_OUTBOX_PREFIX`]):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P row:<id>` | hash | a pending row: `queue payload event seq attempts enqueued due [error] [token until]` |
//! | `P q:<queue>` | sorted set | the queue's row ids by `seq` (its head is the first) |
//! | `P ready` | sorted set | queue heads, member `<seq, 15 digits>:<id>`, by when they may be leased |
//! | `P pending` | sorted set | every pending id by enqueue time (stats) |
//! | `P seq` | string | the enqueue counter |
//! | `P dead:<id>` | hash | a dead letter: `queue payload event reason attempts enqueued dead` |
//! | `P dead` | sorted set | dead letter ids by time of death |
//!
//! Sent ids are the `sent` claims space's keys, as [`Claims::commit`](crate::Claims::commit)
//! writes them. A script that fails half-way keeps its earlier writes (Redis has no
//! rollback), so every script checks the types of the keys it will write before its first
//! write. The scripts build key names from the prefix, so the outbox needs one Redis server
//! (or one Cluster slot), not a Cluster spread.

use super::{error, key, px, Redis};
use crate::backend::{Document, Space, StoreFuture};
use crate::outbox::rules::{attempts, bounded, checked_rows, lease_end, row_limit, stats};
use crate::outbox::{DeadLetterRow, LeasedRow, Outbox, OutboxRow, OutboxStats};
use crate::{ClaimToken, StoreError};
use redis::Script;
use std::time::Duration;

/// Where the outbox's keys live unless [`Redis::with_outbox_prefix`] says otherwise.
pub const DEFAULT_OUTBOX_PREFIX: &str = "stripe-pulsora:outbox:";

/// Shared by every script: key names, type checks, enqueue and remove. `ARGV[1]` is always the
/// prefix.
macro_rules! prelude {
    () => {
        r"
local P = ARGV[1]
local READY, PENDING, SEQ, DEAD = P .. 'ready', P .. 'pending', P .. 'seq', P .. 'dead'
local function rowkey(id) return P .. 'row:' .. id end
local function qkey(queue) return P .. 'q:' .. queue end
local function deadkey(id) return P .. 'dead:' .. id end
-- Ready members sort by seq among equal times, as the SQL backends order their heads.
local function member(seq, id) return string.format('%015d', tonumber(seq)) .. ':' .. id end
local function check(key, kind)
  local found = redis.call('TYPE', key)['ok']
  if found ~= 'none' and found ~= kind then
    error('outbox key ' .. key .. ' holds a ' .. found .. ', not a ' .. kind)
  end
end
local function check_shared()
  check(READY, 'zset'); check(PENDING, 'zset'); check(DEAD, 'zset'); check(SEQ, 'string')
end
-- The row and dead-letter hashes of `id`, and the queue it is in (or was, if dead).
local function check_row(id)
  check(rowkey(id), 'hash'); check(deadkey(id), 'hash')
  local queue = redis.call('HGET', rowkey(id), 'queue') or redis.call('HGET', deadkey(id), 'queue')
  if queue then check(qkey(queue), 'zset') end
end
-- A new pending row, due at `now`; the head of its queue if the queue was empty.
local function enqueue(id, queue, payload, event, enqueued, now)
  local row = rowkey(id)
  if redis.call('EXISTS', row) == 1 or redis.call('EXISTS', deadkey(id)) == 1 then return 0 end
  local seq = redis.call('INCR', SEQ)
  redis.call('HSET', row, 'queue', queue, 'payload', payload, 'event', event, 'seq', seq,
    'attempts', 0, 'enqueued', enqueued, 'due', now)
  local q = qkey(queue)
  redis.call('ZADD', q, seq, id)
  if redis.call('ZCARD', q) == 1 then redis.call('ZADD', READY, now, member(seq, id)) end
  redis.call('ZADD', PENDING, enqueued, id)
  return 1
end
-- Removes a pending row; if it was its queue's head, the next row becomes the head.
local function remove(id)
  local row = rowkey(id)
  local fields = redis.call('HMGET', row, 'queue', 'seq')
  if not fields[1] then return end
  local q = qkey(fields[1])
  local head = redis.call('ZRANGE', q, 0, 0)[1]
  redis.call('ZREM', q, id)
  redis.call('ZREM', PENDING, id)
  redis.call('DEL', row)
  if head == id then
    redis.call('ZREM', READY, member(fields[2], id))
    local next = redis.call('ZRANGE', q, 0, 0)[1]
    if next then
      local n = redis.call('HMGET', rowkey(next), 'seq', 'due', 'until')
      local ready = tonumber(n[2])
      if n[3] and tonumber(n[3]) > ready then ready = tonumber(n[3]) end
      redis.call('ZADD', READY, ready, member(n[1], next))
    end
  end
end
local function holds(id, token)
  return redis.call('HGET', rowkey(id), 'token') == token
end
"
    };
}

/// ARGV: prefix, sent prefix, sent value, now, document count, (key, value, px)…, (id, queue,
/// payload, event)…. Returns how many rows were enqueued.
const COMMIT: &str = concat!(
    prelude!(),
    r"
local sent_prefix, sent_value, now = ARGV[2], ARGV[3], ARGV[4]
local documents = tonumber(ARGV[5])
local first_row = 6 + 3 * documents
check_shared()
for i = first_row, #ARGV, 4 do
  check_row(ARGV[i]); check(qkey(ARGV[i + 1]), 'zset')
  check(sent_prefix .. ARGV[i], 'string')
end
for i = 6, first_row - 1, 3 do
  redis.call('SET', ARGV[i], ARGV[i + 1], 'PX', ARGV[i + 2])
end
local enqueued = 0
for i = first_row, #ARGV, 4 do
  local id = ARGV[i]
  if redis.call('GET', sent_prefix .. id) ~= sent_value then
    enqueued = enqueued + enqueue(id, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], now, now)
  end
end
return enqueued
"
);

/// ARGV: prefix, now, limit, token, lease end. Returns one array of strings per leased row.
const LEASE: &str = concat!(
    prelude!(),
    r"
local now, limit, token, lease_end = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
check_shared()
local out = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', READY, '-inf', now, 'LIMIT', 0, limit)) do
  local id = string.sub(m, 17)
  local row = rowkey(id)
  if redis.call('EXISTS', row) == 0 then
    redis.call('ZREM', READY, m) -- a head without its row is never written; drop it
  else
    redis.call('HSET', row, 'token', token, 'until', lease_end)
    redis.call('ZADD', READY, lease_end, m)
    local f = redis.call('HMGET', row, 'queue', 'payload', 'event', 'seq', 'attempts',
      'enqueued', 'error')
    out[#out + 1] = {id, f[1], f[2], f[3], f[4], f[5], f[6], f[7] and '1' or '0', f[7] or ''}
  end
end
return out
"
);

/// ARGV: prefix, sent key, sent value, id, token, px. Returns 1 when the token held the lease.
const MARK_SENT: &str = concat!(
    prelude!(),
    r"
local sent_key, sent_value, id, token, ttl = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
check_shared(); check_row(id)
local held = holds(id, token)
remove(id)
redis.call('DEL', deadkey(id))
redis.call('ZREM', DEAD, id)
redis.call('SET', sent_key, sent_value, 'PX', ttl)
if held then return 1 end
return 0
"
);

/// ARGV: prefix, id, token, due, error. Returns 1 when the token held the lease.
const RESCHEDULE: &str = concat!(
    prelude!(),
    r"
local id, token, due, err = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
check_shared(); check_row(id)
if not holds(id, token) then return 0 end
local row = rowkey(id)
redis.call('HINCRBY', row, 'attempts', 1)
redis.call('HSET', row, 'due', due, 'error', err)
redis.call('HDEL', row, 'token', 'until')
redis.call('ZADD', READY, due, member(redis.call('HGET', row, 'seq'), id))
return 1
"
);

/// ARGV: prefix, id, token. Returns 1 when the token held the lease.
const RELEASE: &str = concat!(
    prelude!(),
    r"
local id, token = ARGV[2], ARGV[3]
check_shared(); check_row(id)
if not holds(id, token) then return 0 end
local row = rowkey(id)
redis.call('HDEL', row, 'token', 'until')
local f = redis.call('HMGET', row, 'seq', 'due')
redis.call('ZADD', READY, f[2], member(f[1], id))
return 1
"
);

/// ARGV: prefix, id, token, reason, now. Returns 1 when the token held the lease.
const DEAD_LETTER: &str = concat!(
    prelude!(),
    r"
local id, token, reason, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
check_shared(); check_row(id)
if not holds(id, token) then return 0 end
local f = redis.call('HMGET', rowkey(id), 'queue', 'payload', 'event', 'attempts', 'enqueued')
redis.call('DEL', deadkey(id))
redis.call('HSET', deadkey(id), 'queue', f[1], 'payload', f[2], 'event', f[3], 'reason', reason,
  'attempts', f[4], 'enqueued', f[5], 'dead', now)
redis.call('ZADD', DEAD, now, id)
remove(id)
return 1
"
);

/// ARGV: prefix. Returns pending, whether there is an oldest, its enqueue time, dead.
const STATS: &str = concat!(
    prelude!(),
    r"
local oldest = redis.call('ZRANGE', PENDING, 0, 0, 'WITHSCORES')
return {redis.call('ZCARD', PENDING), oldest[2] and 1 or 0, oldest[2] or '0', redis.call('ZCARD', DEAD)}
"
);

/// ARGV: prefix, limit. Returns one array of strings per dead letter, oldest death first.
const DEAD_LETTERS: &str = concat!(
    prelude!(),
    r"
local out = {}
for _, id in ipairs(redis.call('ZRANGE', DEAD, 0, tonumber(ARGV[2]) - 1)) do
  local f = redis.call('HMGET', deadkey(id), 'queue', 'payload', 'event', 'reason', 'attempts',
    'enqueued', 'dead')
  if f[1] then out[#out + 1] = {id, f[1], f[2], f[3], f[4], f[5], f[6], f[7]} end
end
return out
"
);

/// ARGV: prefix, id (empty: all), now. Returns how many went back to pending.
const RETRY_DEAD: &str = concat!(
    prelude!(),
    r"
local now = ARGV[3]
local ids
if ARGV[2] == '' then ids = redis.call('ZRANGE', DEAD, 0, -1) else ids = {ARGV[2]} end
check_shared()
for _, id in ipairs(ids) do check_row(id) end
local back = 0
for _, id in ipairs(ids) do
  local d = deadkey(id)
  local f = redis.call('HMGET', d, 'queue', 'payload', 'event', 'enqueued')
  if f[1] then
    redis.call('DEL', d)
    redis.call('ZREM', DEAD, id)
    back = back + enqueue(id, f[1], f[2], f[3], f[4], now)
  end
end
return back
"
);

/// ARGV: prefix, id. Returns 1 when the dead letter existed.
const DROP_DEAD: &str = concat!(
    prelude!(),
    r"
check_shared(); check_row(ARGV[2])
redis.call('ZREM', DEAD, ARGV[2])
return redis.call('DEL', deadkey(ARGV[2]))
"
);

/// The outbox scripts, loaded once per [`Redis`].
pub(super) struct OutboxScripts {
    commit: Script,
    lease: Script,
    mark_sent: Script,
    reschedule: Script,
    release: Script,
    dead_letter: Script,
    stats: Script,
    dead_letters: Script,
    retry_dead: Script,
    drop_dead: Script,
}

impl OutboxScripts {
    pub(super) fn new() -> Self {
        Self {
            commit: Script::new(COMMIT),
            lease: Script::new(LEASE),
            mark_sent: Script::new(MARK_SENT),
            reschedule: Script::new(RESCHEDULE),
            release: Script::new(RELEASE),
            dead_letter: Script::new(DEAD_LETTER),
            stats: Script::new(STATS),
            dead_letters: Script::new(DEAD_LETTERS),
            retry_dead: Script::new(RETRY_DEAD),
            drop_dead: Script::new(DROP_DEAD),
        }
    }
}

fn number(field: &str, what: &str) -> Result<i64, StoreError> {
    field.parse().map_err(|_| {
        StoreError::Backend(format!(
            "redis: outbox {what} is not a number; the key space holds data this layer did not write"
        ))
    })
}

fn leased(fields: Vec<String>) -> Result<LeasedRow, StoreError> {
    let Ok([id, queue, payload, event, seq, tries, enqueued, has_error, error_text]) =
        <[String; 9]>::try_from(fields)
    else {
        return Err(StoreError::Backend(
            "redis: unexpected outbox lease answer".into(),
        ));
    };
    Ok(LeasedRow {
        row: OutboxRow {
            id,
            queue,
            payload,
            stripe_event_id: event,
        },
        seq: number(&seq, "seq")?,
        attempts: attempts(number(&tries, "attempts")?),
        enqueued_at_ms: number(&enqueued, "enqueue time")?,
        last_error: (has_error == "1").then_some(error_text),
    })
}

fn dead(fields: Vec<String>) -> Result<DeadLetterRow, StoreError> {
    let Ok([id, queue, payload, event, reason, tries, enqueued, dead_at]) =
        <[String; 8]>::try_from(fields)
    else {
        return Err(StoreError::Backend(
            "redis: unexpected dead letter answer".into(),
        ));
    };
    Ok(DeadLetterRow {
        row: OutboxRow {
            id,
            queue,
            payload,
            stripe_event_id: event,
        },
        reason,
        attempts: attempts(number(&tries, "attempts")?),
        enqueued_at_ms: number(&enqueued, "enqueue time")?,
        dead_at_ms: number(&dead_at, "time of death")?,
    })
}

impl Redis {
    fn outbox_scripts(&self) -> &OutboxScripts {
        &self.scripts.outbox
    }
}

impl Outbox for Redis {
    fn commit_outbox<'a>(
        &'a self,
        sent: &'a Space,
        documents: &'a [Document],
        rows: &'a [OutboxRow],
        now_ms: i64,
    ) -> StoreFuture<'a, usize> {
        Box::pin(async move {
            let rows = checked_rows(rows)?;
            let mut invocation = self.outbox_scripts().commit.prepare_invoke();
            invocation
                .arg(&*self.outbox_prefix)
                .arg(sent.redis_prefix())
                .arg(sent.redis_processed_value())
                .arg(now_ms)
                .arg(documents.len());
            for document in documents {
                invocation
                    .arg(&document.key)
                    .arg(&document.value)
                    .arg(px(document.ttl));
            }
            for row in rows {
                invocation
                    .arg(&row.id)
                    .arg(&row.queue)
                    .arg(&row.payload)
                    .arg(&row.stripe_event_id);
            }
            let mut connection = self.connection.clone();
            let enqueued: usize = invocation
                .invoke_async(&mut connection)
                .await
                .map_err(error)?;
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
            let mut connection = self.connection.clone();
            let rows: Vec<Vec<String>> = self
                .outbox_scripts()
                .lease
                .arg(&*self.outbox_prefix)
                .arg(now_ms)
                .arg(row_limit(limit))
                .arg(token.to_string())
                .arg(lease_end(now_ms, lease))
                .invoke_async(&mut connection)
                .await
                .map_err(error)?;
            rows.into_iter().map(leased).collect()
        })
    }

    fn mark_sent<'a>(
        &'a self,
        sent: &'a Space,
        id: &'a str,
        token: ClaimToken,
        _now_ms: i64,
        sent_ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            // The sent key expires by itself after sent_ttl (Redis's clock), as a commit's does.
            let mut connection = self.connection.clone();
            let held: i64 = self
                .outbox_scripts()
                .mark_sent
                .arg(&*self.outbox_prefix)
                .arg(key(sent, id))
                .arg(sent.redis_processed_value())
                .arg(id)
                .arg(token.to_string())
                .arg(px(sent_ttl))
                .invoke_async(&mut connection)
                .await
                .map_err(error)?;
            Ok(held == 1)
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
            let mut connection = self.connection.clone();
            let held: i64 = self
                .outbox_scripts()
                .reschedule
                .arg(&*self.outbox_prefix)
                .arg(id)
                .arg(token.to_string())
                .arg(due_at_ms)
                .arg(bounded(error_text))
                .invoke_async(&mut connection)
                .await
                .map_err(error)?;
            Ok(held == 1)
        })
    }

    fn release_lease<'a>(&'a self, id: &'a str, token: ClaimToken) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let held: i64 = self
                .outbox_scripts()
                .release
                .arg(&*self.outbox_prefix)
                .arg(id)
                .arg(token.to_string())
                .invoke_async(&mut connection)
                .await
                .map_err(error)?;
            Ok(held == 1)
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
            let mut connection = self.connection.clone();
            let held: i64 = self
                .outbox_scripts()
                .dead_letter
                .arg(&*self.outbox_prefix)
                .arg(id)
                .arg(token.to_string())
                .arg(bounded(reason))
                .arg(now_ms)
                .invoke_async(&mut connection)
                .await
                .map_err(error)?;
            Ok(held == 1)
        })
    }

    fn stats(&self) -> StoreFuture<'_, OutboxStats> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let (pending, has_oldest, oldest, dead): (i64, i64, String, i64) = self
                .outbox_scripts()
                .stats
                .arg(&*self.outbox_prefix)
                .invoke_async(&mut connection)
                .await
                .map_err(error)?;
            let oldest = if has_oldest == 1 {
                Some(number(&oldest, "enqueue time")?)
            } else {
                None
            };
            Ok(stats(pending, oldest, dead))
        })
    }

    fn dead_letters(&self, limit: usize) -> StoreFuture<'_, Vec<DeadLetterRow>> {
        Box::pin(async move {
            if limit == 0 {
                return Ok(Vec::new());
            }
            let mut connection = self.connection.clone();
            let rows: Vec<Vec<String>> = self
                .outbox_scripts()
                .dead_letters
                .arg(&*self.outbox_prefix)
                .arg(row_limit(limit))
                .invoke_async(&mut connection)
                .await
                .map_err(error)?;
            rows.into_iter().map(dead).collect()
        })
    }

    fn retry_dead<'a>(&'a self, id: Option<&'a str>, now_ms: i64) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            // The script reads an empty id as "all"; no row has an empty id.
            if id == Some("") {
                return Ok(0);
            }
            let mut connection = self.connection.clone();
            let back: u64 = self
                .outbox_scripts()
                .retry_dead
                .arg(&*self.outbox_prefix)
                .arg(id.unwrap_or(""))
                .arg(now_ms)
                .invoke_async(&mut connection)
                .await
                .map_err(error)?;
            Ok(back)
        })
    }

    fn drop_dead<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let deleted: i64 = self
                .outbox_scripts()
                .drop_dead
                .arg(&*self.outbox_prefix)
                .arg(id)
                .invoke_async(&mut connection)
                .await
                .map_err(error)?;
            Ok(deleted == 1)
        })
    }
}
