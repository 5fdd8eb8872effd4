//! What the node's HTTP handlers share: the node's parts they use. (They
//! answer errors as the query API does: `traceledger_api::AppError`.)

use std::sync::Arc;
use traceledger_log::Log;
use traceledger_sequencer::{Sequencer, Stats};

#[derive(Clone)]
pub(crate) struct App {
    pub(crate) node: Arc<NodeShared>,
}

/// What the HTTP handlers need of a node.
pub struct NodeShared {
    pub(crate) log: Arc<dyn Log>,
    pub(crate) raw_topic: String,
    pub(crate) stats: Arc<Stats>,
    pub(crate) partitions: u32,
    /// The partitions this node's sequencer runs.
    pub(crate) owned: Arc<[u32]>,
    pub(crate) healthy: Box<dyn Fn() -> bool + Send + Sync>,
    pub(crate) seq: Arc<Sequencer>,
    /// Counts of other stages (the projections) for the health answer.
    pub(crate) extra: Option<StatusFn>,
    /// Encryption at rest, if on.
    pub(crate) vault: Option<Arc<traceledger_vault::Vault>>,
    /// OTLP spans taken and rejected.
    pub(crate) otlp: Arc<crate::metrics::OtlpCounters>,
    /// Step numbers of OTLP sessions across exports.
    pub(crate) steps: std::sync::Mutex<traceledger_otlp::steps::StepClock>,
    /// The first free step of a session the node holds (from the sessions
    /// read model, when this node has one).
    pub(crate) step_seed: Option<StepSeed>,
}

/// The first free step of (tenant, session), from what the node holds.
pub type StepSeed = Arc<dyn Fn(&str, &str) -> Option<u32> + Send + Sync>;

/// Sessions whose next OTLP step number a node remembers.
pub(crate) const OTLP_SESSIONS: usize = 100_000;

pub use traceledger_projection::supervisor::StatusFn;
