//! The verified event handed to handlers.

mod event_type;
mod parse;

pub use event_type::EventType;
pub use parse::InvalidEvent;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// Which payload style the event has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A classic snapshot event (`"object": "event"`) with the full resource in `data.object`.
    Snapshot,
    /// A thin event (`"object": "v2.core.event"`): only ids and a `related_object` reference;
    /// fetch the resource from the API to act on it.
    Thin,
}

/// `created` of an event: Unix seconds for snapshot events, an ISO-8601 string for thin events.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Created {
    /// Unix seconds (snapshot events).
    Unix(i64),
    /// ISO-8601 text, verbatim (thin events).
    Iso8601(String),
}

/// A Stripe event whose signature has been verified.
///
/// Built by the webhook layer from the exact bytes Stripe signed. Only the envelope is parsed up
/// front (borrowed, no `serde_json::Value` tree); `data.object` stays raw JSON until a handler
/// asks for it with [`object`](Self::object). Cloning is cheap (one reference count).
///
/// ```
/// use stripe_webhook_guard::{EventKind, EventType, VerifiedStripeEvent};
///
/// #[derive(serde::Deserialize)]
/// struct Invoice { id: String, amount_paid: i64 }
///
/// let body = br#"{"id":"evt_1","object":"event","type":"invoice.paid","created":1700000000,
///   "livemode":false,"api_version":"2025-03-31.basil",
///   "data":{"object":{"id":"in_1","object":"invoice","amount_paid":1999}}}"#;
/// let event = VerifiedStripeEvent::from_verified_bytes(bytes::Bytes::from_static(body)).unwrap();
///
/// assert_eq!(event.id(), "evt_1");
/// assert_eq!(event.event_type(), &EventType::InvoicePaid);
/// assert_eq!(event.kind(), EventKind::Snapshot);
/// let invoice: Invoice = event.object().unwrap();
/// assert_eq!((invoice.id.as_str(), invoice.amount_paid), ("in_1", 1999));
/// assert_eq!(event.object_id(), Some("in_1"));
/// ```
#[derive(Clone)]
pub struct VerifiedStripeEvent {
    inner: Arc<Inner>,
}

struct Inner {
    raw: Bytes,
    id: String,
    event_type: EventType,
    kind: EventKind,
    created: Option<Created>,
    livemode: bool,
    api_version: Option<String>,
    account: Option<String>,
    /// `data.object.id`, parsed on first use.
    object_id: std::sync::OnceLock<Option<String>>,
    object: Option<Range<usize>>,
    previous_attributes: Option<Range<usize>>,
    related_object: Option<Range<usize>>,
}

impl VerifiedStripeEvent {
    /// Parses an event from bytes **the caller has already verified**. The webhook layer calls
    /// this after checking the signature; use it directly in tests or when verification happened
    /// elsewhere (for instance a queue consumer re-reading a stored delivery).
    pub fn from_verified_bytes(raw: Bytes) -> Result<Self, InvalidEvent> {
        parse::parse(raw).map(|inner| Self {
            inner: Arc::new(inner),
        })
    }

    /// The event id (`evt_…`), the replay-protection key.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The event type.
    pub fn event_type(&self) -> &EventType {
        &self.inner.event_type
    }

    /// Snapshot or thin.
    pub fn kind(&self) -> EventKind {
        self.inner.kind
    }

    /// `true` for a thin (`v2.core.event`) event.
    pub fn is_thin(&self) -> bool {
        self.inner.kind == EventKind::Thin
    }

    /// When Stripe created the event.
    pub fn created(&self) -> Option<&Created> {
        self.inner.created.as_ref()
    }

    /// `created` as Unix seconds, for snapshot events.
    pub fn created_unix(&self) -> Option<i64> {
        match self.inner.created {
            Some(Created::Unix(secs)) => Some(secs),
            _ => None,
        }
    }

    /// `livemode` (false when absent).
    pub fn livemode(&self) -> bool {
        self.inner.livemode
    }

    /// The API version `data` was rendered with, e.g. `2025-03-31.basil`.
    pub fn api_version(&self) -> Option<&str> {
        self.inner.api_version.as_deref()
    }

    /// The connected account the event came from (Connect), if any.
    pub fn account(&self) -> Option<&str> {
        self.inner.account.as_deref()
    }

    /// `data.object.id`, when the object has a string id.
    pub fn object_id(&self) -> Option<&str> {
        self.inner
            .object_id
            .get_or_init(|| {
                self.slice(self.inner.object.as_ref())
                    .and_then(parse::object_id)
            })
            .as_deref()
    }

    /// The exact bytes Stripe signed.
    pub fn raw_body(&self) -> &Bytes {
        &self.inner.raw
    }

    /// `data.object` deserialized into your type (typed access). Unknown fields are ignored by
    /// serde's default, so a newer API version does not break you.
    pub fn object<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(self.slice(self.inner.object.as_ref()).unwrap_or(b"null"))
    }

    /// `data.object` as raw JSON, `None` for thin events.
    pub fn object_raw(&self) -> Option<&RawValue> {
        self.raw_at(self.inner.object.as_ref())
    }

    /// `data.object` as a `serde_json::Value` tree (parsed on each call).
    pub fn object_value(&self) -> serde_json::Value {
        self.object().unwrap_or(serde_json::Value::Null)
    }

    /// `data.previous_attributes` as raw JSON (present on `*.updated` events).
    pub fn previous_attributes_raw(&self) -> Option<&RawValue> {
        self.raw_at(self.inner.previous_attributes.as_ref())
    }

    /// `data.previous_attributes` deserialized into your type.
    pub fn previous_attributes<T: DeserializeOwned>(&self) -> Option<Result<T, serde_json::Error>> {
        self.slice(self.inner.previous_attributes.as_ref())
            .map(serde_json::from_slice)
    }

    /// A thin event's `related_object` as raw JSON.
    pub fn related_object_raw(&self) -> Option<&RawValue> {
        self.raw_at(self.inner.related_object.as_ref())
    }

    /// The whole event as a `serde_json::Value` tree (parsed on each call).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_slice(&self.inner.raw).unwrap_or(serde_json::Value::Null)
    }

    fn slice(&self, range: Option<&Range<usize>>) -> Option<&[u8]> {
        range.and_then(|r| self.inner.raw.get(r.clone()))
    }

    fn raw_at(&self, range: Option<&Range<usize>>) -> Option<&RawValue> {
        // The range was cut from a successful parse of these same bytes, so it is valid JSON.
        serde_json::from_slice::<&RawValue>(self.slice(range)?).ok()
    }
}

impl fmt::Debug for VerifiedStripeEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedStripeEvent")
            .field("id", &self.inner.id)
            .field("type", &self.inner.event_type.as_str())
            .field("kind", &self.inner.kind)
            .field("livemode", &self.inner.livemode)
            .field("object_id", &self.object_id())
            .field("bytes", &self.inner.raw.len())
            .finish()
    }
}
