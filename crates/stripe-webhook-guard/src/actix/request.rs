//! What the engine reads from an actix-web request, and how it tells a handler's success.

use crate::engine::{HandlerOutcome, HeaderSource};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::HeaderMap;

impl HeaderSource for HeaderMap {
    fn for_each_value(&self, name: &'static str, f: &mut dyn FnMut(&[u8])) {
        for value in self.get_all(name) {
            f(value.as_bytes());
        }
    }
}

/// The wrapped actix service's answer: an `Err` (rendered later by actix) is a failure, like any
/// non-2xx response.
impl<B> HandlerOutcome for Result<ServiceResponse<B>, actix_web::Error> {
    fn is_success(&self) -> bool {
        matches!(self, Ok(response) if response.status().is_success())
    }
}
