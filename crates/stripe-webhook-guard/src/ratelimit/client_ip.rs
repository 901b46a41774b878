//! Who is asking: the client address a request is counted under.
//!
//! 1. The peer address (the TCP connection's other end) is the client, unless it is one of the
//!    configured trusted proxies. With no trusted proxies, or from an untrusted peer, forwarded
//!    headers are ignored entirely: anyone can write them.
//! 2. From a trusted proxy, the forwarded header is read right to left: trusted hops are
//!    skipped, and the first untrusted address is the client. The left-most entry is never
//!    believed just for being left-most, since that is the one the client wrote.
//! 3. If a hop is not an address (garbage, `unknown`, an obfuscated name), the walk stops and
//!    the client is the nearest trusted hop: the last address a trusted party vouched for
//!    (the peer itself when the header is garbage throughout). Same when every hop is trusted.
//! 4. IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what a dual-stack socket reports for IPv4 clients)
//!    is the IPv4 address. For counting, IPv6 addresses are cut to a prefix (/64 by default):
//!    one subscriber usually gets a whole /64 and can rotate through it at will.
//!
//! With no peer address at all (the app was served without `ConnectInfo`), the client is
//! unknown; see [`Admission`](super::Admission) for what that means.

use super::cidr::CidrSet;
use super::forwarded::{visit_hops, ForwardedHeader};
use bytes::Bytes;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::ControlFlow;

/// Resolves the client address from the peer and the forwarded headers.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientIpResolver {
    pub(crate) trusted: CidrSet,
    pub(crate) header: ForwardedHeader,
}

impl ClientIpResolver {
    /// The client address (canonical, not yet cut to a prefix), or `None` without a peer.
    pub(crate) fn resolve(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: &[Bytes],
        forwarded: &[Bytes],
    ) -> Option<IpAddr> {
        let peer = canonical(peer?);
        if !self.trusted.contains(peer) {
            return Some(peer);
        }
        let lines = match self.header {
            ForwardedHeader::XForwardedFor => forwarded_for,
            ForwardedHeader::Forwarded => forwarded,
        };
        let mut nearest_trusted = peer;
        let mut client = None;
        visit_hops(self.header, lines, |hop| match hop.map(canonical) {
            Some(ip) if self.trusted.contains(ip) => {
                nearest_trusted = ip;
                ControlFlow::Continue(())
            }
            Some(ip) => {
                client = Some(ip);
                ControlFlow::Break(())
            }
            None => ControlFlow::Break(()),
        });
        Some(client.unwrap_or(nearest_trusted))
    }
}

/// `::ffff:a.b.c.d` is `a.b.c.d`; everything else unchanged.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The address a client is counted under: canonical, IPv6 cut to `ipv6_prefix` bits (at most
/// 128).
pub(crate) fn bucket(ip: IpAddr, ipv6_prefix: u8) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let bits = u32::from(ipv6_prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
        v4 => v4,
    }
}

