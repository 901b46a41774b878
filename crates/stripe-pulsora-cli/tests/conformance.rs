//! The conformance table: every rule of the webhook pipeline as a row of
//! (request → status, headers, body code, did the handler run), executed against an axum server
//! (tower layer) and an actix-web server (middleware), both over real loopback sockets.
//!
//! Both frameworks run the same rows with the same expectations, so a rule that only one adapter
//! implements fails a row; and their answers to each step are compared with each other (digits
//! masked, as messages carry ages in seconds).
//!
//! A row may hold several steps on one fresh server (repeats, overlapping deliveries), set
//! middleware options (the same builder methods exist on `StripeWebhookLayer` and
//! `StripeWebhook`), script the handler's answers, and send from any 127.0.0.0/8 address, so
//! per-client rules (rate limits, allow-list, trusted proxies) are rows like any other.
//!
//! To add a rule: a `Setting` variant (applied in `configure!` to both builders) if it needs
//! one, then rows.
#![cfg(feature = "actix-web")]

mod common;

use common::{exchange, now, serve_actix, serve_axum, Delivery, Recorder, Reply, Running};
use common::{Seen, WireRequest, WireResponse, PATIENCE};
use std::net::Ipv4Addr;
use std::time::Duration;
use stripe_pulsora::stripe_webhook_guard::{
    sign, Cidr, FixedClock, Quota, StripeWebhook, StripeWebhookLayer,
};

const SECRET: &str = "whsec_conformance_secret_0123456789abcdef0123456789abcdef";

// ---------------------------------------------------------------------------------------------
// The shape of a row
// ---------------------------------------------------------------------------------------------

/// A middleware option, applied with the same builder method to both frameworks.
#[derive(Debug, Clone, Copy)]
enum Setting {
    BodyLimit(usize),
    ReadTimeout(Duration),
    /// Our clock runs this many seconds away from the real one.
    ClockOffset(i64),
    /// Another active signing secret (rotation).
    AlsoSecret(&'static str),
    /// The per-client budget for all requests.
    RateLimit(Quota),
    /// The per-client budget for failed verifications.
    FailureLimit(Quota),
    /// Only these ranges may send.
    AllowOnly(&'static [&'static str]),
    /// Peers whose `X-Forwarded-For` is believed.
    TrustedProxies(&'static [&'static str]),
}

fn cidrs(ranges: &[&str]) -> Vec<Cidr> {
    ranges
        .iter()
        .map(|r| r.parse().expect("a CIDR range"))
        .collect()
}

/// Builds the middleware of either framework from the row's settings: one list of builder
/// calls, so the two cannot be configured differently.
macro_rules! configure {
    ($middleware:expr, $settings:expr) => {{
        let mut middleware = $middleware;
        for setting in $settings {
            middleware = match *setting {
                Setting::BodyLimit(bytes) => middleware.body_limit(bytes),
                Setting::ReadTimeout(timeout) => middleware.read_timeout(timeout),
                Setting::ClockOffset(secs) => middleware.clock(FixedClock(now() + secs)),
                Setting::AlsoSecret(secret) => middleware.secret(secret),
                Setting::RateLimit(quota) => middleware.rate_limit(quota),
                Setting::FailureLimit(quota) => middleware.failure_limit(quota),
                Setting::AllowOnly(ranges) => middleware.allow_only(cidrs(ranges)),
                Setting::TrustedProxies(ranges) => middleware.trusted_proxies(cidrs(ranges)),
            };
        }
        middleware
    }};
}

