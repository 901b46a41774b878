//! Two bridge instances on one PostgreSQL, each with its own pool, over loopback HTTP:
//!
//! - 1,000 Stripe events (Checkout payments and first subscription invoices, both API shapes),
//!   each delivered three times, interleaved and spread over both instances: exactly 1,000
//!   handler runs, every other delivery answered as a duplicate (after `409 in_flight` +
//!   `Retry-After` while the first is still running), each transaction at Pulsora once;
//! - 40 concurrent changes of one subscription sent to both instances: the reported MRR is
//!   exactly the final MRR;
//! - both instances restarted (new pools, empty in-process caches): earlier events are
//!   answered as duplicates, from PostgreSQL alone.
//!
//! Each test runs its own server ([`pg_cluster`]); without PostgreSQL's binaries it is skipped,
//! or fails when `CI` is set.
#![cfg(feature = "postgres")]

#[path = "../../stripe-revenue/tests/support/fake_pulsora.rs"]
mod fake_pulsora;
#[path = "support/pg_bridge.rs"]
mod pg_bridge;
#[path = "../../stripe-pulsora-store/tests/support/pg_cluster.rs"]
mod pg_cluster;

use fake_pulsora::FakePulsora;
use pg_bridge::{client, deliver, deliver_until_settled, revenue_event, shuffle, Answer, Instance};
use pg_cluster::PgCluster;
use rust_decimal::Decimal;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stripe_pulsora::stripe_revenue::fixtures::{
    event, price, subscription, subscription_invoice, ApiShape,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_run_each_of_1000_events_once() {
    let started = Instant::now();
    let Some(pg) = tokio::task::block_in_place(PgCluster::start) else {
        return;
    };
    let (pulsora, pulsora_url) = FakePulsora::start(0).await;
    let instances = [
        Instance::start(&pg.url(), &pulsora_url).await,
        Instance::start(&pg.url(), &pulsora_url).await,
    ];
    let urls: Vec<String> = instances.iter().map(Instance::webhook_url).collect();
    let events: Vec<(String, String)> = (0..1_000)
        .map(|i| {
            let (event, tx) = revenue_event(100_000, i);
            (event.to_string(), tx)
        })
        .collect();
    // Three deliveries per event, the k-th to instance (i + k) % 2: every event reaches both.
    let mut deliveries: Vec<(usize, usize)> = (0..events.len())
        .flat_map(|i| (0..3).map(move |k| (i, (i + k) % 2)))
        .collect();
    shuffle(&mut deliveries, 0x5eed_1000);
    let queue = Arc::new(Mutex::new(deliveries.into_iter()));
    let client = client();
    let workers: Vec<_> = (0..24)
        .map(|_| {
            let (queue, client, urls, events) =
                (queue.clone(), client.clone(), urls.clone(), events.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                loop {
                    let Some((i, to)) = queue.lock().unwrap().next() else {
                        return answers;
                    };
                    let got = deliver_until_settled(&client, &urls[to], &events[i].0).await;
                    answers.push((i, got));
                }
            })
        })
        .collect();
    let mut answers = Vec::new();
    for worker in workers {
        answers.extend(
            tokio::time::timeout(Duration::from_secs(50), worker)
                .await
                .expect("all deliveries within 50 s")
                .expect("worker"),
        );
    }
    let delivered = started.elapsed();

    let mut runs = vec![0usize; events.len()];
    let mut duplicates = vec![0usize; events.len()];
    let (mut refused, mut failed) = (0usize, 0usize);
    for (i, got) in answers.iter() {
        for answer in got {
            match answer {
                Answer::Ran { sent, .. } => {
                    runs[*i] += 1;
                    assert_eq!(*sent, 1, "event {i}: {answer:?}");
                }
                Answer::Duplicate => duplicates[*i] += 1,
                Answer::Refused { .. } => refused += 1,
                Answer::HandlerFailed { .. } => failed += 1,
                Answer::Other { .. } => unreachable!(),
            }
        }
    }
    let total_runs: usize = runs.iter().sum();
    eprintln!(
        "1,000 events × 3 over two instances: {total_runs} handler runs, {} duplicates, \
         {refused} refusals in flight (409 + Retry-After, then duplicate), {failed} failed runs, \
         {:.1} s",
        duplicates.iter().sum::<usize>(),
        delivered.as_secs_f64()
    );
    assert_eq!(
        failed, 0,
        "no handler may fail with a healthy PostgreSQL and Pulsora"
    );
    assert_eq!(total_runs, 1_000);
    for i in 0..events.len() {
        assert_eq!(runs[i], 1, "event {i} ran {} times", runs[i]);
        assert_eq!(duplicates[i], 2, "event {i}: {} duplicates", duplicates[i]);
    }
    // At Pulsora: exactly the expected transactions, each once.
    let accepted = pulsora.accepted();
    assert_eq!(accepted.len(), 1_000);
    for (_, tx) in &events {
        let bodies = accepted.get(tx).map_or(0, Vec::len);
        assert_eq!(bodies, 1, "{tx} accepted {bodies} times");
    }
    for instance in instances {
        instance.stop().await;
    }
    eprintln!("test took {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_changes_of_one_subscription_on_two_instances_report_the_final_mrr() {
    let started = Instant::now();
    let Some(pg) = tokio::task::block_in_place(PgCluster::start) else {
        return;
    };
    let (pulsora, pulsora_url) = FakePulsora::start(0).await;
    let instances = [
        Instance::start(&pg.url(), &pulsora_url).await,
        Instance::start(&pg.url(), &pulsora_url).await,
    ];
    let client = client();
    let n = 300_000;
    let plan = price("price_basic", 2_000, "usd", "month");
    // The first paid invoice: 20.00 a month.
    let invoice = subscription_invoice(
        n,
        1,
        "subscription_create",
        2_000,
        &plan,
        1,
        1_700_000_000,
        ApiShape::Basil,
    );
    let first = event(
        &format!("evt_pg_lock_{n}_0"),
        "invoice.paid",
        1_700_000_000,
        ApiShape::Basil,
        invoice,
        None,
    );
    let got = deliver_until_settled(&client, &instances[0].webhook_url(), &first.to_string()).await;
    assert!(matches!(got.last(), Some(Answer::Ran { .. })), "{got:?}");
    // Quantity 1 → 40, every change at once, alternately to both instances, both API shapes:
    // without a lock across instances their ledger read-modify-writes interleave and the
    // reported MRR drifts from the final one.
    let tasks: Vec<_> = (1..=40i64)
        .map(|q| {
            let shape = if q % 3 == 0 {
                ApiShape::Legacy
            } else {
                ApiShape::Basil
            };
            let object = subscription(n, "active", plan.clone(), q, 1_700_000_000);
            let body = event(
                &format!("evt_pg_lock_{n}_{q}"),
                "customer.subscription.updated",
                1_700_000_000 + q,
                shape,
                object,
                None,
            )
            .to_string();
            let url = instances[(q % 2) as usize].webhook_url();
            let client = client.clone();
            tokio::spawn(async move { deliver_until_settled(&client, &url, &body).await })
        })
        .collect();
    let mut retried = 0;
    for task in tasks {
        let got = tokio::time::timeout(Duration::from_secs(50), task)
            .await
            .expect("within 50 s")
            .expect("task");
        retried += got.len() - 1;
        assert!(matches!(got.last(), Some(Answer::Ran { .. })), "{got:?}");
    }
    let mrr: Decimal = pulsora
        .accepted()
        .values()
        .map(|bodies| {
            assert_eq!(bodies.len(), 1);
            bodies[0].get("mrr_impact").map_or(Decimal::ZERO, |m| {
                Decimal::from_str(&m.to_string()).unwrap()
            })
        })
        .sum();
    // Whatever order they ran in, the newest state (quantity 40) wins: 40 × 20.00.
    assert_eq!(mrr, Decimal::from_str("800.00").unwrap());
    for instance in instances {
        instance.stop().await;
    }
    eprintln!(
        "40 changes over two instances: MRR {mrr}, {retried} retried deliveries, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_instances_restarted_answer_earlier_events_as_duplicates() {
    let started = Instant::now();
    let Some(pg) = tokio::task::block_in_place(PgCluster::start) else {
        return;
    };
    let (pulsora, pulsora_url) = FakePulsora::start(0).await;
    let client = client();
    let events: Vec<(String, String)> = (0..200)
        .map(|i| {
            let (event, tx) = revenue_event(200_000, i);
            (event.to_string(), tx)
        })
        .collect();
    let first = [
        Instance::start(&pg.url(), &pulsora_url).await,
        Instance::start(&pg.url(), &pulsora_url).await,
    ];
    for (i, (body, _)) in events.iter().enumerate() {
        let got = deliver_until_settled(&client, &first[i % 2].webhook_url(), body).await;
        assert!(
            matches!(got.last(), Some(Answer::Ran { sent: 1, .. })),
            "{got:?}"
        );
    }
    for instance in first {
        instance.stop().await;
    }
    // New instances: new pools, empty caches. Each earlier event, delivered to the instance
    // that did not run it, is a duplicate known only to PostgreSQL.
    let second = [
        Instance::start(&pg.url(), &pulsora_url).await,
        Instance::start(&pg.url(), &pulsora_url).await,
    ];
    for (i, (body, _)) in events.iter().enumerate() {
        for instance in [&second[(i + 1) % 2], &second[i % 2]] {
            let answer = deliver(&client, &instance.webhook_url(), body).await;
            assert_eq!(answer, Answer::Duplicate, "event {i} after the restart");
        }
    }
    let accepted = pulsora.accepted();
    assert_eq!(accepted.len(), events.len());
    for (_, tx) in &events {
        assert_eq!(accepted.get(tx).map_or(0, Vec::len), 1, "{tx}");
    }
    for instance in second {
        instance.stop().await;
    }
    eprintln!(
        "restart of both instances: {} earlier events answered as duplicates twice each, {:.1} s",
        events.len(),
        started.elapsed().as_secs_f64()
    );
}
