//! Rate limits and the allow-list over real sockets: a real axum server on 127.0.0.1 served
//! with `ConnectInfo`, reqwest clients. Different clients are different loopback source
//! addresses (`127.0.0.2`, `127.0.0.3`: all of 127.0.0.0/8 is loopback on Linux), or, behind
//! a trusted proxy (trust 127.0.0.1), different `X-Forwarded-For` values.
//!
//! Budgets are tiny (a few requests per minute) so refusals come after a handful of requests
//! and no test waits more than the one `Retry-After` it checks.
#![cfg(feature = "axum")]

use axum::http::StatusCode;
use axum::routing;
use axum::Router;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stripe_webhook_guard::{
    sign, Cidr, Quota, StripeWebhookLayer, VerifiedStripeEvent, STRIPE_WEBHOOK_IPS,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};

const SECRET: &str = "whsec_ratelimit_http_test_0123456789abcdef0123456789abcdef";
const PATH: &str = "/api/webhooks/stripe";
/// Longest a test waits for an answer it expects; a hang fails the test instead of stalling CI.
const PATIENCE: Duration = Duration::from_secs(5);

const PROBER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const STRIPE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

struct Server {
    url: String,
    addr: SocketAddr,
    calls: Arc<AtomicUsize>,
}

impl Server {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// Serves the route behind `layer` on a fresh loopback port, with the peer address available
/// (`ConnectInfo`) unless `connect_info` is false.
async fn serve_with(layer: StripeWebhookLayer, connect_info: bool) -> Server {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let router = Router::new()
        .route(
            PATH,
            routing::post(move |_event: VerifiedStripeEvent| async move {
                counter.fetch_add(1, Ordering::SeqCst);
                StatusCode::OK
            }),
        )
        .layer(layer);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    if connect_info {
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await });
    } else {
        tokio::spawn(async move { axum::serve(listener, router).await });
    }
    Server {
        url: format!("http://{addr}{PATH}"),
        addr,
        calls,
    }
}

async fn serve(layer: StripeWebhookLayer) -> Server {
    serve_with(layer, true).await
}

