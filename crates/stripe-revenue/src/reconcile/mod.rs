//! Reconcile: Stripe's own records against what the bridge recorded, object by object.
//!
//! [`reconcile`] reads the window's revenue objects from the Stripe API and the bridge's state
//! for exactly those objects (by id: nothing is enumerated), and reports per UTC day and
//! currency, in total, and for MRR, with every Stripe object behind a difference
//! ([`Report`]). The rules are the mapping's own, under the same [`Policy`]:
//!
//! - **Money in**: paid Checkout Sessions in `payment` mode (`amount_total`) and paid invoices
//!   (`amount_paid`, not paid out of band), tax excluded unless [`Tax::Include`](crate::Tax),
//!   one transaction per payment (a session that created an invoice is that invoice). Stripe
//!   marks them paid once the charge is captured. Compared with the bridge's journal
//!   ([`PaymentRecord`](crate::state::PaymentRecord), written in the same save as the ledgers).
//! - **Money out**: refunds that did not fail or get cancelled (a pending refund already counts,
//!   as in the charge's `amount_refunded`) and lost disputes, of payments that are revenue
//!   (their session or invoice, else the bridge's ledger, decides; with
//!   [`UnreportedPayments::Count`](crate::UnreportedPayments) every payment is). Compared with
//!   the payment's money-out ledger: the refunded total reported, lost disputes reported by id.
//!   When a payment's refunds in the window do not explain what was reported, all its refunds
//!   are read (`GET /v1/refunds?payment_intent=…`).
//! - **Scope**: objects of the other mode are left out ([`Livemode`](crate::Livemode)); the key
//!   reads the platform's own objects only, so Connect accounts' payments are not compared.
//! - **MRR now**: every subscription (`status=all`, discounts expanded) by the mapping's MRR
//!   definition ([`crate::mrr`]) against Σ `mrr_impact` sent for it (the ledger's
//!   `reported_mrr`): a subscription adopted without an opening balance shows its unreported
//!   baseline as a difference.
//!
//! Per day: each figure counts on the UTC day of its Stripe object's `created`.
//!
//! "Recorded" means committed by the bridge with its state (in both delivery modes); whether a
//! committed event is still waiting in the outbox or was delivered is the outbox's business
//! (`stripe-pulsora outbox`), not reconcile's. Payments reported before the journal existed
//! (earlier versions) show as missing: reconcile windows that start after the upgrade.
//!
//! ```no_run
//! # async fn demo(sync: stripe_revenue::RevenueSync) -> Result<(), Box<dyn std::error::Error>> {
//! use stripe_revenue::reconcile::ReconcileWindow;
//!
//! let stripe = stripe_read::StripeClient::new(std::env::var("STRIPE_API_KEY")?)?;
//! let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
//! let report = sync
//!     .reconcile(&stripe, ReconcileWindow { since: now - 7 * 86_400, until: None })
//!     .await?;
//! print!("{report}");
//! if !report.agrees() {
//!     for difference in &report.differences {
//!         eprintln!("{} {}: {}", difference.object, difference.issue.as_str(), difference.detail);
//!     }
//! }
//! # Ok(()) }
//! ```

mod compare;
mod report;
mod truth;

pub use report::{Checked, Difference, Issue, Report, Row, REPORT_FORMAT};
pub use truth::ObjectKind;

use crate::policy::Policy;
use crate::store::{StateError, StateStore};
use stripe_read::{ApiError, StripeClient};

/// The window to reconcile, as Unix seconds (`created` of the Stripe objects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileWindow {
    /// Objects created at or after this.
    pub since: i64,
    /// Objects created at or before this; `None` for up to now.
    pub until: Option<i64>,
}

/// Why a reconciliation could not be made (no verdict either way).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconcileError {
    /// Reading Stripe's API failed (after the client's retries). A restricted key needs read
    /// access to Checkout Sessions, Invoices, Refunds, Disputes and Subscriptions.
    #[error("reading Stripe failed: {0}")]
    Stripe(#[from] ApiError),
    /// Reading the bridge's state failed.
    #[error("reading the bridge's state failed: {0}")]
    State(#[from] StateError),
}

impl ReconcileError {
    /// Worth trying again later (network, Stripe `5xx`/`429`, the state store unavailable).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Stripe(error) => error.is_transient(),
            Self::State(error) => matches!(error, StateError::Unavailable(_)),
        }
    }
}

/// Compares Stripe's revenue objects of `window` (and every subscription's MRR) with what
/// `store` recorded, by `policy`'s rules. See the [module docs](self).
pub async fn reconcile(
    stripe: &StripeClient,
    store: &dyn StateStore,
    policy: &Policy,
    window: ReconcileWindow,
) -> Result<Report, ReconcileError> {
    let mut truth = truth::read(stripe, policy, &window).await?;
    let records = store.records(&compare::query(&truth)).await?;
    for payment in compare::unexplained_refunds(&truth, &records, policy) {
        let all = truth::refunds_of(stripe, &payment).await?;
        truth.refunds.retain(|r| r.payment != payment);
        truth.refunds.extend(all);
    }
    let report = compare::compare(&truth, &records, policy, &window);
    tracing::info!(
        differences = report.differences.len(),
        payments = report.checked.payments,
        refunds = report.checked.refunds,
        disputes = report.checked.disputes,
        subscriptions = report.checked.subscriptions,
        "reconciled Stripe against the bridge's state"
    );
    Ok(report)
}

impl crate::RevenueSync {
    /// [`reconcile`] against this sync's state store, with its policy (the mode that counts
    /// resolved as for delivery).
    pub async fn reconcile(
        &self,
        stripe: &StripeClient,
        window: ReconcileWindow,
    ) -> Result<Report, ReconcileError> {
        let (store, policy) = self.state_and_policy();
        reconcile(stripe, store, policy, window).await
    }
}
