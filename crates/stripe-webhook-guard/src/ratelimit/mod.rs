//! Per-client admission before the body is read: allow-list and rate limits.
//!
//! Interface used by the engine (keep it): `RateLimitConfig` (Clone + Debug + Default),
//! `Admission::new(&RateLimitConfig)`, `Admission::admit(&RequestHead) -> Result<ClientKey, Rejection>`,
//! `Admission::record_failure(&ClientKey)`, and the rate-limit builder methods of `Webhook`.
//!
//! Per request, in [`Admission::admit`]:
//!
//! 1. the client address is resolved ([`client_ip`]: peer, or right-most untrusted forwarded
//!    hop behind trusted proxies);
//! 2. not on the allow-list (when there is one) → `403 ip_not_allowed`;
//! 3. exempt → admitted, nothing counted;
//! 4. the client's bucket (IPv6 cut to a prefix) must not have exhausted its failure budget
//!    (peeked, not spent) and must have a request left in its request budget (spent) →
//!    otherwise `429 rate_limited` with `Retry-After` and `RateLimit-*` headers.
//!
//! After a verification failure the engine calls [`Admission::record_failure`], which spends
//! from the failure budget. The user-facing explanation is in [`guide`].
//!
//! Files: `quota.rs` ([`Quota`]), `gcra.rs` (the arithmetic), `table.rs` (bounded storage),
//! `limiter.rs` ([`ClientRateLimiter`]: both budgets over the table), `client_ip.rs` and
//! `forwarded.rs` (who is asking), `cidr.rs` ([`Cidr`]), `allow.rs` (allow/exempt lists and
//! [`STRIPE_WEBHOOK_IPS`]), `builder.rs` (the builder methods), `clock.rs`.

mod allow;
mod builder;
mod cidr;
mod client_ip;
mod clock;
mod forwarded;
mod gcra;
pub mod guide;
mod limiter;
mod quota;
mod table;

pub use allow::STRIPE_WEBHOOK_IPS;
pub use cidr::{Cidr, CidrError};
pub use forwarded::ForwardedHeader;
pub use limiter::ClientRateLimiter;
pub use quota::Quota;

use crate::engine::RequestHead;
use crate::rejection::Rejection;
use allow::AccessLists;
use cidr::CidrSet;
use client_ip::{bucket, ClientIpResolver, UNKNOWN_CLIENT};
use clock::LimiterClock;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

/// Default budget for all requests per client: 100 per second, bursts of 200. Generous on
/// purpose: Stripe sends every event from about a dozen addresses, and must never be
/// throttled by a normal burst (a bulk operation, a backlog being retried).
pub const DEFAULT_RATE_LIMIT: Quota = Quota::per_second(100).burst(200);

/// Default budget for failed verifications per client: 20 per minute (bursts of 20). Stripe
/// itself never fails verification once the secret is right, so this only bites clients
/// guessing signatures or replaying stale deliveries.
pub const DEFAULT_FAILURE_LIMIT: Quota = Quota::per_minute(20);

/// Largest body a client over its failure budget may still have verified, when it is signed
/// and declares its length: 256 KiB (Stripe's events are a few KiB). Whoever shares an address
/// with a forger (behind a proxy not listed as trusted, a CDN, a NAT) cannot have Stripe's
/// deliveries refused by the forger's failures, and a forger's hashing cost stays bounded by
/// the request budget times this size.
pub const SMALL_SIGNED_BODY: usize = 256 * 1024;

/// Default bound on the number of clients tracked at once: 100,000 (about 10 MiB when full).
pub const DEFAULT_MAX_TRACKED_CLIENTS: usize = 100_000;

/// Default IPv6 prefix a client is counted under: /64, the block one subscriber usually gets.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

/// Rate-limit and allow-list settings.
#[derive(Debug, Clone)]
pub(crate) struct RateLimitConfig {
    /// Budget for all requests; `None`: off.
    pub(crate) requests: Option<Quota>,
    /// Budget for failed verifications; `None`: off.
    pub(crate) failures: Option<Quota>,
    /// Peers whose forwarded headers are believed.
    pub(crate) trusted_proxies: Vec<Cidr>,
    /// Which forwarded header they write.
    pub(crate) forwarded_header: ForwardedHeader,
    /// IPv6 prefix length a client is counted under (0–128).
    pub(crate) ipv6_prefix: u8,
    /// Bound on tracked clients.
    pub(crate) max_tracked_clients: usize,
    /// `None`: everyone may send.
    pub(crate) allow_only: Option<Vec<Cidr>>,
    /// Never rate limited.
    pub(crate) exempt: Vec<Cidr>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            requests: Some(DEFAULT_RATE_LIMIT),
            failures: Some(DEFAULT_FAILURE_LIMIT),
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::default(),
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
            max_tracked_clients: DEFAULT_MAX_TRACKED_CLIENTS,
            allow_only: None,
            exempt: Vec::new(),
        }
    }
}

