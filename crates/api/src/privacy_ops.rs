//! Privacy operations of the API: DSAR erasure, the retention job, and the
//! record of both.
//!
//! Neither erases anything itself. Each plans an [`Erasure`] from the ledger
//! read model — which of the tenant's records lose their content —, signs
//! it with the node's key and appends it to the raw log in the tenant's
//! privacy chain `_privacy.<tenant>`. The sequencer seals it (so the action
//! is in the tamper-evident ledger) and every store that holds content
//! carries it out when it takes the sealed erasure in; see
//! [`traceledger_core::erasure`]. A 202 therefore means "recorded and
//! under way"; `GET /v1/privacy/actions` shows it once sealed.
//!
//! The tenant's retention minimum (policy `[[retention]] min_days`) is a
//! floor for both: content younger than it is never erased. A DSAR erases
//! what it may and holds the rest, saying until when (GDPR Art. 17(3)(b):
//! a legal obligation to keep the logs, e.g. EU AI Act Art. 19).

use crate::access::Sink;
use serde::Serialize;
use traceledger_core::erasure::{privacy_chain, Erasure, Reason, SeqRanges};
use traceledger_core::event::Timestamp;
use traceledger_core::signing::SigningKey;
use traceledger_policy::Retention;
use traceledger_projection::ledger::LedgerView;
use traceledger_projection::Result;
use uuid::Uuid;

/// What the privacy operations need of the node.
#[derive(Clone)]
pub struct PrivacyOps {
    /// Appends events to the raw log (keyed so that a privacy chain's
    /// events land on its tenant's partition).
    pub sink: Sink,
    /// Signs erasures; the sequencer must trust it.
    pub key: SigningKey,
    /// Paces erasure calls per tenant (not the scheduled retention job).
    pub pace: std::sync::Arc<crate::limits::ErasurePace>,
}

/// What a DSAR erasure or a retention run did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ErasureOutcome {
    /// Id of the erasure record (its event id in `_privacy.<tenant>`).
    pub erasure_id: String,
    /// `dsar_erase` or `retention`.
    pub action: String,
    /// Tenant.
    pub tenant: String,
    /// The chain it is recorded in.
    pub recorded_in: String,
    /// The data subject (DSAR).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Records whose content this erasure removes.
    pub erasing: u64,
    /// Records (about the subject) whose content was already gone.
    pub already_erased: u64,
    /// Records (about the subject) kept for now: inside the retention minimum.
    pub held: u64,
    /// When the last held record passes the minimum (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_until: Option<String>,
    /// Retention: content sealed before this time is erased (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutoff: Option<String>,
    /// The erased seqs, as ranges (`0-4,9`).
    pub seqs: String,
}

impl ErasureOutcome {
    /// What `e` does (`already_erased`: records about its subject already without content).
    pub fn of(e: &Erasure, already_erased: u64) -> Self {
        let (subject, held, held_until, cutoff) = match &e.reason {
            Reason::Dsar { subject, held, held_until } => {
                (Some(subject.clone()), held.len(), held_until.map(Timestamp::to_rfc3339), None)
            }
            Reason::Retention { cutoff } => (None, 0, None, Some(cutoff.to_rfc3339())),
        };
        ErasureOutcome {
            erasure_id: e.id.to_string(),
            action: e.action().into(),
            tenant: e.tenant.clone(),
            recorded_in: privacy_chain(&e.tenant),
            subject,
            erasing: e.seqs.len(),
            already_erased,
            held,
            held_until,
            cutoff,
            seqs: e.seqs.to_string(),
        }
    }
}

/// An erasure recorded in the ledger, as read back.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PrivacyAction {
    /// Seq in `_privacy.<tenant>`.
    pub seq: u64,
    /// Sealed at (RFC 3339).
    pub sealed_at: String,
    /// Requested by (an API key id, or `retention-job`).
    pub requested_by: String,
    /// Policy version in force.
    pub policy: String,
    /// The action.
    #[serde(flatten)]
    pub outcome: ErasureOutcome,
}

fn new_id() -> Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

