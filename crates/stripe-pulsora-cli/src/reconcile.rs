//! `stripe-pulsora reconcile`: Stripe's own records against what the bridge recorded (see
//! [`stripe_revenue::reconcile`](mod@stripe_revenue::reconcile)), as a table for people or JSON
//! for scripts.

use std::process::ExitCode;
use stripe_revenue::reconcile::ReconcileWindow;

/// `stripe-pulsora reconcile --since <when> [--until <when>] [--json]`
#[derive(Debug, clap::Args)]
#[command(
    about = "Compare Stripe's money and MRR with what the bridge recorded",
    long_about = "Reads the window's paid Checkout Sessions and invoices, refunds and disputes, and \
                  every subscription from Stripe's API, and compares them, by the mapping's own \
                  rules and policy (scope, tax), with what the bridge recorded in its durable \
                  store: net revenue per UTC day and currency, in total, MRR now, and every \
                  Stripe object behind a difference. Exit 0 when they agree, 1 on drift, 2 on \
                  an error. Needs STRIPE_API_KEY (a restricted key with read access to Checkout \
                  Sessions, Invoices, Refunds, Disputes and Subscriptions) and the bridge's \
                  STRIPE_PULSORA_REPLAY_STORE."
)]
pub struct ReconcileArgs {
    /// Start of the window: RFC 3339 (2026-11-30T00:00:00Z) or a duration back from now (48h, 7d).
    #[arg(long, value_parser = crate::backfill::parse_when)]
    since: i64,
    /// End of the window, same forms; default now.
    #[arg(long, value_parser = crate::backfill::parse_when)]
    until: Option<i64>,
    /// Print the report as JSON (a stable shape, `"format": 1`) instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs the command: 0 when Stripe and the bridge agree, 1 on drift, 2 on an error (the
/// configuration, Stripe's API, the store).
pub async fn run(args: ReconcileArgs) -> ExitCode {
    let Some((bridge, stripe)) = crate::stripe_command::prepare("reconcile", false).await else {
        return ExitCode::from(2);
    };
    let window = ReconcileWindow {
        since: args.since,
        until: args.until,
    };
    let report = match bridge.sync.reconcile(&stripe, window).await {
        Ok(report) => report,
        Err(error) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({ "format": stripe_revenue::reconcile::REPORT_FORMAT,
                        "error": error.to_string(), "transient": error.is_transient() })
                );
            }
            eprintln!("reconcile failed: {error}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    if report.agrees() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