/// One `Stripe-Signature` header value, computed when the request is sent.
#[derive(Debug, Clone, Copy)]
enum Sig {
    /// `sign(body, secret, now + offset)`.
    Signed { secret: &'static str, offset: i64 },
    /// A valid signature over other bytes than the ones sent.
    SignedOver(&'static str),
    /// A valid header rewritten (e.g. its `v1` renamed).
    Rewritten(fn(String) -> String),
    /// Exactly this text.
    Literal(&'static str),
}

/// What a step sends.
#[derive(Debug, Clone)]
struct Req {
    peer: Ipv4Addr,
    headers: Vec<(&'static str, &'static str)>,
    signatures: Vec<Sig>,
    body: Vec<u8>,
    delivery: Delivery,
}

impl Req {
    fn signatures(mut self, signatures: Vec<Sig>) -> Self {
        self.signatures = signatures;
        self
    }

    fn delivery(mut self, delivery: Delivery) -> Self {
        self.delivery = delivery;
        self
    }

    /// Sent from this loopback address instead of 127.0.0.1.
    fn from(mut self, peer: [u8; 4]) -> Self {
        self.peer = Ipv4Addr::from(peer);
        self
    }

    fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }

    fn to_wire(&self) -> WireRequest {
        let t = now();
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        for (name, value) in &self.headers {
            headers.push(((*name).to_owned(), (*value).to_owned()));
        }
        for sig in &self.signatures {
            let value = match *sig {
                Sig::Signed { secret, offset } => sign(&self.body, secret, t + offset),
                Sig::SignedOver(other) => sign(other.as_bytes(), SECRET, t),
                Sig::Rewritten(rewrite) => rewrite(sign(&self.body, SECRET, t)),
                Sig::Literal(text) => text.to_owned(),
            };
            headers.push(("stripe-signature".to_owned(), value));
        }
        WireRequest {
            peer: self.peer,
            headers,
            body: self.body.clone(),
            delivery: self.delivery,
        }
    }
}

/// A validly signed request carrying `body`, sent whole from 127.0.0.1.
fn post(body: impl Into<Vec<u8>>) -> Req {
    Req {
        peer: Ipv4Addr::LOCALHOST,
        headers: Vec::new(),
        signatures: vec![Sig::Signed {
            secret: SECRET,
            offset: 0,
        }],
        body: body.into(),
        delivery: Delivery::Whole,
    }
}

/// What the answer must be.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// The handler's own answer (`handled #n`); it saw exactly the bytes sent, through both
    /// `Bytes` and `raw_body()`.
    Handled,
    /// A refusal: JSON `{"error": code, "message": …}`.
    Refused(&'static str),
    /// `{"received":true,"duplicate":true}`.
    Duplicate,
}

#[derive(Debug, Clone)]
struct Expect {
    status: u16,
    answer: Answer,
    /// Headers that must be present with exactly these values (`*`: any value).
    headers: Vec<(&'static str, &'static str)>,
}

impl Expect {
    fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }
}

fn handled(status: u16) -> Expect {
    Expect {
        status,
        answer: Answer::Handled,
        headers: Vec::new(),
    }
}

fn refused(status: u16, code: &'static str) -> Expect {
    Expect {
        status,
        answer: Answer::Refused(code),
        headers: Vec::new(),
    }
}

fn duplicate() -> Expect {
    Expect {
        status: 200,
        answer: Answer::Duplicate,
        headers: Vec::new(),
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// Send and check the answer.
    Send(Req, Expect),
    /// Send without waiting; the answer is checked at the next `Join`.
    Start(Req, Expect),
    /// Wait until the handler has been entered this many times in all.
    AwaitHandlerEntered(usize),
    /// Let held handler calls (`Reply::Hold`) answer.
    ReleaseHandlers,
    /// Check the answers of the `Start`ed requests.
    Join,
}

/// A row's extra check on what the handler saw (`Err` says what is wrong).
type SeenCheck = fn(&[Seen]) -> Result<(), String>;

struct Row {
    name: &'static str,
    /// `false`: the route has no middleware (the extractor must say so).
    middleware: bool,
    settings: Vec<Setting>,
    replies: Vec<Reply>,
    steps: Vec<Step>,
    /// Extra checks on what the handler saw.
    check: Option<SeenCheck>,
}

fn row(name: &'static str, steps: Vec<Step>) -> Row {
    Row {
        name,
        middleware: true,
        settings: Vec::new(),
        replies: Vec::new(),
        steps,
        check: None,
    }
}

/// A one-step row.
fn case(name: &'static str, request: Req, expect: Expect) -> Row {
    row(name, vec![Step::Send(request, expect)])
}

impl Row {
    fn with(mut self, setting: Setting) -> Self {
        self.settings.push(setting);
        self
    }

    fn without_middleware(mut self) -> Self {
        self.middleware = false;
        self
    }

    fn replies(mut self, replies: Vec<Reply>) -> Self {
        self.replies = replies;
        self
    }

    fn check(mut self, check: SeenCheck) -> Self {
        self.check = Some(check);
        self
    }
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

/// A snapshot event as Stripe sends it: pretty-printed, 2-space indent, `\n`.
fn event(id: &str, event_type: &str) -> String {
    format!(
        "{{\n  \"id\": \"{id}\",\n  \"object\": \"event\",\n  \"api_version\": \"2025-03-31.basil\",\n  \"created\": 1700000000,\n  \"data\": {{\n    \"object\": {{\n      \"id\": \"cs_test_{id}\",\n      \"object\": \"checkout.session\",\n      \"amount_total\": 4900,\n      \"currency\": \"usd\"\n    }}\n  }},\n  \"livemode\": false,\n  \"pending_webhooks\": 1,\n  \"type\": \"{event_type}\"\n}}"
    )
}

/// CRLF line ends, tabs, trailing spaces, escapes and non-ASCII text: anything a parse and
/// re-serialisation would normalise.
const ODD_BYTES: &str = "{\r\n\t\"id\":   \"evt_raw_bytes\" ,\r\n  \"object\": \"event\",\r\n  \"type\": \"customer.updated\",\r\n  \"data\": {\"object\": {\"id\": \"cus_1\", \"name\": \"Zoë 😀 \\u00e9\\n\", \"n\": 1.0e2}}  \r\n}\r\n  ";

const THIN_EVENT: &str = r#"{
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

fn signed(offset: i64) -> Sig {
    Sig::Signed {
        secret: SECRET,
        offset,
    }
}

fn table() -> Vec<Row> {
    let invoice = || event("evt_invoice", "invoice.paid");
    let padded = {
        let mut big = event("evt_big", "invoice.paid");
        big.insert_str(1, &format!("\n  \"padding\": \"{}\",", "x".repeat(2048)));
        big
    };

    vec![
        // --- accepted ---------------------------------------------------------------------
        case(
            "valid event reaches the handler",
            post(event("evt_valid", "checkout.session.completed")),
            handled(200),
        )
        .check(|seen| match seen {
            [s] if s.id == "evt_valid" && s.event_type == "checkout.session.completed" => Ok(()),
            _ => Err(format!("{seen:?}")),
        }),
        case(
            "handler sees the exact raw bytes",
            post(ODD_BYTES),
            handled(200),
        ),
        case(
            "valid event in chunks is joined byte for byte",
            post(invoice()).delivery(Delivery::Chunked(100)),
            handled(200),
        ),
        case("thin event is accepted", post(THIN_EVENT), handled(200)).check(|seen| match seen {
            [s] if s.thin && s.event_type == "v1.billing.meter.error_report_triggered" => Ok(()),
            _ => Err(format!("{seen:?}")),
        }),
        case(
            "unknown event type is accepted",
            post(event("evt_unknown", "brand_new.thing.happened")),
            handled(200),
        )
        .check(|seen| match seen {
            [s] if s.event_type == "brand_new.thing.happened" => Ok(()),
            _ => Err(format!("{seen:?}")),
        }),
        case(
            "signed with the previous secret (rotation)",
            post(invoice()).signatures(vec![Sig::Signed {
                secret: "whsec_previous_0123456789abcdef0123456789abcdef",
                offset: 0,
            }]),
            handled(200),
        )
        .with(Setting::AlsoSecret(
            "whsec_previous_0123456789abcdef0123456789abcdef",
        )),
        case(
            "signed 290 s ago, inside the tolerance",
            post(invoice()).signatures(vec![signed(-290)]),
            handled(200),
        ),
        case(
            "handler failure is passed through",
            post(invoice()),
            handled(500),
        )
        .replies(vec![Reply::Fail]),
        // --- signature --------------------------------------------------------------------
        case(
            "no Stripe-Signature",
            post(invoice()).signatures(vec![]),
            refused(400, "missing_signature"),
        ),
        case(
            "empty Stripe-Signature",
            post(invoice()).signatures(vec![Sig::Literal("")]),
            refused(400, "missing_signature"),
        ),
        case(
            "malformed header (t is not a number)",
            post(invoice()).signatures(vec![Sig::Rewritten(|h| {
                format!("t=abc,{}", h.split_once(',').map_or("", |(_, v1)| v1))
            })]),
            refused(400, "malformed_signature_header"),
        ),
        case(
            "header sent twice, both valid",
            post(invoice()).signatures(vec![signed(0), signed(0)]),
            refused(400, "malformed_signature_header"),
        ),
        case(
            "no v1 (only v0)",
            post(invoice()).signatures(vec![Sig::Rewritten(|h| h.replace("v1=", "v0="))]),
            refused(400, "no_v1_signature"),
        ),
        case(
            "signed with another secret",
            post(invoice()).signatures(vec![Sig::Signed {
                secret: "whsec_someone_else_0123456789abcdef0123456789abcdef",
                offset: 0,
            }]),
            refused(400, "signature_mismatch"),
        ),
        case(
            "body changed after signing",
            post(invoice()).signatures(vec![Sig::SignedOver("{\"id\":\"evt_other\"}")]),
            refused(400, "signature_mismatch"),
        ),
        case(
            "signed 400 s ago",
            post(invoice()).signatures(vec![signed(-400)]),
            refused(400, "timestamp_too_old"),
        ),
        case(
            "signed in our future (our clock 1000 s behind)",
            post(invoice()),
            refused(400, "timestamp_in_future"),
        )
        .with(Setting::ClockOffset(-1000)),
        // --- parse ------------------------------------------------------------------------
        case(
            "signed JSON array",
            post("[1,2]"),
            refused(400, "invalid_event"),
        ),
        case(
            "signed object that is not an event",
            post(r#"{"object":"charge"}"#),
            refused(400, "invalid_event"),
        ),
        case(
            "signed invalid JSON",
            post(r#"{"id": "evt_1", "#),
            refused(400, "invalid_event"),
        ),
        // --- body -------------------------------------------------------------------------
        // A long read timeout: waiting for the body would run into PATIENCE, not into 408.
        case(
            "Content-Length over the limit, refused before the body is sent",
            post(invoice()).delivery(Delivery::DeclareOnly(1_000_000)),
            refused(413, "payload_too_large"),
        )
        .with(Setting::BodyLimit(1024))
        .with(Setting::ReadTimeout(Duration::from_secs(60))),
        case(
            "whole body over the limit",
            post(padded.clone()),
            refused(413, "payload_too_large"),
        )
        .with(Setting::BodyLimit(1024)),
        case(
            "chunked body cut at the limit",
            post(padded.clone()).delivery(Delivery::Chunked(256)),
            refused(413, "payload_too_large"),
        )
        .with(Setting::BodyLimit(1024)),
        case(
            "slow body",
            post(invoice()).delivery(Delivery::Stall),
            refused(408, "body_timeout"),
        )
        .with(Setting::ReadTimeout(Duration::from_millis(300))),
        // --- wiring -----------------------------------------------------------------------
        case(
            "route without the middleware",
            post(invoice()),
            refused(500, "missing_webhook_layer"),
        )
        .without_middleware(),
        // --- replay guard -----------------------------------------------------------------
        row(
            "processed event delivered again",
            vec![
                Step::Send(post(invoice()), handled(200)),
                Step::Send(post(invoice()), duplicate()),
                // Re-signed later, as Stripe's retries are: still the same event.
                Step::Send(post(invoice()).signatures(vec![signed(-5)]), duplicate()),
            ],
        ),
        row(
            "failed handler releases the event for Stripe's retry",
            vec![
                Step::Send(post(invoice()), handled(500)),
                Step::Send(post(invoice()), handled(200)),
                Step::Send(post(invoice()), duplicate()),
            ],
        )
        .replies(vec![Reply::Fail]),
        row(
            "same event in flight on another request",
            vec![
                Step::Start(post(invoice()), handled(200)),
                Step::AwaitHandlerEntered(1),
                Step::Send(
                    post(invoice()),
                    refused(409, "in_flight").header("retry-after", "10"),
                ),
                Step::ReleaseHandlers,
                Step::Join,
                Step::Send(post(invoice()), duplicate()),
            ],
        )
        .replies(vec![Reply::Hold]),
        row(
            "refused deliveries do not claim the event",
            vec![
                Step::Send(
                    post(invoice()).signatures(vec![signed(-400)]),
                    refused(400, "timestamp_too_old"),
                ),
                Step::Send(post(invoice()), handled(200)),
            ],
        ),
        // --- admission: rate limits, allow-list, client address ----------------------------
        row(
            "over the request budget",
            vec![
                Step::Send(post(event("evt_rl_1", "invoice.paid")), handled(200)),
                Step::Send(post(event("evt_rl_2", "invoice.paid")), handled(200)),
                Step::Send(
                    post(event("evt_rl_3", "invoice.paid")),
                    refused(429, "rate_limited")
                        .header("retry-after", "*")
                        .header("ratelimit-limit", "2")
                        .header("ratelimit-remaining", "0"),
                ),
                // Another client has a budget of its own.
                Step::Send(
                    post(event("evt_rl_4", "invoice.paid")).from([127, 0, 0, 2]),
                    handled(200),
                ),
            ],
        )
        .with(Setting::RateLimit(Quota::per_minute(2))),
        row(
            "failed verifications use up the strict budget",
            vec![
                Step::Send(
                    post(invoice()).signatures(vec![Sig::SignedOver("{}")]),
                    refused(400, "signature_mismatch"),
                ),
                Step::Send(
                    post(invoice()).signatures(vec![Sig::SignedOver("{}")]),
                    refused(400, "signature_mismatch"),
                ),
                // Cut off before its body is read: nothing signed to verify, or a body of
                // unknown size (chunked).
                Step::Send(
                    post(invoice()).signatures(vec![]),
                    refused(429, "rate_limited").header("retry-after", "*"),
                ),
                Step::Send(
                    post(invoice()).delivery(Delivery::Chunked(64)),
                    refused(429, "rate_limited").header("retry-after", "*"),
                ),
                // A small signed body is still verified: the failures may be a forger's
                // behind the same address (issue 18 §2), and Stripe's delivery goes through.
                Step::Send(post(invoice()), handled(200)),
                // Another address has its own budget.
                Step::Send(
                    post(invoice()).signatures(vec![]).from([127, 0, 0, 2]),
                    refused(400, "missing_signature"),
                ),
            ],
        )
        .with(Setting::FailureLimit(Quota::per_minute(2))),
        row(
            "requests without a signature are never charged to the failure budget",
            vec![
                Step::Send(
                    post(invoice()).signatures(vec![]),
                    refused(400, "missing_signature"),
                ),
                Step::Send(
                    post(invoice()).signatures(vec![]),
                    refused(400, "missing_signature"),
                ),
                Step::Send(
                    post(invoice()).signatures(vec![]),
                    refused(400, "missing_signature"),
                ),
                Step::Send(post(invoice()), handled(200)),
            ],
        )
        .with(Setting::FailureLimit(Quota::per_minute(1))),
        row(
            "address not on the allow-list",
            vec![
                Step::Send(post(invoice()), refused(403, "ip_not_allowed")),
                Step::Send(post(invoice()).from([127, 0, 0, 2]), handled(200)),
            ],
        )
        .with(Setting::AllowOnly(&["127.0.0.2/32"])),
        row(
            "X-Forwarded-For believed from a trusted proxy only",
            vec![
                Step::Send(
                    post(invoice())
                        .from([127, 0, 0, 3])
                        .header("x-forwarded-for", "203.0.113.7"),
                    refused(403, "ip_not_allowed"),
                ),
                // The right-most untrusted hop is the client; the left-most is client-written.
                Step::Send(
                    post(invoice()).header("x-forwarded-for", "203.0.113.7, 198.51.100.1"),
                    refused(403, "ip_not_allowed"),
                ),
                Step::Send(
                    post(invoice()).header("x-forwarded-for", "203.0.113.7"),
                    handled(200),
                ),
            ],
        )
        .with(Setting::TrustedProxies(&["127.0.0.1/32"]))
        .with(Setting::AllowOnly(&["203.0.113.7/32"])),
    ]
}

// ---------------------------------------------------------------------------------------------
// Running it
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framework {
    Axum,
    Actix,
}

async fn start(framework: Framework, row: &Row, recorder: Recorder) -> Running {
    match framework {
        Framework::Axum => {
            let layer = row
                .middleware
                .then(|| configure!(StripeWebhookLayer::new(SECRET), &row.settings));
            serve_axum(layer, recorder).await
        }
        Framework::Actix => {
            let webhook = row
                .middleware
                .then(|| configure!(StripeWebhook::new(SECRET), &row.settings));
            serve_actix(webhook, recorder)
        }
    }
}

/// Checks one answer against its expectation; `Ok` carries the handler call it came from.
fn verify(
    response: &WireResponse,
    expect: &Expect,
    sent: &[u8],
    seen: &[Seen],
) -> Result<Option<usize>, String> {
    let text = String::from_utf8_lossy(&response.body);
    if response.status != expect.status {
        return Err(format!(
            "status {} (want {}): {text}",
            response.status, expect.status
        ));
    }
    for (name, value) in &expect.headers {
        let got = response.header(name);
        if got.is_none() || (*value != "*" && got != Some(value)) {
            return Err(format!(
                "{name}: {:?} (want {value:?})",
                response.header(name)
            ));
        }
    }
    match expect.answer {
        Answer::Handled => {
            let call: usize = text
                .strip_prefix("handled #")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("not the handler's answer: {text}"))?;
            let s = seen.get(call).ok_or("handler call not recorded")?;
            if s.body != sent {
                return Err("the Bytes extractor did not see the bytes sent".into());
            }
            if s.raw != sent {
                return Err("raw_body() is not the bytes sent".into());
            }
            Ok(Some(call))
        }
        Answer::Refused(code) => {
            if response.header("content-type") != Some("application/json") {
                return Err(format!(
                    "content-type {:?}",
                    response.header("content-type")
                ));
            }
            let json = response.json().ok_or_else(|| format!("not JSON: {text}"))?;
            if json["error"] != code {
                return Err(format!(
                    "error code {} (want {code}): {text}",
                    json["error"]
                ));
            }
            match json["message"].as_str() {
                Some(m) if !m.is_empty() && !m.contains(SECRET) => Ok(None),
                _ => Err(format!("message missing or leaks the secret: {text}")),
            }
        }
        Answer::Duplicate => {
            if response.body != br#"{"received":true,"duplicate":true}"# {
                return Err(format!("not the duplicate answer: {text}"));
            }
            Ok(None)
        }
    }
}

/// What is compared across frameworks: status, the headers the pipeline sets, the body with
/// digits masked (messages carry ages in seconds).
fn comparable(response: &WireResponse) -> String {
    let mut out = format!("{}", response.status);
    for name in [
        "content-type",
        "retry-after",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
    ] {
        if let Some(value) = response.header(name) {
            out.push_str(&format!(" {name}={value}"));
        }
    }
    let body: String = String::from_utf8_lossy(&response.body)
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect();
    format!("{out} {body}")
}

/// Runs `row` on a fresh server: the answers in step order, or the first failure.
async fn run_row(framework: Framework, row: &Row) -> Result<Vec<String>, String> {
    let recorder = Recorder::new(row.replies.clone());
    let server = start(framework, row, recorder.clone()).await;
    let addr = server.addr;
    let mut answers = Vec::new();
    let mut pending = Vec::new();
    let mut handled = 0;

    let mut settle = |i: usize, response: &WireResponse, expect: &Expect, sent: &[u8]| {
        let seen = recorder.seen();
        match verify(response, expect, sent, &seen) {
            Ok(call) => {
                handled += usize::from(call.is_some());
                answers.push(comparable(response));
                Ok(())
            }
            Err(e) => Err(format!("step {i}: {e}")),
        }
    };

    for (i, step) in row.steps.iter().enumerate() {
        match step {
            Step::Send(req, expect) => {
                let wire = req.to_wire();
                let response = exchange(addr, &wire)
                    .await
                    .map_err(|e| format!("step {i}: {e}"))?;
                settle(i, &response, expect, &wire.body)?;
            }
            Step::Start(req, expect) => {
                let wire = req.to_wire();
                let task = tokio::spawn(async move {
                    let response = exchange(addr, &wire).await;
                    (wire, response)
                });
                pending.push((i, task, expect.clone()));
            }
            Step::AwaitHandlerEntered(n) => {
                let deadline = tokio::time::Instant::now() + PATIENCE;
                while recorder.entered() < *n {
                    if tokio::time::Instant::now() > deadline {
                        return Err(format!("step {i}: the handler was not entered {n} times"));
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            Step::ReleaseHandlers => recorder.release(),
            Step::Join => {
                for (i, task, expect) in pending.drain(..) {
                    let (wire, response) = task.await.map_err(|e| format!("step {i}: {e}"))?;
                    let response = response.map_err(|e| format!("step {i}: {e}"))?;
                    settle(i, &response, &expect, &wire.body)?;
                }
            }
        }
    }

    // Every handler call is accounted for by an answer that came from it: a refused request
    // never reached the handler.
    if recorder.entered() != handled {
        return Err(format!(
            "the handler ran {} times, {handled} answers came from it",
            recorder.entered()
        ));
    }
    if let Some(check) = row.check {
        check(&recorder.seen())?;
    }
    Ok(answers)
}

async fn run_table(framework: Framework) -> (Vec<String>, Vec<Result<Vec<String>, String>>) {
    let rows = table();
    let mut results = Vec::new();
    for row in &rows {
        results.push(run_row(framework, row).await);
    }
    (rows.iter().map(|r| r.name.to_owned()).collect(), results)
}

/// Every row against both frameworks; then, row by row, the two frameworks' answers must match.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_table_axum_and_actix() {
    let (names, axum) = run_table(Framework::Axum).await;
    let (_, actix) = run_table(Framework::Actix).await;

    let mut failures = Vec::new();
    for ((name, axum), actix) in names.iter().zip(&axum).zip(&actix) {
        if let Err(e) = axum {
            failures.push(format!("[axum]  {name}: {e}"));
        }
        if let Err(e) = actix {
            failures.push(format!("[actix] {name}: {e}"));
        }
        if let (Ok(a), Ok(b)) = (axum, actix) {
            if a != b {
                failures.push(format!(
                    "[both]  {name}: answers differ\n  axum:  {a:?}\n  actix: {b:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}
