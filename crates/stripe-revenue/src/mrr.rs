//! Monthly recurring revenue of a subscription, exactly, by Stripe's billing-analytics
//! definition.
//!
//! Sources: Stripe's metric definitions (docs.stripe.com/billing/subscriptions/analytics/glossary:
//! "MRR is the sum of the monthly-normalized value of all your `active` and `past_due`
//! subscriptions … exclude subscriptions in trial periods, any taxes applied to the subscription,
//! any subscribers on free plans, and any metered (usage based) products") and
//! support.stripe.com/questions/impact-of-discounts-and-coupons-on-monthly-recurring-revenue-mrr-in-billing
//! ("a coupon with a forever duration … will apply to your MRR. … a finite duration (i.e. once or
//! repeating) … your MRR is unaffected").
//!
//! The rules, per item then per subscription:
//!
//! - **Status.** Only `active` and `past_due` count; `trialing`, `incomplete`,
//!   `incomplete_expired`, `unpaid`, `paused` and `canceled` are 0. `pause_collection` leaves the
//!   status `active`, so a subscription with paused collection keeps counting (as ChartMogul does;
//!   Stripe only warns that pausing "can affect" MRR).
//! - **Amount per billing interval.** Per-unit prices: `unit_amount_decimal` (or `unit_amount`) ×
//!   the billed quantity, where `transform_quantity` bills `quantity ÷ divide_by` rounded `up` or
//!   `down`. Tiered licensed prices: from `tiers` when the payload has them (`graduated`: each
//!   tier's units at its price plus the flat amount of every tier reached; `volume`: all units at
//!   the price of the tier the quantity falls in, plus its flat amount); otherwise from the
//!   newest non-proration invoice line billed for that price ([`Learned::lines`]). Metered
//!   prices and one-time prices are excluded.
//! - **Normalised to a month.** `month ÷ interval_count`, `year ÷ (12 × interval_count)`,
//!   `week × 52 ÷ (12 × interval_count)`, `day × 365 ÷ (12 × interval_count)`.
//! - **Discounts.** Only coupons with `duration: forever` reduce MRR (Stripe's rule above);
//!   `once` and `repeating` coupons leave it unchanged, so a repeating coupon ending changes
//!   nothing either. Item discounts apply to their item, then subscription discounts (in order,
//!   each on what the previous left) to the items they apply to (`applies_to.products`).
//!   `percent_off` scales; `amount_off` (per invoice, in the subscription's currency) is
//!   normalised like the price and never takes an item below 0. Webhook payloads name newer
//!   discounts by id only: their coupon comes from the expanded object, the legacy singular
//!   `discount`, or what the ledger learned ([`Learned::coupons`]); an unknown one is left out
//!   with a logged note.
//! - **Tax.** Exclusive taxes are never in the price. Inclusive ones are removed: with inclusive
//!   tax rates on the item (or the subscription's `default_tax_rates`), `amount × 100 ÷ (100 +
//!   Σ rates)`; for a `tax_behavior: inclusive` price taxed by Stripe Tax (the payload has no
//!   rate), with the ratio `(amount − inclusive tax) ÷ amount` of the newest invoice line for
//!   that price (`tax_amounts` before basil, `taxes` from basil). Without either the tax stays
//!   in, with a logged note: the one case the payload alone cannot answer.
//!
//! Amounts stay exact decimals of minor units until the end, then round to the currency's
//! precision (banker's rounding).

use crate::currency::minor_decimal_to_major;
use crate::stripe::{
    Coupon, Discount, DiscountRef, Invoice, Price, PriceTier, Subscription, SubscriptionItem,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Statuses whose items count towards MRR.
const COUNTED_STATUSES: [&str; 2] = ["active", "past_due"];

/// Why an item was left out of MRR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exclusion {
    /// `recurring.usage_type = metered`: the amount depends on usage.
    Metered,
    /// A tiered price with neither its tiers nor an invoice line for it.
    Tiered,
    /// A one-time price on a subscription.
    NotRecurring,
    /// No usable unit amount or interval.
    Incomplete,
}

