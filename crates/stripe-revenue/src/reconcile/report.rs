//! The result: per day and currency, in total, MRR, and the objects behind every difference;
//! a plain table for people ([`Display`](fmt::Display)) and a stable JSON shape for scripts
//! ([`Report::to_json`]).

use super::truth::ObjectKind;
use rust_decimal::Decimal;
use serde::Serialize;
use std::fmt;

/// Version of the JSON shape ([`Report::to_json`]); a change that removes or renames a field
/// raises it.
pub const REPORT_FORMAT: u32 = 1;

/// What differs about one Stripe object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Issue {
    /// Stripe has it; the bridge recorded nothing for it.
    Missing,
    /// Both have it, with different amounts (or the bridge counted what Stripe does not).
    AmountDiffers,
    /// The subscription's MRR in Pulsora (Σ `mrr_impact` sent) is not Stripe's.
    MrrDiffers,
}

impl Issue {
    /// `missing`, `amount_differs`, `mrr_differs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::AmountDiffers => "amount_differs",
            Self::MrrDiffers => "mrr_differs",
        }
    }
}

/// One Stripe object behind a difference. Amounts are signed as they count towards net
/// revenue: money in positive, refunds and lost disputes negative; MRR positive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The Stripe object id (`in_…`, `cs_…`, `re_…`, `dp_…`, `pi_…`, `sub_…`).
    pub object: String,
    /// Its kind.
    pub kind: ObjectKind,
    /// What differs.
    pub issue: Issue,
    /// Upper-case ISO currency.
    pub currency: String,
    /// UTC day of the object (`YYYY-MM-DD`); `None` for MRR.
    pub day: Option<String>,
    /// Stripe's figure, major units.
    pub stripe: Decimal,
    /// The bridge's recorded figure, major units.
    pub recorded: Decimal,
    /// The payment (money out) or transaction id (money in) it belongs to.
    pub related: Option<String>,
    /// Why, in words.
    pub detail: String,
}

/// Stripe's and the bridge's figure for one currency (and day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// UTC day (`YYYY-MM-DD`); `None` in totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    /// Upper-case ISO currency.
    pub currency: String,
    /// Stripe's figure, major units.
    pub stripe: Decimal,
    /// The bridge's recorded figure, major units.
    pub recorded: Decimal,
    /// `recorded − stripe`.
    pub difference: Decimal,
}

/// How many Stripe objects were compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Checked {
    /// Payments' money in (Checkout Sessions, paid invoices), one per transaction.
    pub payments: usize,
    /// Refunds of revenue payments.
    pub refunds: usize,
    /// Disputes of revenue payments.
    pub disputes: usize,
    /// Subscriptions (every status).
    pub subscriptions: usize,
    /// Refunds and disputes left out: their payment is not revenue by the policy (not a
    /// Checkout Session or invoice, another mode, or never reported with
    /// `UnreportedPayments::Skip`).
    pub not_revenue: usize,
}

/// What [`reconcile`](super::reconcile) found. [`agrees`](Self::agrees) when no object
/// differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The window's start (Unix seconds, objects' `created`).
    pub since: i64,
    /// The window's end, `None` for now.
    pub until: Option<i64>,
    /// Net revenue per UTC day and currency (money in − refunds − lost disputes), days with
    /// any figure only, oldest first.
    pub days: Vec<Row>,
    /// The same per currency over the window.
    pub money: Vec<Row>,
    /// MRR now per currency: Stripe's, and Σ `mrr_impact` the bridge sent.
    pub mrr: Vec<Row>,
    /// Every object whose figures differ.
    pub differences: Vec<Difference>,
    /// How many objects were compared.
    pub checked: Checked,
}

impl Report {
    /// Stripe and the bridge agree on every object.
    pub fn agrees(&self) -> bool {
        self.differences.is_empty()
    }

