//! Helpers for tests that run one webhook route under both frameworks over real sockets:
//!
//! - [`Recorder`]: the one handler behaviour (record what it saw, answer from a script), which
//!   the axum handler and the actix-web handler both delegate to;
//! - [`serve_axum`] / [`serve_actix`]: that route on a fresh `127.0.0.1:0` listener, behind the
//!   middleware or without it;
//! - [`exchange`]: a raw HTTP/1.1 client that controls exactly what goes on the wire (repeated
//!   headers, chunked bodies, a body that stalls, a peer address other than 127.0.0.1).
#![allow(dead_code)] // Each test binary uses its own subset.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stripe_pulsora::stripe_webhook_guard::{
    StripeWebhook, StripeWebhookLayer, VerifiedStripeEvent,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpSocket;

/// The route every server in these tests serves.
pub const PATH: &str = "/api/webhooks/stripe";

/// Longest a test waits for an answer it expects; a hang fails the test instead of stalling CI.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// Seconds since the Unix epoch, as Stripe's `t=`.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

// ---------------------------------------------------------------------------------------------
// The handler
// ---------------------------------------------------------------------------------------------

/// What one handler call saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `event.id()`.
    pub id: String,
    /// `event.event_type()`, as text.
    pub event_type: String,
    /// `event.is_thin()`.
    pub thin: bool,
    /// `event.raw_body()`.
    pub raw: Vec<u8>,
    /// What the framework's own body extractor (`Bytes` / `web::Bytes`) returned.
    pub body: Vec<u8>,
}

/// How the handler answers one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// `200`.
    Ok,
    /// `500`: the claim on the event must be released.
    Fail,
    /// Wait for [`Recorder::release`] (at most [`PATIENCE`]), then `200`: keeps a delivery in
    /// flight for exactly as long as the test needs.
    Hold,
}

/// The shared handler: records each call and answers from a script (then `Reply::Ok`).
///
/// The answer body is `handled #n`, `n` being the call's index in [`Recorder::seen`], so a test
/// can tell which call produced which answer even when requests overlap.
#[derive(Clone)]
pub struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    entered: Arc<AtomicUsize>,
    script: Arc<Vec<Reply>>,
    /// Permits for held calls; a semaphore, not a `Notify`, so a release before the wait counts.
    released: Arc<tokio::sync::Semaphore>,
}

impl Recorder {
    /// A recorder answering the `script` replies in order, then `200`.
    pub fn new(script: Vec<Reply>) -> Self {
        Self {
            seen: Arc::default(),
            entered: Arc::default(),
            script: Arc::new(script),
            released: Arc::new(tokio::sync::Semaphore::new(0)),
        }
    }

    /// Lets every held call (now or later) answer.
    pub fn release(&self) {
        self.released.add_permits(1024);
    }

    /// Everything the handler saw so far, in call order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("recorder lock").clone()
    }

    /// How many times the handler has been entered.
    pub fn entered(&self) -> usize {
        self.entered.load(Ordering::SeqCst)
    }

    /// The handler body, shared by both frameworks: (status, body).
    pub async fn handle(&self, event: VerifiedStripeEvent, body: &[u8]) -> (u16, String) {
        let call = {
            let mut seen = self.seen.lock().expect("recorder lock");
            seen.push(Seen {
                id: event.id().to_owned(),
                event_type: event.event_type().to_string(),
                thin: event.is_thin(),
                raw: event.raw_body().to_vec(),
                body: body.to_vec(),
            });
            seen.len() - 1
        };
        self.entered.fetch_add(1, Ordering::SeqCst);
        match self.script.get(call).copied().unwrap_or(Reply::Ok) {
            Reply::Ok => (200, format!("handled #{call}")),
            Reply::Fail => (500, format!("handled #{call}")),
            Reply::Hold => {
                let _ = tokio::time::timeout(PATIENCE, self.released.acquire()).await;
                (200, format!("handled #{call}"))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

/// A server on a loopback port; stopped when dropped.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

async fn axum_handler(
    axum::extract::State(recorder): axum::extract::State<Recorder>,
    event: VerifiedStripeEvent,
    body: bytes::Bytes,
) -> (axum::http::StatusCode, String) {
    let (status, text) = recorder.handle(event, &body).await;
    let status = axum::http::StatusCode::from_u16(status).expect("handler status");
    (status, text)
}

/// `POST PATH` on axum behind `layer` (or without it), with the peer address available as in
/// a real deployment (`into_make_service_with_connect_info`).
pub async fn serve_axum(layer: Option<StripeWebhookLayer>, recorder: Recorder) -> Running {
    let mut router = axum::Router::new().route(PATH, axum::routing::post(axum_handler));
    if let Some(layer) = layer {
        router = router.layer(layer);
    }
    let app = router
        .with_state(recorder)
        .into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    Running {
        addr,
        stop: Some(Box::new(move || task.abort())),
    }
}

async fn actix_handler(
    recorder: actix_web::web::Data<Recorder>,
    event: VerifiedStripeEvent,
    body: actix_web::web::Bytes,
) -> actix_web::HttpResponse {
    let (status, text) = recorder.handle(event, &body).await;
    let status = actix_web::http::StatusCode::from_u16(status).expect("handler status");
    // The same content type axum gives a `String`, so both answers compare equal.
    actix_web::HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(text)
}

/// `POST PATH` on actix-web behind `webhook` (or without it): one worker, on its own thread
/// with its own actix `System`, as `HttpServer` runs in production.
pub fn serve_actix(webhook: Option<StripeWebhook>, recorder: Recorder) -> Running {
    use actix_web::{web, App, HttpServer};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                let webhook = webhook.clone();
                App::new()
                    .app_data(web::Data::new(recorder.clone()))
                    .configure(move |config| match webhook {
                        Some(webhook) => {
                            config.service(
                                web::resource(PATH)
                                    .wrap(webhook)
                                    .route(web::post().to(actix_handler)),
                            );
                        }
                        None => {
                            config
                                .service(web::resource(PATH).route(web::post().to(actix_handler)));
                        }
                    })
            })
            .workers(1)
            .disable_signals()
            .shutdown_timeout(0)
            .listen(listener)
            .expect("listen")
            .run();
            let _ = handle_tx.send(server.handle());
            let _ = server.await;
        });
    });
    let handle = handle_rx.recv().expect("actix server started");
    Running {
        addr,
        stop: Some(Box::new(move || {
            // `stop` sends the command right away; its future only waits for completion.
            drop(handle.stop(false));
        })),
    }
}

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client
// ---------------------------------------------------------------------------------------------