/// What the ledger learned about a subscription that its webhook payload may lack.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Learned {
    /// Coupons of discounts the payload names by id only (`di_…` → coupon), learned from
    /// `customer.discount.*` events, legacy payloads or the Stripe API.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub coupons: BTreeMap<String, Coupon>,
    /// The newest non-proration invoice line per price id: amount of tiered prices without
    /// tiers, tax ratio of tax-inclusive prices.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lines: BTreeMap<String, LineFacts>,
}

/// What one invoice line billed for a price.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineFacts {
    /// Line `amount` (before discounts, with inclusive tax), minor units.
    pub amount: i64,
    /// Inclusive tax inside `amount`, minor units.
    pub inclusive_tax: i64,
    /// `created` of the event the line came from (the newest wins).
    pub created: i64,
}

/// Whether a subscription status counts towards MRR (`active`, `past_due`).
pub fn counts(status: &str) -> bool {
    COUNTED_STATUSES.contains(&status)
}

/// MRR of a subscription in the currency's major units, rounded to its precision, from the
/// payload alone.
///
/// ```
/// use stripe_revenue::{mrr::subscription_mrr, stripe::Subscription};
///
/// let sub: Subscription = serde_json::from_value(serde_json::json!({
///     "id": "sub_1", "status": "active", "currency": "usd",
///     "items": {"data": [
///         {"quantity": 3, "price": {"unit_amount": 1000, "recurring": {"interval": "month"}}},
///         {"quantity": 1, "price": {"unit_amount": 12000, "recurring": {"interval": "year"}}}
///     ]},
///     // A forever 50% coupon halves MRR (a `once` or `repeating` one would not).
///     "discount": {"coupon": {"duration": "forever", "percent_off": 50.0}}
/// })).unwrap();
/// assert_eq!(subscription_mrr(&sub).to_string(), "20.00");
/// ```
pub fn subscription_mrr(subscription: &Subscription) -> Decimal {
    mrr(subscription, &Learned::default())
}

/// MRR of a subscription with what the ledger learned (coupons by id, invoice lines).
pub fn mrr(subscription: &Subscription, learned: &Learned) -> Decimal {
    let status = subscription.status.as_deref().unwrap_or("active");
    if !counts(status) {
        return zero(subscription);
    }
    value(subscription, learned)
}

/// What the subscription is worth per month once it counts, whatever its status now.
pub fn value(subscription: &Subscription, learned: &Learned) -> Decimal {
    let currency = currency(subscription);
    minor_decimal_to_major(exact(value_minor(subscription, learned)), currency)
}

/// Factors like 52/12 or 100/120 do not terminate in decimal: 28 significant digits leave
/// 1,285,667.4999…9 where the exact value is the midpoint 1,285,667.5. Rounding to 12 places
/// first restores it (no true amount lies that close to a midpoint without being on it).
fn exact(minor: Decimal) -> Decimal {
    minor.round_dp(12)
}

/// The MRR of the items whatever the status, from the payload alone (what a paid invoice makes
/// an `incomplete` subscription worth).
pub fn list_mrr(subscription: &Subscription) -> Decimal {
    value(subscription, &Learned::default())
}

/// The MRR a canceled subscription had just before it ended: its value, unless it ended during
/// its trial (then 0). Used when the ledger first hears of a subscription at its deletion.
pub fn mrr_before_cancel(subscription: &Subscription, learned: &Learned) -> Decimal {
    let ended = subscription.ended_at.or(subscription.canceled_at);
    let in_trial = matches!((subscription.trial_end, ended), (Some(t), Some(e)) if t >= e);
    match subscription.status.as_deref() {
        Some("canceled") if in_trial => zero(subscription),
        Some("canceled") | None => value(subscription, learned),
        Some(_) => mrr(subscription, learned),
    }
}

fn currency(subscription: &Subscription) -> &str {
    subscription.currency.as_deref().unwrap_or("usd")
}

