//! Per-client admission before the body is read: allow-list and rate limits.
//!
//! Interface used by the engine (keep it): `RateLimitConfig` (Clone + Debug + Default),
//! `Admission::new(&RateLimitConfig)`, `Admission::admit(&RequestHead) -> Result<ClientKey, Rejection>`,
//! `Admission::record_failure(&ClientKey)`, and the `rate_limit_builder_methods!` macro.

use crate::engine::RequestHead;
use crate::rejection::Rejection;
use std::net::IpAddr;

/// Rate-limit and allow-list settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct RateLimitConfig {}

/// The key a client is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey(pub(crate) Option<IpAddr>);

/// Decides whether a request may proceed.
#[derive(Debug)]
pub(crate) struct Admission {}

impl Admission {
    pub(crate) fn new(_config: &RateLimitConfig) -> Self {
        Self {}
    }

    pub(crate) fn admit(&self, head: &RequestHead) -> Result<ClientKey, Rejection> {
        Ok(ClientKey(head.peer))
    }

    pub(crate) fn record_failure(&self, _key: &ClientKey) {}
}

/// Builder methods for rate limiting, expanded inside `config_builder_methods!`.
macro_rules! rate_limit_builder_methods {
    () => {};
}
pub(crate) use rate_limit_builder_methods;
