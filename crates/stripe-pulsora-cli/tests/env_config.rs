//! Every environment variable: a good value is read, a bad one is refused with a message that
//! names the variable and shows a good value.

use std::time::Duration;
use stripe_pulsora_cli::{EnvConfig, LimitSetting, LogFormat, RateSetting, StoreSetting};

fn with(vars: &[(&str, &str)]) -> Result<EnvConfig, stripe_pulsora_cli::ConfigError> {
    EnvConfig::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn refused(variable: &str, value: &str) -> String {
    let err =
        with(&[(variable, value)]).expect_err(&format!("{variable}={value} should be refused"));
    assert_eq!(err.variable, variable);
    let message = err.to_string();
    assert!(message.starts_with(variable), "{message}");
    assert!(message.contains("for example"), "{message}");
    message
}

#[test]
fn defaults_with_an_empty_environment() {
    let c = with(&[]).unwrap();
    assert!(c.webhook_secrets.is_empty());
    assert_eq!(c.bind.to_string(), "127.0.0.1:3000");
    assert_eq!(c.pulsora_token, None);
    assert_eq!(c.store, StoreSetting::Memory);
    assert_eq!(c.rate_limit, LimitSetting::Default);
    assert_eq!(c.failure_limit, LimitSetting::Default);
    assert_eq!(c.tolerance, Duration::from_secs(300));
    assert_eq!(c.log_format, LogFormat::Text);
}

#[test]
fn webhook_secrets() {
    let c = with(&[(
        "STRIPE_WEBHOOK_SECRET",
        "whsec_a_0123456789abcdef0123456789abcdef, whsec_b_0123456789abcdef0123456789abcdef",
    )])
    .unwrap();
    assert_eq!(
        c.webhook_secrets,
        vec![
            "whsec_a_0123456789abcdef0123456789abcdef",
            "whsec_b_0123456789abcdef0123456789abcdef"
        ]
    );
    let message = refused("STRIPE_WEBHOOK_SECRET", "sk_live_oops");
    assert!(
        !message.contains("sk_live_oops"),
        "the secret must not be echoed: {message}"
    );
}

#[test]
fn bind() {
    assert_eq!(
        with(&[("BIND", "0.0.0.0:8080")]).unwrap().bind.to_string(),
        "0.0.0.0:8080"
    );
    refused("BIND", "localhost");
}

#[test]
fn pulsora_token_and_endpoint() {
    let c = with(&[
        ("PULSORA_API_TOKEN", "sec_123"),
        ("PULSORA_ENDPOINT", "http://127.0.0.1:9/ingest"),
    ])
    .unwrap();
    assert_eq!(c.pulsora_token.as_deref(), Some("sec_123"));
    assert_eq!(
        c.pulsora_endpoint.as_deref(),
        Some("http://127.0.0.1:9/ingest")
    );
    assert!(
        !format!("{c:?}").contains("sec_123"),
        "Debug must redact the token"
    );
    let message = refused("PULSORA_API_TOKEN", "pub_abc");
    assert!(!message.contains("pub_abc"));
    refused("PULSORA_ENDPOINT", "pulsora.co/api/ingest");
}

#[test]
fn replay_store() {
    assert_eq!(
        with(&[("STRIPE_PULSORA_REPLAY_STORE", "memory")])
            .unwrap()
            .store,
        StoreSetting::Memory
    );
    assert_eq!(
        with(&[("STRIPE_PULSORA_REPLAY_STORE", "sqlite:/tmp/x.db")])
            .unwrap()
            .store,
        StoreSetting::Sqlite("/tmp/x.db".into())
    );
    assert_eq!(
        with(&[("STRIPE_PULSORA_REPLAY_STORE", "redis://127.0.0.1:6379/")])
            .unwrap()
            .store,
        StoreSetting::Redis("redis://127.0.0.1:6379/".into())
    );
    for url in ["postgres://app@db/payments", "postgresql://app@db/payments"] {
        assert_eq!(
            with(&[("STRIPE_PULSORA_REPLAY_STORE", url)]).unwrap().store,
            StoreSetting::Postgres(url.into())
        );
    }
    refused("STRIPE_PULSORA_REPLAY_STORE", "mysql://x");
    refused("STRIPE_PULSORA_REPLAY_STORE", "sqlite:");
}

#[test]
fn rate_limits() {
    assert_eq!(
        with(&[("STRIPE_PULSORA_RATE_LIMIT", "100/200")])
            .unwrap()
            .rate_limit,
        LimitSetting::Set(RateSetting {
            per_second: 100,
            burst: 200
        })
    );
    assert_eq!(
        with(&[("STRIPE_PULSORA_RATE_LIMIT", "off")])
            .unwrap()
            .rate_limit,
        LimitSetting::Off
    );
    refused("STRIPE_PULSORA_RATE_LIMIT", "100");
    refused("STRIPE_PULSORA_RATE_LIMIT", "0/10");
    assert_eq!(
        with(&[("STRIPE_PULSORA_FAILURE_LIMIT", "20")])
            .unwrap()
            .failure_limit,
        LimitSetting::Set(20)
    );
    assert_eq!(
        with(&[("STRIPE_PULSORA_FAILURE_LIMIT", "off")])
            .unwrap()
            .failure_limit,
        LimitSetting::Off
    );
    refused("STRIPE_PULSORA_FAILURE_LIMIT", "-1");
}

#[test]
fn trusted_proxies() {
    let c = with(&[(
        "STRIPE_PULSORA_TRUSTED_PROXIES",
        "10.0.0.0/8, 192.168.1.10,::1/128",
    )])
    .unwrap();
    let expected: Vec<stripe_pulsora::stripe_webhook_guard::Cidr> =
        ["10.0.0.0/8", "192.168.1.10", "::1/128"]
            .iter()
            .map(|c| c.parse().unwrap())
            .collect();
    // Parsed once, into typed ranges.
    assert_eq!(c.trusted_proxies, expected);
    refused("STRIPE_PULSORA_TRUSTED_PROXIES", "10.0.0.0/33");
    refused("STRIPE_PULSORA_TRUSTED_PROXIES", "proxy.local");
}

#[test]
fn body_limit_and_tolerance() {
    assert_eq!(
        with(&[("STRIPE_PULSORA_MAX_BODY", "65536")])
            .unwrap()
            .max_body,
        65536
    );
    refused("STRIPE_PULSORA_MAX_BODY", "1MB");
    assert_eq!(
        with(&[("STRIPE_PULSORA_TOLERANCE", "600")])
            .unwrap()
            .tolerance,
        Duration::from_secs(600)
    );
    refused("STRIPE_PULSORA_TOLERANCE", "0");
}

#[test]
fn stripe_api_key_and_log_format() {
    assert!(with(&[("STRIPE_API_KEY", "rk_test_1")])
        .unwrap()
        .stripe_api_key
        .is_some());
    let message = refused(
        "STRIPE_API_KEY",
        "whsec_not_a_key_0123456789abcdef0123456789abcdef",
    );
    assert!(!message.contains("whsec_not_a_key_0123456789abcdef0123456789abcdef"));
    assert_eq!(
        with(&[("STRIPE_PULSORA_LOG_FORMAT", "json")])
            .unwrap()
            .log_format,
        LogFormat::Json
    );
    refused("STRIPE_PULSORA_LOG_FORMAT", "xml");
    assert_eq!(with(&[]).unwrap().stripe_api_base, "https://api.stripe.com");
    assert_eq!(
        with(&[("STRIPE_API_BASE", "http://127.0.0.1:12111/")])
            .unwrap()
            .stripe_api_base,
        "http://127.0.0.1:12111"
    );
    refused("STRIPE_API_BASE", "api.stripe.com");
}

#[test]
fn shutdown_deadline() {
    assert_eq!(
        with(&[]).unwrap().shutdown_deadline,
        Duration::from_secs(20)
    );
    assert_eq!(
        with(&[("STRIPE_PULSORA_SHUTDOWN_DEADLINE", "2")])
            .unwrap()
            .shutdown_deadline,
        Duration::from_secs(2)
    );
    refused("STRIPE_PULSORA_SHUTDOWN_DEADLINE", "soon");
}

#[test]
fn state_is_durable_by_default() {
    // A live token without a chosen store: the embedded SQLite file.
    let live = with(&[
        ("PULSORA_API_TOKEN", "sec_x"),
        ("STATE_DIRECTORY", "/var/lib/sp"),
    ])
    .unwrap();
    let dry = with(&[]).unwrap();
    let chosen = with(&[
        ("PULSORA_API_TOKEN", "sec_x"),
        ("STRIPE_PULSORA_REPLAY_STORE", "memory"),
    ])
    .unwrap();
    if cfg!(feature = "sqlite") {
        assert_eq!(
            live.store,
            StoreSetting::Sqlite("/var/lib/sp/stripe-pulsora.sqlite3".into())
        );
        // A dry run stays in memory, except under `serve`.
        assert_eq!(dry.store, StoreSetting::Memory);
        assert_eq!(
            dry.durable_by_default().store,
            StoreSetting::Sqlite("./stripe-pulsora.sqlite3".into())
        );
    }
    // Memory only when chosen, even for `serve`.
    assert_eq!(
        chosen.clone().durable_by_default().store,
        StoreSetting::Memory
    );
}

#[test]
fn delivery_and_the_outbox_settings() {
    use stripe_pulsora_cli::Delivery;
    let c = with(&[]).unwrap();
    assert_eq!(c.delivery, Delivery::Outbox);
    assert_eq!(c.outbox.horizon, Duration::from_secs(7 * 86_400));
    assert_eq!(c.outbox.max_backoff, Duration::from_secs(600));
    assert_eq!(c.outbox.replay_lease, None);
    let c = with(&[
        ("STRIPE_PULSORA_DELIVERY", "inline"),
        ("STRIPE_PULSORA_OUTBOX_HORIZON", "36h"),
        ("STRIPE_PULSORA_OUTBOX_MAX_BACKOFF", "90"),
        ("STRIPE_PULSORA_REPLAY_LEASE", "1m"),
    ])
    .unwrap();
    assert_eq!(c.delivery, Delivery::Inline);
    assert_eq!(c.outbox.horizon, Duration::from_secs(36 * 3600));
    assert_eq!(c.outbox.max_backoff, Duration::from_secs(90));
    assert_eq!(c.outbox.replay_lease, Some(Duration::from_secs(60)));
    assert!(refused("STRIPE_PULSORA_DELIVERY", "later").contains("outbox"));
    assert!(refused("STRIPE_PULSORA_OUTBOX_HORIZON", "7x").contains("7d"));
    assert!(refused("STRIPE_PULSORA_OUTBOX_HORIZON", "31d").contains("2592000"));
    refused("STRIPE_PULSORA_OUTBOX_MAX_BACKOFF", "0");
    refused("STRIPE_PULSORA_REPLAY_LEASE", "2h");
}