fn zero(subscription: &Subscription) -> Decimal {
    crate::currency::with_scale(Decimal::ZERO, currency(subscription))
}

/// One item's contribution while discounts are applied: monthly amount with inclusive tax
/// (`gross`) and without (`net`), in minor units.
struct ItemValue {
    gross: Decimal,
    net: Decimal,
    /// Monthly factor of the item's interval (to normalise `amount_off`).
    monthly: Decimal,
    product: Option<String>,
}

impl ItemValue {
    fn scale(&mut self, factor: Decimal) {
        self.gross *= factor;
        self.net *= factor;
    }
}

fn value_minor(subscription: &Subscription, learned: &Learned) -> Decimal {
    let items = subscription
        .items
        .as_ref()
        .map(|l| l.data.as_slice())
        .unwrap_or_default();
    let sub_currency = currency(subscription);
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        match item_value(subscription, item, learned) {
            Ok(mut v) => {
                for coupon in resolve(subscription, item.discounts.iter().flatten(), learned) {
                    apply_coupon(&coupon, sub_currency, std::slice::from_mut(&mut v));
                }
                values.push(v);
            }
            Err(reason) => tracing::info!(
                subscription = %subscription.id,
                price = item.price.as_ref().and_then(|p| p.id.as_deref()),
                ?reason,
                "subscription item excluded from MRR"
            ),
        }
    }
    for coupon in subscription_coupons(subscription, learned) {
        apply_coupon(&coupon, sub_currency, &mut values);
    }
    values.iter().map(|v| v.net).sum()
}

/// The subscription's own discounts: `discounts` when present, else the legacy `discount`.
fn subscription_coupons(subscription: &Subscription, learned: &Learned) -> Vec<Coupon> {
    match subscription.discounts.as_deref() {
        Some(list) if !list.is_empty() => resolve(subscription, list.iter(), learned),
        _ => subscription
            .discount
            .as_ref()
            .and_then(|d| coupon_of(d, learned))
            .into_iter()
            .collect(),
    }
}

fn coupon_of(discount: &Discount, learned: &Learned) -> Option<Coupon> {
    let coupon = discount
        .coupon()
        .cloned()
        .or_else(|| learned.coupons.get(discount.id.as_deref()?).cloned())?;
    // A coupon without a duration on a discount without an end is treated as forever.
    let forever = coupon.duration.as_deref() == Some("forever")
        || (coupon.duration.is_none() && discount.end.is_none());
    forever.then_some(coupon)
}

fn resolve<'a>(
    subscription: &Subscription,
    refs: impl Iterator<Item = &'a DiscountRef>,
    learned: &Learned,
) -> Vec<Coupon> {
    // Older API versions send both `discounts` (ids) and the singular `discount` (expanded):
    // the latter names the coupon of one of the ids.
    let legacy = subscription
        .discount
        .as_ref()
        .and_then(|d| Some((d.id.clone()?, d.coupon()?.clone())));
    let mut with_legacy;
    let learned = match legacy {
        Some((id, coupon)) if !learned.coupons.contains_key(&id) => {
            with_legacy = learned.clone();
            with_legacy.coupons.insert(id, coupon);
            &with_legacy
        }
        _ => learned,
    };
    let mut out = Vec::new();
    for r in refs {
        let coupon = match r {
            DiscountRef::Object(d) => {
                let known = d.coupon().is_some()
                    || d.id
                        .as_deref()
                        .is_some_and(|id| learned.coupons.contains_key(id));
                if !known {
                    note_unknown(subscription, r.id());
                }
                coupon_of(d, learned)
            }
            DiscountRef::Id(id) => match learned.coupons.get(id) {
                Some(coupon) => coupon_of(
                    &Discount {
                        id: Some(id.clone()),
                        coupon: Some(coupon.clone()),
                        ..Discount::default()
                    },
                    learned,
                ),
                None => {
                    note_unknown(subscription, Some(id));
                    None
                }
            },
        };
        out.extend(coupon);
    }
    out
}

