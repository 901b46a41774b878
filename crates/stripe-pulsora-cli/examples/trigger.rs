//! `stripe trigger` without a Stripe account: signs realistic bundled events and POSTs them to
//! your webhook endpoint, the way Stripe would (each retry re-signed with a fresh timestamp).
//!
//! ```sh
//! cargo run -p stripe-pulsora-cli --example trigger -- all                       # every scenario, then every event type
//! cargo run -p stripe-pulsora-cli --example trigger -- subscription_lifecycle    # one scenario
//! cargo run -p stripe-pulsora-cli --example trigger -- invoice.paid --shape legacy
//! cargo run -p stripe-pulsora-cli --example trigger -- --list
//! ```
//!
//! Options: `--url` (default `http://127.0.0.1:3000/api/webhooks/stripe`), `--secret` (default
//! `$STRIPE_WEBHOOK_SECRET`, else the examples' development secret), `--shape basil|legacy`
//! (the Stripe API version the payloads are rendered in; default basil), `--retries N` (resend a
//! delivery that did not get a 2xx, as Stripe does; default 3). The same command is
//! `stripe-pulsora trigger`.

#[tokio::main]
async fn main() {
    let code = stripe_pulsora_cli::trigger::run_cli(std::env::args().skip(1)).await;
    std::process::exit(i32::from(code));
}
