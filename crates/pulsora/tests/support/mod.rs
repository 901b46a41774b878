#![allow(dead_code)] // each test binary uses part of the support module
//! Test servers on 127.0.0.1: one that records requests and plays scripted answers, one that
//! accepts connections and never answers.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::TcpListener;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
    pub at: Instant,
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: &'static str,
}

impl Answer {
    pub fn new(status: u16, body: &'static str) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body,
        }
    }

    pub fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }
}

#[derive(Default)]
struct Script {
    answers: VecDeque<Answer>,
    last: Option<Answer>,
    seen: Vec<Recorded>,
}

/// Answers requests in script order; the last answer repeats once the script runs out.
#[derive(Clone)]
pub struct Recorder {
    script: Arc<Mutex<Script>>,
    pub url: String,
}

impl Recorder {
    pub async fn start(answers: Vec<Answer>) -> Recorder {
        let script = Arc::new(Mutex::new(Script {
            answers: answers.into(),
            ..Script::default()
        }));
        let app = Router::new().fallback(record).with_state(script.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Recorder {
            script,
            url: format!("http://{addr}/api/ingest"),
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.script.lock().unwrap().seen.clone()
    }
}

async fn record(
    State(script): State<Arc<Mutex<Script>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut script = script.lock().unwrap();
    script.seen.push(Recorded {
        method,
        path: uri.path().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    });
    let answer = match script.answers.pop_front() {
        Some(answer) => answer,
        None => script.last.clone().unwrap_or(Answer::new(202, "")),
    };
    script.last = Some(answer.clone());
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap(),
        answer.body.to_owned(),
    )
        .into_response();
    for (name, value) in answer.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// Accepts TCP connections, counts them, and never writes a byte back.
pub struct Silent {
    pub url: String,
    accepted: Arc<AtomicUsize>,
}

impl Silent {
    pub async fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(stream); // keep it open, say nothing
            }
        });
        Silent {
            url: format!("http://{addr}/api/ingest"),
            accepted,
        }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}
