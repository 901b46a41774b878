use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An expandable reference: Stripe sends either the id (`"cus_123"`) or, when expanded, the whole
/// object. Only the id is kept; `metadata` is kept too when the object was expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expandable {
    /// The referenced object's id.
    pub id: String,
    /// The expanded object's metadata, if it was expanded.
    pub metadata: Option<super::Metadata>,
}

impl<'de> Deserialize<'de> for Expandable {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Id(String),
            Object {
                id: String,
                #[serde(default)]
                metadata: Option<super::Metadata>,
            },
        }
        Ok(match Raw::deserialize(deserializer)? {
            Raw::Id(id) => Self { id, metadata: None },
            Raw::Object { id, metadata } => Self { id, metadata },
        })
    }
}

/// Serialized as the id alone (what the MRR ledger keeps of a snapshot).
impl Serialize for Expandable {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.id)
    }
}

impl Expandable {
    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }
}