/// The key a client is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    /// The client's bucket (IPv6 cut to the prefix); `None`: no peer address was known.
    bucket: Option<IpAddr>,
    /// Exempt clients are never charged.
    exempt: bool,
    /// Stripe's published addresses are never charged failures (a forger cannot send from them).
    stripe: bool,
    /// Over its failure budget: admitted only for a small signed body.
    pub(crate) over_failure_budget: bool,
}

impl ClientKey {
    /// The address the client is counted under (the unknown-client bucket without a peer).
    pub(crate) fn limiter_key(&self) -> IpAddr {
        self.bucket.unwrap_or(UNKNOWN_CLIENT)
    }
}

/// Decides whether a request may proceed.
#[derive(Debug)]
pub(crate) struct Admission {
    resolver: ClientIpResolver,
    ipv6_prefix: u8,
    access: AccessLists,
    /// `None` when both budgets are off.
    limiter: Option<ClientRateLimiter>,
    warned_unknown_peer: AtomicBool,
    warned_untrusted_forwarding: AtomicBool,
    stripe_ips: CidrSet,
}

impl Admission {
    pub(crate) fn new(config: &RateLimitConfig) -> Self {
        Self::with_clock(config, LimiterClock::monotonic())
    }

    fn with_clock(config: &RateLimitConfig, clock: LimiterClock) -> Self {
        let limiter = (config.requests.is_some() || config.failures.is_some()).then(|| {
            ClientRateLimiter::with_clock(
                config.requests,
                config.failures,
                config.max_tracked_clients,
                clock,
            )
        });
        Self {
            resolver: ClientIpResolver {
                trusted: CidrSet::new(config.trusted_proxies.iter().copied()),
                header: config.forwarded_header,
            },
            ipv6_prefix: config.ipv6_prefix,
            access: AccessLists {
                allow: config
                    .allow_only
                    .as_ref()
                    .map(|list| CidrSet::new(list.iter().copied())),
                exempt: CidrSet::new(config.exempt.iter().copied()),
            },
            limiter,
            warned_unknown_peer: AtomicBool::new(false),
            warned_untrusted_forwarding: AtomicBool::new(false),
            stripe_ips: CidrSet::new(STRIPE_WEBHOOK_IPS.iter().map(Cidr::from)),
        }
    }

    pub(crate) fn admit(&self, head: &RequestHead) -> Result<ClientKey, Rejection> {
        let client = self
            .resolver
            .resolve(head.peer, &head.forwarded_for, &head.forwarded);
        if client.is_none() {
            self.warn_unknown_peer_once();
        } else if !(head.forwarded_for.is_empty() && head.forwarded.is_empty())
            && head
                .peer
                .is_some_and(|peer| !self.resolver.trusted.contains(client_ip::canonical(peer)))
        {
            self.warn_untrusted_forwarding_once(client);
        }
        if !self.access.allows(client) {
            return Err(Rejection::IpNotAllowed);
        }
        let mut key = ClientKey {
            bucket: client.map(|ip| bucket(ip, self.ipv6_prefix)),
            exempt: self.access.is_exempt(client),
            stripe: client.is_some_and(|ip| self.stripe_ips.contains(ip)),
            over_failure_budget: false,
        };
        // A signed body of a declared small size is verified even for a client over its
        // failure budget: the failures may be someone else's behind the same address.
        let small_signed = matches!(head.signature, crate::engine::SignatureValue::One(_))
            && crate::body::declared_length(head.content_length.as_deref())
                .is_some_and(|len| len <= SMALL_SIGNED_BODY as u64);
        if let (Some(limiter), false) = (&self.limiter, key.exempt) {
            key.over_failure_budget =
                limiter.check_tolerating_failures(key.limiter_key(), small_signed)?;
        }
        Ok(key)
    }