fn note_unknown(subscription: &Subscription, discount: Option<&str>) {
    tracing::info!(
        subscription = %subscription.id,
        discount,
        "discount named by id only and its coupon is unknown: MRR counted without it (set STRIPE_API_KEY to fetch it)"
    );
}

fn apply_coupon(coupon: &Coupon, currency: &str, values: &mut [ItemValue]) {
    let products = coupon
        .applies_to
        .as_ref()
        .map(|a| a.products.as_slice())
        .unwrap_or_default();
    let eligible = |v: &ItemValue| {
        products.is_empty() || v.product.as_ref().is_some_and(|p| products.contains(p))
    };
    if let Some(percent) = coupon.percent_off.and_then(Decimal::from_f64_retain) {
        let factor =
            (Decimal::ONE_HUNDRED - percent.min(Decimal::ONE_HUNDRED)) / Decimal::ONE_HUNDRED;
        values
            .iter_mut()
            .filter(|v| eligible(v))
            .for_each(|v| v.scale(factor));
    } else if let Some(off) = coupon.amount_off {
        if coupon
            .currency
            .as_deref()
            .is_some_and(|c| !c.eq_ignore_ascii_case(currency))
        {
            tracing::info!(
                coupon = coupon.id.as_deref(),
                "amount_off coupon in another currency: not applied to MRR"
            );
            return;
        }
        let gross: Decimal = values.iter().filter(|v| eligible(v)).map(|v| v.gross).sum();
        let Some(monthly) = values.iter().find(|v| eligible(v)).map(|v| v.monthly) else {
            return;
        };
        if gross <= Decimal::ZERO {
            return;
        }
        // Spread over the eligible items in proportion, which keeps each item's tax ratio.
        let off = (Decimal::from(off) * monthly).min(gross);
        let factor = (gross - off) / gross;
        values
            .iter_mut()
            .filter(|v| eligible(v))
            .for_each(|v| v.scale(factor));
    }
}

fn item_value(
    subscription: &Subscription,
    item: &SubscriptionItem,
    learned: &Learned,
) -> Result<ItemValue, Exclusion> {
    let price = item.price.as_ref().ok_or(Exclusion::Incomplete)?;
    let monthly = monthly_factor(price)?;
    let quantity = item.quantity.unwrap_or(1);
    let line = price.id.as_ref().and_then(|id| learned.lines.get(id));
    let per_interval = if price.billing_scheme.as_deref() == Some("tiered") {
        match price.tiers.as_deref() {
            Some(tiers) if !tiers.is_empty() => {
                tiered_amount(tiers, price.tiers_mode.as_deref(), quantity)?
            }
            _ => Decimal::from(line.ok_or(Exclusion::Tiered)?.amount),
        }
    } else {
        unit_amount(price)? * Decimal::from(billed_quantity(price, quantity))
    };
    let gross = per_interval * monthly;
    let net = gross * tax_factor(subscription, item, price, line);
    Ok(ItemValue {
        gross,
        net,
        monthly,
        product: price.product.as_ref().map(|p| p.id.clone()),
    })
}

/// The share of an inclusive price that is not tax (1 for exclusive prices).
fn tax_factor(
    subscription: &Subscription,
    item: &SubscriptionItem,
    price: &Price,
    line: Option<&LineFacts>,
) -> Decimal {
    let rates = match item.tax_rates.as_deref() {
        Some(rates) if !rates.is_empty() => rates,
        _ => subscription
            .default_tax_rates
            .as_deref()
            .unwrap_or_default(),
    };
    let inclusive: Decimal = rates
        .iter()
        .filter(|r| r.inclusive == Some(true))
        .filter_map(|r| r.percentage.and_then(Decimal::from_f64_retain))
        .sum();
    if inclusive > Decimal::ZERO {
        return Decimal::ONE_HUNDRED / (Decimal::ONE_HUNDRED + inclusive);
    }
    if price.tax_behavior.as_deref() != Some("inclusive") {
        return Decimal::ONE;
    }
    match line {
        Some(l) if l.amount > 0 => {
            Decimal::from(l.amount - l.inclusive_tax) / Decimal::from(l.amount)
        }
        _ => {
            tracing::info!(
                subscription = %subscription.id,
                price = price.id.as_deref(),
                "tax-inclusive price without a known rate yet: counted with its tax until an invoice line shows it"
            );
            Decimal::ONE
        }
    }
}

