//! [`Cidr`]: an address range for the trusted-proxy, allow and exempt lists.

use super::client_ip::canonical;
use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An address range in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`), or a single address.
///
/// Built from an address (`IpAddr`, `Ipv4Addr`, `Ipv6Addr`: a `/32` or `/128`) or parsed
/// from text. Host bits are ignored (`10.1.2.3/8` is `10.0.0.0/8`). An IPv4-mapped IPv6
/// range (`::ffff:10.0.0.0/104`) means the IPv4 range, like the addresses it is matched
/// against.
///
/// ```
/// use stripe_webhook_guard::Cidr;
///
/// let proxies: Cidr = "10.0.0.0/8".parse()?;
/// assert!(proxies.contains("10.20.30.40".parse()?));
/// assert!(!proxies.contains("11.0.0.1".parse()?));
///
/// let one = Cidr::from(std::net::Ipv4Addr::LOCALHOST);
/// assert_eq!(one.to_string(), "127.0.0.1/32");
/// assert!("10.0.0.0/33".parse::<Cidr>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr(IpNet);

/// Text that is not an address or `address/prefix`, or a prefix too long for the address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not an IP address or CIDR range (expected e.g. 10.0.0.0/8 or 2001:db8::/32)")]
pub struct CidrError {
    input: String,
}

impl Cidr {
    /// The range of `prefix_len` leading bits of `addr`.
    ///
    /// # Errors
    ///
    /// If `prefix_len` is over 32 for IPv4 or over 128 for IPv6.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Result<Self, CidrError> {
        IpNet::new(addr, prefix_len)
            .map(Self::from_net)
            .map_err(|_| CidrError {
                input: format!("{addr}/{prefix_len}"),
            })
    }

    fn from_net(net: IpNet) -> Self {
        let net = match net {
            IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
                Some(v4) => IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).unwrap_or(net),
                None => net,
            },
            other => other,
        };
        Self(net.trunc())
    }

    /// Whether `ip` is in the range (an IPv4-mapped IPv6 address counts as the IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }

    /// The first address of the range.
    pub fn network(&self) -> IpAddr {
        self.0.network()
    }

    /// The number of leading bits that must match.
    pub fn prefix_len(&self) -> u8 {
        self.0.prefix_len()
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        text.parse::<IpNet>()
            .map(Self::from_net)
            .or_else(|_| text.parse::<IpAddr>().map(Self::from))
            .map_err(|_| CidrError {
                input: s.to_owned(),
            })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<IpAddr> for Cidr {
    fn from(ip: IpAddr) -> Self {
        Self::from_net(IpNet::from(canonical(ip)))
    }
}

impl From<&IpAddr> for Cidr {
    fn from(ip: &IpAddr) -> Self {
        Self::from(*ip)
    }
}

impl From<Ipv4Addr> for Cidr {
    fn from(ip: Ipv4Addr) -> Self {
        Self::from(IpAddr::V4(ip))
    }
}

impl From<Ipv6Addr> for Cidr {
    fn from(ip: Ipv6Addr) -> Self {
        Self::from(IpAddr::V6(ip))
    }
}

impl From<&Cidr> for Cidr {
    fn from(cidr: &Cidr) -> Self {
        *cidr
    }
}

/// A list of ranges; small lists (proxies, Stripe's dozen addresses) so a linear scan wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CidrSet(Box<[Cidr]>);

impl CidrSet {
    pub(crate) fn new(ranges: impl IntoIterator<Item = Cidr>) -> Self {
        Self(ranges.into_iter().collect())
    }

    /// Whether any range contains `ip`, which must already be canonical.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|range| range.0.contains(&ip))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_ranges_and_single_addresses() {
        let cases = [
            ("10.0.0.0/8", "10.0.0.0/8"),
            (" 10.1.2.3/8 ", "10.0.0.0/8"),
            ("192.0.2.7", "192.0.2.7/32"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("2001:db8::1", "2001:db8::1/128"),
            ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
            ("::ffff:192.0.2.7", "192.0.2.7/32"),
        ];
        for (input, expected) in cases {
            let cidr: Cidr = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(cidr.to_string(), expected, "{input}");
        }
        for bad in [
            "",
            "10.0.0.0/33",
            "2001:db8::/129",
            "localhost",
            "10.0.0/8",
            "1.2.3.4/",
        ] {
            let error = bad.parse::<Cidr>().unwrap_err();
            assert!(error.to_string().contains("is not an IP address"), "{bad}");
        }
        assert!(Cidr::new(ip("10.0.0.0"), 33).is_err());
        assert_eq!(
            Cidr::new(ip("10.9.9.9"), 16).unwrap().to_string(),
            "10.9.0.0/16"
        );
    }

    #[test]
    fn contains_treats_mapped_addresses_as_ipv4() {
        let range: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(range.contains(ip("10.255.0.1")));
        assert!(range.contains(ip("::ffff:10.255.0.1")));
        assert!(!range.contains(ip("11.0.0.0")));
        assert!(!range.contains(ip("2001:db8::1")));
        let set = CidrSet::new([range, Cidr::from(ip("2001:db8::1"))]);
        assert!(set.contains(ip("10.0.0.1")));
        assert!(set.contains(ip("2001:db8::1")));
        assert!(!set.contains(ip("2001:db8::2")));
        assert!(!CidrSet::default().contains(ip("10.0.0.1")));
    }
}