/// How the request body goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// `Content-Length` and the whole body.
    Whole,
    /// `Transfer-Encoding: chunked`, chunks of this many bytes, no `Content-Length`.
    Chunked(usize),
    /// Only the head, declaring this `Content-Length`; the body never comes.
    DeclareOnly(u64),
    /// The right `Content-Length`, half the body, then nothing (the connection stays open).
    Stall,
}

/// One request as bytes on the wire.
#[derive(Debug, Clone)]
pub struct WireRequest {
    /// The client's address; any 127.0.0.0/8 address reaches the loopback server.
    pub peer: Ipv4Addr,
    /// Header lines besides `host`, `content-length` / `transfer-encoding` and `connection`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delivery: Delivery,
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireResponse {
    pub status: u16,
    /// Names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl WireResponse {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Sends `request` to `addr` and reads one response, or says why there was none within
/// [`PATIENCE`].
pub async fn exchange(addr: SocketAddr, request: &WireRequest) -> Result<WireResponse, String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    socket
        .bind(SocketAddr::from((request.peer, 0)))
        .map_err(|e| format!("bind {}: {e}", request.peer))?;
    let stream = socket
        .connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut reader, mut writer) = stream.into_split();

    let mut head = format!("POST {PATH} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match request.delivery {
        Delivery::Whole | Delivery::Stall => {
            head.push_str(&format!("content-length: {}\r\n", request.body.len()))
        }
        Delivery::Chunked(_) => head.push_str("transfer-encoding: chunked\r\n"),
        Delivery::DeclareOnly(length) => head.push_str(&format!("content-length: {length}\r\n")),
    }
    head.push_str("\r\n");

    let body = request.body.clone();
    let delivery = request.delivery;
    // Written concurrently with reading: the server may answer (413) while the body is still
    // going out, and then stop reading it; write errors after that are expected.
    let write = tokio::spawn(async move {
        let _ = writer.write_all(head.as_bytes()).await;
        match delivery {
            Delivery::Whole => {
                let _ = writer.write_all(&body).await;
            }
            Delivery::Chunked(size) => {
                for chunk in body.chunks(size.max(1)) {
                    let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
                    frame.extend_from_slice(chunk);
                    frame.extend_from_slice(b"\r\n");
                    if writer.write_all(&frame).await.is_err() {
                        break;
                    }
                }
                let _ = writer.write_all(b"0\r\n\r\n").await;
            }
            Delivery::DeclareOnly(_) => {}
            Delivery::Stall => {
                let _ = writer.write_all(&body[..body.len() / 2]).await;
            }
        }
        // Keep the write half open: closing it would tell the server the body has ended.
        std::future::pending::<()>().await;
        drop(writer);
    });

    let response = tokio::time::timeout(PATIENCE, read_response(&mut reader)).await;
    write.abort();
    match response {
        Ok(response) => response,
        Err(_) => Err(format!("no complete response within {PATIENCE:?}")),
    }
}

async fn read_response(reader: &mut OwnedReadHalf) -> Result<WireResponse, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut eof = false;
    loop {
        if let Some(response) = parse_response(&buf, eof)? {
            return Ok(response);
        }
        if eof {
            return Err(format!(
                "connection closed before a full response: {:?}",
                String::from_utf8_lossy(&buf)
            ));
        }
        match reader.read(&mut chunk).await {
            Ok(0) => eof = true,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => {
                return Err(format!(
                    "read failed ({e}) after {:?}",
                    String::from_utf8_lossy(&buf)
                ))
            }
        }
    }
}

/// A full response from `buf`, `None` when more bytes are needed.
fn parse_response(buf: &[u8], eof: bool) -> Result<Option<WireResponse>, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &buf[end + 4..];
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v);

    let body = if let Some(length) = find("content-length") {
        let length: usize = length.parse().map_err(|_| "bad content-length")?;
        if rest.len() < length {
            return Ok(None);
        }
        rest[..length].to_vec()
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        match dechunk(rest) {
            Some(body) => body,
            None => return Ok(None),
        }
    } else if eof {
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(WireResponse {
        status,
        headers,
        body,
    }))
}

/// The decoded body of a complete chunked message, `None` if incomplete.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        if rest.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}
