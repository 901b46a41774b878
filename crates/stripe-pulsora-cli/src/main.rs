//! `stripe-pulsora`: the whole bridge as one binary, configured by environment variables.
//! Run `stripe-pulsora --help`.

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;
use stripe_pulsora_cli::{self as bridge, trigger, EnvConfig};

const HELP: &str = "\
stripe-pulsora — Stripe webhooks to Pulsora revenue, verified and deduplicated.

USAGE:
    stripe-pulsora serve
        Run the bridge: POST /api/webhooks/stripe, GET /healthz, /readyz, /metrics.
        Needs STRIPE_WEBHOOK_SECRET. Without PULSORA_API_TOKEN it runs dry: each Pulsora
        payload is logged instead of sent.

    stripe-pulsora trigger <target>... [--url URL] [--secret whsec_…] [--shape basil|legacy]
        Sign realistic Stripe events and POST them, like `stripe trigger` (no Stripe account
        needed). Targets: all, a scenario, or an event type (see --list).

    stripe-pulsora sign [--secret-stdin] [--timestamp UNIX_SECONDS] < payload.json
        Print a Stripe-Signature header for the payload on standard input (for curl). The
        secret comes from STRIPE_WEBHOOK_SECRET (the first one), or with --secret-stdin from
        the first line of standard input (the payload follows). --secret whsec_… still works
        but shows the secret to every user of `ps`.

    stripe-pulsora backfill --since <when> [--until <when>] [--dry-run]
        Send the revenue events Stripe still keeps (30 days) that the bridge missed, through
        the same replay store, mapping and delivery as webhooks (a rerun sends nothing new).
        Needs STRIPE_API_KEY and a durable STRIPE_PULSORA_REPLAY_STORE. `backfill --help`.

    stripe-pulsora adopt [--report-opening-mrr] [--dry-run]
        Bring the subscriptions that predate the bridge into its MRR ledger; with
        --report-opening-mrr, send each one's current MRR once so Pulsora's MRR equals
        Stripe's from day one. A second run changes nothing. `adopt --help`.

    stripe-pulsora --help | --version

ENVIRONMENT (serve):
    STRIPE_WEBHOOK_SECRET           whsec_… (comma-separated for several)       required
    BIND                            listen address                              127.0.0.1:3000
    PULSORA_API_TOKEN               Pulsora secret token (sec_…)                unset = dry run
    PULSORA_ENDPOINT                Pulsora ingest URL                          Pulsora's
    STRIPE_PULSORA_REPLAY_STORE     memory | sqlite:<path> | redis://…          sqlite:$STATE_DIRECTORY/ or ./stripe-pulsora.sqlite3
    STRIPE_PULSORA_RATE_LIMIT       off | <per_second>/<burst> per client       library default
    STRIPE_PULSORA_FAILURE_LIMIT    off | failed verifications per minute        library default
    STRIPE_PULSORA_TRUSTED_PROXIES  CIDRs whose X-Forwarded-For is believed     none
    STRIPE_PULSORA_MAX_BODY         body limit in bytes                         1048576
    STRIPE_PULSORA_TOLERANCE        signature tolerance in seconds (≤ 3600)     300
    STRIPE_PULSORA_INLINE_BUDGET    seconds Pulsora may take per answer (1–20)  9
    STRIPE_PULSORA_MAX_CONNECTIONS  open connections at most                    512
    STRIPE_PULSORA_MAX_CONNECTIONS_PER_CLIENT  per peer address, or off         64
    STRIPE_PULSORA_HEADER_TIMEOUT   seconds for headers and idle keep-alive     10
    STRIPE_PULSORA_ALLOW_INSECURE_ENDPOINT  1: allow http:// to a non-loopback PULSORA_ENDPOINT
    STRIPE_API_KEY                  enables the Stripe API attribution lookup   unset
    STRIPE_PULSORA_SHUTDOWN_DEADLINE  seconds in-flight deliveries get on SIGTERM  20
    RUST_LOG, STRIPE_PULSORA_LOG_FORMAT   log filter; text or json              info, text

A bad value stops start-up with a message naming the variable (exit code 2).
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("-h" | "--help" | "help") => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Some("-V" | "--version") => {
            println!("stripe-pulsora {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("serve" | "sign") if wants_help(&args[1..]) => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Some("serve") => run_async(serve()),
        Some("trigger") => run_async(trigger_command(args[1..].to_vec())),
        Some("sign") => sign_command(&args[1..]),
        Some("backfill") => run_async(bridge::backfill::run(args[1..].to_vec())),
        Some("adopt") => run_async(bridge::adopt::run(args[1..].to_vec())),
        Some(other) => {
            eprintln!("unknown command {other:?}\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}

fn wants_help(args: &[String]) -> bool {
    args.iter()
        .any(|a| matches!(a.as_str(), "-h" | "--help" | "help"))
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

async fn serve() -> ExitCode {
    let config = match EnvConfig::from_env() {
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
    let parts = match bridge::Bridge::from_config(&config).await {
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
    let app = bridge::server::app(parts);
    match bridge::server::serve_configured(listener, app, &config).await {
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

async fn trigger_command(args: Vec<String>) -> ExitCode {
    ExitCode::from(trigger::run_cli(args).await)
}

fn sign_command(args: &[String]) -> ExitCode {
    let mut secret = None;
    let mut secret_from_stdin = false;
    let mut timestamp = trigger::unix_now();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--secret" => {
                eprintln!(
                    "warning: --secret puts the secret on the command line, where `ps` shows it; \
                     set STRIPE_WEBHOOK_SECRET or use --secret-stdin"
                );
                secret = iter.next().cloned();
            }
            "--secret-stdin" => secret_from_stdin = true,
            "--timestamp" => match iter.next().map(|t| t.parse::<i64>()) {
                Some(Ok(t)) if t > 0 => timestamp = t,
                _ => {
                    eprintln!("--timestamp needs a positive Unix time in seconds");
                    return ExitCode::from(2);
                }
            },
            other => {
                eprintln!("unknown argument {other:?}; usage: stripe-pulsora sign [--secret-stdin] [--timestamp T] < payload");
                return ExitCode::from(2);
            }
        }
    }
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
