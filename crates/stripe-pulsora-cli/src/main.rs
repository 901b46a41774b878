//! `stripe-pulsora`: the whole bridge as one binary, configured by flags or environment
//! variables (one definition of each: `stripe_pulsora_cli::Settings`). Run
//! `stripe-pulsora --help`, `stripe-pulsora serve --help`.

use clap::{Parser, Subcommand};
use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;
use stripe_pulsora_cli::{self as bridge, trigger, EnvConfig, Settings};

#[derive(Parser)]
#[command(
    name = "stripe-pulsora",
    version,
    about = "Stripe webhooks to Pulsora revenue, verified and deduplicated",
    after_help = "Every setting is a flag or an environment variable (`serve --help` lists them \
                  with their defaults). A bad value stops start-up with a message naming the \
                  variable (exit code 2)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bridge: POST /api/webhooks/stripe, GET /healthz, /readyz, /metrics.
    #[command(
        long_about = "Run the bridge: POST /api/webhooks/stripe, GET /healthz, /readyz, \
                            /metrics. Needs STRIPE_WEBHOOK_SECRET. Without PULSORA_API_TOKEN it \
                            runs dry: each Pulsora payload is logged instead of sent."
    )]
    Serve {
        #[command(flatten)]
        settings: Box<Settings>,
    },
    /// Sign realistic Stripe events and POST them, like `stripe trigger` (no Stripe account
    /// needed).
    Trigger(trigger::TriggerArgs),
    /// Print a Stripe-Signature header for the payload on standard input (for curl).
    Sign(SignArgs),
    /// Send the revenue events Stripe still keeps (30 days) that the bridge missed.
    Backfill(bridge::backfill::BackfillArgs),
    /// Bring the subscriptions that predate the bridge into its MRR ledger.
    Adopt(bridge::adopt::AdoptArgs),
    /// Compare Stripe's money and MRR with what the bridge recorded (exit 0 agree, 1 drift,
    /// 2 error).
    Reconcile(bridge::reconcile::ReconcileArgs),
    /// The outbox (acknowledge first): rows waiting for Pulsora, the oldest one's age, dead
    /// letters.
    Outbox(bridge::outbox_command::OutboxArgs),
    /// Revenue events Pulsora refused (400/422) or that outlived the horizon: list them, put
    /// them back in the outbox once the cause is fixed, or drop them for good.
    DeadLetters(bridge::outbox_command::DeadLettersArgs),
}

/// `sign [--secret-stdin] [--timestamp UNIX_SECONDS] < payload.json`
#[derive(clap::Args)]
#[command(
    long_about = "Print a Stripe-Signature header for the payload on standard input (for \
                        curl). The secret comes from STRIPE_WEBHOOK_SECRET (the first one), or \
                        with --secret-stdin from the first line of standard input (the payload \
                        follows)."
)]
struct SignArgs {
    /// Read the secret from the first line of standard input.
    #[arg(long)]
    secret_stdin: bool,
    /// The secret on the command line: `ps` shows it to every user; prefer the environment or
    /// --secret-stdin.
    #[arg(long, value_name = "WHSEC")]
    secret: Option<String>,
    /// The signature's time, Unix seconds. Default: now.
    #[arg(long, value_name = "UNIX_SECONDS", value_parser = clap::value_parser!(i64).range(1..))]
    timestamp: Option<i64>,
}

fn main() -> ExitCode {
    // `BIND=` means unset, as everywhere else in the bridge.
    Settings::forget_empty_variables();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // A bad setting is reported like every configuration error: the variable, the
            // problem, a good value.
            if let Some(config_error) = bridge::settings::as_config_error(&error) {
                eprintln!("configuration error: {config_error}");
                return ExitCode::from(2);
            }
            error.exit()
        }
    };
    match cli.command {
        Command::Serve { settings } => run_async(serve(*settings)),
        Command::Trigger(args) => run_async(async { ExitCode::from(trigger::run(args).await) }),
        Command::Sign(args) => sign_command(args),
        Command::Backfill(args) => run_async(bridge::backfill::run(args)),
        Command::Adopt(args) => run_async(bridge::adopt::run(args)),
        Command::Reconcile(args) => run_async(bridge::reconcile::run(args)),
        Command::Outbox(args) => run_async(bridge::outbox_command::run_outbox(args)),
        Command::DeadLetters(args) => run_async(bridge::outbox_command::run_dead_letters(args)),
    }
}

