//! `stripe-pulsora backfill`: the events Stripe still keeps, through the bridge's own pipeline
//! (see [`stripe_revenue::backfill`]), with a progress bar and a summary table.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stripe_revenue::backfill::{
    backfill, BackfillError, BackfillWindow, Progress, EVENT_RETENTION_SECS,
};

/// `stripe-pulsora backfill --since <when> [--until <when>] [--dry-run]`
#[derive(Debug, clap::Args)]
#[command(
    about = "Send the revenue events Stripe still keeps (30 days) that the bridge missed",
    long_about = "Lists GET /v1/events (revenue event types only) in the window and runs each \
                  event, oldest first, through the same replay store, mapping, state and \
                  delivery as a webhook: events already handled are skipped, so a rerun sends \
                  nothing new and a run stopped half way (Ctrl-C) resumes. Needs \
                  STRIPE_API_KEY (a restricted key with read access to Events is enough) and a \
                  durable STRIPE_PULSORA_REPLAY_STORE (sqlite:, redis://); other settings as \
                  for `serve`."
)]
pub struct BackfillArgs {
    /// Start of the window: RFC 3339 (2026-11-30T00:00:00Z) or a duration back from now (48h, 7d).
    #[arg(long, value_parser = parse_when)]
    since: i64,
    /// End of the window, same forms; default now.
    #[arg(long, value_parser = parse_when)]
    until: Option<i64>,
    /// List and count the events only: nothing is claimed, mapped or sent.
    #[arg(long)]
    dry_run: bool,
}

/// A point in time as Unix seconds: RFC 3339, or a duration before now.
pub(crate) fn parse_when(text: &str) -> Result<i64, String> {
    if let Ok(at) = humantime::parse_rfc3339_weak(text) {
        return unix(at).ok_or_else(|| format!("{text:?} is before 1970"));
    }
    match humantime::parse_duration(text) {
        Ok(ago) => SystemTime::now()
            .checked_sub(ago)
            .and_then(unix)
            .ok_or_else(|| format!("{text:?} reaches before 1970")),
        Err(_) => Err(format!(
            "{text:?} is neither an RFC 3339 time (2026-11-30T00:00:00Z) nor a duration (48h, 7d)"
        )),
    }
}

fn unix(at: SystemTime) -> Option<i64> {
    at.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
}

/// Runs the command; the exit code is 0 when the window was processed, 1 when the run stopped
/// (rerun to resume), 2 for a configuration error.
pub async fn run(args: BackfillArgs) -> ExitCode {
    let Some((mut bridge, stripe)) = super::stripe_command::prepare("backfill", args.dry_run).await
    else {
        return ExitCode::from(2);
    };
    let now = unix(SystemTime::now()).unwrap_or(0);
    if args.since < now - EVENT_RETENTION_SECS {
        eprintln!(
            "note: Stripe keeps events for 30 days; anything older is not listed. For \
             subscriptions that predate the window, run `stripe-pulsora adopt`."
        );
    }
    let window = BackfillWindow {
        since: args.since,
        until: args.until,
    };
    let tty = std::io::stderr().is_terminal();
    let bar = progress_bar(tty);
    // Ctrl-C stops the run after the event being delivered, never half way through it (a
    // delivery cut after Pulsora accepted it would be sent again by the next run).
    let interrupted = Arc::new(AtomicBool::new(false));
    let watcher = {
        let interrupted = interrupted.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupted.store(true, Ordering::SeqCst);
                eprintln!("\ninterrupted: stopping after the event being delivered…");
            }
        })
    };
    let report = |progress: Progress| {
        match progress {
            Progress::Listed { read } => bar.set_message(format!("listing events: {read} read")),
            Progress::Processing { total } => {
                bar.set_length(total as u64);
                bar.set_message("processing");
                if !tty {
                    eprintln!("backfill: {total} events to process");
                }
            }
            Progress::Processed { done, total } => {
                bar.set_position(done as u64);
                if !tty && (done % 500 == 0 || done == total) {
                    eprintln!("backfill: {done}/{total}");
                }
            }
            _ => {}
        }
        if interrupted.load(Ordering::SeqCst) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let result = backfill(
        &stripe,
        &bridge.layer,
        &bridge.sync,
        window,
        args.dry_run,
        report,
    )
    .await;
    watcher.abort();
    super::stripe_command::deliver_queued(&mut bridge).await;
    match result {
        Ok(summary) => {
            bar.finish_and_clear();
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(BackfillError::Stopped {
            event_id,
            done,
            total,
            reason,
            summary,
        }) => {
            bar.abandon();
            print!("{summary}");
            eprintln!(
                "stopped at {event_id} after {done} of {total} events: {reason}\n\
                 run the same command again to resume (processed events are skipped)"
            );
            ExitCode::from(1)
        }
        Err(BackfillError::Interrupted {
            done,
            total,
            summary,
        }) => {
            bar.abandon_with_message("interrupted");
            print!("{summary}");
            eprintln!(
                "interrupted after {done} of {total} events: run the same command again to \
                 resume (processed events are skipped)"
            );
            ExitCode::from(130)
        }
        Err(error) => {
            bar.abandon();
            eprintln!("{error}");
            ExitCode::from(1)
        }
    }
}

/// A bar on a terminal; otherwise hidden, and `run` prints plain lines (logs, CI).
fn progress_bar(tty: bool) -> ProgressBar {
    if tty {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_forms() {
        let now = unix(SystemTime::now()).unwrap();
        let two_days = parse_when("48h").unwrap();
        assert!((now - 2 * 86_400 - two_days).abs() <= 2);
        assert_eq!(parse_when("7d").unwrap(), parse_when("168h").unwrap());
        assert_eq!(parse_when("2026-11-30T00:00:00Z").unwrap(), 1_795_996_800);
        assert!(parse_when("yesterday").unwrap_err().contains("RFC 3339"));
    }
}
