//! `stripe-pulsora outbox` and `stripe-pulsora dead-letters list | retry <id|--all> | drop <id>`:
//! the outbox of the durable store named by `STRIPE_PULSORA_REPLAY_STORE` (the same default
//! SQLite file as `serve`), read and changed while the bridge runs or not.

use super::{Bridge, EnvConfig};
use clap::{ArgGroup, Subcommand};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use stripe_revenue::outbox::{Clock, Outbox, SystemClock};

/// `stripe-pulsora outbox`
#[derive(Debug, clap::Args)]
#[command(
    about = "How the outbox stands: rows waiting for Pulsora, the oldest one's age, dead letters",
    long_about = "Prints the rows acknowledged to Stripe and not yet accepted by Pulsora, the age \
                  of the oldest, and the dead letters (rows Pulsora refused, or past \
                  STRIPE_PULSORA_OUTBOX_HORIZON). Reads the store STRIPE_PULSORA_REPLAY_STORE \
                  names (default: serve's SQLite file)."
)]
pub struct OutboxArgs {}

/// `stripe-pulsora dead-letters …`
#[derive(Debug, clap::Args)]
#[command(
    about = "List, retry or drop the revenue events Pulsora refused or that outlived the horizon"
)]
pub struct DeadLettersArgs {
    #[command(subcommand)]
    command: DeadLetters,
}

#[derive(Debug, Subcommand)]
enum DeadLetters {
    /// Dead letters, oldest first: transaction id, Stripe event, when, attempts, reason.
    List {
        /// Show at most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Put dead letters back in the outbox (once their cause is fixed): the bridge's delivery
    /// worker sends them, with the same transaction id.
    #[command(group(ArgGroup::new("which").required(true).args(["id", "all"])))]
    Retry {
        /// The transaction id of one dead letter.
        id: Option<String>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
    },
    /// Delete a dead letter for good (it is never sent).
    Drop {
        /// The transaction id of the dead letter.
        id: String,
    },
}

/// The durable store's outbox, or `None` after printing why (exit code 2).
async fn open(command: &str) -> Option<Arc<dyn Outbox>> {
    let config = match EnvConfig::from_env() {
        Ok(config) => config.durable_by_default(),
        Err(error) => {
            eprintln!("configuration error: {error}");
            return None;
        }
    };
    let bridge = match Bridge::from_config(&config).await {
        Ok(bridge) => bridge,
        Err(error) => {
            eprintln!("start-up error: {error}");
            return None;
        }
    };
    if bridge.outbox.is_none() {
        eprintln!(
            "configuration error: {command} reads the outbox of a durable store; \
             STRIPE_PULSORA_REPLAY_STORE=memory has none (delivery is inline)"
        );
    }
    bridge.outbox
}

/// `stripe-pulsora outbox`: 0, or 1 when the store cannot be read, 2 for a configuration error.
pub async fn run_outbox(_args: OutboxArgs) -> ExitCode {
    let Some(outbox) = open("outbox").await else {
        return ExitCode::from(2);
    };
    match outbox.stats().await {
        Ok(stats) => {
            println!("pending       {}", stats.pending);
            match stats.oldest_pending_enqueued_at_ms {
                Some(at) => println!(
                    "oldest        {} (acknowledged {})",
                    age(SystemClock.now_ms() - at),
                    timestamp(at)
                ),
                None => println!("oldest        -"),
            }
            println!("dead letters  {}", stats.dead);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot read the outbox: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `stripe-pulsora dead-letters …`: 0; 1 when the id is not a dead letter or the store fails;
/// 2 for a usage or configuration error.
pub async fn run_dead_letters(args: DeadLettersArgs) -> ExitCode {
    let Some(outbox) = open("dead-letters").await else {
        return ExitCode::from(2);
    };
    let result = match args.command {
        DeadLetters::List { limit } => list(&*outbox, limit).await,
        DeadLetters::Retry { id, .. } => retry(&*outbox, id.as_deref()).await,
        DeadLetters::Drop { id } => drop_one(&*outbox, &id).await,
    };
    result.unwrap_or_else(|error| {
        eprintln!("the store failed: {error}");
        ExitCode::FAILURE
    })
}

type StoreResult<T> = Result<T, stripe_revenue::StateError>;

async fn list(outbox: &dyn Outbox, limit: usize) -> StoreResult<ExitCode> {
    let dead = outbox.dead_letters(limit).await?;
    for row in &dead {
        println!(
            "{}  {}  died {}  attempts {}  {}",
            row.row.id,
            row.row.stripe_event_id,
            timestamp(row.dead_at_ms),
            row.attempts,
            row.reason
        );
    }
    println!("{} dead letter(s)", dead.len());
    Ok(ExitCode::SUCCESS)
}

async fn retry(outbox: &dyn Outbox, id: Option<&str>) -> StoreResult<ExitCode> {
    let back = outbox.retry_dead(id, SystemClock.now_ms()).await?;
    match (back, id) {
        (0, Some(id)) => {
            eprintln!("{id} is not a dead letter (see `stripe-pulsora dead-letters list`)");
            Ok(ExitCode::FAILURE)
        }
        _ => {
            println!(
                "{back} dead letter(s) back in the outbox; the bridge's delivery worker sends them"
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn drop_one(outbox: &dyn Outbox, id: &str) -> StoreResult<ExitCode> {
    if outbox.drop_dead(id).await? {
        println!("{id} dropped");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{id} is not a dead letter (see `stripe-pulsora dead-letters list`)");
        Ok(ExitCode::FAILURE)
    }
}

/// Unix ms as RFC 3339 (UTC, seconds).
fn timestamp(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

/// `2d 3h`, `4h 12m`, `5m 3s`, `12s`.
fn age(ms: i64) -> String {
    let s = u64::try_from(ms.max(0) / 1000).unwrap_or(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {}s", s % 60),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(super::age(12_000), "12s");
        assert_eq!(super::age(303_000), "5m 3s");
        assert_eq!(super::age((4 * 3600 + 12 * 60) * 1000), "4h 12m");
        assert_eq!(super::age((2 * 86_400 + 3 * 3600) * 1000), "2d 3h");
        assert_eq!(super::timestamp(0), "1970-01-01T00:00:00Z");
    }
}