/// The table key of a canonical address: IPv4 stored IPv4-mapped, which no canonical IPv6
/// address is, so the two families never collide.
pub(crate) fn table_key(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The bucket of requests whose peer is unknown: `0.0.0.0`, which is never a peer.
pub(crate) const UNKNOWN_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::cidr::Cidr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn resolver(trusted: &[&str], header: ForwardedHeader) -> ClientIpResolver {
        ClientIpResolver {
            trusted: CidrSet::new(trusted.iter().map(|c| c.parse::<Cidr>().unwrap())),
            header,
        }
    }

    fn lines(values: &[&str]) -> Vec<Bytes> {
        values
            .iter()
            .map(|v| Bytes::copy_from_slice(v.as_bytes()))
            .collect()
    }

    /// (trusted proxies, peer, X-Forwarded-For lines, expected client)
    #[test]
    fn x_forwarded_for_table() {
        let cases: &[(&[&str], &str, &[&str], &str)] = &[
            // No trusted proxies: headers are ignored whatever they say.
            (&[], "203.0.113.9", &["1.2.3.4"], "203.0.113.9"),
            // Untrusted peer: ignored too.
            (&["10.0.0.0/8"], "203.0.113.9", &["1.2.3.4"], "203.0.113.9"),
            // Trusted peer: the right-most untrusted address, not the left-most spoof.
            (
                &["127.0.0.1/32"],
                "127.0.0.1",
                &["9.9.9.9, 1.2.3.4"],
                "1.2.3.4",
            ),
            // Trusted hops are skipped, across lines.
            (
                &["127.0.0.1", "10.0.0.0/8"],
                "127.0.0.1",
                &["6.6.6.6, 1.2.3.4", "10.1.1.1, 10.2.2.2"],
                "1.2.3.4",
            ),
            // Ports, quotes and brackets.
            (
                &["127.0.0.1"],
                "127.0.0.1",
                &["\"1.2.3.4:5555\""],
                "1.2.3.4",
            ),
            (
                &["127.0.0.1"],
                "127.0.0.1",
                &["[2001:db8::7]:443"],
                "2001:db8::7",
            ),
            // A mapped address is the IPv4 client, and a mapped peer is matched as IPv4.
            (
                &["127.0.0.1"],
                "::ffff:127.0.0.1",
                &["::ffff:1.2.3.4"],
                "1.2.3.4",
            ),
            // Garbage right after the peer: the peer.
            (
                &["127.0.0.1"],
                "127.0.0.1",
                &["1.2.3.4, bogus"],
                "127.0.0.1",
            ),
            // Garbage behind a trusted hop: that hop.
            (
                &["127.0.0.1", "10.0.0.0/8"],
                "127.0.0.1",
                &["1.2.3.4, unknown, 10.0.0.5"],
                "10.0.0.5",
            ),
            // No header, an empty one, or only trusted hops: the nearest trusted address.
            (&["127.0.0.1"], "127.0.0.1", &[], "127.0.0.1"),
            (&["127.0.0.1"], "127.0.0.1", &[""], "127.0.0.1"),
            (&["127.0.0.0/8"], "127.0.0.1", &["127.0.0.9"], "127.0.0.9"),
        ];
        for &(trusted, peer, xff, expected) in cases {
            let resolved = resolver(trusted, ForwardedHeader::XForwardedFor).resolve(
                Some(ip(peer)),
                &lines(xff),
                &[],
            );
            assert_eq!(resolved, Some(ip(expected)), "{trusted:?} {peer} {xff:?}");
        }
    }

    #[test]
    fn the_configured_header_is_the_only_one_read() {
        let xff = lines(&["1.1.1.1"]);
        let fwd = lines(&["for=2.2.2.2"]);
        let peer = Some(ip("127.0.0.1"));
        let by_xff = resolver(&["127.0.0.1"], ForwardedHeader::XForwardedFor);
        assert_eq!(by_xff.resolve(peer, &xff, &fwd), Some(ip("1.1.1.1")));
        let by_fwd = resolver(&["127.0.0.1"], ForwardedHeader::Forwarded);
        assert_eq!(by_fwd.resolve(peer, &xff, &fwd), Some(ip("2.2.2.2")));
        let fwd = lines(&["for=9.9.9.9, for=\"[2001:db8::1]:80\";proto=https"]);
        assert_eq!(by_fwd.resolve(peer, &[], &fwd), Some(ip("2001:db8::1")));
        // `for=unknown` right after the proxy: the proxy.
        let fwd = lines(&["for=9.9.9.9, for=unknown"]);
        assert_eq!(by_fwd.resolve(peer, &[], &fwd), peer);
    }

    #[test]
    fn no_peer_means_unknown_even_with_headers() {
        let r = resolver(&["0.0.0.0/0"], ForwardedHeader::XForwardedFor);
        assert_eq!(r.resolve(None, &lines(&["1.2.3.4"]), &[]), None);
    }

    #[test]
    fn ipv6_is_bucketed_by_prefix_and_ipv4_is_not() {
        let a = bucket(ip("2001:db8:1:2:aaaa::1"), 64);
        let b = bucket(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"), 64);
        let other = bucket(ip("2001:db8:1:3::1"), 64);
        assert_eq!(a, ip("2001:db8:1:2::"));
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(table_key(a), table_key(b));
        assert_ne!(table_key(a), table_key(other));
        // Other prefixes, including the extremes.
        assert_eq!(bucket(ip("2001:db8:1:2::1"), 48), ip("2001:db8:1::"));
        assert_eq!(bucket(ip("2001:db8:1:2::1"), 128), ip("2001:db8:1:2::1"));
        assert_eq!(bucket(ip("2001:db8:1:2::1"), 200), ip("2001:db8:1:2::1"));
        assert_eq!(bucket(ip("2001:db8:1:2::1"), 0), ip("::"));
        // IPv4 keeps every bit; mapped IPv6 is IPv4.
        assert_eq!(bucket(ip("192.0.2.7"), 64), ip("192.0.2.7"));
        assert_eq!(bucket(ip("::ffff:192.0.2.7"), 64), ip("192.0.2.7"));
        assert_eq!(
            table_key(bucket(ip("::ffff:192.0.2.7"), 64)),
            table_key(ip("192.0.2.7"))
        );
        assert_ne!(table_key(UNKNOWN_CLIENT), table_key(bucket(ip("::1"), 64)));
    }
}
