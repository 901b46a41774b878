//! Replay protection keyed by event id.
//!
//! Interface used by the engine (keep it): `ReplayConfig` (Clone + Debug + Default),
//! `ReplayGuard::new(&ReplayConfig)`, `ReplayGuard::claim(&VerifiedStripeEvent) -> Result<Claim, Rejection>`
//! (async), `Claim::finish(self, success: bool)` (async), and the `replay_builder_methods!` macro.

use crate::event::VerifiedStripeEvent;
use crate::rejection::Rejection;

/// Replay-guard settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReplayConfig {}

/// The replay guard.
#[derive(Debug)]
pub(crate) struct ReplayGuard {}

/// A claim on an event id, held while the handler runs.
#[derive(Debug)]
pub(crate) struct Claim {}

impl ReplayGuard {
    pub(crate) fn new(_config: &ReplayConfig) -> Self {
        Self {}
    }

    pub(crate) async fn claim(&self, _event: &VerifiedStripeEvent) -> Result<Claim, Rejection> {
        Ok(Claim {})
    }
}

impl Claim {
    pub(crate) async fn finish(self, _success: bool) {}
}

/// Builder methods for replay protection, expanded inside `config_builder_methods!`.
macro_rules! replay_builder_methods {
    () => {};
}
pub(crate) use replay_builder_methods;
