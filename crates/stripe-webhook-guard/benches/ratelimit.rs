//! Cost of a rate-limit check, and memory per tracked client.
//!
//! - `hot_key`: one client checked again and again (Stripe's dozen addresses in steady state);
//! - `100k_tracked`: round-robin over 100,000 tracked clients (cache misses);
//! - `1M_distinct`: a new address every check, a million of them cycling through a table
//!   capped at 100,000, so nearly every check inserts and evicts (a flood of addresses).
//!
//! Before the criterion groups, a one-shot run feeds 1,000,000 distinct addresses to a limiter
//! with the default cap and prints the time per check, the clients tracked (≤ the cap) and the
//! resident memory it took per tracked client (Linux `/proc/self/statm`).
//!
//! ```sh
//! cargo bench -p stripe-webhook-guard --bench ratelimit -- --warm-up-time 1 --measurement-time 3
//! ```

use criterion::{criterion_group, Criterion};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;
use stripe_webhook_guard::{
    ClientRateLimiter, Quota, DEFAULT_FAILURE_LIMIT, DEFAULT_MAX_TRACKED_CLIENTS,
    DEFAULT_RATE_LIMIT,
};

const DISTINCT: u32 = 1_000_000;

/// The n-th of many distinct clients: IPv4 for even n, an IPv6 /64 for odd n.
fn client(n: u32) -> IpAddr {
    if n.is_multiple_of(2) {
        IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + n))
    } else {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            (n >> 16) as u16,
            n as u16,
            0,
            0,
            0,
            1,
        ))
    }
}

/// A limiter with the default budgets, where every check is admitted (so every check
/// spends and stores, the most expensive path).
fn default_limiter(max_clients: usize) -> ClientRateLimiter {
    ClientRateLimiter::new(
        Some(DEFAULT_RATE_LIMIT),
        Some(DEFAULT_FAILURE_LIMIT),
        max_clients,
    )
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// One pass of a million distinct clients against the default cap, measured by hand. With
/// `busy_for_an_hour` every client stays tracked for an hour after its request (the worst
/// case: the table fills up and every new client evicts one); with the defaults a client is
/// forgotten 10 ms after its request.
fn million_distinct_report(busy_for_an_hour: bool) {
    let before = resident_bytes();
    let limiter = if busy_for_an_hour {
        ClientRateLimiter::new(
            Some(Quota::per_hour(100)),
            None,
            DEFAULT_MAX_TRACKED_CLIENTS,
        )
    } else {
        default_limiter(DEFAULT_MAX_TRACKED_CLIENTS)
    };
    let start = Instant::now();
    for n in 0..DISTINCT {
        let _ = black_box(limiter.check(client(n)));
    }
    let elapsed = start.elapsed();
    let after = resident_bytes();
    let tracked = limiter.tracked_clients();
    assert!(tracked <= DEFAULT_MAX_TRACKED_CLIENTS, "{tracked} tracked");
    let quota = if busy_for_an_hour {
        "each busy for an hour"
    } else {
        "default quotas"
    };
    println!(
        "1M distinct clients ({quota}): {:.0} ns/check, {tracked} tracked (cap {DEFAULT_MAX_TRACKED_CLIENTS})",
        elapsed.as_nanos() as f64 / f64::from(DISTINCT)
    );
    if let (Some(before), Some(after)) = (before, after) {
        let grown = after.saturating_sub(before);
        println!(
            "resident memory grown by {:.1} MiB: {:.0} bytes per tracked client",
            grown as f64 / (1024.0 * 1024.0),
            grown as f64 / tracked.max(1) as f64
        );
    }
    drop(limiter);
}

fn checks(c: &mut Criterion) {
    let mut group = c.benchmark_group("ratelimit_check");

    // A budget nothing can exhaust, so the hot key is admitted (and stored) every time.
    let limiter = ClientRateLimiter::new(
        Some(Quota::per_second(u32::MAX).burst(u32::MAX)),
        Some(DEFAULT_FAILURE_LIMIT),
        DEFAULT_MAX_TRACKED_CLIENTS,
    );
    let hot = IpAddr::V4(Ipv4Addr::new(54, 187, 216, 72));
    group.bench_function("hot_key", |b| b.iter(|| limiter.check(black_box(hot))));

    // The same client refused every time (the flood's path once it is cut off).
    let refusing = ClientRateLimiter::new(Some(Quota::per_hour(1)), None, 1000);
    let _ = refusing.check(hot);
    group.bench_function("hot_key_refused", |b| {
        b.iter(|| refusing.check(black_box(hot)))
    });

    let tracked = 100_000;
    let limiter = default_limiter(DEFAULT_MAX_TRACKED_CLIENTS);
    for n in 0..tracked {
        let _ = limiter.check(client(n));
    }
    let mut n = 0;
    group.bench_function("100k_tracked", |b| {
        b.iter(|| {
            n = (n + 1) % tracked;
            limiter.check(black_box(client(n)))
        })
    });

    let limiter = default_limiter(DEFAULT_MAX_TRACKED_CLIENTS);
    let mut n = 0;
    group.bench_function("1M_distinct", |b| {
        b.iter(|| {
            n = (n + 1) % DISTINCT;
            limiter.check(black_box(client(n)))
        })
    });
    assert!(limiter.tracked_clients() <= DEFAULT_MAX_TRACKED_CLIENTS);

    group.finish();
}

criterion_group!(benches, checks);

fn main() {
    million_distinct_report(true);
    million_distinct_report(false);
    benches();
    Criterion::default().configure_from_args().final_summary();
}
