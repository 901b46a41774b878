//! Reading the raw body with a size limit and a read deadline.

use crate::body_budget::Reservation;
use crate::rejection::Rejection;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use std::fmt::Display;
use std::time::Duration;

/// Refuses a declared `Content-Length` over the limit before a byte is read. A value that is not
/// a number is left to the streaming limit (hyper and actix already reject it at the protocol level).
pub(crate) fn check_content_length(
    content_length: Option<&[u8]>,
    limit: usize,
) -> Result<(), Rejection> {
    match declared_length(content_length) {
        Some(len) if len > limit as u64 => Err(Rejection::PayloadTooLarge { limit }),
        _ => Ok(()),
    }
}

/// The declared `Content-Length`, when it is a number.
pub(crate) fn declared_length(content_length: Option<&[u8]>) -> Option<u64> {
    content_length
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Collects the body, cutting it at `limit` bytes (a chunked body has no `Content-Length`) and
/// giving up after `timeout` (a slow-loris body must not hold a connection and a task forever).
/// Every byte is reserved in `reservation` before it is kept (the declared length is reserved
/// by the caller up front; `prepaid` says how much). A single-chunk body is returned without a
/// copy.
pub(crate) async fn read_limited<S, E>(
    body: S,
    limit: usize,
    timeout: Duration,
    reservation: &mut Reservation,
    prepaid: usize,
) -> Result<Bytes, Rejection>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Display,
{
    match tokio::time::timeout(timeout, collect(body, limit, reservation, prepaid)).await {
        Ok(result) => result,
        Err(_) => Err(Rejection::BodyTimeout { timeout }),
    }
}

async fn collect<S, E>(
    body: S,
    limit: usize,
    reservation: &mut Reservation,
    mut prepaid: usize,
) -> Result<Bytes, Rejection>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Display,
{
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    let mut total = 0usize;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Rejection::BodyRead(e.to_string()))?;
        total = total.saturating_add(chunk.len());
        if total > limit {
            return Err(Rejection::PayloadTooLarge { limit });
        }
        let covered = prepaid.min(chunk.len());
        prepaid -= covered;
        reservation.grow(chunk.len() - covered)?;
        match (&mut first, &mut rest) {
            (None, _) => first = Some(chunk),
            (Some(head), None) => {
                let mut buf = BytesMut::with_capacity(total.max(head.len() * 2));
                buf.extend_from_slice(head);
                buf.extend_from_slice(&chunk);
                rest = Some(buf);
            }
            (Some(_), Some(buf)) => buf.extend_from_slice(&chunk),
        }
    }
    Ok(match (first, rest) {
        (_, Some(buf)) => buf.freeze(),
        (Some(only), None) => only,
        (None, None) => Bytes::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
        stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    fn reservation() -> Reservation {
        crate::body_budget::BodyBudget::new(1 << 20, 1 << 20)
            .reservation(std::net::IpAddr::from([192, 0, 2, 1]))
    }

    async fn read_limited<S>(body: S, limit: usize, timeout: Duration) -> Result<Bytes, Rejection>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>>,
    {
        super::read_limited(body, limit, timeout, &mut reservation(), 0).await
    }

    #[tokio::test]
    async fn chunks_beyond_the_budget_are_refused() {
        let budget = crate::body_budget::BodyBudget::new(4, 4);
        let mut reservation = budget.reservation(std::net::IpAddr::from([192, 0, 2, 1]));
        let got = super::read_limited(
            chunks(&[b"ab", b"cd", b"e"]),
            10,
            Duration::from_secs(1),
            &mut reservation,
            0,
        )
        .await;
        assert!(matches!(got, Err(Rejection::Busy { .. })), "{got:?}");
    }

    #[tokio::test]
    async fn joins_chunks_and_enforces_limit() {
        let t = Duration::from_secs(1);
        assert_eq!(
            read_limited(chunks(&[b"ab", b"cd", b"e"]), 5, t)
                .await
                .unwrap(),
            "abcde"
        );
        assert_eq!(read_limited(chunks(&[b"abc"]), 3, t).await.unwrap(), "abc");
        assert_eq!(
            read_limited(chunks(&[b"abc", b"def"]), 5, t).await,
            Err(Rejection::PayloadTooLarge { limit: 5 })
        );
    }

    #[tokio::test]
    async fn slow_body_times_out() {
        let slow = stream::pending::<Result<Bytes, std::io::Error>>();
        let got = read_limited(slow, 10, Duration::from_millis(20)).await;
        assert!(matches!(got, Err(Rejection::BodyTimeout { .. })));
    }

    #[test]
    fn declared_length() {
        assert!(check_content_length(Some(b"11"), 10).is_err());
        assert!(check_content_length(Some(b"10"), 10).is_ok());
        assert!(check_content_length(None, 10).is_ok());
    }
}
