//! Disputes: `charge.dispute.*`. A dispute closed as `lost` takes its amount out once; one won
//! (or an inquiry closed) moves nothing. The withdrawal and reinstatement events are not
//! counted: `funds_withdrawn` is followed by `funds_reinstated` when the merchant wins, so only
//! the final status is money out (README, "What counts as revenue").

use super::charge::{payment_key, remember_payment};
use super::payment::settle;
use super::{Envelope, Mapped};
use crate::state::{ChargeLedger, StateUpdate};
use crate::stripe::Dispute;

pub(crate) fn map(
    dispute: &Dispute,
    ledger: Option<&ChargeLedger>,
    event: &Envelope<'_>,
) -> Mapped {
    let Some(key) = payment_key(dispute.payment_intent.as_ref(), dispute.charge.as_ref()) else {
        return Mapped::note("dispute without charge or payment_intent");
    };
    let key = key.to_owned();
    let mut ledger = ledger.cloned().unwrap_or_default();
    remember_payment(&mut ledger, dispute.currency.as_deref(), None, event);
    let mut out = Mapped::default();
    if dispute.status.as_deref() == Some("lost") && dispute.amount > 0 {
        ledger
            .disputes_lost
            .insert(dispute.id.clone(), dispute.amount);
    } else {
        out.notes.push(format!(
            "dispute {} is {}: no money out until it is lost",
            dispute.id,
            dispute.status.as_deref().unwrap_or("unknown")
        ));
    }
    out.drafts = settle(&key, &mut ledger, event, &mut out.notes);
    out.updates.push(StateUpdate::Charge(key, ledger));
    out
}
