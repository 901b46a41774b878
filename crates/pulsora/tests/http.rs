//! The client against real HTTP servers on 127.0.0.1.

mod support;

use pulsora::{
    Decimal, Disposition, Error, EventType, Revenue, RevenueBuilder, RevenueEvent, ValidationError,
};
use serde_json::json;
use std::time::{Duration, Instant};
use support::{Answer, Recorder, Silent};

const TOKEN: &str = "sec_test_123";

fn full_event() -> RevenueEvent {
    RevenueEvent::new(EventType::Subscription, Decimal::new(1999, 2))
        .visitor_fingerprint("fp_abc")
        .session_id("sess_xyz")
        .customer_id("cus_42")
        .currency("USD")
        .transaction_id("in_1Nv")
        .payment_processor("stripe")
        .customer_subscription_id("sub_789")
        .mrr_impact(Decimal::new(1999, 2))
        .is_recurring(true)
        .metadata(json!({ "plan": "pro", "seats": 10 }))
}

/// Fast retries so the tests stay quick; jitter off so waits are exact.
fn client(url: &str) -> RevenueBuilder {
    Revenue::builder(TOKEN)
        .endpoint(url)
        .timeout(Duration::from_secs(5))
        .base_backoff(Duration::from_millis(10))
        .jitter(false)
}

