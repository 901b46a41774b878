//! A delivery that does not succeed gives its claim back, so Stripe's retry is processed: a
//! handler answering 500, a handler that panics, a client that hangs up mid-handler.
#![cfg(feature = "axum")]

mod replay_support;

use replay_support::{deliver, eventually, layer, serve, Probe, Step};
use std::time::Duration;

#[tokio::test]
async fn a_failed_delivery_is_processed_on_retry() {
    let probe = Probe::scripted(&[Step::Fail]);
    let app = serve(layer(), probe.clone()).await;

    let first = deliver(&app.url, "evt_fails_once").await;
    assert_eq!(first.status, 500, "{first:?}");

    let retry = deliver(&app.url, "evt_fails_once").await;
    assert!(
        retry.is_handled(),
        "the retry must run the handler: {retry:?}"
    );
    let again = deliver(&app.url, "evt_fails_once").await;
    assert!(again.is_duplicate(), "the success was committed: {again:?}");
    assert_eq!(probe.started(), 2);
    assert_eq!(probe.completed(), 1);
}

/// axum runs each connection in a task; a panicking handler kills that task and the client sees
/// the connection close. The claim is dropped during the unwind and released from `Drop`.
#[tokio::test]
async fn a_panicking_handler_releases_its_claim() {
    let probe = Probe::scripted(&[Step::Panic]);
    let app = serve(layer(), probe.clone()).await;

    let first =
        replay_support::deliver_with(&replay_support::client(), &app.url, "evt_panics").await;
    assert!(
        first.is_err(),
        "the connection should die with the handler: {first:?}"
    );
    assert_eq!(probe.started(), 1);

    // The release runs as a task spawned from `Drop`; a retry right away may still meet the
    // claim (409), so retry the way Stripe does, only faster.
    let retry = retry_until_not_in_flight(&app.url, "evt_panics").await;
    assert!(retry.is_handled(), "{retry:?}");
    assert!(deliver(&app.url, "evt_panics").await.is_duplicate());
    assert_eq!(probe.started(), 2);
    assert_eq!(probe.completed(), 1);
}

/// The client gives up while the handler is still running; hyper notices the closed connection
/// and drops the response future, handler and claim with it.
#[tokio::test]
async fn a_client_that_hangs_up_mid_handler_releases_the_claim() {
    let probe = Probe::scripted(&[Step::Hang(Duration::from_secs(30))]);
    let app = serve(layer(), probe.clone()).await;

    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let first = replay_support::deliver_with(&impatient, &app.url, "evt_hangup").await;
    assert!(
        first.is_err_and(|e| e.is_timeout()),
        "the client should time out"
    );
    drop(impatient); // closes the connection

    eventually("the server drops the abandoned handler", || {
        probe.cancelled() == 1
    })
    .await;
    let retry = retry_until_not_in_flight(&app.url, "evt_hangup").await;
    assert!(retry.is_handled(), "{retry:?}");
    assert!(deliver(&app.url, "evt_hangup").await.is_duplicate());
    assert_eq!(probe.started(), 2);
    assert_eq!(probe.completed(), 1);
}

/// Delivers until the answer is not `409` (bounded by the test's patience).
async fn retry_until_not_in_flight(url: &str, id: &str) -> replay_support::Answer {
    let deadline = std::time::Instant::now() + replay_support::PATIENCE;
    loop {
        let answer = deliver(url, id).await;
        if answer.status != 409 || std::time::Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
