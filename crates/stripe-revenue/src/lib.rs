//! placeholder docs
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attribution;
pub mod currency;
mod draft;
pub mod fixtures;
mod map;
pub mod mrr;
mod policy;
pub mod state;
pub mod stripe;

pub use draft::{Draft, Kind};
pub use map::{map_event, subjects, MapError, Mapping, Subjects};
pub use policy::{CurrencyConverter, InvoiceEvent, Policy, RefundSign, PLACEHOLDER_ATTRIBUTION};
