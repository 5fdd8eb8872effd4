//! Export from a ledger store: the accepted records of some or all tenants,
//! with the sequencer's own signed checkpoints, as a verifiable bundle.
//! Works on the data directory of a stopped node (and on a live one: it
//! reads only what the log has acknowledged).

use crate::store::{Store, StoreError};
use std::collections::BTreeMap;
use std::path::Path;
use traceledger_bundle::BundlePlan;
use traceledger_core::erasure::goes_with;
use traceledger_core::event::Timestamp;
use traceledger_core::signing::SigningKey;
use traceledger_core::SealedRecord;
use traceledger_wire as wire;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Exported {
    /// Records written.
    pub records: u64,
    /// Records per tenant.
    pub tenants: BTreeMap<String, u64>,
    /// Sequencer checkpoints copied.
    pub checkpoints: u64,
}

/// Export failures.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the bundle failed.
    #[error(transparent)]
    Bundle(#[from] traceledger_bundle::Error),
    /// A tenant asked for is not in the store.
    #[error("tenant `{0}` is not in this ledger (it holds: {1})")]
    UnknownTenant(String, String),
}

/// What to export.
pub struct ExportPlan<'a> {
    /// Where and how the bundle is written.
    pub bundle: BundlePlan<'a>,
    /// Tenants to export; empty for all.
    pub tenants: &'a [String],
    /// Leave every content field out (commitments stay; said so in the
    /// bundle as withheld by the exporter).
    pub without_content: bool,
}

impl<'a> ExportPlan<'a> {
    /// Every tenant, content kept, the manifest signed by `key` whose own
    /// verifier key is the keyring.
    pub fn everything(log_name: &'a str, key: &'a SigningKey, out: &'a Path, now: Timestamp) -> Self {
        ExportPlan {
            bundle: BundlePlan { out, log_name, key, keyring: Vec::new(), now },
            tenants: &[],
            without_content: false,
        }
    }
}

/// Writes the bundle; `progress` is called with the records written so far.
pub fn export(store: &Store, plan: &ExportPlan<'_>, mut progress: impl FnMut(u64)) -> Result<Exported, ExportError> {
    let states = store.all_tenant_states()?;
    for t in plan.tenants {
        if !states.iter().any(|(n, _)| n == t) {
            let held: Vec<&str> = states.iter().map(|(n, _)| n.as_str()).collect();
            return Err(ExportError::UnknownTenant(t.clone(), held.join(", ")));
        }
    }
    let mut w = plan.bundle.writer()?;
    let mut out = Exported { records: 0, tenants: BTreeMap::new(), checkpoints: 0 };
    // A tenant's privacy chain goes with it: its signed erasures are what
    // account for the tenant's erased content (the verifier checks).
    let wanted = |t: &str| plan.tenants.is_empty() || plan.tenants.iter().any(|w| goes_with(t, w));
    for (tenant, st) in &states {
        if !wanted(tenant) {
            continue;
        }
        let size = st.accepted.next_seq;
        for (cp_size, note) in store.checkpoints(tenant)? {
            if cp_size <= size {
                w.add_checkpoint_note(tenant, cp_size, note.as_bytes())?;
                out.checkpoints += 1;
            }
        }
        // Without content no key is needed: encrypted content reads as erased.
        let records: Box<dyn Iterator<Item = Result<(u64, SealedRecord), StoreError>>> = if plan.without_content {
            Box::new(store.clear_records_from(tenant, 0)?)
        } else {
            Box::new(store.records_from(tenant, 0)?.map(|item| {
                let (seq, bytes) = item?;
                let r = wire::decode_record(&bytes, usize::MAX)
                    .map_err(|e| StoreError::Corrupt(format!("record {tenant}/{seq}: {e}")))?;
                Ok((seq, r))
            }))
        };
        for item in records {
            let (seq, r) = item?;
            if seq >= size {
                break;
            }
            w.append_kept(r, !plan.without_content)?;
            *out.tenants.entry(tenant.clone()).or_default() += 1;
            out.records += 1;
            progress(out.records);
        }
    }
    w.finish()?;
    Ok(out)
}
