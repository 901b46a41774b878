//! A fake Stripe API on loopback, for tests (feature `fake`).
//!
//! It serves what a test [`put`](FakeStripe::put) the way Stripe serves lists and objects:
//! newest first, `limit` (default 10, at most 100), `starting_after`, `has_more`, the
//! `created[gte|gt|lte|lt]`, `types[]`/`type`, `status` (subscriptions: every status but
//! `canceled` unless `status=all`), `customer`, `subscription`, `charge` and `payment_intent`
//! filters, `GET /v1/<collection>/<id>`, Stripe's error bodies, and a `Bearer` key check. Faults
//! are injected in order ([`fail_next`](FakeStripe::fail_next)): a `429` with `Retry-After`, a
//! `500`. `expand[]` is accepted and ignored: put objects already expanded as the test needs.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use stripe_read::fake::{FakeStripe, Fault};
//! use stripe_read::{Params, StripeClient};
//! use std::time::Duration;
//!
//! let fake = FakeStripe::start("sk_test_fake").await.unwrap();
//! for n in 0..250 {
//!     fake.put("customers", serde_json::json!({"id": format!("cus_{n}"), "created": n}));
//! }
//! fake.fail_next(Fault::RateLimited { retry_after_secs: 0 });
//! let stripe = StripeClient::builder("sk_test_fake")
//!     .base_url(fake.base_url())
//!     .base_backoff(Duration::from_millis(1))
//!     .build()
//!     .unwrap();
//! let all = stripe
//!     .list::<serde_json::Value>("/v1/customers", Params::new())
//!     .collect_all()
//!     .await
//!     .unwrap();
//! assert_eq!(all.len(), 250);
//! assert_eq!(all[0]["id"], "cus_249"); // newest first
//! assert_eq!(fake.requests().len(), 4); // one 429, then three pages of 100
//! # }
//! ```

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Collections a list request may name before anything was put in them (they list empty).
const KNOWN: [&str; 11] = [
    "events",
    "subscriptions",
    "charges",
    "refunds",
    "disputes",
    "customers",
    "invoices",
    "checkout/sessions",
    "prices",
    "payment_intents",
    "balance_transactions",
];

/// A fault the fake answers with instead of the next request's real answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `429` with `Retry-After: <secs>`.
    RateLimited {
        /// The `Retry-After` seconds.
        retry_after_secs: u64,
    },
    /// `500` with Stripe's `api_error` body.
    ServerError,
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The path, e.g. `/v1/events`.
    pub path: String,
    /// The query pairs, decoded, in order.
    pub query: Vec<(String, String)>,
    /// The `Stripe-Version` header, if any.
    pub stripe_version: Option<String>,
    /// The status answered.
    pub status: u16,
}

#[derive(Default)]
struct Account {
    key: String,
    /// Objects per collection, in insertion order.
    collections: HashMap<String, Vec<Value>>,
    faults: VecDeque<Fault>,
    requests: Vec<Recorded>,
}

/// The fake Stripe API; stops when dropped.
pub struct FakeStripe {
    addr: SocketAddr,
    account: Arc<Mutex<Account>>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeStripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeStripe")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeStripe {
    /// Starts on `127.0.0.1:0`, accepting `key` as the only valid API key.
    pub async fn start(key: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let account = Arc::new(Mutex::new(Account {
            key: key.to_owned(),
            ..Account::default()
        }));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(account.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            account,
            server,
        })
    }

    /// `http://127.0.0.1:<port>`, for `STRIPE_API_BASE` / [`base_url`](crate::StripeClientBuilder::base_url).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds `object` to `collection` (e.g. `"events"`, `"checkout/sessions"`), or replaces the
    /// object with the same `id`.
    pub fn put(&self, collection: &str, object: Value) {
        let mut account = lock(&self.account);
        let objects = account
            .collections
            .entry(collection.trim_matches('/').to_owned())
            .or_default();
        match objects.iter_mut().find(|o| o["id"] == object["id"]) {
            Some(existing) => *existing = object,
            None => objects.push(object),
        }
    }

    /// Removes the object with `id` from `collection`.
    pub fn remove(&self, collection: &str, id: &str) {
        if let Some(objects) = lock(&self.account).collections.get_mut(collection) {
            objects.retain(|o| o["id"] != id);
        }
    }

    /// The objects of a collection, in insertion order.
    pub fn objects(&self, collection: &str) -> Vec<Value> {
        lock(&self.account)
            .collections
            .get(collection)
            .cloned()
            .unwrap_or_default()
    }

    /// Answers the next request with `fault` (faults queue up in order).
    pub fn fail_next(&self, fault: Fault) {
        lock(&self.account).faults.push_back(fault);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.account).requests.clone()
    }
}

