//! The whole in-process pipeline through the tower service (rate limit, body, verify, parse,
//! replay claim and commit, handler) against the same handler without the layer, on freshly
//! signed 4 KiB events with unique ids. No sockets: this isolates the layer's own cost.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http::{Request, Response};
use http_body_util::Full;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use stripe_webhook_guard::{sign, Quota, StripeWebhookLayer, VerifiedStripeEvent};
use tower::{Layer, Service, ServiceExt};

const SECRET: &str = "whsec_pipeline_bench_0123456789abcdef0123456789abcdef";

fn body(n: u64) -> Bytes {
    let mut filler = String::new();
    while filler.len() < 3_700 {
        filler.push_str("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ");
    }
    Bytes::from(format!(
        r#"{{"id":"evt_pipeline_{n}","object":"event","type":"checkout.session.completed","created":1767225600,"livemode":false,"data":{{"object":{{"id":"cs_{n}","object":"checkout.session","amount_total":4999,"currency":"usd","mode":"payment","payment_status":"paid","description":"{filler}"}}}}}}"#
    ))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

async fn handler(request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let ok = request.extensions().get::<VerifiedStripeEvent>().is_some();
    Ok(Response::builder()
        .status(if ok { 200 } else { 500 })
        .body(Full::new(Bytes::new()))
        .unwrap())
}

fn pipeline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let counter = AtomicU64::new(0);
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(1));

    // Events are signed outside the timed loop: the client's work is not the server's.
    let prepare = |n: u64| {
        let body = body(n);
        let header = sign(&body, SECRET, now());
        Request::post("/wh")
            .header("stripe-signature", header)
            .header("content-length", body.len())
            .extension(std::net::SocketAddr::from(([127, 0, 0, 1], 40_000)))
            .body(Full::new(body))
            .unwrap()
    };

    let bare = tower::service_fn(|request: Request<Full<Bytes>>| async move {
        let _ = http_body_util::BodyExt::collect(request.into_body()).await;
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });
    group.bench_function("without_layer", |b| {
        b.iter_batched(
            || prepare(counter.fetch_add(1, Ordering::Relaxed)),
            |request| runtime.block_on(bare.oneshot(request)).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });

    // The limiter runs on every request but with a budget this loop never exhausts.
    let layered = StripeWebhookLayer::new(SECRET)
        .rate_limit(Quota::per_second(100_000_000).burst(100_000_000))
        .layer(tower::service_fn(handler));
    group.bench_function("with_layer", |b| {
        b.iter_batched(
            || prepare(counter.fetch_add(1, Ordering::Relaxed)),
            |request| {
                let response = runtime.block_on(async {
                    let mut service = layered.clone();
                    ServiceExt::<Request<Full<Bytes>>>::ready(&mut service)
                        .await
                        .unwrap()
                        .call(request)
                        .await
                        .unwrap()
                });
                assert_eq!(response.status(), 200);
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