/// `quantity` after `transform_quantity` (`divide_by`, rounded `up` or `down`).
pub fn billed_quantity(price: &Price, quantity: i64) -> i64 {
    match &price.transform_quantity {
        Some(t) => match t.divide_by {
            Some(by) if by > 0 => {
                let (q, r) = (quantity.div_euclid(by), quantity.rem_euclid(by));
                if t.round.as_deref() == Some("up") && r > 0 {
                    q + 1
                } else {
                    q
                }
            }
            _ => quantity,
        },
        None => quantity,
    }
}

fn decimal(integer: Option<i64>, text: Option<&str>) -> Option<Decimal> {
    text.and_then(|d| Decimal::from_str(d).ok())
        .or_else(|| integer.map(Decimal::from))
}

fn unit_amount(price: &Price) -> Result<Decimal, Exclusion> {
    decimal(price.unit_amount, price.unit_amount_decimal.as_deref()).ok_or(Exclusion::Incomplete)
}

/// The amount per interval of `quantity` units of a tiered price, minor units.
///
/// ```
/// use stripe_revenue::mrr::tiered_amount;
/// use stripe_revenue::stripe::PriceTier;
/// let tiers: Vec<PriceTier> = serde_json::from_value(serde_json::json!([
///     {"up_to": 5, "unit_amount": 1000, "flat_amount": 500},
///     {"up_to": null, "unit_amount": 800}
/// ])).unwrap();
/// // graduated: 5 × 10.00 + 5.00 flat + 3 × 8.00
/// assert_eq!(tiered_amount(&tiers, Some("graduated"), 8).unwrap().to_string(), "7900");
/// // volume: all 8 units at the second tier's price
/// assert_eq!(tiered_amount(&tiers, Some("volume"), 8).unwrap().to_string(), "6400");
/// ```
pub fn tiered_amount(
    tiers: &[PriceTier],
    mode: Option<&str>,
    quantity: i64,
) -> Result<Decimal, Exclusion> {
    let unit = |t: &PriceTier| decimal(t.unit_amount, t.unit_amount_decimal.as_deref());
    let flat = |t: &PriceTier| {
        decimal(t.flat_amount, t.flat_amount_decimal.as_deref()).unwrap_or(Decimal::ZERO)
    };
    if quantity <= 0 {
        return Ok(Decimal::ZERO);
    }
    if mode == Some("volume") {
        let tier = tiers
            .iter()
            .find(|t| t.up_to.is_none_or(|u| quantity <= u))
            .ok_or(Exclusion::Incomplete)?;
        return Ok(unit(tier).unwrap_or(Decimal::ZERO) * Decimal::from(quantity) + flat(tier));
    }
    let (mut total, mut below) = (Decimal::ZERO, 0i64);
    for tier in tiers {
        if below >= quantity {
            break;
        }
        let top = tier.up_to.map_or(quantity, |u| u.min(quantity));
        let units = (top - below).max(0);
        total += unit(tier).unwrap_or(Decimal::ZERO) * Decimal::from(units) + flat(tier);
        below = top;
    }
    Ok(total)
}

/// The factor turning one billing interval of a price into a month.
fn monthly_factor(price: &Price) -> Result<Decimal, Exclusion> {
    let recurring = price.recurring.as_ref().ok_or(Exclusion::NotRecurring)?;
    if recurring.usage_type.as_deref() == Some("metered") {
        return Err(Exclusion::Metered);
    }
    let count = Decimal::from(recurring.interval_count.unwrap_or(1).max(1));
    let twelve = Decimal::from(12);
    Ok(match recurring.interval.as_deref() {
        Some("month") => Decimal::ONE / count,
        Some("year") => Decimal::ONE / (twelve * count),
        Some("week") => Decimal::from(52) / (twelve * count),
        Some("day") => Decimal::from(365) / (twelve * count),
        _ => return Err(Exclusion::Incomplete),
    })
}

