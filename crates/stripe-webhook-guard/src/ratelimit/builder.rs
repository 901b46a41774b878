//! The rate-limit builder methods of [`Webhook`](crate::Webhook), written once for the tower
//! layer and the actix-web middleware.

impl<A> crate::Webhook<A> {
    /// Per-client budget for all requests, checked before the body is read. Default:
    /// 100 per second, bursts of 200 ([`DEFAULT_RATE_LIMIT`](crate::DEFAULT_RATE_LIMIT)),
    /// generous because Stripe sends everything from about a dozen addresses.
    ///
    /// Over it: `429 rate_limited` with `Retry-After` (whole seconds, rounded up, at
    /// least 1) and `RateLimit-Limit` / `-Remaining` / `-Reset`.
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn rate_limit(mut self, quota: crate::Quota) -> Self {
        self.config.rate_limit.requests = Some(quota);
        self.reconfigured()
    }

    /// Switches the per-client request budget off. The failure budget
    /// ([`failure_limit`](Self::failure_limit)) stays as it is.
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn no_rate_limit(mut self) -> Self {
        self.config.rate_limit.requests = None;
        self.reconfigured()
    }

    /// Per-client budget for failed verifications (any `Stripe-Signature` or timestamp
    /// error). A client that has used it up gets `429` on every request, before its body
    /// is read, until the budget refills. Default: 20 per minute
    /// ([`DEFAULT_FAILURE_LIMIT`](crate::DEFAULT_FAILURE_LIMIT)).
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn failure_limit(mut self, quota: crate::Quota) -> Self {
        self.config.rate_limit.failures = Some(quota);
        self.reconfigured()
    }

    /// Switches the failed-verification budget off. The request budget
    /// ([`rate_limit`](Self::rate_limit)) stays as it is.
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn no_failure_limit(mut self) -> Self {
        self.config.rate_limit.failures = None;
        self.reconfigured()
    }

    /// Proxies (addresses or CIDR ranges) whose forwarded header is believed; replaces
    /// any earlier list. Default: none, so the client is always the peer address and
    /// `X-Forwarded-For` / `Forwarded` are ignored.
    ///
    /// When the peer is in this list, the header chosen by
    /// [`forwarded_header`](Self::forwarded_header) is read from the right, skipping
    /// trusted hops; the first untrusted address is the client. List every proxy hop you
    /// run (load balancer, ingress), and nothing a client can reach directly.
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use stripe_webhook_guard::{Cidr, StripeWebhookLayer};
    ///
    /// let layer = StripeWebhookLayer::new("whsec_…").trusted_proxies([
    ///     Cidr::from(Ipv4Addr::LOCALHOST),
    ///     "10.0.0.0/8".parse::<Cidr>()?,
    /// ]);
    /// # Ok::<(), stripe_webhook_guard::CidrError>(())
    /// ```
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn trusted_proxies<I>(mut self, proxies: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<crate::Cidr>,
    {
        self.config.rate_limit.trusted_proxies = proxies.into_iter().map(Into::into).collect();
        self.reconfigured()
    }

    /// Which header the trusted proxies write the client address into. Default:
    /// `X-Forwarded-For` ([`ForwardedHeader::XForwardedFor`](crate::ForwardedHeader)).
    /// Only the chosen header is read: a header your proxy passes through untouched is
    /// written by the client.
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn forwarded_header(mut self, header: crate::ForwardedHeader) -> Self {
        self.config.rate_limit.forwarded_header = header;
        self.reconfigured()
    }

    /// How many leading bits of an IPv6 address identify one client. Default: 64
    /// ([`DEFAULT_IPV6_PREFIX`](crate::DEFAULT_IPV6_PREFIX)): one subscriber usually
    /// holds a whole /64 and can rotate through it freely. Use 56 or 48 against clients
    /// holding larger blocks, 128 to count every address alone. Values over 128 mean 128.
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn ipv6_prefix(mut self, bits: u8) -> Self {
        self.config.rate_limit.ipv6_prefix = bits.min(128);
        self.reconfigured()
    }

    /// Most clients tracked at once (at least 1), whatever the number of distinct
    /// addresses seen. Default: 100,000
    /// ([`DEFAULT_MAX_TRACKED_CLIENTS`](crate::DEFAULT_MAX_TRACKED_CLIENTS)), about
    /// 10 MiB at most. See the [guide](crate::rate_limit_guide) for what happens when that
    /// many clients are busy at once.
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn max_tracked_clients(mut self, clients: usize) -> Self {
        self.config.rate_limit.max_tracked_clients = clients.max(1);
        self.reconfigured()
    }

    /// Only these addresses or ranges may send; everyone else gets `403 ip_not_allowed`
    /// before anything else happens. Replaces any earlier list. Default: everyone may
    /// send. [`STRIPE_WEBHOOK_IPS`](crate::STRIPE_WEBHOOK_IPS) is Stripe's published list.
    ///
    /// The client address is resolved as for rate limiting (see
    /// [`trusted_proxies`](Self::trusted_proxies)); a request without a peer address is
    /// refused, since nothing shows it comes from the list.
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use stripe_webhook_guard::{Cidr, StripeWebhookLayer, STRIPE_WEBHOOK_IPS};
    ///
    /// let layer = StripeWebhookLayer::new("whsec_…").allow_only(
    ///     STRIPE_WEBHOOK_IPS
    ///         .into_iter()
    ///         .map(Cidr::from)
    ///         .chain([Cidr::from(Ipv4Addr::LOCALHOST)]), // `stripe listen` forwards locally
    /// );
    /// # let _ = layer;
    /// ```
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn allow_only<I>(mut self, ranges: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<crate::Cidr>,
    {
        self.config.rate_limit.allow_only = Some(ranges.into_iter().map(Into::into).collect());
        self.reconfigured()
    }

    /// Addresses or ranges never rate limited (neither budget is checked or charged);
    /// replaces any earlier list. The allow-list still applies to them. Default: none.
    /// Exempting [`STRIPE_WEBHOOK_IPS`](crate::STRIPE_WEBHOOK_IPS) keeps Stripe's own
    /// deliveries clear of any limit you tighten for everyone else.
    #[must_use = "builder methods return the changed value and leave `self` as it was"]
    pub fn exempt<I>(mut self, ranges: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<crate::Cidr>,
    {
        self.config.rate_limit.exempt = ranges.into_iter().map(Into::into).collect();
        self.reconfigured()
    }
}
