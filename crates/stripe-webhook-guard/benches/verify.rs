//! Cost of verifying a delivery, next to the bare HMAC it cannot avoid.
//!
//! `verify_at` parses the header, runs HMAC-SHA256 over `t`, `.` and the body and compares in
//! constant time; `bare_hmac` is only the HMAC (pre-keyed, three updates) over the same bytes.
//! The gap between the two is everything the crate adds; the target is ≤ 1.3× at 4 KiB.
//!
//! ```sh
//! cargo bench -p stripe-webhook-guard --bench verify -- --warm-up-time 1 --measurement-time 3
//! ```

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::hint::black_box;
use stripe_webhook_guard::{sign, Verifier};

const SECRET: &str = "whsec_bench_0123456789abcdef0123456789abcdef";
const T: i64 = 1_700_000_000;
const SIZES_KIB: [usize; 4] = [1, 4, 16, 64];

/// A pretty-printed `checkout.session.completed` as Stripe sends it (2-space indent, `\n`),
/// grown with line items and padded to exactly `size` bytes.
fn realistic_body(size: usize) -> Vec<u8> {
    let head = r#"{
  "id": "evt_1PbEnchMarkAbCdEfGhIjKlMn",
  "object": "event",
  "api_version": "2025-03-31.basil",
  "created": 1700000000,
  "data": {
    "object": {
      "id": "cs_test_a1b2c3d4e5f6g7h8i9j0",
      "object": "checkout.session",
      "amount_subtotal": 4900,
      "amount_total": 4900,
      "currency": "usd",
      "customer": "cus_QbEnchMark1234",
      "customer_details": { "email": "jenny.rosen@example.com", "name": "Jenny Rosen" },
      "metadata": { "visitor_fingerprint": "fp_0f1e2d3c4b5a6978", "session_id": "sess_9a8b7c6d" },
      "mode": "payment",
      "payment_status": "paid",
      "status": "complete",
      "line_items": {
        "object": "list",
        "data": ["#;
    let item = r#"
          {
            "id": "li_1PbEnchMarkLineItem000",
            "object": "item",
            "amount_subtotal": 4900,
            "amount_total": 4900,
            "currency": "usd",
            "description": "Pro plan (monthly)",
            "price": { "id": "price_1PbEnchMark", "object": "price", "unit_amount": 4900, "type": "one_time", "product": "prod_QbEnchMark" },
            "quantity": 1
          }"#;
    let tail_open =
        "\n        ],\n        \"has_more\": false\n      },\n      \"client_reference_id\": \"";
    let tail_close = "\"\n    }\n  },\n  \"livemode\": false,\n  \"pending_webhooks\": 1,\n  \"request\": { \"id\": null, \"idempotency_key\": null },\n  \"type\": \"checkout.session.completed\"\n}\n";

    let mut body = String::from(head);
    let fixed = tail_open.len() + tail_close.len();
    let mut first = true;
    while body.len() + item.len() + 1 + fixed < size {
        if !first {
            body.push(',');
        }
        body.push_str(item);
        first = false;
    }
    body.push_str(tail_open);
    // Pad inside a string value so the body stays valid JSON of exactly `size` bytes.
    let pad = size.saturating_sub(body.len() + tail_close.len());
    body.push_str(&"x".repeat(pad));
    body.push_str(tail_close);
    assert_eq!(body.len(), size, "body generator is off");
    assert!(serde_json::from_str::<serde_json::Value>(&body).is_ok());
    body.into_bytes()
}

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    let verifier = Verifier::new(SECRET);
    let keyed = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    let t_text = T.to_string();

    for kib in SIZES_KIB {
        let size = kib * 1024;
        let body = realistic_body(size);
        let header = sign(&body, SECRET, T);
        assert_eq!(verifier.verify_at(header.as_bytes(), &body, T), Ok(T));
        group.throughput(Throughput::Bytes(size as u64));

        group.bench_with_input(BenchmarkId::new("verify_at", kib), &body, |b, body| {
            b.iter(|| {
                verifier.verify_at(
                    black_box(header.as_bytes()),
                    black_box(body.as_slice()),
                    black_box(T),
                )
            })
        });

        group.bench_with_input(BenchmarkId::new("bare_hmac", kib), &body, |b, body| {
            b.iter(|| {
                let mut mac = keyed.clone();
                mac.update(black_box(t_text.as_bytes()));
                mac.update(b".");
                mac.update(black_box(body.as_slice()));
                mac.finalize().into_bytes()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
