//! Our verification (and verification + envelope parse) next to async-stripe-webhook's
//! `construct_event_with_timestamp` on the same signed bytes, at 1, 4, 16 and 64 KiB.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

const SECRET: &str = "whsec_compare_secret";
const T: i64 = 1_767_225_600;

/// A complete v1 event (every field async-stripe's `Event` requires), padded to `size`.
fn payload(size: usize) -> String {
    let mut filler = String::new();
    while filler.len() < size.saturating_sub(420) {
        filler.push_str("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ");
    }
    format!(
        r#"{{"id":"evt_compare","object":"event","account":"acct_123","api_version":"2017-05-25","created":{T},"data":{{"object":{{"id":"ii_123","object":"invoiceitem","amount":1000,"currency":"usd","customer":"cus_123","description":"{filler}","livemode":false,"metadata":{{}}}}}},"livemode":false,"pending_webhooks":1,"request":{{"id":"req_123","idempotency_key":"idempotency-key-123"}},"type":"invoiceitem.created"}}"#
    )
}

fn compare(c: &mut Criterion) {
    let mut group = c.benchmark_group("compare");
    let verifier = stripe_webhook_guard::Verifier::new(SECRET);
    for kib in [1usize, 4, 16, 64] {
        let body = payload(kib * 1024);
        let header = stripe_webhook_guard::sign(body.as_bytes(), SECRET, T);
        // Both sides must accept the input, or we would be timing an early error.
        assert!(verifier.verify_at(header.as_bytes(), body.as_bytes(), T).is_ok());
        assert!(async_stripe::Webhook::construct_event_with_timestamp(&body, &header, SECRET, T).is_ok());
        let bytes = bytes::Bytes::from(body.clone());
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("ours_verify", kib), &kib, |b, _| {
            b.iter(|| verifier.verify_at(black_box(header.as_bytes()), black_box(body.as_bytes()), T))
        });
        group.bench_with_input(BenchmarkId::new("ours_verify_and_parse", kib), &kib, |b, _| {
            b.iter(|| {
                verifier.verify_at(black_box(header.as_bytes()), black_box(&bytes), T).unwrap();
                stripe_webhook_guard::VerifiedStripeEvent::from_verified_bytes(black_box(bytes.clone())).unwrap()
            })
        });
        group.bench_with_input(BenchmarkId::new("async_stripe_construct_event", kib), &kib, |b, _| {
            b.iter(|| {
                async_stripe::Webhook::construct_event_with_timestamp(
                    black_box(&body),
                    black_box(&header),
                    SECRET,
                    T,
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, compare);
criterion_main!(benches);
