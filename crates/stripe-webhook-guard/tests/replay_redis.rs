//! The Redis store over real sockets: two instances share one Redis; a Redis outage fails
//! closed and recovers by itself.
#![cfg(all(feature = "axum", feature = "redis"))]

mod replay_support;

use replay_support::{client, deliver, deliver_with, layer, serve, unique, OwnRedis, Probe};
use std::sync::Arc;
use std::time::Duration;
use stripe_webhook_guard::RedisStore;
use tokio::sync::Semaphore;

const EVENTS: usize = 1_000;
const COPIES: usize = 3;
/// Deliveries in flight at once across both servers.
const CONCURRENCY: usize = 64;

async fn store(url: &str, prefix: &str) -> RedisStore {
    RedisStore::connect(url)
        .await
        .expect("connect to redis")
        .with_prefix(prefix)
}

/// Each instance has its own layer and so its own in-process cache: deduplication across them
/// can only come from Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sharing_redis_run_each_event_once() {
    let Some(url) = replay_support::redis_url() else {
        return;
    };
    let prefix = unique("stripe-webhook-test") + ":";
    let probe = Probe::new(Duration::from_millis(2));
    let mut instances = Vec::new();
    for _ in 0..2 {
        let layer = layer()
            .replay_store(store(&url, &prefix).await)
            .processed_ttl(Duration::from_secs(600));
        instances.push(serve(layer, probe.clone()).await);
    }

    // Every event three times, each copy to a different instance than the one before,
    // shuffled so copies of one event overlap with each other and with other events.
    let mut deliveries: Vec<(usize, usize)> = (0..EVENTS)
        .flat_map(|event| (0..COPIES).map(move |copy| (event, (event + copy) % 2)))
        .collect();
    shuffle(&mut deliveries);

    let client = client();
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for (event, instance) in deliveries {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .expect("semaphore");
        let (client, url) = (client.clone(), instances[instance].url.clone());
        tasks.spawn(async move {
            let answer = deliver_with(&client, &url, &format!("evt_shared_{event}")).await;
            drop(permit);
            answer
        });
    }
    let (mut handled, mut duplicates, mut in_flight) = (0, 0, 0);
    while let Some(answer) = tasks.join_next().await {
        let answer = answer.expect("task").expect("an answer");
        match answer.status {
            _ if answer.is_handled() => handled += 1,
            _ if answer.is_duplicate() => duplicates += 1,
            409 => in_flight += 1,
            _ => panic!("unexpected answer: {answer:?}"),
        }
    }

    assert_eq!(probe.started(), EVENTS, "handler executions");
    assert_eq!(handled, EVENTS);
    assert_eq!(handled + duplicates + in_flight, EVENTS * COPIES);
    let per_event = probe.per_event();
    assert_eq!(per_event.len(), EVENTS);
    assert!(
        per_event.values().all(|&runs| runs == 1),
        "an event ran twice"
    );
    eprintln!("{handled} handled, {duplicates} duplicates, {in_flight} in flight (409)");
}

/// Redis dies mid-test: `503` with `Retry-After` and no handler call; after a restart on the
/// same port the delivery is processed, without restarting the application.
#[tokio::test]
async fn store_down_fails_closed_then_recovers() {
    let Some(mut redis) = OwnRedis::start() else {
        return;
    };
    let probe = Probe::new(Duration::ZERO);
    let layer = layer()
        .replay_store(store(&redis.url(), "replay-down-test:").await)
        .replay_store_timeout(Duration::from_millis(500));
    let app = serve(layer, probe.clone()).await;

    assert!(deliver(&app.url, "evt_before_outage").await.is_handled());

    redis.kill();
    for _ in 0..3 {
        let down = deliver(&app.url, "evt_during_outage").await;
        assert_eq!(down.status, 503, "{down:?}");
        assert_eq!(down.code(), "store_unavailable");
        let retry_after: u64 = down
            .retry_after
            .as_deref()
            .and_then(|v| v.parse().ok())
            .expect("503 carries Retry-After in seconds");
        assert!(retry_after >= 1);
    }
    assert_eq!(
        probe.started(),
        1,
        "no handler call while the store is down"
    );
    // What the cache already knows is still answered without the store.
    assert!(deliver(&app.url, "evt_before_outage").await.is_duplicate());

    redis.restart();
    let deadline = std::time::Instant::now() + replay_support::PATIENCE;
    let recovered = loop {
        let answer = deliver(&app.url, "evt_during_outage").await;
        if answer.status != 503 || std::time::Instant::now() > deadline {
            break answer;
        }
        // The connection manager reconnects on the next call after a failure.
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(recovered.is_handled(), "{recovered:?}");
    assert!(deliver(&app.url, "evt_during_outage").await.is_duplicate());
    assert_eq!(probe.started(), 2);
}

/// With fail-open the handler runs during the outage, deduplicated by this process's cache.
#[tokio::test]
async fn store_down_fails_open_when_asked() {
    let Some(mut redis) = OwnRedis::start() else {
        return;
    };
    let probe = Probe::new(Duration::ZERO);
    let layer = layer()
        .replay_store(store(&redis.url(), "replay-open-test:").await)
        .replay_store_timeout(Duration::from_millis(500))
        .fail_open_on_store_error();
    let app = serve(layer, probe.clone()).await;

    redis.kill();
    assert!(deliver(&app.url, "evt_open").await.is_handled());
    assert!(deliver(&app.url, "evt_open").await.is_duplicate());
    assert_eq!(probe.started(), 1);
}

/// A fixed permutation (xorshift), so a failure can be replayed.
fn shuffle<T>(items: &mut [T]) {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
}
