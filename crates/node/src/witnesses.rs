//! The node's witnesses: `--witness-policy FILE` read once at start-up, its
//! witnesses with a URL wired into the sequencer as its [`Witnesses`].

use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use traceledger_core::tlog_policy::Policy;
use traceledger_core::Hash;
use traceledger_sequencer::{Witnesses, Witnessing};
use traceledger_witness::client::{Outcome, Submitter};

struct PolicyWitnesses(Submitter);

impl Witnesses for PolicyWitnesses {
    fn cosign(
        &self,
        origin: &str,
        size: u64,
        note: &str,
        prove: &(dyn Fn(u64) -> Option<Vec<Hash>> + Sync),
    ) -> Vec<String> {
        let mut lines = Vec::new();
        for (name, outcome) in self.0.names().into_iter().zip(self.0.submit(origin, size, note, prove)) {
            match outcome {
                Outcome::Cosigned(line) => lines.push(line),
                Outcome::Failed(why) => tracing::warn!(witness = %name, origin, size, "not cosigned: {why}"),
            }
        }
        lines
    }
}

/// The sequencer's witnesses from a policy file.
pub fn from_policy_file(path: &Path) -> anyhow::Result<Witnessing> {
    let text = std::fs::read_to_string(path).with_context(|| format!("--witness-policy {}", path.display()))?;
    let policy = Policy::parse(&text).with_context(|| format!("--witness-policy {}", path.display()))?;
    let submitter = Submitter::new(&policy).map_err(anyhow::Error::msg).with_context(|| path.display().to_string())?;
    Ok(Witnessing(Arc::new(PolicyWitnesses(submitter))))
}
