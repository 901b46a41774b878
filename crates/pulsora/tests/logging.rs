//! What the client logs: a dry run logs the exact body it would send (info, structured fields);
//! nothing ever logs the token.

mod support;

use pulsora::{Decimal, EventType, Revenue, RevenueBuilder, RevenueEvent};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// One captured log event: level and fields (the message is under `message`).
#[derive(Debug, Clone)]
struct Captured {
    level: Level,
    fields: BTreeMap<String, String>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Captured {
            level: *event.metadata().level(),
            fields,
        });
    }
}

fn event() -> RevenueEvent {
    RevenueEvent::new(EventType::Purchase, Decimal::new(1999, 2))
        .visitor_fingerprint("fp_abc")
        .session_id("sess_xyz")
        .customer_id("cus_42")
        .currency("EUR")
        .transaction_id("ch_1")
        .metadata(json!({ "coupon": "SPRING" }))
}

#[tokio::test]
async fn dry_run_logs_the_exact_body_and_succeeds() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));

    let revenue = Revenue::dry_run();
    assert!(revenue.is_dry_run());
    let receipt = revenue.track(&event()).await.unwrap();
    assert!(receipt.is_dry_run());
    assert_eq!(receipt.attempts, 0);

    let expected = r#"{"type":"revenue","data":{"visitor_fingerprint":"fp_abc","session_id":"sess_xyz","customer_id":"cus_42","amount":19.99,"currency":"EUR","transaction_id":"ch_1","event_type":"purchase","metadata":{"coupon":"SPRING"}}}"#;
    assert_eq!(revenue.request_body(&event()).unwrap(), expected);

    let logged = capture.0.lock().unwrap().clone();
    assert_eq!(logged.len(), 1, "{logged:?}");
    let line = &logged[0];
    assert_eq!(line.level, Level::INFO);
    assert_eq!(line.fields["body"], expected);
    assert_eq!(line.fields["dry_run"], "true");
    assert_eq!(line.fields["transaction_id"], "ch_1");
    assert_eq!(line.fields["event_type"], "purchase");
    assert_eq!(line.fields["endpoint"], pulsora::DEFAULT_ENDPOINT);
    assert_eq!(
        line.fields["message"],
        "pulsora dry run: revenue event not sent"
    );
}

#[tokio::test]
async fn dry_run_still_validates() {
    let revenue = Revenue::dry_run();
    let err = revenue
        .track(&event().transaction_id(" "))
        .await
        .unwrap_err();
    assert_eq!(
        err.message().as_deref(),
        Some("transaction_id is required.")
    );
}

#[tokio::test]
async fn environment_without_a_token_means_dry_run_and_no_token_is_ever_logged() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let revenue = RevenueBuilder::from_vars(|name| match name {
        "PULSORA_ENDPOINT" => Some("https://eu.example/api/ingest".into()),
        _ => None,
    })
    .build()
    .unwrap();
    assert!(revenue.is_dry_run());
    revenue.track(&event()).await.unwrap();
    let logged = capture.0.lock().unwrap().clone();
    assert_eq!(
        logged[0].fields["endpoint"],
        "https://eu.example/api/ingest"
    );
    assert!(!logged[0].fields["body"].contains("\"token\""));
}

#[tokio::test]
async fn retries_are_logged_without_the_token() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let server = support::Recorder::start(vec![
        support::Answer::new(500, "boom"),
        support::Answer::new(202, ""),
    ])
    .await;
    let revenue = Revenue::builder("sec_secret_token")
        .endpoint(&server.url)
        .base_backoff(std::time::Duration::from_millis(1))
        .build()
        .unwrap();
    revenue.track(&event()).await.unwrap();
    let logged = capture.0.lock().unwrap().clone();
    let warning = logged
        .iter()
        .find(|l| l.level == Level::WARN)
        .expect("a warning for the retried 500");
    assert_eq!(warning.fields["status"], "500");
    assert_eq!(warning.fields["attempt"], "1");
    assert_eq!(warning.fields["transaction_id"], "ch_1");
    for line in &logged {
        for value in line.fields.values() {
            assert!(!value.contains("sec_secret_token"), "{line:?}");
        }
    }
}
