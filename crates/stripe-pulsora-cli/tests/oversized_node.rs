//! A body over the limit, sent with `Content-Length` by Node's own `http` client: the `413`
//! must reach the client on both frameworks. A server that answers and closes at once resets a
//! connection whose client is still sending, and the client sees `EPIPE` / `ECONNRESET`
//! instead of the answer; the engine reads and discards a bounded remainder first.
//!
//! Needs `node` (no npm package). Without it the test prints a note and passes, except under
//! CI, where it fails.

mod common;

use common::{serve_actix, serve_axum, Recorder, PATH};
use std::process::Command;
use stripe_pulsora::stripe_webhook_guard::{StripeWebhook, StripeWebhookLayer};

const SECRET: &str = "whsec_oversized_node_0123456789abcdef0123456789";

fn node_available() -> bool {
    let ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("`node` is not on PATH");
        }
        eprintln!("note: skipping: `node` is not on PATH");
    }
    ok
}

async fn node_posts(url: String, bytes: usize) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node/oversized.js");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args([script, &url, &bytes.to_string()])
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_reads_the_413_from_axum_and_actix() {
    if !node_available() {
        return;
    }
    let axum = serve_axum(Some(StripeWebhookLayer::new(SECRET)), Recorder::new(vec![])).await;
    let actix = serve_actix(Some(StripeWebhook::new(SECRET)), Recorder::new(vec![]));
    for (name, addr) in [("axum", axum.addr), ("actix-web", actix.addr)] {
        // Twice the default 1 MiB limit, and 8 MiB (past what socket buffers absorb: without
        // the drain, Node got EPIPE from `stripe-pulsora serve` there).
        for bytes in [2 << 20, 8 << 20] {
            let got = node_posts(format!("http://{addr}{PATH}"), bytes).await;
            assert!(
                got.starts_with("status 413") && got.contains("payload_too_large"),
                "{name}, {bytes} bytes: {got}"
            );
        }
    }
}
