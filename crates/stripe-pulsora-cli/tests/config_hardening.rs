//! Issue 18 §6, §7, §11: configuration an attacker or a tired operator could get wrong, checked
//! on the real binary and the axum example as processes on loopback.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use stripe_pulsora::StripeWebhookLayer;
use stripe_pulsora_cli::EnvConfig;

const SECRET: &str = "whsec_config_hardening_0123456789abcdef0123";

fn vars(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = vec![("STRIPE_WEBHOOK_SECRET".to_owned(), SECRET.to_owned())];
    all.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    all
}

fn config_error(extra: &[(&str, &str)]) -> String {
    match EnvConfig::from_vars(vars(extra)) {
        Ok(_) => "accepted".to_owned(),
        Err(error) => error.to_string(),
    }
}

#[test]
fn weak_secrets_are_refused_by_the_configuration_and_the_builder() {
    for weak in [
        "whsec_",
        "whsec_short",
        "whsec_0123456789abcdef0123456789abcde",
    ] {
        let message = config_error(&[("STRIPE_WEBHOOK_SECRET", weak)]);
        assert!(message.starts_with("STRIPE_WEBHOOK_SECRET"), "{message}");
        assert!(message.contains("too weak"), "{message}");
        // Never echoed (`whsec_` alone is part of the explanation).
        assert!(weak == "whsec_" || !message.contains(weak), "{message}");
        assert!(StripeWebhookLayer::try_new(weak).is_err());
        assert!(StripeWebhookLayer::new(weak).validate().is_err());
    }
    // A rotation list is refused if any of its secrets is weak.
    let message = config_error(&[("STRIPE_WEBHOOK_SECRET", &format!("{SECRET},whsec_old"))]);
    assert!(message.contains("too weak"), "{message}");
    assert_eq!(config_error(&[]), "accepted");
    assert!(StripeWebhookLayer::try_new(SECRET).is_ok());
}

