//! Clock and duration conversions shared by the backends.

use std::time::Duration;

/// Unix milliseconds now (0 before 1970, saturating far in the future). SQLite takes its clock
/// here; PostgreSQL asks the server's.
#[cfg(feature = "sqlite")]
pub(crate) fn unix_millis() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A duration as signed milliseconds, saturating.
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