fn lock(account: &Mutex<Account>) -> MutexGuard<'_, Account> {
    // A test that panicked while holding the lock must not hide its own failure behind ours.
    account
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn answer(
    State(account): State<Arc<Mutex<Account>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let mut account = lock(&account);
    let (status, body, retry_after) = respond(&mut account, &method, uri.path(), &headers, &query);
    account.requests.push(Recorded {
        path: uri.path().to_owned(),
        query,
        stripe_version: headers
            .get("stripe-version")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        status: status.as_u16(),
    });
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
    }
    response
}

fn error(status: StatusCode, kind: &str, message: &str) -> (StatusCode, Value, Option<u64>) {
    (
        status,
        json!({ "error": { "type": kind, "message": message } }),
        None,
    )
}

fn respond(
    account: &mut Account,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> (StatusCode, Value, Option<u64>) {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(account.key.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "Invalid API Key provided",
        );
    }
    if let Some(fault) = account.faults.pop_front() {
        return match fault {
            Fault::RateLimited { retry_after_secs } => {
                let (status, body, _) = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    "Too many requests hit the API too quickly.",
                );
                (status, body, Some(retry_after_secs))
            }
            Fault::ServerError => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "api_error",
                "Something went wrong on Stripe's end.",
            ),
        };
    }
    if method != Method::GET {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            "the fake Stripe API only reads",
        );
    }
    let Some(rest) = path.strip_prefix("/v1/") else {
        return error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "Unrecognized request URL",
        );
    };
    let rest = rest.trim_end_matches('/');
    let is_collection =
        |name: &str| KNOWN.contains(&name) || account.collections.contains_key(name);
    if is_collection(rest) {
        return list(account, rest, query);
    }
    if let Some((collection, id)) = rest.rsplit_once('/') {
        if is_collection(collection) {
            let found = account
                .collections
                .get(collection)
                .and_then(|objects| objects.iter().find(|o| o["id"] == id));
            return match found {
                Some(object) => (StatusCode::OK, object.clone(), None),
                None => error(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    &format!("No such object: '{id}'"),
                ),
            };
        }
    }
    error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "Unrecognized request URL",
    )
}

fn list(
    account: &Account,
    collection: &str,
    query: &[(String, String)],
) -> (StatusCode, Value, Option<u64>) {
    let param = |name: &str| {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let limit = match param("limit").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(limit)) if (1..=100).contains(&limit) => limit,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "Invalid limit: must be between 1 and 100",
            )
        }
    };
    let mut objects: Vec<&Value> = account
        .collections
        .get(collection)
        .map(|objects| objects.iter().collect())
        .unwrap_or_default();
    // Newest first; among equal `created`, the later insertion first.
    objects.reverse();
    objects.sort_by_key(|o| std::cmp::Reverse(o["created"].as_i64().unwrap_or(0)));
    let start = match param("starting_after") {
        Some(after) => match objects.iter().position(|o| o["id"] == after) {
            Some(index) => index + 1,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    &format!("No such object: '{after}' (starting_after)"),
                )
            }
        },
        None => 0,
    };
    let types: Vec<&str> = query
        .iter()
        .filter(|(n, _)| n == "types[]" || n == "type")
        .map(|(_, v)| v.as_str())
        .collect();
    let status = param("status");
    let matches = |object: &Value| -> bool {
        let created = object["created"].as_i64().unwrap_or(0);
        let bound = |name: &str| param(name).and_then(|v| v.parse::<i64>().ok());
        if bound("created[gte]").is_some_and(|b| created < b)
            || bound("created[gt]").is_some_and(|b| created <= b)
            || bound("created[lte]").is_some_and(|b| created > b)
            || bound("created[lt]").is_some_and(|b| created >= b)
        {
            return false;
        }
        if !types.is_empty() && !types.iter().any(|t| object["type"] == *t) {
            return false;
        }
        match (collection, status) {
            ("subscriptions", None) if object["status"] == "canceled" => return false,
            (_, Some("all")) | (_, None) => {}
            (_, Some(wanted)) if object["status"] != wanted => return false,
            _ => {}
        }
        ["customer", "subscription", "charge", "payment_intent"]
            .iter()
            .all(|field| match param(field) {
                None => true,
                Some(wanted) => {
                    let value = &object[*field];
                    value == wanted || value["id"] == wanted
                }
            })
    };
    let mut selected = objects[start..].iter().filter(|o| matches(o));
    let data: Vec<Value> = selected
        .by_ref()
        .take(limit)
        .map(|o| (*o).clone())
        .collect();
    let has_more = selected.next().is_some();
    (
        StatusCode::OK,
        json!({ "object": "list", "url": format!("/v1/{collection}"), "has_more": has_more, "data": data }),
        None,
    )
}
