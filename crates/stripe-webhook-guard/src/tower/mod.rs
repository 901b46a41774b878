//! The tower adapter: [`StripeWebhookLayer`] builds [`StripeWebhookService`]s.
//!
//! (The actix-web middleware is `actix::StripeWebhook`, the name users write in
//! `.wrap(StripeWebhook::new(..))`; the tower service has its own name so the two never clash.)
//!
//! It only translates: the request's headers and peer address become the engine's request head,
//! the body becomes a byte stream, a rejection becomes a JSON response. Every rule is in the
//! shared engine, which the actix-web adapter calls the same way.

mod body;
mod future;
mod layer;
mod service;

pub use body::ResponseBody;
pub use future::ResponseFuture;
pub use layer::{StripeWebhookLayer, Tower};
pub use service::StripeWebhookService;