#[tokio::test]
async fn sends_the_exact_headers_and_json_and_accepts_202() {
    let server = Recorder::start(vec![Answer::new(202, r#"{"success":true}"#)]).await;
    let revenue = client(&server.url).build().unwrap();

    let receipt = revenue.track(&full_event()).await.unwrap();
    assert_eq!(receipt.status, Some(202));
    assert_eq!(receipt.attempts, 1);
    assert!(!receipt.is_dry_run());

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/api/ingest");
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(request.headers["x-api-token"], TOKEN);
    assert_eq!(request.headers["user-agent"], pulsora::DEFAULT_USER_AGENT);
    assert_eq!(
        request.body,
        r#"{"type":"revenue","token":"sec_test_123","data":{"visitor_fingerprint":"fp_abc","session_id":"sess_xyz","customer_id":"cus_42","amount":19.99,"currency":"USD","transaction_id":"in_1Nv","payment_processor":"stripe","event_type":"subscription","customer_subscription_id":"sub_789","mrr_impact":19.99,"is_recurring":true,"metadata":{"plan":"pro","seats":10}}}"#
    );
    assert_eq!(request.body, revenue.request_body(&full_event()).unwrap());
}

#[tokio::test]
async fn absent_optional_fields_are_omitted() {
    let server = Recorder::start(vec![Answer::new(202, "")]).await;
    let revenue = client(&server.url).build().unwrap();
    let mut event = RevenueEvent::new(EventType::Refund, Decimal::new(-4999, 2))
        .visitor_fingerprint("fp")
        .session_id("sess")
        .customer_id("cus")
        .transaction_id("re_1");
    revenue.track(&event).await.unwrap();
    event.event_type = None;
    event.amount = Decimal::new(5, 0);
    revenue.track(&event).await.unwrap();
    let bodies: Vec<String> = server.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(
        bodies,
        [
            r#"{"type":"revenue","token":"sec_test_123","data":{"visitor_fingerprint":"fp","session_id":"sess","customer_id":"cus","amount":-49.99,"transaction_id":"re_1","event_type":"refund"}}"#,
            r#"{"type":"revenue","token":"sec_test_123","data":{"visitor_fingerprint":"fp","session_id":"sess","customer_id":"cus","amount":5,"transaction_id":"re_1"}}"#,
        ]
    );
}

#[tokio::test]
async fn payload_refusals_are_permanent_after_one_request_with_pulsoras_message() {
    let cases = [
        (
            400,
            r#"{"message":"The data.visitor_fingerprint field is required."}"#,
            "The data.visitor_fingerprint field is required.",
        ),
        (
            422,
            r#"{"message":"The data.amount field must be a number.","errors":{"data.amount":["x"]}}"#,
            "The data.amount field must be a number.",
        ),
    ];
    for (status, body, message) in cases {
        let server = Recorder::start(vec![Answer::new(status, body)]).await;
        let revenue = client(&server.url).build().unwrap();
        let err = revenue.track(&full_event()).await.unwrap_err();
        assert_eq!(server.requests().len(), 1, "{status}: exactly one request");
        assert!(err.is_permanent(), "{status}");
        assert_eq!(err.disposition(), Disposition::Drop);
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.message().as_deref(), Some(message));
        assert_eq!(err.attempts(), 1);
        match err {
            Error::Rejected {
                status: s,
                message: m,
                attempts: 1,
            } => assert_eq!((s, m.as_str()), (status, message)),
            other => panic!("{status}: expected Rejected, got {other:?}"),
        }
    }
}

/// Issue 18 §5: a bad token or a wrong endpoint is not a refusal of the event. It must be kept
/// (the caller answers 503) and the operator told; "not now" statuses are transient.
#[tokio::test]
async fn token_and_endpoint_faults_are_configuration_and_not_now_is_transient() {
    let cases: &[(u16, &str, Disposition)] = &[
        (
            401,
            r#"{"error":"Invalid API token"}"#,
            Disposition::FixConfiguration,
        ),
        (
            403,
            r#"{"error":"Revenue events require secret token"}"#,
            Disposition::FixConfiguration,
        ),
        (404, "Not Found", Disposition::FixConfiguration),
        (301, "", Disposition::FixConfiguration),
        (302, "", Disposition::FixConfiguration),
        (308, "", Disposition::FixConfiguration),
        (409, "conflict", Disposition::Retry),
        (413, "too large", Disposition::Retry),
        (418, "teapot", Disposition::Retry),
    ];
    for &(status, body, expected) in cases {
        let answer = if (300..400).contains(&status) {
            Answer::new(status, body).header("location", "/elsewhere")
        } else {
            Answer::new(status, body)
        };
        let server = Recorder::start(vec![answer]).await;
        let revenue = client(&server.url).max_retries(0).build().unwrap();
        let err = revenue.track(&full_event()).await.unwrap_err();
        assert_eq!(err.disposition(), expected, "{status}: {err:?}");
        assert_eq!(err.status(), Some(status));
        let requests = server.requests();
        // A redirect is never followed: the token would travel to wherever it points.
        assert_eq!(requests.len(), 1, "{status}: {requests:?}");
        assert_eq!(requests[0].path, "/api/ingest");
        if expected == Disposition::FixConfiguration {
            assert!(matches!(err, Error::Misconfigured { .. }), "{err:?}");
        } else {
            assert!(matches!(err, Error::Unexpected { .. }), "{err:?}");
        }
    }
}

/// 408 and 425 ask for the same request again: retried like a 5xx.
#[tokio::test]
async fn request_timeout_and_too_early_are_retried() {
    for status in [408, 425] {
        let server = Recorder::start(vec![Answer::new(status, ""), Answer::new(202, "")]).await;
        let receipt = client(&server.url)
            .build()
            .unwrap()
            .track(&full_event())
            .await;
        assert_eq!(receipt.unwrap().attempts, 2, "{status}");
    }
}

/// Issue 18 §4: the whole call fits in the time allowed, whatever Pulsora asks for.
#[tokio::test]
async fn the_whole_call_fits_in_its_budget() {
    // A Retry-After longer than what is left is not slept through.
    let server = Recorder::start(vec![Answer::new(429, "").header("retry-after", "59")]).await;
    let revenue = client(&server.url).build().unwrap();
    let started = Instant::now();
    let err = revenue
        .track_within(&full_event(), Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(err.is_transient());
    assert_eq!(server.requests().len(), 1);

    // A silent Pulsora: every attempt together stays within the budget.
    let silent = Silent::start().await;
    let revenue = client(&silent.url)
        .timeout(Duration::from_secs(10))
        .total_timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = revenue.track(&full_event()).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, Error::BudgetSpent { budget, .. } if budget == Duration::from_millis(700)),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn server_errors_are_retried_until_accepted() {
    let server = Recorder::start(vec![
        Answer::new(500, "boom"),
        Answer::new(500, "boom"),
        Answer::new(202, r#"{"success":true}"#),
    ])
    .await;
    let revenue = client(&server.url).build().unwrap();
    let receipt = revenue.track(&full_event()).await.unwrap();
    assert_eq!(receipt.status, Some(202));
    assert_eq!(receipt.attempts, 3);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    // Same body every time (same transaction_id, so Pulsora can dedup).
    assert!(requests.iter().all(|r| r.body == requests[0].body));
    // Exponential backoff without jitter: 10 ms, then 20 ms.
    assert!(requests[1].at - requests[0].at >= Duration::from_millis(10));
    assert!(requests[2].at - requests[1].at >= Duration::from_millis(20));
}

#[tokio::test]
async fn server_errors_stop_after_max_retries_as_transient() {
    let server = Recorder::start(vec![Answer::new(503, r#"{"error":"maintenance"}"#)]).await;
    let revenue = client(&server.url).max_retries(2).build().unwrap();
    let err = revenue.track(&full_event()).await.unwrap_err();
    assert_eq!(server.requests().len(), 3);
    assert!(err.is_transient());
    assert!(
        matches!(&err, Error::Server { status: 503, message, attempts: 3, .. } if message == "maintenance"),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limit_waits_for_retry_after() {
    let server = Recorder::start(vec![
        Answer::new(429, r#"{"error":"Too Many Requests"}"#).header("retry-after", "1"),
        Answer::new(202, ""),
    ])
    .await;
    let revenue = client(&server.url).build().unwrap();
    let started = Instant::now();
    let receipt = revenue.track(&full_event()).await.unwrap();
    assert_eq!(receipt.attempts, 2);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[1].at - requests[0].at >= Duration::from_secs(1),
        "waited {:?}",
        requests[1].at - requests[0].at
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn rate_limit_longer_than_the_cap_returns_at_once() {
    let server = Recorder::start(vec![
        Answer::new(429, r#"{"error":"Too Many Requests"}"#).header("retry-after", "120")
    ])
    .await;
    let revenue = client(&server.url)
        .max_retry_after(Duration::from_secs(1))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = revenue.track(&full_event()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(server.requests().len(), 1);
    assert!(err.is_transient());
    match err {
        Error::RateLimited {
            retry_after,
            message,
            attempts,
        } => {
            assert_eq!(retry_after, Some(Duration::from_secs(120)));
            assert_eq!(message, "Too Many Requests");
            assert_eq!(attempts, 1);
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn rate_limits_count_against_max_retries() {
    let server = Recorder::start(vec![Answer::new(429, "").header("retry-after", "0")]).await;
    let revenue = client(&server.url).max_retries(2).build().unwrap();
    let err = revenue.track(&full_event()).await.unwrap_err();
    assert_eq!(
        server.requests().len(),
        3,
        "bounded even though every answer is 429"
    );
    assert!(
        matches!(err, Error::RateLimited { attempts: 3, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_silent_server_times_out_after_the_configured_retries() {
    let server = Silent::start().await;
    let revenue = client(&server.url)
        .timeout(Duration::from_millis(200))
        .max_retries(2)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = revenue.track(&full_event()).await.unwrap_err();
    let took = started.elapsed();
    assert!(err.is_transient());
    assert!(
        matches!(err, Error::Timeout { attempts: 3, timeout } if timeout == Duration::from_millis(200)),
        "{err:?}"
    );
    assert_eq!(server.accepted(), 3, "one connection per attempt");
    assert!(took >= Duration::from_millis(600), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn connection_refused_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener); // nothing listens there now
    let revenue = client(&format!("http://{addr}/api/ingest"))
        .max_retries(1)
        .build()
        .unwrap();
    let err = revenue.track(&full_event()).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(matches!(err, Error::Network { attempts: 2, .. }), "{err:?}");
    assert_eq!(err.status(), None);
}

#[tokio::test]
async fn an_invalid_event_is_never_sent() {
    let server = Recorder::start(vec![Answer::new(202, "")]).await;
    let revenue = client(&server.url).build().unwrap();
    let event = full_event().visitor_fingerprint("");
    let err = revenue.track(&event).await.unwrap_err();
    assert!(matches!(
        err,
        Error::Invalid(ValidationError::VisitorFingerprint)
    ));
    assert_eq!(
        err.to_string(),
        "invalid revenue event: visitor_fingerprint is required."
    );
    assert!(!err.is_transient());
    let negative_purchase = full_event().amount(Decimal::new(-1, 0));
    let err = revenue.track(&negative_purchase).await.unwrap_err();
    assert_eq!(
        err.message().as_deref(),
        Some("amount must be a positive number.")
    );
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_shared_reqwest_client_is_used_with_the_same_headers() {
    let server = Recorder::start(vec![Answer::new(202, "")]).await;
    let shared = reqwest::Client::new();
    let revenue = client(&server.url)
        .client(shared)
        .user_agent("my-app/1.0")
        .build()
        .unwrap();
    revenue.track(&full_event()).await.unwrap();
    let request = &server.requests()[0];
    assert_eq!(request.headers["user-agent"], "my-app/1.0");
    assert_eq!(request.headers["x-api-token"], TOKEN);
}

/// `track_once` is one request whatever the answer (the caller owns the retries), and hands
/// Pulsora's `Retry-After` back on a 503 and a 429.
#[tokio::test]
async fn track_once_sends_one_request_and_returns_retry_after() {
    let server = Recorder::start(vec![
        Answer::new(503, r#"{"error":"maintenance"}"#).header("retry-after", "7"),
        Answer::new(429, r#"{"error":"Too Many Requests"}"#).header("retry-after", "30"),
        Answer::new(500, ""),
        Answer::new(202, ""),
    ])
    .await;
    let revenue = client(&server.url).max_retries(5).build().unwrap();
    let first = revenue.track_once(&full_event()).await.unwrap_err();
    assert!(first.is_transient());
    assert_eq!(first.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(first.attempts(), 1);
    let second = revenue.track_once(&full_event()).await.unwrap_err();
    assert_eq!(second.retry_after(), Some(Duration::from_secs(30)));
    let third = revenue.track_once(&full_event()).await.unwrap_err();
    assert_eq!((third.status(), third.retry_after()), (Some(500), None));
    let receipt = revenue.track_once(&full_event()).await.unwrap();
    assert_eq!((receipt.status, receipt.attempts), (Some(202), 1));
    assert_eq!(server.requests().len(), 4);
}