    /// Charges a failure: a signature that was hashed and did not match (or was out of its
    /// time window), or a body that did not arrive in time. Requests refused before any
    /// hashing (no or malformed `Stripe-Signature`) are never charged: they cost nothing, and
    /// charging them would let anyone sharing the address exhaust Stripe's budget.
    pub(crate) fn record_failure(&self, key: &ClientKey) {
        if let (Some(limiter), false, false) = (&self.limiter, key.exempt, key.stripe) {
            limiter.record_failure(key.limiter_key());
        }
    }

    /// Forwarded headers from a peer that is not a trusted proxy are ignored (anyone can write
    /// them). If the peer is in fact your proxy, every client behind it shares one budget:
    /// say so, once.
    fn warn_untrusted_forwarding_once(&self, peer: Option<IpAddr>) {
        if !self.warned_untrusted_forwarding.load(Ordering::Relaxed)
            && !self
                .warned_untrusted_forwarding
                .swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                ip = peer.map(tracing::field::display),
                "Stripe webhook request with X-Forwarded-For/Forwarded from a peer that is not a \
                 trusted proxy: the header is ignored and the peer is the client. If this is your \
                 proxy or load balancer, list it in trusted_proxies (STRIPE_PULSORA_TRUSTED_PROXIES) \
                 so its clients get their own budgets. (Logged once.)"
            );
        }
    }

    /// Without a peer address every client shares one bucket: a misconfiguration that should
    /// be loud, but once, not per request.
    fn warn_unknown_peer_once(&self) {
        if !self.warned_unknown_peer.load(Ordering::Relaxed)
            && !self.warned_unknown_peer.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "Stripe webhook request without a peer address: all such requests share one \
                 rate-limit bucket and fail any allow-list. With axum, serve the app with \
                 `into_make_service_with_connect_info::<SocketAddr>()`."
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SignatureValue;
    use bytes::Bytes;
    use clock::ManualClock;
    use std::time::Duration;

    fn head(peer: Option<&str>, xff: &[&str]) -> RequestHead {
        RequestHead {
            peer: peer.map(|p| p.parse().unwrap()),
            signature: SignatureValue::Missing,
            content_length: None,
            forwarded_for: xff
                .iter()
                .map(|v| Bytes::copy_from_slice(v.as_bytes()))
                .collect(),
            forwarded: Vec::new(),
        }
    }

    fn admission_with(config: RateLimitConfig) -> (Admission, ManualClock) {
        let clock = ManualClock::default();
        clock.advance(Duration::from_secs(1));
        (Admission::with_clock(&config, clock.clock()), clock)
    }

    fn code(result: Result<ClientKey, Rejection>) -> &'static str {
        match result {
            Ok(_) => "ok",
            Err(rejection) => rejection.code(),
        }
    }

    #[test]
    fn defaults_are_generous_for_requests_and_strict_for_failures() {
        let (admission, _clock) = admission_with(RateLimitConfig::default());
        let stripe = head(Some("54.187.216.72"), &[]);
        for _ in 0..200 {
            assert_eq!(code(admission.admit(&stripe)), "ok");
        }
        assert_eq!(code(admission.admit(&stripe)), "rate_limited");

        let prober = head(Some("203.0.113.66"), &[]);
        for _ in 0..20 {
            let key = admission.admit(&prober).unwrap();
            admission.record_failure(&key);
        }
        assert_eq!(code(admission.admit(&prober)), "rate_limited");
    }

    #[test]
    fn failure_budget_refusal_waits_for_refill() {
        let config = RateLimitConfig {
            failures: Some(Quota::per_minute(2)),
            ..RateLimitConfig::default()
        };
        let (admission, clock) = admission_with(config);
        let prober = head(Some("203.0.113.66"), &[]);
        for _ in 0..2 {
            let key = admission.admit(&prober).unwrap();
            admission.record_failure(&key);
        }
        match admission.admit(&prober) {
            Err(Rejection::RateLimited { retry_after, limit }) => {
                assert_eq!(retry_after, Duration::from_secs(30));
                assert_eq!(limit, 2);
            }
            other => panic!("{other:?}"),
        }
        clock.advance(Duration::from_secs(30));
        assert_eq!(code(admission.admit(&prober)), "ok");
    }

    #[test]
    fn ipv6_clients_in_one_prefix_share_a_budget() {
        let config = RateLimitConfig {
            requests: Some(Quota::per_minute(2)),
            ..RateLimitConfig::default()
        };
        let (admission, _clock) = admission_with(config.clone());
        assert_eq!(
            code(admission.admit(&head(Some("2001:db8:0:1::1"), &[]))),
            "ok"
        );
        assert_eq!(
            code(admission.admit(&head(Some("2001:db8:0:1::2"), &[]))),
            "ok"
        );
        assert_eq!(
            code(admission.admit(&head(Some("2001:db8:0:1:ffff::3"), &[]))),
            "rate_limited"
        );
        assert_eq!(
            code(admission.admit(&head(Some("2001:db8:0:2::1"), &[]))),
            "ok"
        );

        // With /128 each address is its own client.
        let (per_address, _clock) = admission_with(RateLimitConfig {
            ipv6_prefix: 128,
            ..config
        });
        for last in 1..=3 {
            let peer = format!("2001:db8:0:1::{last}");
            assert_eq!(code(per_address.admit(&head(Some(&peer), &[]))), "ok");
        }
    }

    #[test]
    fn trusted_proxy_forwards_the_right_most_untrusted_client() {
        let config = RateLimitConfig {
            requests: Some(Quota::per_minute(1)),
            trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
            ..RateLimitConfig::default()
        };
        let (admission, _clock) = admission_with(config);
        let via_proxy = |xff: &str| head(Some("127.0.0.1"), &[xff]);
        assert_eq!(code(admission.admit(&via_proxy("9.9.9.9, 1.2.3.4"))), "ok");
        // Changing the spoofable left part does not give a new budget.
        assert_eq!(
            code(admission.admit(&via_proxy("8.8.8.8, 1.2.3.4"))),
            "rate_limited"
        );
        assert_eq!(code(admission.admit(&via_proxy("9.9.9.9, 5.6.7.8"))), "ok");
    }

    #[test]
    fn allow_list_refuses_others_and_unknown_peers() {
        let config = RateLimitConfig {
            allow_only: Some(STRIPE_WEBHOOK_IPS.iter().map(Cidr::from).collect()),
            ..RateLimitConfig::default()
        };
        let (admission, _clock) = admission_with(config);
        assert_eq!(code(admission.admit(&head(Some("3.18.12.63"), &[]))), "ok");
        assert_eq!(
            code(admission.admit(&head(Some("3.18.12.64"), &[]))),
            "ip_not_allowed"
        );
        assert_eq!(code(admission.admit(&head(None, &[]))), "ip_not_allowed");
        // A forged header from an untrusted peer does not get through.
        assert_eq!(
            code(admission.admit(&head(Some("6.6.6.6"), &["3.18.12.63"]))),
            "ip_not_allowed"
        );
    }

    #[test]
    fn exempt_clients_are_never_limited_nor_charged() {
        let config = RateLimitConfig {
            requests: Some(Quota::per_minute(1)),
            failures: Some(Quota::per_minute(1)),
            exempt: vec!["10.0.0.0/8".parse().unwrap()],
            ..RateLimitConfig::default()
        };
        let (admission, _clock) = admission_with(config);
        let internal = head(Some("10.1.2.3"), &[]);
        for _ in 0..50 {
            let key = admission.admit(&internal).unwrap();
            admission.record_failure(&key);
        }
        assert_eq!(admission.limiter.as_ref().unwrap().tracked_clients(), 0);
    }

    #[test]
    fn unknown_peers_share_one_bucket_and_do_not_panic() {
        let config = RateLimitConfig {
            requests: Some(Quota::per_minute(2)),
            ..RateLimitConfig::default()
        };
        let (admission, _clock) = admission_with(config);
        assert_eq!(code(admission.admit(&head(None, &[]))), "ok");
        assert_eq!(code(admission.admit(&head(None, &["1.2.3.4"]))), "ok");
        assert_eq!(code(admission.admit(&head(None, &[]))), "rate_limited");
        assert!(admission.warned_unknown_peer.load(Ordering::Relaxed));
        // Real clients are unaffected.
        assert_eq!(code(admission.admit(&head(Some("192.0.2.1"), &[]))), "ok");
    }

    #[test]
    fn everything_off_admits_everyone() {
        let config = RateLimitConfig {
            requests: None,
            failures: None,
            ..RateLimitConfig::default()
        };
        let (admission, _clock) = admission_with(config);
        assert!(admission.limiter.is_none());
        let client = head(Some("192.0.2.1"), &[]);
        for _ in 0..1000 {
            let key = admission.admit(&client).unwrap();
            admission.record_failure(&key);
        }
    }
}
