//! Reading and discarding what is left of a refused body, so the refusal reaches the client.
//!
//! A server that answers `413` and closes the connection while the client is still sending makes
//! the kernel reset the connection (unread data in its receive buffer), and a client such as
//! Node's `http` sees `EPIPE` / `ECONNRESET` instead of the answer. Reading the rest first lets
//! the answer arrive, and keeps the connection usable. The drain is bounded in bytes and time,
//! and keeps nothing: it costs bandwidth, never memory. Past the bound the connection is closed
//! (as nginx's `lingering_close` does).

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::fmt::Display;
use std::pin::Pin;
use std::time::Duration;

/// At most this many bytes of a refused body are read and discarded.
pub(crate) const DRAIN_BYTES: u64 = 16 << 20;
/// For at most this long.
pub(crate) const DRAIN_TIME: Duration = Duration::from_secs(5);
/// A client that sends nothing for this long is not sending: answer it now (one that declared
/// a large body and waits for the answer before sending must not wait for the drain).
pub(crate) const DRAIN_IDLE: Duration = Duration::from_millis(250);

/// Reads and discards the rest of `body`, up to `max_bytes` or `max_time`, stopping as soon as
/// no byte arrives for [`DRAIN_IDLE`]. Returns whether the body ended within the bounds.
pub(crate) async fn drain<S, E>(mut body: Pin<&mut S>, max_bytes: u64, max_time: Duration) -> bool
where
    S: Stream<Item = Result<Bytes, E>> + ?Sized,
    E: Display,
{
    let read = async {
        let mut seen = 0u64;
        while let Ok(Some(chunk)) = tokio::time::timeout(DRAIN_IDLE, body.next()).await {
            let Ok(chunk) = chunk else { return false };
            seen = seen.saturating_add(chunk.len() as u64);
            if seen > max_bytes {
                return false;
            }
        }
        // Ended, or went quiet: either way the answer can go now.
        true
    };
    tokio::time::timeout(max_time, read).await.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    #[tokio::test]
    async fn reads_to_the_end_within_the_bounds_only() {
        let body = || {
            stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(&[0; 1024]))))
        };
        assert!(drain(std::pin::pin!(body()), 4096, DRAIN_TIME).await);
        assert!(!drain(std::pin::pin!(body()), 4095, DRAIN_TIME).await);
        // A silent client is answered after the idle time, not after the whole drain time.
        let stalled = stream::pending::<Result<Bytes, std::io::Error>>();
        // (`true`: it went quiet; reaching the 60 s bound instead would give `false`.)
        assert!(drain(std::pin::pin!(stalled), 4096, Duration::from_secs(60)).await);
    }
}
