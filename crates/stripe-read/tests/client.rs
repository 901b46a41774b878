//! The client against the fake Stripe API over loopback: pagination, filters, the pinned
//! version, retries on 429 / 500, and errors a caller can act on.

use serde_json::{json, Value};
use std::time::Duration;
use stripe_read::fake::{FakeStripe, Fault};
use stripe_read::{ApiError, Params, StripeClient, PINNED_VERSION};

const KEY: &str = "rk_test_fake_key_for_the_client_tests";

fn client(fake: &FakeStripe) -> StripeClient {
    StripeClient::builder(KEY)
        .base_url(fake.base_url())
        .base_backoff(Duration::from_millis(5))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("key")
}

async fn fake_with_events(count: i64) -> FakeStripe {
    let fake = FakeStripe::start(KEY).await.expect("fake stripe");
    for n in 0..count {
        let kind = if n % 3 == 0 {
            "charge.refunded"
        } else {
            "invoice.paid"
        };
        fake.put(
            "events",
            json!({"id": format!("evt_{n:04}"), "object": "event", "type": kind, "created": 1_700_000_000 + n}),
        );
    }
    fake
}

#[tokio::test]
async fn lists_every_page_newest_first_with_the_pinned_version() {
    let fake = fake_with_events(250).await;
    let all: Vec<Value> = client(&fake)
        .list("/v1/events", Params::new())
        .collect_all()
        .await
        .expect("list");
    let ids: Vec<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let expected: Vec<String> = (0..250).rev().map(|n| format!("evt_{n:04}")).collect();
    assert_eq!(ids, expected);

    let requests = fake.requests();
    assert_eq!(requests.len(), 3, "limit=100: pages of 100, 100, 50");
    let after: Vec<Option<&str>> = requests
        .iter()
        .map(|r| {
            r.query
                .iter()
                .find(|(n, _)| n == "starting_after")
                .map(|(_, v)| v.as_str())
        })
        .collect();
    assert_eq!(after, [None, Some("evt_0150"), Some("evt_0050")]);
    for request in &requests {
        assert_eq!(request.stripe_version.as_deref(), Some(PINNED_VERSION));
        assert!(request.query.contains(&("limit".into(), "100".into())));
    }
}

#[tokio::test]
async fn filters_by_type_and_time_and_resumes_from_a_cursor() {
    let fake = fake_with_events(300).await;
    let stripe = client(&fake);
    let params = Params::new()
        .each("types[]", ["charge.refunded"])
        .param("created[gte]", 1_700_000_030)
        .param("limit", 40);
    let mut pages = stripe.list::<Value>("/v1/events", params.clone());
    let first = pages.next_page().await.expect("page").expect("some");
    assert_eq!(first.len(), 40);
    assert!(first.iter().all(|e| e["type"] == "charge.refunded"));
    let cursor = pages.cursor().expect("more to come").to_owned();

    // A new lister from the saved cursor, as a resumed backfill does.
    let rest: Vec<Value> = stripe
        .list("/v1/events", params.param("starting_after", &cursor))
        .collect_all()
        .await
        .expect("rest");
    let total: Vec<i64> = first
        .iter()
        .chain(&rest)
        .map(|e| e["created"].as_i64().unwrap() - 1_700_000_000)
        .collect();
    let expected: Vec<i64> = (30..300).rev().filter(|n| n % 3 == 0).collect();
    assert_eq!(total, expected);
}

#[tokio::test]
async fn subscriptions_list_hides_canceled_unless_status_all() {
    let fake = FakeStripe::start(KEY).await.expect("fake");
    for (n, status) in ["active", "canceled", "trialing", "past_due"]
        .iter()
        .enumerate()
    {
        fake.put(
            "subscriptions",
            json!({"id": format!("sub_{n}"), "status": status, "created": n}),
        );
    }
    let stripe = client(&fake);
    let default: Vec<Value> = stripe
        .list("/v1/subscriptions", Params::new())
        .collect_all()
        .await
        .unwrap();
    assert_eq!(default.len(), 3);
    let all: Vec<Value> = stripe
        .list("/v1/subscriptions", Params::new().param("status", "all"))
        .collect_all()
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
}

#[tokio::test]
async fn retries_429_and_500_then_succeeds() {
    let fake = fake_with_events(5).await;
    fake.fail_next(Fault::RateLimited {
        retry_after_secs: 1,
    });
    fake.fail_next(Fault::ServerError);
    let all: Vec<Value> = client(&fake)
        .list("/v1/events", Params::new())
        .collect_all()
        .await
        .expect("recovered");
    assert_eq!(all.len(), 5);
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 500, 200]);
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_fails_as_transient_at_once() {
    let fake = fake_with_events(1).await;
    fake.fail_next(Fault::RateLimited {
        retry_after_secs: 3_600,
    });
    let error = client(&fake)
        .get::<Value>("/v1/events", &Params::new())
        .await
        .expect_err("an hour is beyond the cap");
    assert!(error.is_transient(), "{error}");
    assert_eq!(
        fake.requests().len(),
        1,
        "no second attempt inside the call"
    );
}

#[tokio::test]
async fn a_persistent_outage_gives_up_after_the_bounded_retries() {
    let fake = fake_with_events(1).await;
    for _ in 0..10 {
        fake.fail_next(Fault::ServerError);
    }
    let stripe = StripeClient::builder(KEY)
        .base_url(fake.base_url())
        .base_backoff(Duration::from_millis(1))
        .max_retries(2)
        .build()
        .unwrap();
    let error = stripe
        .get::<Value>("/v1/events", &Params::new())
        .await
        .unwrap_err();
    assert!(matches!(error, ApiError::Transient(_)), "{error:?}");
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn wrong_key_and_missing_object_are_not_retried_and_never_show_the_key() {
    let fake = fake_with_events(1).await;
    let wrong = StripeClient::builder("sk_test_wrong_key_value_123")
        .base_url(fake.base_url())
        .build()
        .unwrap();
    let error = wrong
        .get::<Value>("/v1/events", &Params::new())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ApiError::KeyRefused { status: 401, .. }),
        "{error:?}"
    );
    assert!(!format!("{error} {error:?} {wrong:?}").contains("wrong_key_value"));

    let missing = client(&fake)
        .get::<Value>("/v1/subscriptions/sub_nope", &Params::new())
        .await
        .unwrap_err();
    assert!(matches!(missing, ApiError::NotFound(_)), "{missing:?}");
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn retrieves_one_object_with_expand() {
    let fake = FakeStripe::start(KEY).await.unwrap();
    fake.put(
        "checkout/sessions",
        json!({"id": "cs_1", "created": 1, "metadata": {"a": "b"}}),
    );
    let session: Value = client(&fake)
        .get(
            "/v1/checkout/sessions/cs_1",
            &Params::new().expand("line_items"),
        )
        .await
        .unwrap();
    assert_eq!(session["metadata"]["a"], "b");
    assert!(fake.requests()[0]
        .query
        .contains(&("expand[]".into(), "line_items".into())));
}

#[tokio::test]
async fn unreachable_stripe_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let stripe = StripeClient::builder(KEY)
        .base_url(format!("http://{addr}"))
        .base_backoff(Duration::from_millis(1))
        .max_retries(1)
        .build()
        .unwrap();
    let error = stripe
        .get::<Value>("/v1/events", &Params::new())
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error:?}");
}