/// One item's monthly list amount in minor units (not rounded; no discount, tax included).
pub fn item_monthly_minor(item: &SubscriptionItem) -> Result<Decimal, Exclusion> {
    let price = item.price.as_ref().ok_or(Exclusion::Incomplete)?;
    let quantity = billed_quantity(price, item.quantity.unwrap_or(1));
    Ok(price_monthly_minor(price)? * Decimal::from(quantity))
}

/// A per-unit price's monthly amount per unit, in minor units (not rounded). Tiered prices
/// have no unit amount: [`Exclusion::Tiered`].
pub fn price_monthly_minor(price: &Price) -> Result<Decimal, Exclusion> {
    let monthly = monthly_factor(price)?;
    if price.billing_scheme.as_deref() == Some("tiered") {
        return Err(Exclusion::Tiered);
    }
    Ok(unit_amount(price)? * monthly)
}

/// The monthly factor of a billing period given only its dates (basil invoice lines name their
/// price without its interval): whole months when the period is 28 days or more (28–31 days is a
/// month, 365 or 366 a year), whole weeks, else days.
fn period_monthly_factor(start: i64, end: i64) -> Option<Decimal> {
    let days = (end - start + 43_200).div_euclid(86_400);
    if days <= 0 {
        return None;
    }
    if days < 28 {
        return Some(if days % 7 == 0 {
            Decimal::from(52) / (Decimal::from(12) * Decimal::from(days / 7))
        } else {
            Decimal::from(365) / (Decimal::from(12) * Decimal::from(days))
        });
    }
    // 30.436875 days per month on average (365.2425 ÷ 12).
    let months = (Decimal::from(days) / Decimal::new(30_436_875, 6)).round();
    (months > Decimal::ZERO).then(|| Decimal::ONE / months)
}

/// The MRR an invoice states by itself, for a subscription the ledger has no snapshot of:
/// its non-proration recurring lines, without inclusive tax, normalised to a month (by the
/// price's interval before basil, by the line's period from basil on). Discounts are not
/// taken off: their duration is not in an invoice, and only forever ones count.
pub fn invoice_mrr(invoice: &Invoice, currency: &str) -> Option<Decimal> {
    let lines = invoice.lines.as_ref()?;
    let mut total = Decimal::ZERO;
    let mut any = false;
    for line in lines.data.iter().filter(|l| !l.is_proration()) {
        let factor = match &line.price {
            Some(price) if price.recurring.is_some() => match monthly_factor(price) {
                Ok(f) => f,
                Err(_) => continue,
            },
            Some(_) => continue,
            None => match line
                .period
                .and_then(|p| period_monthly_factor(p.start, p.end))
            {
                Some(f) if line.price_id().is_some() => f,
                _ => continue,
            },
        };
        total += Decimal::from(line.amount - line.inclusive_tax()) * factor;
        any = true;
    }
    any.then(|| minor_decimal_to_major(exact(total), currency))
}

/// The newest facts per price from an invoice's non-proration lines, merged into `learned`.
pub fn learn_lines(learned: &mut Learned, invoice: &Invoice, created: i64) {
    for line in invoice.lines.iter().flat_map(|l| &l.data) {
        if line.is_proration() {
            continue;
        }
        let Some(price) = line.price_id() else {
            continue;
        };
        let facts = LineFacts {
            amount: line.amount,
            inclusive_tax: line.inclusive_tax(),
            created,
        };
        match learned.lines.get(price) {
            Some(old) if old.created > created => {}
            _ => {
                learned.lines.insert(price.to_owned(), facts);
            }
        }
    }
}

#[cfg(test)]
mod tests;
