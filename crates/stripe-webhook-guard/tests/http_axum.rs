//! The tower layer in a real axum server on 127.0.0.1, driven over real sockets (reqwest, or a
//! raw `TcpStream` where the test needs to control exactly when body bytes are sent).
//!
//! Each case starts its own server (binding a loopback port takes microseconds), so the cases
//! stay independent of each other's replay and rate-limit state.
#![cfg(feature = "axum")]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stripe_webhook_guard::{sign, EventType, FixedClock, StripeWebhookLayer, VerifiedStripeEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const SECRET: &str = "whsec_http_axum_test_secret_0123456789abcdef0123456789abcdef";
const PATH: &str = "/api/webhooks/stripe";
/// Longest a test waits for an answer it expects; a hang fails the test instead of stalling CI.
const PATIENCE: Duration = Duration::from_secs(5);

/// What the handler saw.
#[derive(Debug)]
struct Seen {
    id: String,
    event_type: EventType,
    is_thin: bool,
    object_id: Option<String>,
    /// `VerifiedStripeEvent::raw_body()`.
    raw: Bytes,
    /// The `Bytes` extractor.
    body: Bytes,
}

#[derive(Clone)]
struct AppState {
    seen: mpsc::UnboundedSender<Seen>,
    calls: Arc<AtomicUsize>,
}

async fn handler(
    State(state): State<AppState>,
    event: VerifiedStripeEvent,
    body: Bytes,
) -> StatusCode {
    state.calls.fetch_add(1, Ordering::SeqCst);
    let _ = state.seen.send(Seen {
        id: event.id().to_owned(),
        event_type: event.event_type().clone(),
        is_thin: event.is_thin(),
        object_id: event.object_id().map(str::to_owned),
        raw: event.raw_body().clone(),
        body,
    });
    StatusCode::OK
}

struct Server {
    url: String,
    addr: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
    calls: Arc<AtomicUsize>,
}

impl Server {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// Serves `POST /api/webhooks/stripe` behind `layer` (or without it) on a fresh loopback port,
/// with the peer address available the way a real deployment provides it.
async fn serve_with(layer: Option<StripeWebhookLayer>) -> Server {
    let (tx, rx) = mpsc::unbounded_channel();
    let calls = Arc::new(AtomicUsize::new(0));
    let state = AppState {
        seen: tx,
        calls: Arc::clone(&calls),
    };
    let mut router = Router::new().route(PATH, post(handler));
    if let Some(layer) = layer {
        router = router.layer(layer);
    }
    let app = router
        .with_state(state)
        .into_make_service_with_connect_info::<SocketAddr>();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server {
        url: format!("http://{addr}{PATH}"),
        addr,
        seen: rx,
        calls,
    }
}

async fn serve(layer: StripeWebhookLayer) -> Server {
    serve_with(Some(layer)).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
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

/// A snapshot event as Stripe sends it: pretty-printed, 2-space indent, `\n`.
fn event_body(id: &str, event_type: &str) -> String {
    format!(
        "{{\n  \"id\": \"{id}\",\n  \"object\": \"event\",\n  \"api_version\": \"2025-03-31.basil\",\n  \"created\": 1700000000,\n  \"data\": {{\n    \"object\": {{\n      \"id\": \"cs_test_{id}\",\n      \"object\": \"checkout.session\",\n      \"amount_total\": 4900,\n      \"currency\": \"usd\"\n    }}\n  }},\n  \"livemode\": false,\n  \"pending_webhooks\": 1,\n  \"type\": \"{event_type}\"\n}}"
    )
}

/// Sends `body` with the given `Stripe-Signature` values (none, one, or several).
async fn post_signed(server: &Server, signatures: &[&str], body: impl Into<Vec<u8>>) -> Answer {
    let mut request = client()
        .post(&server.url)
        .header("content-type", "application/json")
        .body(body.into());
    for value in signatures {
        request = request.header("stripe-signature", *value);
    }
    Answer::new(request.send().await.expect("request"))
        .await_body()
        .await
}

struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    response: Option<reqwest::Response>,
    body: Vec<u8>,
}

impl Answer {
    fn new(response: reqwest::Response) -> Self {
        Self {
            status: StatusCode::from_u16(response.status().as_u16()).expect("status"),
            content_type: response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            response: Some(response),
            body: Vec::new(),
        }
    }