/// Plans a DSAR erasure: every record of `tenant` naming `subject`, with
/// content left, older than the retention minimum. `None` when no record
/// names the subject.
pub fn plan_dsar(
    view: &LedgerView<'_>,
    tenant: &str,
    subject: &str,
    retention: Option<&Retention>,
    now: i64,
) -> Result<Option<(Erasure, u64)>> {
    let hold_after = retention.map_or(i64::MAX, |r| r.hold_after(now));
    let min = retention.map_or(0, |r| i64::from(r.min_days) * traceledger_policy::DAY_MICROS);
    let (mut erase, mut held, mut already, mut named) = (SeqRanges::new(), SeqRanges::new(), 0u64, false);
    let mut held_until: Option<i64> = None;
    view.for_each_record(tenant, 0, |r| {
        if !r.event.subject_ids.iter().any(|s| s == subject) {
            return;
        }
        named = true;
        if r.salts.iter().all(Option::is_none) {
            already += 1;
        } else if r.header.sealed_at.0 > hold_after {
            held.push(r.header.seq);
            held_until = Some(held_until.unwrap_or(i64::MIN).max(r.header.sealed_at.0 + min));
        } else {
            erase.push(r.header.seq);
        }
    })?;
    if !named {
        return Ok(None);
    }
    let e = Erasure {
        id: new_id(),
        tenant: tenant.into(),
        seqs: erase,
        reason: Reason::Dsar { subject: subject.into(), held, held_until: held_until.map(Timestamp) },
        requested_by: String::new(),
        policy: String::new(),
        at: Timestamp(now),
        signature: None,
    };
    Ok(Some((e, already)))
}

/// Plans a retention run for `tenant`: the records sealed before the
/// maximum's cutoff that no earlier run covered. `None` when the tenant has
/// no maximum.
pub fn plan_retention(
    ledger: &LedgerView<'_>,
    tenant: &str,
    retention: Option<&Retention>,
    now: i64,
) -> Result<Option<Erasure>> {
    let Some(cutoff) = retention.and_then(|r| r.cutoff(now)) else { return Ok(None) };
    let end = ledger.first_sealed_at_or_after(tenant, cutoff)?;
    let done = actions(ledger, tenant)?
        .iter()
        .filter(|a| a.outcome.action == "retention")
        .filter_map(|a| SeqRanges::parse(&a.outcome.seqs).ok()?.ranges().last().map(|&(_, hi)| hi.saturating_add(1)))
        .max()
        .unwrap_or(0);
    let seqs = SeqRanges::between(done, end);
    Ok(Some(Erasure {
        id: new_id(),
        tenant: tenant.into(),
        seqs,
        reason: Reason::Retention { cutoff: Timestamp(cutoff) },
        requested_by: String::new(),
        policy: String::new(),
        at: Timestamp(now),
        signature: None,
    }))
}

/// Signs `e` and appends it to the raw log.
pub fn record(ops: &PrivacyOps, mut e: Erasure, requested_by: &str, policy: &str) -> Result<Erasure, String> {
    e.requested_by = requested_by.into();
    e.policy = policy.into();
    e.sign(&ops.key);
    (ops.sink)(&[e.to_event()])?;
    Ok(e)
}

/// The erasures recorded (sealed) for `tenant`, oldest first.
pub fn actions(ledger: &LedgerView<'_>, tenant: &str) -> Result<Vec<PrivacyAction>> {
    let mut out = Vec::new();
    ledger.for_each_record(&privacy_chain(tenant), 0, |r| {
        // Only signed erasures are sealed (the sequencer dead-letters others).
        let Ok(e) = Erasure::from_event(&r.event) else { return };
        out.push(PrivacyAction {
            seq: r.header.seq,
            sealed_at: r.header.sealed_at.to_rfc3339(),
            requested_by: e.requested_by.clone(),
            policy: e.policy.clone(),
            outcome: ErasureOutcome::of(&e, 0),
        });
    })?;
    Ok(out)
}

/// One run of the retention job over every tenant with a maximum: each
/// tenant's run is recorded (even when it erases nothing new, so the
/// ledger shows the job ran). Returns what was recorded, and the failures.
pub fn retention_job(
    ledger: &traceledger_projection::Store,
    policy: &traceledger_policy::Policy,
    ops: &PrivacyOps,
    now: i64,
) -> (Vec<Erasure>, Vec<String>) {
    let (mut done, mut failed) = (Vec::new(), Vec::new());
    let tenants = match ledger.tenants() {
        Ok(t) => t,
        Err(e) => return (done, vec![format!("listing tenants: {e}")]),
    };
    let view = LedgerView::new(ledger);
    for t in tenants.iter().filter(|t| !traceledger_core::event::is_system_tenant_id(t)) {
        let planned = match plan_retention(&view, t, policy.retention_for(t), now) {
            Ok(Some(e)) => e,
            Ok(None) => continue,
            Err(e) => {
                failed.push(format!("{t}: {e}"));
                continue;
            }
        };
        match record(ops, planned, "retention-job", policy.version()) {
            Ok(e) => done.push(e),
            Err(e) => failed.push(format!("{t}: recording the run: {e}")),
        }
    }
    (done, failed)
}
