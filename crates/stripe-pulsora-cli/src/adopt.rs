//! `stripe-pulsora adopt`: every subscription that existed before the bridge enters its MRR
//! ledger (see [`stripe_revenue::adopt`]).

use std::process::ExitCode;
use std::time::Duration;
use stripe_revenue::adopt::{adopt, AdoptError};

/// `stripe-pulsora adopt [--report-opening-mrr] [--dry-run]`
#[derive(Debug, clap::Args)]
#[command(
    about = "Bring the subscriptions that predate the bridge into its MRR ledger",
    long_about = "Reads every subscription (status=all, prices and discounts expanded) and sets \
                  its MRR baseline, so the next change Stripe sends reports the right movement. \
                  With --report-opening-mrr, each counting subscription's current MRR is sent \
                  once as an opening balance (an `upgrade` with metadata.opening_balance=true and \
                  transaction id <sub>_opening; MRR only, no money), so Pulsora's MRR equals \
                  Stripe's from day one. A second run changes nothing. Needs STRIPE_API_KEY (read \
                  access to Subscriptions) and a durable STRIPE_PULSORA_REPLAY_STORE."
)]
pub struct AdoptArgs {
    /// Report each subscription's current MRR once as an opening balance.
    #[arg(long)]
    report_opening_mrr: bool,
    /// List and total the subscriptions only: nothing is adopted or sent.
    #[arg(long)]
    dry_run: bool,
}

/// Runs the command: 0 when every subscription was adopted, 1 when the run stopped (rerun to
/// resume), 2 for a configuration error.
pub async fn run(args: AdoptArgs) -> ExitCode {
    let Some((mut bridge, stripe)) = super::stripe_command::prepare("adopt", args.dry_run).await
    else {
        return ExitCode::from(2);
    };
    let run = adopt(
        &stripe,
        &bridge.layer,
        &bridge.sync,
        args.report_opening_mrr,
        args.dry_run,
        |read| {
            if read % 500 == 0 {
                eprintln!("adopt: {read} subscriptions read");
            }
        },
    );
    let result = tokio::select! {
        result = run => result,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted: run the same command again to resume (adopted subscriptions are skipped)");
            tokio::time::sleep(Duration::from_millis(200)).await;
            return ExitCode::from(130);
        }
    };
    super::stripe_command::deliver_queued(&mut bridge).await;
    match result {
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(AdoptError::Stopped {
            subscription,
            reason,
            summary,
        }) => {
            print!("{summary}");
            eprintln!(
                "stopped at {subscription}: {reason}\nrun the same command again to resume \
                 (adopted subscriptions are skipped)"
            );
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::from(1)
        }
    }
}