    /// The JSON for scripts, stable within [`REPORT_FORMAT`]:
    ///
    /// ```text
    /// {"format": 1, "agree": false, "since": 1764460800, "until": null,
    ///  "checked": {"payments": 12, "refunds": 3, "disputes": 1, "subscriptions": 40, "not_revenue": 0},
    ///  "days":  [{"day": "2026-11-30", "currency": "USD", "stripe": "120.00", "recorded": "100.00", "difference": "-20.00"}],
    ///  "money": [{"currency": "USD", "stripe": "120.00", "recorded": "100.00", "difference": "-20.00"}],
    ///  "mrr":   [{"currency": "EUR", "stripe": "450.00", "recorded": "450.00", "difference": "0.00"}],
    ///  "differences": [{"object": "in_1Q…", "kind": "invoice", "issue": "missing", "currency": "USD",
    ///                   "day": "2026-11-30", "stripe": "20.00", "recorded": "0.00",
    ///                   "related": "in_1Q…", "detail": "…"}]}
    /// ```
    ///
    /// Amounts are decimal strings in major units (exact); `kind` is one of
    /// `checkout_session`, `invoice`, `refund`, `dispute`, `payment`, `subscription`; `issue`
    /// one of `missing`, `amount_differs`, `mrr_differs`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        value["format"] = serde_json::json!(REPORT_FORMAT);
        value["agree"] = serde_json::json!(self.agrees());
        value
    }
}

impl fmt::Display for Report {
    /// A plain table for people.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = |f: &mut fmt::Formatter<'_>, title: &str, rows: &[Row]| -> fmt::Result {
            writeln!(f, "{title}")?;
            writeln!(
                f,
                "  {:<10}  {:<8} {:>16} {:>16} {:>14}",
                "day", "currency", "stripe", "recorded", "difference"
            )?;
            for row in rows {
                writeln!(
                    f,
                    "  {:<10}  {:<8} {:>16} {:>16} {:>14}",
                    row.day.as_deref().unwrap_or("total"),
                    row.currency,
                    row.stripe,
                    row.recorded,
                    row.difference
                )?;
            }
            Ok(())
        };
        rows(
            f,
            "Net revenue per UTC day (money in − refunds − lost disputes)",
            &self.days,
        )?;
        rows(f, "Net revenue in the window", &self.money)?;
        rows(f, "MRR now (recorded: Σ mrr_impact sent)", &self.mrr)?;
        let c = &self.checked;
        writeln!(
            f,
            "Compared: {} payments, {} refunds, {} disputes, {} subscriptions ({} refunds/disputes of payments that are not revenue left out)",
            c.payments, c.refunds, c.disputes, c.subscriptions, c.not_revenue
        )?;
        if self.agrees() {
            return writeln!(f, "Stripe and the bridge agree.");
        }
        writeln!(f, "Differences ({}):", self.differences.len())?;
        writeln!(
            f,
            "  {:<32} {:<16} {:<14} {:<8} {:<10} {:>14} {:>14}  detail",
            "object", "kind", "issue", "currency", "day", "stripe", "recorded"
        )?;
        for d in &self.differences {
            writeln!(
                f,
                "  {:<32} {:<16} {:<14} {:<8} {:<10} {:>14} {:>14}  {}",
                d.object,
                d.kind.as_str(),
                d.issue.as_str(),
                d.currency,
                d.day.as_deref().unwrap_or("-"),
                d.stripe,
                d.recorded,
                d.detail
            )?;
        }
        Ok(())
    }
}

/// The UTC day of a Unix time, `YYYY-MM-DD` (proleptic Gregorian; H. Hinnant's civil_from_days).
pub(crate) fn day(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::day;

    #[test]
    fn days() {
        assert_eq!(day(0), "1970-01-01");
        assert_eq!(day(86_399), "1970-01-01");
        assert_eq!(day(1_795_996_800), "2026-11-30");
        assert_eq!(day(951_782_400), "2000-02-29");
        assert_eq!(day(-1), "1969-12-31");
    }
}
