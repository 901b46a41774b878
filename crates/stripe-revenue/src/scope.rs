//! Which events are the platform's own revenue: the scope filter read on every event before
//! mapping, from the envelope's `livemode` and `account`.
//!
//! - **Mode.** A test-mode event (`"livemode": false`) sent to a live Pulsora project would count
//!   money Stripe never collected. [`Livemode`] picks the mode that counts.
//! - **Connect.** An event with `account` set is about a connected account's payment, not the
//!   platform's. [`Connect`] ignores them (default) or includes them with
//!   `metadata.stripe_account`.
//!
//! An ignored event is acknowledged (`200`, so Stripe does not retry it), logged at `debug` with
//! the [`Ignored`] reason, and counted by reason in the bridge's metrics.

use std::fmt;
use std::str::FromStr;
use stripe_webhook_guard::VerifiedStripeEvent;

/// Which Stripe mode counts as revenue (`STRIPE_PULSORA_LIVEMODE`).
///
/// ```
/// use stripe_revenue::Livemode;
/// assert_eq!("live".parse::<Livemode>().unwrap(), Livemode::Live);
/// assert!("production".parse::<Livemode>().is_err());
/// assert_eq!(Livemode::Any.as_str(), "any");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Livemode {
    /// Only live-mode events (`"livemode": true`). The default when a Pulsora token is set.
    Live,
    /// Only test-mode events: a test Pulsora project fed by test-mode Stripe.
    Test,
    /// Both: dry runs, `trigger` and the examples.
    Any,
}

impl Livemode {
    /// `live`, `test` or `any`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
            Self::Any => "any",
        }
    }
}

/// A value other than the accepted ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not one of {expected}")]
pub struct ParseScopeError {
    value: String,
    expected: &'static str,
}

impl FromStr for Livemode {
    type Err = ParseScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "live" => Ok(Self::Live),
            "test" => Ok(Self::Test),
            "any" => Ok(Self::Any),
            other => Err(ParseScopeError {
                value: other.to_owned(),
                expected: "live, test, any",
            }),
        }
    }
}

/// What to do with Connect events, those with `account` set (`STRIPE_PULSORA_CONNECT`).
///
/// ```
/// use stripe_revenue::Connect;
/// assert_eq!("include".parse::<Connect>().unwrap(), Connect::Include);
/// assert_eq!(Connect::default(), Connect::Ignore);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connect {
    /// A connected account's payments are not the platform's revenue. Default.
    #[default]
    Ignore,
    /// Count them too, with `metadata.stripe_account` naming the account.
    Include,
}

impl Connect {
    /// `ignore` or `include`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ignore => "ignore",
            Self::Include => "include",
        }
    }
}

impl FromStr for Connect {
    type Err = ParseScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ignore" => Ok(Self::Ignore),
            "include" => Ok(Self::Include),
            other => Err(ParseScopeError {
                value: other.to_owned(),
                expected: "ignore, include",
            }),
        }
    }
}

/// Why an event was left out of the revenue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Ignored {
    /// A test-mode event while only live mode counts.
    TestMode,
    /// A live-mode event while only test mode counts.
    LiveMode,
    /// A connected account's event while Connect events are ignored.
    ConnectAccount,
}

impl Ignored {
    /// `test_mode`, `live_mode` or `connect_account` (the metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TestMode => "test_mode",
            Self::LiveMode => "live_mode",
            Self::ConnectAccount => "connect_account",
        }
    }
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks an event against the scope: `Ok(account)` (the connected account to name, if
/// included) or the reason it is ignored.
pub(crate) fn check(
    event: &VerifiedStripeEvent,
    livemode: Livemode,
    connect: Connect,
) -> Result<Option<String>, Ignored> {
    match (livemode, event.livemode()) {
        (Livemode::Live, false) => return Err(Ignored::TestMode),
        (Livemode::Test, true) => return Err(Ignored::LiveMode),
        _ => {}
    }
    match (connect, event.account()) {
        (_, None) => Ok(None),
        (Connect::Ignore, Some(_)) => Err(Ignored::ConnectAccount),
        (Connect::Include, Some(account)) => Ok(Some(account.to_owned())),
    }
}
