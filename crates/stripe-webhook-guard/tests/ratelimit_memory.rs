//! Bounded memory under a flood of distinct addresses, through the public limiter. (The cost
//! per check and the bytes per client are measured in `benches/ratelimit.rs`, not asserted.)

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use stripe_webhook_guard::{ClientRateLimiter, Quota, DEFAULT_FAILURE_LIMIT};

const CAP: usize = 10_000;

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

#[test]
fn a_flood_of_distinct_addresses_never_exceeds_the_cap() {
    // Every client stays busy for an hour, so nothing rests: the worst case, all eviction.
    let limiter =
        ClientRateLimiter::new(Some(Quota::per_hour(10)), Some(DEFAULT_FAILURE_LIMIT), CAP);
    for n in 0..300_000 {
        assert!(limiter.check(client(n)).is_ok(), "new client {n} refused");
        if n % 3 == 0 {
            limiter.record_failure(client(n));
        }
        if n % 50_000 == 0 {
            assert!(limiter.tracked_clients() <= CAP);
        }
    }
    assert_eq!(
        limiter.tracked_clients(),
        CAP,
        "the table is full, not over"
    );
    assert_eq!(limiter.max_clients(), CAP);
}

#[test]
fn a_flooded_table_still_limits_a_client_that_keeps_coming_back() {
    let limiter = ClientRateLimiter::new(Some(Quota::per_hour(2)), None, CAP);
    let regular = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
    assert!(limiter.check(regular).is_ok());
    assert!(limiter.check(regular).is_ok());
    // A flood smaller than the table does not make the limiter forget a busy client.
    for n in 0..(CAP as u32 / 2) {
        let _ = limiter.check(client(n));
    }
    assert!(limiter.check(regular).is_err());
}
