//! PostgreSQL stopped under two running bridge instances (their pools full of connections
//! that die with it), on a server of the test's own ([`pg_cluster`]) so no other test is
//! disturbed:
//!
//! - while it is down every delivery is answered `503` + `Retry-After` within a bound (never
//!   `200` for work that was not recorded, never a hang), events processed before are still
//!   duplicates or `503`, never run again, and `/readyz` is not ready;
//! - restarted, the same deliveries (Stripe's retries) are processed, each exactly once, and
//!   `/readyz` is ready again;
//! - deliveries caught in the handler when it stops are answered `503` + `Retry-After` too.
#![cfg(feature = "postgres")]

#[path = "../../stripe-revenue/tests/support/fake_pulsora.rs"]
mod fake_pulsora;
#[path = "support/pg_bridge.rs"]
mod pg_bridge;
#[path = "../../stripe-pulsora-store/tests/support/pg_cluster.rs"]
mod pg_cluster;

use fake_pulsora::FakePulsora;
use pg_bridge::{client, deliver, deliver_until_settled, revenue_event, Answer, Instance};
use pg_cluster::PgCluster;
use std::time::{Duration, Instant};

/// How long the bridges may take to see the restarted server (pools reconnect on demand).
const RECOVERY_BOUND: Duration = Duration::from_secs(15);