    async fn await_body(mut self) -> Self {
        if let Some(response) = self.response.take() {
            self.body = response.bytes().await.expect("response body").to_vec();
        }
        self
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// A rejection: the status, the JSON content type, `{"error": code, "message": …}`, and
    /// nothing secret in it.
    fn assert_rejection(&self, status: StatusCode, code: &str, case: &str) {
        assert_eq!(
            self.status,
            status,
            "{case}: {:?}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/json"),
            "{case}"
        );
        let json = self.json();
        assert_eq!(json["error"], code, "{case}: {json}");
        let message = json["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{case}: empty message");
        assert!(
            !message.contains(SECRET),
            "{case}: message leaks the secret"
        );
    }
}

#[tokio::test]
async fn verified_event_reaches_the_handler() {
    let mut server = serve(StripeWebhookLayer::new(SECRET)).await;
    let body = event_body("evt_reaches_handler", "checkout.session.completed");
    let header = sign(body.as_bytes(), SECRET, now());

    let answer = post_signed(&server, &[&header], body.clone()).await;

    assert_eq!(answer.status, StatusCode::OK);
    let seen = server.seen.try_recv().expect("the handler ran");
    assert_eq!(seen.id, "evt_reaches_handler");
    assert_eq!(seen.event_type, EventType::CheckoutSessionCompleted);
    assert_eq!(
        seen.object_id.as_deref(),
        Some("cs_test_evt_reaches_handler")
    );
    assert!(!seen.is_thin);
    assert_eq!(seen.raw, body.as_bytes());
    assert_eq!(server.calls(), 1);
}

#[tokio::test]
async fn every_verification_failure_answers_400_with_its_code() {
    let t = now();
    let good = |id: &str| event_body(id, "invoice.paid");
    let signed = |body: &str, at: i64| sign(body.as_bytes(), SECRET, at);

    struct Case {
        name: &'static str,
        layer: StripeWebhookLayer,
        signatures: Vec<String>,
        body: String,
        code: &'static str,
    }
    let base = || StripeWebhookLayer::new(SECRET);
    let case = |name, signatures: Vec<String>, body: String, code| Case {
        name,
        layer: base(),
        signatures,
        body,
        code,
    };

    let b = good("evt_400");
    let v1_only = signed(&b, t).replace("v1=", "v0=");
    let cases = vec![
        case("no header", vec![], b.clone(), "missing_signature"),
        case(
            "empty header",
            vec![String::new()],
            b.clone(),
            "missing_signature",
        ),
        case(
            "t is not a number",
            vec![format!(
                "t=abc,v1={}",
                signed(&b, t).split(",v1=").nth(1).unwrap_or_default()
            )],
            b.clone(),
            "malformed_signature_header",
        ),
        case(
            "header sent twice, both valid",
            vec![signed(&b, t), signed(&b, t)],
            b.clone(),
            "malformed_signature_header",
        ),
        case(
            "only a v0 scheme",
            vec![v1_only],
            b.clone(),
            "no_v1_signature",
        ),
        case(
            "signed with another secret",
            vec![sign(
                b.as_bytes(),
                "whsec_someone_else_0123456789abcdef0123456789abcdef",
                t,
            )],
            b.clone(),
            "signature_mismatch",
        ),
        case(
            "body changed after signing",
            vec![signed(&b, t)],
            b.replace("invoice.paid", "invoice.payment_failed"),
            "signature_mismatch",
        ),
        case(
            "signed 400 s ago",
            vec![signed(&b, t - 400)],
            b.clone(),
            "timestamp_too_old",
        ),
        Case {
            // Our clock 1000 s behind Stripe's.
            layer: base().clock(FixedClock(t - 1000)),
            ..case(
                "signed in our future",
                vec![signed(&b, t)],
                b.clone(),
                "timestamp_in_future",
            )
        },
        case(
            "signed JSON array",
            vec![signed("[1,2]", t)],
            "[1,2]".into(),
            "invalid_event",
        ),
        case(
            "signed object that is not an event",
            vec![signed(r#"{"object":"charge"}"#, t)],
            r#"{"object":"charge"}"#.into(),
            "invalid_event",
        ),
        case(
            "signed invalid JSON",
            vec![signed(r#"{"id": "evt_1", "#, t)],
            r#"{"id": "evt_1", "#.into(),
            "invalid_event",
        ),
        case(
            "signed event without data",
            vec![signed(r#"{"id":"evt_1","object":"event","type":"x"}"#, t)],
            r#"{"id":"evt_1","object":"event","type":"x"}"#.into(),
            "invalid_event",
        ),
    ];

    for case in cases {
        let server = serve(case.layer).await;
        let signatures: Vec<&str> = case.signatures.iter().map(String::as_str).collect();
        let answer = post_signed(&server, &signatures, case.body).await;
        answer.assert_rejection(StatusCode::BAD_REQUEST, case.code, case.name);
        assert_eq!(server.calls(), 0, "{}: the handler ran", case.name);
    }
}

/// Writes `head` and `body_part` on a raw connection, then reads one HTTP/1.1 response:
/// (status, body). Panics if no complete answer arrives within [`PATIENCE`].
async fn raw_exchange(addr: SocketAddr, head: &str, body_part: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body_part).await.expect("write body");
    stream.flush().await.expect("flush");
    // The connection stays open (the rest of the body never comes): the server must answer
    // on its own.
    tokio::time::timeout(PATIENCE, read_response(&mut stream))
        .await
        .expect("the server answered without waiting for the rest of the body")
}

async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .expect("rejections carry a content-length");
            if buf.len() >= end + 4 + length {
                let status = head[9..12].parse().expect("status code");
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned();
                return (status, body);
            }
        }
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed before a full response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn request_head(addr: SocketAddr, signature: &str, extra: &str) -> String {
    format!(
        "POST {PATH} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nstripe-signature: {signature}\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn content_length_over_the_limit_is_refused_before_the_body_is_sent() {
    // A long read timeout: if the server waited for the body, this test would time out
    // (PATIENCE) long before the server gave up, instead of seeing 413.
    let layer = StripeWebhookLayer::new(SECRET)
        .body_limit(1024)
        .read_timeout(Duration::from_secs(60));
    let server = serve(layer).await;

    let head = request_head(
        server.addr,
        &sign(b"{}", SECRET, now()),
        "content-length: 1000000\r\n",
    );
    let (status, body) = raw_exchange(server.addr, &head, b"").await;
    assert_eq!(status, 413, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(json["error"], "payload_too_large");

    // The same through a client that sends the whole (signed, valid) oversized event.
    let mut big = event_body("evt_big", "invoice.paid");
    big.insert_str(1, &format!("\n  \"padding\": \"{}\",", "x".repeat(2048)));
    let answer = post_signed(&server, &[&sign(big.as_bytes(), SECRET, now())], big).await;
    answer.assert_rejection(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "full body",
    );
    assert_eq!(server.calls(), 0);
}

/// A request body sent in `pieces` chunks with no `Content-Length` (chunked encoding).
fn chunked(body: Vec<u8>, pieces: usize) -> reqwest::Body {
    let size = body.len().div_ceil(pieces).max(1);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(size).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

#[tokio::test]
async fn chunked_body_is_cut_at_the_limit_and_accepted_below_it() {
    let mut server = serve(StripeWebhookLayer::new(SECRET).body_limit(8 * 1024)).await;

    // 64 KiB of chunks against an 8 KiB limit, nothing declared up front.
    let huge = vec![b' '; 64 * 1024];
    let response = client()
        .post(&server.url)
        .header("stripe-signature", sign(&huge, SECRET, now()))
        .body(chunked(huge, 64))
        .send()
        .await
        .expect("the server answers while the body is still streaming");
    Answer::new(response).await_body().await.assert_rejection(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "chunked",
    );
    assert_eq!(server.calls(), 0);

    // A valid event in three chunks is joined back byte for byte.
    let body = event_body("evt_chunked", "invoice.paid").into_bytes();
    let response = client()
        .post(&server.url)
        .header("stripe-signature", sign(&body, SECRET, now()))
        .body(chunked(body.clone(), 3))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    let seen = server.seen.try_recv().expect("the handler ran");
    assert_eq!(
        (seen.id.as_str(), &seen.body[..]),
        ("evt_chunked", &body[..])
    );
}

#[tokio::test]
async fn slow_body_gets_408() {
    let layer = StripeWebhookLayer::new(SECRET).read_timeout(Duration::from_millis(300));
    let server = serve(layer).await;
    let body = event_body("evt_slow", "invoice.paid");
    let head = request_head(
        server.addr,
        &sign(body.as_bytes(), SECRET, now()),
        &format!("content-length: {}\r\n", body.len()),
    );

    // Half the body, then nothing: a slow-loris client.
    let (status, answer) =
        raw_exchange(server.addr, &head, &body.as_bytes()[..body.len() / 2]).await;

    assert_eq!(status, 408, "{answer}");
    let json: serde_json::Value = serde_json::from_str(&answer).expect("JSON body");
    assert_eq!(json["error"], "body_timeout");
    assert_eq!(server.calls(), 0);
}

#[tokio::test]
async fn handler_sees_the_exact_raw_body() {
    let mut server = serve(StripeWebhookLayer::new(SECRET)).await;
    // CRLF line ends, tabs, trailing spaces, escapes and non-ASCII text: anything a parse and
    // re-serialisation would normalise.
    let body = "{\r\n\t\"id\":   \"evt_raw_bytes\" ,\r\n  \"object\": \"event\",\r\n  \"type\": \"customer.updated\",\r\n  \"data\": {\"object\": {\"id\": \"cus_1\", \"name\": \"Zoë 😀 \\u00e9\\n\", \"n\": 1.0e2}}  \r\n}\r\n  ";
    let header = sign(body.as_bytes(), SECRET, now());

    let answer = post_signed(&server, &[&header], body).await;

    assert_eq!(answer.status, StatusCode::OK);
    let seen = server.seen.try_recv().expect("the handler ran");
    assert_eq!(seen.id, "evt_raw_bytes");
    assert_eq!(seen.body, body.as_bytes(), "Bytes extractor");
    assert_eq!(seen.raw, body.as_bytes(), "VerifiedStripeEvent::raw_body");
}

#[tokio::test]
async fn without_the_layer_the_extractor_answers_500() {
    let server = serve_with(None).await;
    let body = event_body("evt_no_layer", "invoice.paid");
    let answer = post_signed(&server, &[&sign(body.as_bytes(), SECRET, now())], body).await;

    answer.assert_rejection(
        StatusCode::INTERNAL_SERVER_ERROR,
        "missing_webhook_layer",
        "no layer",
    );
    assert_eq!(server.calls(), 0);
}

#[tokio::test]
async fn thin_event_is_accepted_and_marked_thin() {
    let mut server = serve(StripeWebhookLayer::new(SECRET)).await;
    let body = r#"{
  "id": "evt_test_65R9Ijk8e0ZqYaH1aVm16RkBHWCSQ5z6pPLxbqOpq9oGaq",
  "object": "v2.core.event",
  "type": "v1.billing.meter.error_report_triggered",
  "livemode": false,
  "created": "2024-09-17T06:20:52.246Z",
  "related_object": {
    "id": "mtr_test_61R9IjWFLqOKcQmBv41IpGxnDfSGmRWO",
    "type": "billing.meter",
    "url": "/v1/billing/meters/mtr_test_61R9IjWFLqOKcQmBv41IpGxnDfSGmRWO"
  }
}"#;
    let answer = post_signed(&server, &[&sign(body.as_bytes(), SECRET, now())], body).await;

    assert_eq!(answer.status, StatusCode::OK);
    let seen = server.seen.try_recv().expect("the handler ran");
    assert!(seen.is_thin);
    assert_eq!(
        seen.id,
        "evt_test_65R9Ijk8e0ZqYaH1aVm16RkBHWCSQ5z6pPLxbqOpq9oGaq"
    );
    assert_eq!(
        seen.event_type,
        EventType::Other("v1.billing.meter.error_report_triggered".into())
    );
    assert_eq!(seen.object_id, None);
}

#[tokio::test]
async fn unknown_event_type_is_accepted_as_other() {
    let mut server = serve(StripeWebhookLayer::new(SECRET)).await;
    let body = event_body("evt_unknown_type", "brand_new.thing.happened");
    let answer = post_signed(&server, &[&sign(body.as_bytes(), SECRET, now())], body).await;

    assert_eq!(answer.status, StatusCode::OK);
    let seen = server.seen.try_recv().expect("the handler ran");
    assert_eq!(
        seen.event_type,
        EventType::Other("brand_new.thing.happened".into())
    );
}

#[tokio::test]
async fn rotated_secrets_both_verify_over_http() {
    let mut server = serve(
        StripeWebhookLayer::new("whsec_new_0123456789abcdef0123456789abcdef")
            .secret("whsec_old_0123456789abcdef0123456789abcdef"),
    )
    .await;
    for (id, secret) in [
        (
            "evt_signed_new",
            "whsec_new_0123456789abcdef0123456789abcdef",
        ),
        (
            "evt_signed_old",
            "whsec_old_0123456789abcdef0123456789abcdef",
        ),
    ] {
        let body = event_body(id, "invoice.paid");
        let answer = post_signed(&server, &[&sign(body.as_bytes(), secret, now())], body).await;
        assert_eq!(answer.status, StatusCode::OK, "{id}");
        assert_eq!(server.seen.try_recv().expect("the handler ran").id, id);
    }
}