/// A client whose connections come from `from`.
fn client_from(from: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(IpAddr::V4(from))
        .timeout(PATIENCE)
        .build()
        .expect("client")
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// A fresh event id per call, so the replay guard never answers instead of the limiter.
fn event_body() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let id = NEXT.fetch_add(1, Ordering::SeqCst);
    format!(
        r#"{{"id":"evt_rl_{id}","object":"event","type":"invoice.paid","created":1700000000,"livemode":false,"data":{{"object":{{"id":"in_{id}","object":"invoice"}}}}}}"#
    )
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    json: serde_json::Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Retry-After` of a 429, checked to be whole seconds, at least 1.
    fn retry_after(&self) -> u64 {
        let value = self.header("retry-after").expect("429 without Retry-After");
        let secs: u64 = value.parse().expect("Retry-After in whole seconds");
        assert!(secs >= 1, "Retry-After: {secs}");
        secs
    }

    fn assert_rate_limited(&self, limit: u32, case: &str) -> u64 {
        assert_eq!(
            self.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{case}: {}",
            self.json
        );
        assert_eq!(self.json["error"], "rate_limited", "{case}");
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{case}"
        );
        let retry_after = self.retry_after();
        assert_eq!(
            self.header("ratelimit-limit"),
            Some(limit.to_string().as_str()),
            "{case}"
        );
        assert_eq!(self.header("ratelimit-remaining"), Some("0"), "{case}");
        let reset: u64 = self
            .header("ratelimit-reset")
            .and_then(|v| v.parse().ok())
            .expect("RateLimit-Reset in seconds");
        assert!(reset >= 1, "{case}: RateLimit-Reset {reset}");
        retry_after
    }
}

/// POSTs an event, validly signed unless `bad_signature`, with an optional
/// `X-Forwarded-For`.
async fn post(
    client: &reqwest::Client,
    server: &Server,
    bad_signature: bool,
    forwarded_for: Option<&str>,
) -> Answer {
    let body = event_body();
    let secret = if bad_signature {
        "whsec_guess_0123456789abcdef0123456789abcdef"
    } else {
        SECRET
    };
    let mut request = client
        .post(&server.url)
        .header("content-type", "application/json")
        .header("stripe-signature", sign(body.as_bytes(), secret, now()))
        .body(body);
    if let Some(value) = forwarded_for {
        request = request.header("x-forwarded-for", value);
    }
    let response = request.send().await.expect("request");
    let status = StatusCode::from_u16(response.status().as_u16()).expect("status");
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Answer {
        status,
        headers,
        json,
    }
}

fn loopback() -> Cidr {
    Cidr::from(Ipv4Addr::LOCALHOST)
}

#[tokio::test]
async fn a_burst_over_the_budget_gets_429_and_passes_after_retry_after() {
    // One request a second, two at once.
    let layer = StripeWebhookLayer::new(SECRET).rate_limit(Quota::per_second(1).burst(2));
    let server = serve(layer).await;
    let client = client_from(Ipv4Addr::LOCALHOST);

    for n in 0..2 {
        let answer = post(&client, &server, false, None).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "request {n}: {}",
            answer.json
        );
    }
    let refused = post(&client, &server, false, None).await;
    let retry_after = refused.assert_rate_limited(2, "third request of the burst");
    assert!(
        retry_after <= 1,
        "one token per second: Retry-After {retry_after}"
    );
    assert_eq!(server.calls(), 2, "the refused request reached the handler");

    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let after = post(&client, &server, false, None).await;
    assert_eq!(
        after.status,
        StatusCode::OK,
        "after Retry-After: {}",
        after.json
    );
    assert_eq!(server.calls(), 3);
}

#[tokio::test]
async fn a_forged_x_forwarded_for_from_an_untrusted_peer_changes_nothing() {
    // No trusted proxies: the peer (127.0.0.1) is the client whatever the header says.
    let layer = StripeWebhookLayer::new(SECRET).rate_limit(Quota::per_minute(2));
    let server = serve(layer).await;
    let client = client_from(Ipv4Addr::LOCALHOST);
    for forged in ["1.1.1.1", "2.2.2.2"] {
        let answer = post(&client, &server, false, Some(forged)).await;
        assert_eq!(answer.status, StatusCode::OK, "{forged}");
    }
    let refused = post(&client, &server, false, Some("3.3.3.3")).await;
    refused.assert_rate_limited(2, "a new forged address does not buy a new budget");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_right_most_untrusted_address_is_the_client() {
    let layer = StripeWebhookLayer::new(SECRET)
        .rate_limit(Quota::per_minute(2))
        .trusted_proxies([loopback()]);
    let server = serve(layer).await;
    let proxy = client_from(Ipv4Addr::LOCALHOST);

    for _ in 0..2 {
        let answer = post(&proxy, &server, false, Some("9.9.9.9, 1.2.3.4")).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    // A different left-most (client-written) entry: still client 1.2.3.4.
    let refused = post(&proxy, &server, false, Some("8.8.8.8, 1.2.3.4")).await;
    refused.assert_rate_limited(2, "left-most spoof");
    // A different right-most entry is another client with its own budget.
    let other = post(&proxy, &server, false, Some("9.9.9.9, 5.6.7.8")).await;
    assert_eq!(other.status, StatusCode::OK);
}

#[tokio::test]
async fn ipv6_addresses_in_one_64_share_a_budget() {
    let layer = StripeWebhookLayer::new(SECRET)
        .rate_limit(Quota::per_minute(2))
        .trusted_proxies([loopback()]);
    let server = serve(layer).await;
    let proxy = client_from(Ipv4Addr::LOCALHOST);

    for xff in ["2001:db8:1:2::1", "[2001:db8:1:2::2]:4711"] {
        let answer = post(&proxy, &server, false, Some(xff)).await;
        assert_eq!(answer.status, StatusCode::OK, "{xff}");
    }
    let refused = post(
        &proxy,
        &server,
        false,
        Some("2001:db8:1:2:ffff:ffff:ffff:fffe"),
    )
    .await;
    refused.assert_rate_limited(2, "same /64");
    let next_block = post(&proxy, &server, false, Some("2001:db8:1:3::1")).await;
    assert_eq!(
        next_block.status,
        StatusCode::OK,
        "the next /64 is another client"
    );
}

#[tokio::test]
async fn a_prober_is_cut_off_while_stripe_keeps_getting_200() {
    let layer = StripeWebhookLayer::new(SECRET).failure_limit(Quota::per_minute(5));
    let server = serve(layer).await;
    let prober = client_from(PROBER);
    let stripe = client_from(STRIPE);

    // Bodies over SMALL_SIGNED_BODY: once over its failure budget, the prober cannot make us
    // hash them any more.
    let large = |client: &reqwest::Client| {
        let body = format!(
            r#"{{"id":"evt_large","object":"event","type":"ping","pad":"{}"}}"#,
            "x".repeat(stripe_webhook_guard::SMALL_SIGNED_BODY)
        );
        client
            .post(&server.url)
            .header("content-type", "application/json")
            .header(
                "stripe-signature",
                sign(
                    body.as_bytes(),
                    "whsec_guess_0123456789abcdef0123456789abcdef",
                    now(),
                ),
            )
            .body(body)
    };
    let probing = async {
        let mut statuses = Vec::new();
        for _ in 0..25 {
            let response = large(&prober).send().await.expect("request");
            let answer = Answer {
                status: StatusCode::from_u16(response.status().as_u16()).expect("status"),
                headers: response.headers().clone(),
                json: serde_json::from_slice(&response.bytes().await.expect("body"))
                    .unwrap_or(serde_json::Value::Null),
            };
            if answer.status == StatusCode::TOO_MANY_REQUESTS {
                answer.assert_rate_limited(5, "prober");
            } else {
                assert_eq!(answer.json["error"], "signature_mismatch");
            }
            statuses.push(answer.status);
        }
        statuses
    };
    let delivering = async {
        let mut statuses = Vec::new();
        for _ in 0..25 {
            statuses.push(post(&stripe, &server, false, None).await.status);
            tokio::task::yield_now().await;
        }
        statuses
    };
    let (probed, delivered) = tokio::join!(probing, delivering);

    let expected: Vec<StatusCode> = (0..25)
        .map(|n| {
            if n < 5 {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::TOO_MANY_REQUESTS
            }
        })
        .collect();
    assert_eq!(probed, expected, "five failures, then cut off");
    assert!(
        delivered.iter().all(|s| *s == StatusCode::OK),
        "Stripe was refused: {delivered:?}"
    );
    assert_eq!(server.calls(), 25);

    // A small signed body is still verified for it (the failures might be a forger's behind
    // the same address, and Stripe's deliveries are small): refused for its signature, not
    // by the budget.
    let small = post(&prober, &server, true, None).await;
    assert_eq!(small.status, StatusCode::BAD_REQUEST);
    assert_eq!(small.json["error"], "signature_mismatch");

    // Cut off before its body is read: headers announcing 300 kB, no body, and the 429
    // arrives anyway.
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((PROBER, 0)))
        .expect("bind 127.0.0.2");
    let mut stream = socket.connect(server.addr).await.expect("connect");
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Stripe-Signature: t=1,v1=00\r\nContent-Length: 300000\r\n\r\n",
        server.addr
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(PATIENCE, stream.read(&mut answer))
        .await
        .expect("the server waited for the body")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after:"),
        "{answer}"
    );
}

#[tokio::test]
async fn the_allow_list_refuses_other_addresses_with_403() {
    let layer = StripeWebhookLayer::new(SECRET).allow_only([Cidr::from(STRIPE)]);
    let server = serve(layer).await;

    let allowed = post(&client_from(STRIPE), &server, false, None).await;
    assert_eq!(allowed.status, StatusCode::OK);
    let refused = post(&client_from(PROBER), &server, false, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json["error"], "ip_not_allowed");
    assert_eq!(server.calls(), 1);
}

#[tokio::test]
async fn stripe_addresses_behind_a_trusted_proxy() {
    let layer = StripeWebhookLayer::new(SECRET)
        .trusted_proxies([loopback()])
        .allow_only(STRIPE_WEBHOOK_IPS);
    let server = serve(layer).await;
    let proxy = client_from(Ipv4Addr::LOCALHOST);

    let cases = [
        ("54.187.216.72", StatusCode::OK),
        ("6.6.6.6", StatusCode::FORBIDDEN),
        // Writing a Stripe address first does not help: the proxy appended the real one.
        ("54.187.216.72, 6.6.6.6", StatusCode::FORBIDDEN),
    ];
    for (xff, status) in cases {
        let answer = post(&proxy, &server, false, Some(xff)).await;
        assert_eq!(answer.status, status, "{xff}: {}", answer.json);
    }
    // The proxy's own requests (no header) are not Stripe's.
    let direct = post(&proxy, &server, false, None).await;
    assert_eq!(direct.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn exempt_clients_are_never_limited() {
    let layer = StripeWebhookLayer::new(SECRET)
        .rate_limit(Quota::per_minute(1))
        .failure_limit(Quota::per_minute(1))
        .exempt([Cidr::from(STRIPE)]);
    let server = serve(layer).await;
    let stripe = client_from(STRIPE);
    for _ in 0..3 {
        assert_eq!(
            post(&stripe, &server, true, None).await.status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            post(&stripe, &server, false, None).await.status,
            StatusCode::OK
        );
    }
    // Everyone else is.
    let other = client_from(PROBER);
    assert_eq!(
        post(&other, &server, false, None).await.status,
        StatusCode::OK
    );
    post(&other, &server, false, None)
        .await
        .assert_rate_limited(1, "not exempt");
}

#[tokio::test]
async fn limits_switched_off_never_refuse() {
    let layer = StripeWebhookLayer::new(SECRET)
        .no_rate_limit()
        .no_failure_limit();
    let server = serve(layer).await;
    let client = client_from(PROBER);
    for _ in 0..30 {
        let answer = post(&client, &server, true, None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn without_connect_info_every_request_shares_one_bucket() {
    let layer = StripeWebhookLayer::new(SECRET).rate_limit(Quota::per_minute(2));
    let server = serve_with(layer, false).await;
    assert_eq!(
        post(&client_from(PROBER), &server, false, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        post(&client_from(STRIPE), &server, false, None)
            .await
            .status,
        StatusCode::OK
    );
    post(&client_from(Ipv4Addr::LOCALHOST), &server, false, None)
        .await
        .assert_rate_limited(2, "unknown peers share a bucket");

    // And an allow-list cannot be satisfied without knowing the peer.
    let layer = StripeWebhookLayer::new(SECRET).allow_only([loopback()]);
    let server = serve_with(layer, false).await;
    let answer = post(&client_from(Ipv4Addr::LOCALHOST), &server, false, None).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
}
