//! What the commands that read Stripe's API (`backfill`, `adopt`, `reconcile`) share: the
//! configuration, the checks that make them safe to run, the Stripe client and the bridge's own
//! pipeline.

use super::{Bridge, EnvConfig, StoreSetting};
use stripe_read::StripeClient;

/// Reads the environment, refuses what would make the command unsafe, and builds the bridge and
/// the Stripe client. `None` after printing why (the caller exits with code 2).
pub(crate) async fn prepare(command: &str, dry_run: bool) -> Option<(Bridge, StripeClient)> {
    let config = match EnvConfig::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return None;
        }
    };
    let Some(key) = config.stripe_api_key.clone() else {
        eprintln!(
            "configuration error: {command} reads Stripe's API: set STRIPE_API_KEY (sk_…, or an \
             rk_… restricted key with the read permissions the README lists for {command})"
        );
        return None;
    };
    if config.store == StoreSetting::Memory && !dry_run {
        eprintln!(
            "configuration error: {command} needs the bridge's durable store \
             (STRIPE_PULSORA_REPLAY_STORE=sqlite:<path>, postgres://… or redis://…): with \
             memory, it cannot know what the bridge already sent or recorded"
        );
        return None;
    }
    let stripe = match StripeClient::builder(key)
        .base_url(&config.stripe_api_base)
        .build()
    {
        Ok(stripe) => stripe,
        Err(error) => {
            eprintln!("configuration error: STRIPE_API_KEY: {error}");
            return None;
        }
    };
    // Logs go to standard error: these commands' standard output is their result (a summary
    // table, or `reconcile --json` for scripts).
    super::build::init_logging_on_stderr(&config);
    match Bridge::from_config(&config).await {
        Ok(bridge) => Some((bridge, stripe)),
        Err(error) => {
            eprintln!("start-up error: {error}");
            None
        }
    }
}

/// Acknowledge first: what the command committed to the outbox is delivered before it exits
/// (a running `serve` may take part; leases keep them apart). Stops when the outbox is empty,
/// or when it has not shrunk for 30 s (Pulsora failing): what is left stays queued for `serve`.
pub(crate) async fn deliver_queued(bridge: &mut Bridge) {
    let (Some(worker), Some(outbox)) = (bridge.worker.take(), bridge.outbox.clone()) else {
        return;
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    let (mut fewest, mut progressed) = (u64::MAX, std::time::Instant::now());
    loop {
        match outbox.stats().await {
            Ok(stats) if stats.pending == 0 => break,
            Ok(stats) if stats.pending < fewest => {
                fewest = stats.pending;
                progressed = std::time::Instant::now();
            }
            Ok(stats) if progressed.elapsed() > std::time::Duration::from_secs(30) => {
                eprintln!(
                    "{} revenue event(s) still queued (Pulsora is not accepting them now): \
                     `stripe-pulsora serve` delivers them; see `stripe-pulsora outbox`",
                    stats.pending
                );
                break;
            }
            Ok(_) => {}
            Err(error) => {
                eprintln!("cannot read the outbox: {error}");
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    let _ = running.await;
}
