//! The names of the topics between the services. They live with the log,
//! not with the sequencer, so that a reader of the sealed stream (the
//! projections, the query API) never depends on the service that writes it.

/// The topic names of one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// Raw trace events (key = tenant id).
    pub raw: String,
    /// Sealed records.
    pub sealed: String,
    /// Signed checkpoints.
    pub checkpoints: String,
    /// Dead letters.
    pub dlq: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            raw: "traces.raw".into(),
            sealed: "ledger.sealed".into(),
            checkpoints: "ledger.checkpoints".into(),
            dlq: "traces.dlq".into(),
        }
    }
}

impl Topics {
    /// The default names, each prefixed with `prefix` (e.g. `staging.`).
    pub fn with_prefix(prefix: &str) -> Self {
        let d = Topics::default();
        Topics {
            raw: format!("{prefix}{}", d.raw),
            sealed: format!("{prefix}{}", d.sealed),
            checkpoints: format!("{prefix}{}", d.checkpoints),
            dlq: format!("{prefix}{}", d.dlq),
        }
    }

    /// The prefix the names were made with (`""` for the defaults).
    pub fn prefix(&self) -> &str {
        self.sealed.strip_suffix("ledger.sealed").unwrap_or("")
    }

    /// Another topic of the deployment (`projections.pii`, `api.keys`)
    /// under the same prefix.
    pub fn named(&self, name: &str) -> String {
        format!("{}{name}", self.prefix())
    }
}
