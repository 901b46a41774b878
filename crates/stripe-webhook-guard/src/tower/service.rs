use super::{ResponseBody, ResponseFuture};
use crate::engine::{Engine, HeaderSource, RequestHead};
use crate::event::VerifiedStripeEvent;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyDataStream, Full};
use std::fmt::Display;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_service::Service;

/// The service built by [`StripeWebhookLayer`](super::StripeWebhookLayer).
///
/// The wrapped service receives the request with the untouched raw body (as
/// `http_body_util::Full<Bytes>`) and the [`VerifiedStripeEvent`] in its extensions.
#[derive(Clone, Debug)]
pub struct StripeWebhookService<S> {
    inner: S,
    engine: Arc<Engine>,
}

impl<S> StripeWebhookService<S> {
    pub(crate) fn from_engine(inner: S, engine: Arc<Engine>) -> Self {
        Self { inner, engine }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Consumes the middleware, returning the wrapped service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl HeaderSource for http::HeaderMap {
    fn for_each_value(&self, name: &'static str, f: &mut dyn FnMut(&[u8])) {
        for value in self.get_all(name) {
            f(value.as_bytes());
        }
    }
}

/// The peer address: axum's `ConnectInfo<SocketAddr>` when the app is served with
/// `into_make_service_with_connect_info`, or a plain `SocketAddr` / `IpAddr` extension that a
/// custom server inserted.
fn peer_of(extensions: &http::Extensions) -> Option<IpAddr> {
    #[cfg(feature = "axum")]
    if let Some(info) = extensions.get::<::axum::extract::ConnectInfo<SocketAddr>>() {
        return Some(info.0.ip());
    }
    extensions
        .get::<SocketAddr>()
        .map(SocketAddr::ip)
        .or_else(|| extensions.get::<IpAddr>().copied())
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for StripeWebhookService<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Display,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The clone that was driven to readiness is the one we must call; leave a fresh clone
        // behind (tower's "be careful when cloning inner services").
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let engine = Arc::clone(&self.engine);
        let (parts, body) = request.into_parts();
        let head = RequestHead::from_headers(peer_of(&parts.extensions), &parts.headers);

        ResponseFuture::new(async move {
            let forward = move |event: VerifiedStripeEvent| {
                let mut parts = parts;
                let raw = event.raw_body().clone();
                parts.extensions.insert(event);
                inner.call(Request::from_parts(parts, Full::new(raw)))
            };
            match engine
                .process(head, BodyDataStream::new(body), forward)
                .await
            {
                Ok(handled) => handled.map(|response| response.map(ResponseBody::inner)),
                Err(rejection) => {
                    let mut response = rejection.to_http_response().map(ResponseBody::full);
                    // Outer layers (metrics, access logs) can tell why without parsing the body.
                    response.extensions_mut().insert(rejection);
                    Ok(response)
                }
            }
        })
    }
}
