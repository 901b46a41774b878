use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Discount (`di_…`): a coupon applied to a customer, subscription or item.
///
/// Older API versions put the coupon at `discount.coupon`; the newest at
/// `discount.source.coupon` (with `source.type = "coupon"`). Both are read.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Discount {
    /// `di_…` (legacy discounts may have none).
    #[serde(default)]
    pub id: Option<String>,
    /// The coupon (API versions before the `source` object).
    #[serde(default)]
    pub coupon: Option<Coupon>,
    /// Where the discount comes from (newest versions): `{"type":"coupon","coupon":…}`.
    #[serde(default)]
    pub source: Option<DiscountSource>,
    /// When the discount ends (`null` for forever), Unix seconds.
    #[serde(default)]
    pub end: Option<i64>,
    /// The subscription it applies to, if any.
    #[serde(default)]
    pub subscription: Option<String>,
}

/// `discount.source`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct DiscountSource {
    /// The coupon, when expanded or inline.
    #[serde(default)]
    pub coupon: Option<CouponRef>,
}

/// A coupon, inline or as an id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CouponRef {
    /// The whole coupon.
    Object(Coupon),
    /// Only its id.
    Id(String),
}

/// A Coupon: what a discount takes off, and for how long.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[non_exhaustive]
pub struct Coupon {
    /// The coupon id.
    #[serde(default)]
    pub id: Option<String>,
    /// `forever`, `repeating` or `once`.
    #[serde(default)]
    pub duration: Option<String>,
    /// Months a `repeating` coupon lasts.
    #[serde(default)]
    pub duration_in_months: Option<i64>,
    /// Percentage off, e.g. `25.5`.
    #[serde(default)]
    pub percent_off: Option<f64>,
    /// Amount off per invoice, minor units of `currency`.
    #[serde(default)]
    pub amount_off: Option<i64>,
    /// Currency of `amount_off`.
    #[serde(default)]
    pub currency: Option<String>,
    /// Products the coupon is limited to, if any.
    #[serde(default)]
    pub applies_to: Option<AppliesTo>,
}

/// `coupon.applies_to`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[non_exhaustive]
pub struct AppliesTo {
    /// Product ids.
    #[serde(default)]
    pub products: Vec<String>,
}

impl Discount {
    /// The coupon, from either API shape (`None` when only its id is known).
    pub fn coupon(&self) -> Option<&Coupon> {
        self.coupon
            .as_ref()
            .or_else(|| match self.source.as_ref()?.coupon.as_ref()? {
                CouponRef::Object(coupon) => Some(coupon),
                CouponRef::Id(_) => None,
            })
    }
}

/// An entry of `discounts`: an id in webhook payloads, the Discount when expanded.
#[derive(Debug, Clone, PartialEq)]
pub enum DiscountRef {
    /// `di_…`
    Id(String),
    /// The expanded Discount.
    Object(Box<Discount>),
}

impl DiscountRef {
    /// The discount id, if known.
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Id(id) => Some(id),
            Self::Object(d) => d.id.as_deref(),
        }
    }
}

impl<'de> Deserialize<'de> for DiscountRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Id(String),
            Object(Box<Discount>),
        }
        Ok(match Raw::deserialize(deserializer)? {
            Raw::Id(id) => Self::Id(id),
            Raw::Object(d) => Self::Object(d),
        })
    }
}

impl Serialize for DiscountRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Id(id) => serializer.serialize_str(id),
            Self::Object(d) => d.serialize(serializer),
        }
    }
}
