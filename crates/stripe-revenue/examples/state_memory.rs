//! Memory of the default in-memory state store (issue 18 item 9): N paid Checkout Sessions of N
//! customers with attribution (one ledger-free sale each: an attribution entry per customer and
//! a sent transaction id) through `RevenueSync` in dry run, resident memory before and after.
//!
//!     cargo run --release -p stripe-revenue --example state_memory -- 200000 [unbounded]
//!
//! `unbounded` replays the same events on `state::MemoryState` (the maps the store kept before
//! it was bounded: every entry forever) for comparison.

use stripe_revenue::fixtures::{checkout_payment, event, ApiShape};
use stripe_revenue::state::MemoryState;
use stripe_revenue::{map_event, subjects, MemoryStateStore, Policy, RevenueSync};
use stripe_webhook_guard::VerifiedStripeEvent;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn session(n: u32) -> VerifiedStripeEvent {
    let body = event(
        &format!("evt_mem_{n}"),
        "checkout.session.completed",
        1_700_000_000,
        ApiShape::Basil,
        checkout_payment(n, 4200, "usd", 1_700_000_000),
        None,
    );
    VerifiedStripeEvent::from_verified_bytes(bytes::Bytes::from(body.to_string())).expect("fixture")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let count: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let unbounded = args.next().as_deref() == Some("unbounded");
    let before = rss_kib();
    if unbounded {
        let mut state = MemoryState::default();
        let policy = Policy::default();
        for n in 0..count {
            let e = session(n);
            let context = state.context(&subjects(&e).expect("subjects"));
            let mapping = map_event(&e, &context, &policy).expect("map");
            for draft in &mapping.events {
                state.mark_sent(&draft.transaction_id);
            }
            state.apply(&mapping.updates);
        }
        let after = rss_kib();
        report("unbounded maps (before)", count, before, after);
        std::hint::black_box(&state);
    } else {
        let sync =
            RevenueSync::new(pulsora::Revenue::dry_run()).state_store(MemoryStateStore::new());
        for n in 0..count {
            let outcome = sync.handle(&session(n)).await;
            assert_eq!(outcome.status(), 200);
        }
        let after = rss_kib();
        report("MemoryStateStore (bounded)", count, before, after);
    }
}

fn report(label: &str, count: u32, before: u64, after: u64) {
    let grown = after.saturating_sub(before);
    println!(
        "{label}: {count} events, RSS {before} KiB -> {after} KiB (+{:.1} MiB, {:.0} bytes/event)",
        grown as f64 / 1024.0,
        grown as f64 * 1024.0 / f64::from(count.max(1))
    );
}