fn run_async(future: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(future),
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> ExitCode {
    let config = match EnvConfig::from_settings(settings) {
        Ok(config) => config.durable_by_default(),
        Err(error) => {
            eprintln!("configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    if config.webhook_secrets.is_empty() {
        eprintln!(
            "configuration error: STRIPE_WEBHOOK_SECRET is required (the endpoint's signing secret, \
             for example STRIPE_WEBHOOK_SECRET=whsec_…)"
        );
        return ExitCode::from(2);
    }
    bridge::init_logging(&config);
    let mut parts = match bridge::Bridge::from_config(&config).await {
        Ok(parts) => parts,
        Err(error) => {
            eprintln!("start-up error: {error}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.bind).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on {}: {error}", config.bind);
            return ExitCode::from(2);
        }
    };
    if config.pulsora_token.is_none() {
        tracing::warn!(
            "PULSORA_API_TOKEN is unset: dry run, Pulsora payloads are logged, not sent"
        );
    }
    // The bound address, not the configured one: `BIND=…:0` picks a free port.
    let bound = listener.local_addr().unwrap_or(config.bind);
    tracing::info!(bind = %bound, "stripe-pulsora listening on http://{bound}/api/webhooks/stripe");
    // Acknowledge first: the delivery worker runs beside the server and stops with it.
    let (stop_worker, worker_stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = parts.worker.take().map(|worker| {
        tracing::info!("webhooks are acknowledged first; the outbox worker delivers to Pulsora");
        tokio::spawn(worker.run(async move {
            let _ = worker_stopped.await;
        }))
    });
    let app = bridge::server::app(parts);
    let served = bridge::server::serve_configured(listener, app, &config).await;
    if let Some(worker) = worker {
        // Stops between rows: the ones being sent finish (one attempt, bounded by the client's
        // timeout), the rest stay pending for the next start.
        let _ = stop_worker.send(());
        if tokio::time::timeout(config.shutdown_deadline, worker)
            .await
            .is_err()
        {
            tracing::warn!(
                "outbox worker still sending at the shutdown deadline; its leases expire by themselves"
            );
        }
    }
    match served {
        Ok(()) => {
            // Let claim releases of cut deliveries reach the store before the runtime stops.
            tokio::time::sleep(Duration::from_millis(200)).await;
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!("server error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn sign_command(args: SignArgs) -> ExitCode {
    let mut secret = args.secret;
    if secret.is_some() {
        eprintln!(
            "warning: --secret puts the secret on the command line, where `ps` shows it; \
             set STRIPE_WEBHOOK_SECRET or use --secret-stdin"
        );
    }
    let secret_from_stdin = args.secret_stdin;
    let timestamp = args.timestamp.unwrap_or_else(trigger::unix_now);
    let mut input = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("cannot read standard input: {error}");
        return ExitCode::FAILURE;
    }
    let mut payload = input.as_slice();
    if secret_from_stdin {
        let end = payload
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(payload.len());
        let line = String::from_utf8_lossy(&payload[..end]).trim().to_owned();
        payload = payload.get(end + 1..).unwrap_or_default();
        secret = Some(line);
    }
    let secret = secret.filter(|s| !s.is_empty()).or_else(|| {
        std::env::var("STRIPE_WEBHOOK_SECRET").ok().and_then(|v| {
            v.split(',')
                .map(str::trim)
                .find(|s| !s.is_empty())
                .map(str::to_owned)
        })
    });
    let Some(secret) = secret else {
        eprintln!("sign needs a secret: set STRIPE_WEBHOOK_SECRET=whsec_… or pass --secret-stdin");
        return ExitCode::from(2);
    };
    println!("{}", stripe_pulsora::sign(payload, &secret, timestamp));
    ExitCode::SUCCESS
}