/// §6 over a socket: a layer built with `new("whsec_")` fails closed; a forged event signed
/// with that public key is not accepted (it was answered `200 {"sent":1}`).
#[tokio::test]
async fn a_layer_with_a_weak_secret_accepts_nothing() {
    use axum::routing::post;
    let app = axum::Router::new()
        .route("/hook", post(|| async { "handled" }))
        .layer(StripeWebhookLayer::new("whsec_"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    let body = r#"{"id":"evt_forged","object":"event","type":"invoice.paid","created":1,"data":{"object":{"id":"in_1"}}}"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let forged = reqwest::Client::new()
        .post(format!("http://{addr}/hook"))
        .header(
            "stripe-signature",
            stripe_pulsora::sign(body.as_bytes(), "whsec_", now),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 500);
    let answer: serde_json::Value = forged.json().await.unwrap();
    assert_eq!(answer["error"], "weak_secret");
}

#[test]
fn clear_text_endpoints_long_tolerances_are_refused() {
    let message = config_error(&[("PULSORA_ENDPOINT", "http://pulsora.example/api/ingest")]);
    assert!(
        message.starts_with("PULSORA_ENDPOINT") && message.contains("clear text"),
        "{message}"
    );
    for fine in [
        "https://pulsora.example/api/ingest",
        "http://127.0.0.1:9/api/ingest",
        "http://localhost:9/api/ingest",
        "http://[::1]:9/api/ingest",
    ] {
        assert_eq!(
            config_error(&[("PULSORA_ENDPOINT", fine)]),
            "accepted",
            "{fine}"
        );
    }
    assert_eq!(
        config_error(&[
            ("PULSORA_ENDPOINT", "http://10.0.0.5/api/ingest"),
            ("STRIPE_PULSORA_ALLOW_INSECURE_ENDPOINT", "1"),
        ]),
        "accepted"
    );
    for huge in ["1000000000000000000", "3601", "0"] {
        let message = config_error(&[("STRIPE_PULSORA_TOLERANCE", huge)]);
        assert!(
            message.starts_with("STRIPE_PULSORA_TOLERANCE"),
            "{huge}: {message}"
        );
    }
    assert_eq!(
        config_error(&[("STRIPE_PULSORA_TOLERANCE", "3600")]),
        "accepted"
    );
    assert!(config_error(&[("STRIPE_PULSORA_INLINE_BUDGET", "60")]).contains("1 to 20"));
}

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stripe-pulsora"));
    command.env_clear();
    // `serve` keeps state in SQLite by default: one directory per process.
    command.env("STATE_DIRECTORY", tempfile::tempdir().unwrap().keep());
    command
}

/// A child process whose standard output is read line by line until a pattern shows up.
struct Logged {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Logged {
    fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line containing `needle`, within 20 s.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no line with {needle:?} in {:#?}", self.seen);
    }

    /// Every line read so far plus what arrives within `wait`.
    fn drain(&mut self, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => break,
            }
        }
        self.seen.join("\n")
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port in `… http://127.0.0.1:PORT/…`.
fn port_in(line: &str) -> u16 {
    let rest = &line[line.find("http://127.0.0.1:").expect("an address") + 17..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port")
}

/// §7 and §11 on the running binary: `BIND=…:0` logs the real port, logs to a pipe have no
/// colours, a misspelled variable is named with its correction, and the dry-run line never
/// shows the endpoint's credentials.
#[tokio::test]
async fn the_binary_logs_what_an_operator_needs_and_nothing_secret() {
    let mut command = binary();
    command
        .arg("serve")
        .env("STRIPE_WEBHOOK_SECRET", SECRET)
        .env("BIND", "127.0.0.1:0")
        .env(
            "PULSORA_ENDPOINT",
            "https://user:hunter2@pulsora.example/api/ingest",
        )
        .env("STRIPE_PULSORA_TOLERENCE", "5")
        .env("RUST_LOG", "info");
    let mut server = Logged::spawn(command);
    let listening = server.wait_for("listening on");
    let port = port_in(&listening);
    assert_ne!(port, 0, "{listening}");

    let event = stripe_pulsora::stripe_revenue::fixtures::scenario(
        "purchase_refunds",
        stripe_pulsora::stripe_revenue::fixtures::ApiShape::Basil,
        1_700_400_000,
    )
    .unwrap()
    .remove(0);
    let url = format!("http://127.0.0.1:{port}/api/webhooks/stripe");
    let attempts = stripe_pulsora_cli::trigger::deliver(
        &reqwest::Client::new(),
        &url,
        SECRET,
        &event,
        0,
        Duration::ZERO,
    )
    .await;
    assert_eq!(attempts[0].status, Some(200), "{attempts:?}");
    server.wait_for("pulsora dry run");
    let log = server.drain(Duration::from_millis(200));
    assert!(
        log.contains("did you mean STRIPE_PULSORA_TOLERANCE?"),
        "{log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escapes in a piped log: {log}"
    );
    assert!(!log.contains("hunter2") && !log.contains("user:"), "{log}");
}

#[test]
fn help_never_starts_the_server_and_sign_reads_the_secret_from_the_environment_or_stdin() {
    for args in [
        &["serve", "--help"][..],
        &["sign", "--help"],
        &["serve", "-h"],
    ] {
        let output = binary()
            .args(args)
            .env("STRIPE_WEBHOOK_SECRET", SECRET)
            .env("BIND", "127.0.0.1:1")
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {output:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("Usage: stripe-pulsora"), "{args:?}: {help}");
        // The secret's value is never printed, even where the help shows the variable.
        assert!(!help.contains(SECRET), "{args:?}: {help}");
    }

    let payload = br#"{"id":"evt_1","object":"event"}"#;
    let sign = |command: &mut Command, stdin: &[u8]| {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    let verifier = stripe_pulsora::stripe_webhook_guard::Verifier::new(SECRET);
    let from_env = sign(
        binary()
            .args(["sign", "--timestamp", "1700000000"])
            .env("STRIPE_WEBHOOK_SECRET", SECRET),
        payload,
    );
    assert_eq!(
        verifier.verify_at(from_env.as_bytes(), payload, 1_700_000_000),
        Ok(1_700_000_000)
    );
    let mut stdin = format!("{SECRET}\n").into_bytes();
    stdin.extend_from_slice(payload);
    let from_stdin = sign(
        binary().args(["sign", "--secret-stdin", "--timestamp", "1700000000"]),
        &stdin,
    );
    assert_eq!(from_stdin, from_env);
}

/// §11: the axum example serves `/healthz` outside the webhook layer (it answered 400).
#[tokio::test]
async fn the_axum_example_answers_healthz() {
    // `cargo test` builds the examples next to the test binaries.
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("examples").join("axum"))
        .unwrap();
    assert!(example.exists(), "{} not built", example.display());
    let mut command = Command::new(example);
    command
        .env_clear()
        .env("STRIPE_WEBHOOK_SECRET", SECRET)
        .env("BIND", "127.0.0.1:0")
        .env("RUST_LOG", "info");
    let mut server = Logged::spawn(command);
    let port = port_in(&server.wait_for("listening on"));
    let health = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let unknown = reqwest::get(format!("http://127.0.0.1:{port}/nope"))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}
