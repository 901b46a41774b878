//! Many deliveries of one event at once, over real sockets: the handler runs exactly once.
#![cfg(feature = "axum")]

mod replay_support;

use replay_support::{client, deliver, deliver_with, serve, Probe};
use std::time::Duration;

/// Stripe's retries and a duplicate delivery can overlap; each is signed afresh. 200 of them
/// arrive together while the first is still in its (50 ms) handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_deliveries_run_the_handler_once() {
    let probe = Probe::new(Duration::from_millis(50));
    let app = serve(replay_support::layer(), probe.clone()).await;
    let client = client();

    let mut deliveries = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let (client, url) = (client.clone(), app.url.clone());
        deliveries.spawn(async move { deliver_with(&client, &url, "evt_concurrent").await });
    }
    let (mut handled, mut duplicates, mut in_flight) = (0, 0, 0);
    while let Some(answer) = deliveries.join_next().await {
        let answer = answer.expect("task").expect("an answer");
        if answer.is_handled() {
            handled += 1;
        } else if answer.is_duplicate() {
            duplicates += 1;
        } else if answer.status == 409 {
            assert_eq!(answer.code(), "in_flight", "{answer:?}");
            let retry_after: u64 = answer
                .retry_after
                .as_deref()
                .and_then(|v| v.parse().ok())
                .expect("409 carries Retry-After in seconds");
            assert!(retry_after >= 1, "{answer:?}");
            in_flight += 1;
        } else {
            panic!("unexpected answer: {answer:?}");
        }
    }
    assert_eq!(handled, 1, "duplicates {duplicates}, in flight {in_flight}");
    assert_eq!(handled + duplicates + in_flight, 200);
    assert!(in_flight > 0, "the deliveries did not overlap the handler");
    assert_eq!(probe.started(), 1);

    // Once committed, any later delivery is a plain duplicate.
    assert!(deliver(&app.url, "evt_concurrent").await.is_duplicate());
    assert_eq!(probe.started(), 1);
}

/// Different events do not block each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_events_each_run_once() {
    let probe = Probe::new(Duration::ZERO);
    let app = serve(replay_support::layer(), probe.clone()).await;
    let client = client();
    let mut deliveries = tokio::task::JoinSet::new();
    for i in 0..100 {
        let (client, url) = (client.clone(), app.url.clone());
        deliveries.spawn(async move { deliver_with(&client, &url, &format!("evt_{i}")).await });
    }
    while let Some(answer) = deliveries.join_next().await {
        assert!(answer.expect("task").expect("answer").is_handled());
    }
    assert_eq!(probe.started(), 100);
    assert!(probe.per_event().values().all(|&runs| runs == 1));
}