async fn wait_ready(instances: &[Instance], client: &reqwest::Client) -> Duration {
    let started = Instant::now();
    for instance in instances {
        while instance.ready(client).await != 200 {
            assert!(
                started.elapsed() < RECOVERY_BOUND,
                "/readyz not ready {RECOVERY_BOUND:?} after the restart"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_run_answers_503_then_processes_every_delivery_once() {
    let started = Instant::now();
    let Some(mut pg) = tokio::task::block_in_place(PgCluster::start) else {
        return;
    };
    let (pulsora, pulsora_url) = FakePulsora::start(0).await;
    let instances = [
        Instance::start(&pg.url(), &pulsora_url).await,
        Instance::start(&pg.url(), &pulsora_url).await,
    ];
    let client = client();
    let before: Vec<(String, String)> = (0..40)
        .map(|i| revenue_event(400_000, i))
        .map(|(event, tx)| (event.to_string(), tx))
        .collect();
    let during: Vec<(String, String)> = (0..40)
        .map(|i| revenue_event(500_000, i))
        .map(|(event, tx)| (event.to_string(), tx))
        .collect();

    // Running: the first events are processed by both instances in turn.
    for (i, (body, _)) in before.iter().enumerate() {
        let got = deliver_until_settled(&client, &instances[i % 2].webhook_url(), body).await;
        assert!(
            matches!(got.last(), Some(Answer::Ran { sent: 1, .. })),
            "{got:?}"
        );
    }
    for instance in &instances {
        assert_eq!(instance.ready(&client).await, 200);
    }

    tokio::task::block_in_place(|| pg.stop());
    let outage = Instant::now();
    for instance in &instances {
        assert_eq!(instance.ready(&client).await, 503, "/readyz while down");
    }
    // Down: new events (to both instances, at once) are refused with 503 + Retry-After
    // (`deliver` checks the header and the time bound); none reaches the handler.
    let tasks: Vec<_> = during
        .iter()
        .enumerate()
        .flat_map(|(i, (body, _))| [(i, body.clone(), 0), (i, body.clone(), 1)])
        .map(|(i, body, k)| {
            let (client, url) = (client.clone(), instances[(i + k) % 2].webhook_url());
            tokio::spawn(async move { deliver(&client, &url, &body).await })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    for task in tasks {
        let asked = Instant::now();
        let answer = task.await.expect("delivery task");
        slowest = slowest.max(asked.elapsed());
        assert_eq!(
            answer,
            Answer::Refused {
                status: 503,
                code: "store_unavailable".into()
            },
            "a new event while PostgreSQL is down"
        );
    }
    // Events processed before: a duplicate where the instance remembers it, else 503; never
    // run again.
    let mut remembered = 0;
    for (i, (body, _)) in before.iter().enumerate() {
        for instance in &instances {
            match deliver(&client, &instance.webhook_url(), body).await {
                Answer::Duplicate => remembered += 1,
                Answer::Refused { status: 503, .. } => {}
                other => panic!("event {i} while PostgreSQL is down: {other:?}"),
            }
        }
    }
    assert_eq!(
        pulsora.accepted().len(),
        before.len(),
        "nothing sent while down"
    );
    for instance in &instances {
        assert_eq!(instance.ready(&client).await, 503, "/readyz while down");
    }
    let down_for = outage.elapsed();

    tokio::task::block_in_place(|| pg.restart());
    let recovered = wait_ready(&instances, &client).await;
    // Stripe's retries of the refused deliveries, to both instances: each event runs once.
    let tasks: Vec<_> = during
        .iter()
        .enumerate()
        .flat_map(|(i, (body, _))| [(i, body.clone(), 1), (i, body.clone(), 0)])
        .map(|(i, body, k)| {
            let (client, url) = (client.clone(), instances[(i + k) % 2].webhook_url());
            tokio::spawn(async move { (i, deliver_until_settled(&client, &url, &body).await) })
        })
        .collect();
    let mut runs = vec![0; during.len()];
    for task in tasks {
        let (i, got) = task.await.expect("delivery task");
        if let Some(Answer::Ran { sent, .. }) = got.last() {
            assert_eq!(*sent, 1, "{got:?}");
            runs[i] += 1;
        }
        assert!(
            got.iter()
                .all(|a| !matches!(a, Answer::HandlerFailed { .. })),
            "{got:?}"
        );
    }
    assert!(
        runs.iter().all(|&r| r == 1),
        "handler runs per event: {runs:?}"
    );
    for (body, _) in &before {
        for instance in &instances {
            assert_eq!(
                deliver(&client, &instance.webhook_url(), body).await,
                Answer::Duplicate
            );
        }
    }
    // Nothing lost, nothing doubled.
    let accepted = pulsora.accepted();
    assert_eq!(accepted.len(), before.len() + during.len());
    for (_, tx) in before.iter().chain(&during) {
        assert_eq!(accepted.get(tx).map_or(0, Vec::len), 1, "{tx}");
    }
    for instance in instances {
        instance.stop().await;
    }
    eprintln!(
        "PostgreSQL stopped for {:.1} s: 80 deliveries answered 503 + Retry-After (slowest \
         {:.2} s), {remembered}/80 earlier ones answered from the instances' caches as \
         duplicates, the rest 503; ready {:.2} s after the restart; test {:.1} s",
        down_for.as_secs_f64(),
        slowest.as_secs_f64(),
        recovered.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_in_the_handler_when_postgres_stops_are_answered_503_with_retry_after() {
    let started = Instant::now();
    let Some(mut pg) = tokio::task::block_in_place(PgCluster::start) else {
        return;
    };
    // Pulsora answers after a second: the deliveries hold their claims, inside the handler,
    // when the server stops.
    let (pulsora, pulsora_url) = FakePulsora::start_slow(Duration::from_millis(1_500)).await;
    let instances = [
        Instance::start(&pg.url(), &pulsora_url).await,
        Instance::start(&pg.url(), &pulsora_url).await,
    ];
    let client = client();
    let events: Vec<String> = (0..6)
        .map(|i| revenue_event(600_000, i).0.to_string())
        .collect();
    let tasks: Vec<_> = events
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let (client, url, body) =
                (client.clone(), instances[i % 2].webhook_url(), body.clone());
            tokio::spawn(async move { deliver(&client, &url, &body).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    tokio::task::block_in_place(|| pg.stop());
    for task in tasks {
        let answer = task.await.expect("delivery task");
        // Pulsora accepted it, but nothing could record that: 503, so Stripe retries (the
        // documented at-least-once window: the retry resends the same transaction id).
        match answer {
            Answer::HandlerFailed { code, retry_after } => {
                assert_eq!(code, "state_store_unavailable");
                assert!(retry_after, "503 {code} without Retry-After");
            }
            other => panic!("a delivery in flight when PostgreSQL stopped: {other:?}"),
        }
    }
    assert_eq!(pulsora.accepted().len(), events.len());
    tokio::task::block_in_place(|| pg.restart());
    wait_ready(&instances, &client).await;
    // Stripe's retry after the restart: never a duplicate (the event was not recorded as
    // processed). Its claim could not be given back while the server was down, so the retry
    // waits for the lease (`409` + `Retry-After`) and the one after it runs the handler again.
    let mut waiting = 0;
    for (i, body) in events.iter().enumerate() {
        match deliver(&client, &instances[(i + 1) % 2].webhook_url(), body).await {
            Answer::Refused { .. } => waiting += 1,
            Answer::Ran { .. } => {}
            other => panic!("retry of an interrupted delivery after the restart: {other:?}"),
        }
    }
    for instance in instances {
        instance.stop().await;
    }
    eprintln!(
        "6 deliveries in the handler when PostgreSQL stopped: each answered 503 + Retry-After; \
         after the restart {waiting}/6 retries wait for the lease (409 + Retry-After), the rest \
         ran; test {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
