//! Stripe's published webhook addresses, and the allow and exempt lists built from them or
//! from the user's own ranges.

use super::cidr::CidrSet;
use std::net::{IpAddr, Ipv4Addr};

/// The addresses Stripe sends webhooks from, as published at `docs.stripe.com/ips`
/// (machine-readable: `https://stripe.com/files/ips/ips_webhooks.json`, key `WEBHOOKS`).
///
/// For [`allow_only`](crate::StripeWebhookLayer::allow_only), or to
/// [`exempt`](crate::StripeWebhookLayer::exempt) Stripe from the rate limits. Stripe gives
/// seven days' notice of changes on its API announcements list; a crate release may lag
/// behind, so if you allow-list, also watch that list (or load the JSON at startup and pass
/// it instead). Signature verification stays the real protection: an allow-list is defence
/// in depth, and it needs the true client address (configure
/// [`trusted_proxies`](crate::StripeWebhookLayer::trusted_proxies) behind a proxy). The
/// Stripe CLI (`stripe listen`) forwards from your own machine, so allow `127.0.0.1` too
/// when developing with it.
///
/// ```
/// use stripe_webhook_guard::{StripeWebhookLayer, STRIPE_WEBHOOK_IPS};
///
/// let layer = StripeWebhookLayer::new("whsec_…").allow_only(STRIPE_WEBHOOK_IPS);
/// # let _ = layer;
/// ```
pub const STRIPE_WEBHOOK_IPS: [IpAddr; 12] = [
    v4(3, 18, 12, 63),
    v4(3, 130, 192, 231),
    v4(13, 235, 14, 237),
    v4(13, 235, 122, 149),
    v4(18, 211, 135, 69),
    v4(35, 154, 171, 200),
    v4(52, 15, 183, 38),
    v4(54, 88, 130, 119),
    v4(54, 88, 130, 237),
    v4(54, 187, 174, 169),
    v4(54, 187, 205, 235),
    v4(54, 187, 216, 72),
];

const fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// Who may send at all, and who is never rate limited.
#[derive(Debug, Clone, Default)]
pub(crate) struct AccessLists {
    /// `None`: everyone may send.
    pub(crate) allow: Option<CidrSet>,
    pub(crate) exempt: CidrSet,
}

impl AccessLists {
    /// Whether a client may send; an unknown client only when there is no allow-list
    /// (nothing proves it is on the list).
    pub(crate) fn allows(&self, client: Option<IpAddr>) -> bool {
        match (&self.allow, client) {
            (None, _) => true,
            (Some(list), Some(ip)) => list.contains(ip),
            (Some(_), None) => false,
        }
    }

    /// Whether a client skips the rate limits.
    pub(crate) fn is_exempt(&self, client: Option<IpAddr>) -> bool {
        client.is_some_and(|ip| !self.exempt.is_empty() && self.exempt.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::cidr::Cidr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_published_list_as_text() {
        let text = STRIPE_WEBHOOK_IPS.map(|ip| ip.to_string()).join(", ");
        assert_eq!(
            text,
            "3.18.12.63, 3.130.192.231, 13.235.14.237, 13.235.122.149, 18.211.135.69, \
             35.154.171.200, 52.15.183.38, 54.88.130.119, 54.88.130.237, 54.187.174.169, \
             54.187.205.235, 54.187.216.72"
        );
    }

    #[test]
    fn allow_and_exempt() {
        let open = AccessLists::default();
        assert!(open.allows(Some(ip("192.0.2.1"))));
        assert!(open.allows(None));
        assert!(!open.is_exempt(Some(ip("192.0.2.1"))));

        let stripe_only = AccessLists {
            allow: Some(CidrSet::new(STRIPE_WEBHOOK_IPS.iter().map(Cidr::from))),
            exempt: CidrSet::new(["10.0.0.0/8".parse::<Cidr>().unwrap()]),
        };
        assert!(stripe_only.allows(Some(ip("54.187.216.72"))));
        assert!(!stripe_only.allows(Some(ip("54.187.216.73"))));
        assert!(!stripe_only.allows(None));
        assert!(stripe_only.is_exempt(Some(ip("10.9.9.9"))));
        assert!(!stripe_only.is_exempt(None));
    }
}
