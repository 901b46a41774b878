//! State stores over a key-value backend: SQLite (feature `sqlite`, one process, survives
//! restarts) and Redis (feature `redis`, many instances). Values are small JSON documents under
//! prefixed keys; every write refreshes the entry's time to live.

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "redis")]
pub use self::redis::RedisStateStore;
#[cfg(feature = "sqlite")]
pub use self::sqlite::SqliteStateStore;

use crate::map::Subjects;
use crate::state::{Context, StateUpdate};
use crate::store::StateError;
use std::time::Duration;

/// How long a ledger or a learned attribution is kept after its last write: three years and
/// five weeks, longer than Stripe's longest billing interval (3 years), so even a triennial
/// subscription's renewal refreshes its ledger in time. A deleted subscription's ledger just
/// ages out.
pub const STATE_TTL: Duration = Duration::from_secs((3 * 365 + 35) * 24 * 60 * 60);

/// How long a delivered transaction id is remembered: 35 days (Stripe resends manually for up to
/// 30 days after an event).
pub const SENT_TTL: Duration = Duration::from_secs(35 * 24 * 60 * 60);

/// The key-value operations a backend provides.
pub(crate) trait KeyValue: Send + Sync + 'static {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, StateError>;
    async fn put_many(&self, entries: &[(String, String, Duration)]) -> Result<(), StateError>;
    async fn ping(&self) -> Result<(), StateError>;
}

pub(crate) fn subscription_key(id: &str) -> String {
    format!("stripe-pulsora:sub:{id}")
}
pub(crate) fn charge_key(id: &str) -> String {
    format!("stripe-pulsora:charge:{id}")
}
pub(crate) fn attribution_key(id: &str) -> String {
    format!("stripe-pulsora:attr:{id}")
}
pub(crate) fn sent_key(id: &str) -> String {
    format!("stripe-pulsora:sent:{id}")
}

fn decode<T: serde::de::DeserializeOwned>(value: Option<&String>) -> Result<Option<T>, StateError> {
    value
        .map(|v| {
            serde_json::from_str(v).map_err(|e| StateError(format!("corrupt state entry: {e}")))
        })
        .transpose()
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, StateError> {
    serde_json::to_string(value).map_err(|e| StateError(e.to_string()))
}

pub(crate) async fn load(kv: &impl KeyValue, subjects: &Subjects) -> Result<Context, StateError> {
    let mut keys = vec![
        subjects
            .subscription
            .as_deref()
            .map(subscription_key)
            .unwrap_or_default(),
        subjects
            .charge
            .as_deref()
            .map(charge_key)
            .unwrap_or_default(),
    ];
    // Attribution: the customer first, then the subscription.
    keys.extend(
        [&subjects.customer, &subjects.subscription]
            .into_iter()
            .flatten()
            .map(|id| attribution_key(id)),
    );
    let wanted: Vec<String> = keys.iter().filter(|k| !k.is_empty()).cloned().collect();
    let values = kv.get_many(&wanted).await?;
    let lookup = |key: &str| {
        wanted
            .iter()
            .position(|k| k == key)
            .and_then(|i| values[i].as_ref())
    };
    let mut learned = None;
    for key in &keys[2..] {
        if let Some(found) = decode(lookup(key))? {
            learned = Some(found);
            break;
        }
    }
    Ok(Context {
        subscription: decode(lookup(&keys[0]))?,
        charge: decode(lookup(&keys[1]))?,
        learned,
        fetched: None,
    })
}

pub(crate) async fn save(kv: &impl KeyValue, updates: &[StateUpdate]) -> Result<(), StateError> {
    let mut entries = Vec::with_capacity(updates.len());
    for update in updates {
        entries.push(match update {
            StateUpdate::Subscription(id, ledger) => {
                (subscription_key(id), encode(ledger)?, STATE_TTL)
            }
            StateUpdate::Charge(id, ledger) => (charge_key(id), encode(ledger)?, STATE_TTL),
            StateUpdate::Attribution(id, attribution) => {
                (attribution_key(id), encode(attribution)?, STATE_TTL)
            }
        });
    }
    if entries.is_empty() {
        return Ok(());
    }
    kv.put_many(&entries).await
}

/// Implements [`StateStore`](crate::StateStore) for a newtype over a [`KeyValue`] backend.
macro_rules! kv_state_store {
    ($ty:ty) => {
        $crate::kv::kv_state_store!(@impl $ty, {});
    };
    ($ty:ty, locking) => {
        $crate::kv::kv_state_store!(@impl $ty, {
            fn lock<'a>(&'a self, subject: &'a str) -> $crate::StoreFuture<'a, Option<u128>> {
                Box::pin(self.lock_subject(subject))
            }

            fn unlock<'a>(&'a self, subject: &'a str, token: u128) -> $crate::StoreFuture<'a, ()> {
                Box::pin(self.unlock_subject(subject, token))
            }
        });
    };
    (@impl $ty:ty, { $($extra:tt)* }) => {
        impl $crate::StateStore for $ty {
            fn load<'a>(
                &'a self,
                subjects: &'a $crate::Subjects,
            ) -> $crate::StoreFuture<'a, $crate::state::Context> {
                Box::pin($crate::kv::load(self, subjects))
            }

            fn save<'a>(
                &'a self,
                updates: &'a [$crate::state::StateUpdate],
            ) -> $crate::StoreFuture<'a, ()> {
                Box::pin($crate::kv::save(self, updates))
            }

            fn was_sent<'a>(&'a self, transaction_id: &'a str) -> $crate::StoreFuture<'a, bool> {
                Box::pin(async move {
                    let found = $crate::kv::KeyValue::get_many(
                        self,
                        &[$crate::kv::sent_key(transaction_id)],
                    )
                    .await?;
                    Ok(found.first().is_some_and(Option::is_some))
                })
            }

            fn mark_sent<'a>(&'a self, transaction_id: &'a str) -> $crate::StoreFuture<'a, ()> {
                Box::pin(async move {
                    let entry = (
                        $crate::kv::sent_key(transaction_id),
                        "1".to_owned(),
                        $crate::kv::SENT_TTL,
                    );
                    $crate::kv::KeyValue::put_many(self, &[entry]).await
                })
            }

            fn ping(&self) -> $crate::StoreFuture<'_, ()> {
                Box::pin($crate::kv::KeyValue::ping(self))
            }

            $($extra)*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use kv_state_store;
