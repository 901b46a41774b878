//! Envelope parsing: borrowed `&str` fields and `RawValue` for `data`, so the hot path never
//! builds a `serde_json::Value` tree.

use super::{Created, EventKind, EventType, Inner};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::ops::Range;

/// The body verified but is not a Stripe event (invalid JSON or a missing envelope field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the payload is signed but is not a Stripe event: {reason}")]
pub struct InvalidEvent {
    reason: String,
}

impl InvalidEvent {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// The stable code of the rejection.
    pub fn code(&self) -> &'static str {
        "invalid_event"
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    object: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    event_type: Cow<'a, str>,
    #[serde(default, borrow)]
    created: Option<CreatedField<'a>>,
    #[serde(default)]
    livemode: Option<bool>,
    #[serde(default, borrow)]
    api_version: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    account: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    data: Option<Data<'a>>,
    #[serde(default, borrow)]
    related_object: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CreatedField<'a> {
    Unix(i64),
    Text(#[serde(borrow)] Cow<'a, str>),
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    object: &'a RawValue,
    #[serde(default, borrow)]
    previous_attributes: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ObjectId<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
}

/// `data.object.id`, read on first use: the hot path never scans the object twice.
pub(super) fn object_id(object: &[u8]) -> Option<String> {
    serde_json::from_slice::<ObjectId<'_>>(object)
        .ok()
        .and_then(|o| o.id)
        .map(Cow::into_owned)
}

pub(super) fn parse(raw: Bytes) -> Result<Inner, InvalidEvent> {
    let envelope: Envelope<'_> =
        serde_json::from_slice(&raw).map_err(|e| InvalidEvent::new(e.to_string()))?;
    let kind = match envelope.object.as_ref() {
        "event" => EventKind::Snapshot,
        "v2.core.event" => EventKind::Thin,
        other => {
            return Err(InvalidEvent::new(format!(
                "`object` is {other:?}, not \"event\""
            )))
        }
    };
    if envelope.id.is_empty() {
        return Err(InvalidEvent::new("`id` is empty"));
    }
    let (object, previous_attributes) = match (&envelope.data, kind) {
        (Some(data), _) => (
            Some(range_of(&raw, data.object)),
            data.previous_attributes.map(|p| range_of(&raw, p)),
        ),
        (None, EventKind::Snapshot) => return Err(InvalidEvent::new("missing `data.object`")),
        (None, EventKind::Thin) => (None, None),
    };
    Ok(Inner {
        id: envelope.id.into_owned(),
        event_type: EventType::from(envelope.event_type.as_ref()),
        kind,
        created: envelope.created.map(|c| match c {
            CreatedField::Unix(secs) => Created::Unix(secs),
            CreatedField::Text(text) => Created::Iso8601(text.into_owned()),
        }),
        livemode: envelope.livemode.unwrap_or(false),
        api_version: envelope.api_version.map(Cow::into_owned),
        account: envelope.account.map(Cow::into_owned),
        object_id: std::sync::OnceLock::new(),
        object,
        previous_attributes,
        related_object: envelope.related_object.map(|r| range_of(&raw, r)),
        raw,
    })
}

/// Where a borrowed `RawValue` sits inside the buffer it was parsed from.
fn range_of(buffer: &[u8], value: &RawValue) -> Range<usize> {
    let start = value.get().as_ptr() as usize - buffer.as_ptr() as usize;
    start..start + value.get().len()
}
