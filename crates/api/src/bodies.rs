//! Response bodies of the query API, typed so that the OpenAPI document
//! says exactly what each route answers (schemathesis checks the answers
//! against it in `make test`).

use crate::api_keys::KeyInfo;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use traceledger_projection::alerts::Delivery;
use traceledger_projection::anomaly::Anomaly;
use traceledger_projection::availability::{AvailabilityReport, Breaker};
use traceledger_projection::ledger::StoredCheckpoint;
use traceledger_projection::pii::{InventoryRow, RecordFindings};
use traceledger_projection::sessions::{Completeness, SessionSummary};
use utoipa::ToSchema;

/// The caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    /// The key's tenant.
    pub tenant: String,
    /// Its role.
    pub role: String,
    /// Its id.
    pub key: String,
}

/// A session in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionItem {
    /// Summary.
    pub session: SessionSummary,
    /// Verdict now.
    pub completeness: Completeness,
    /// Records of the session that carry personal data or secrets.
    pub pii_records: u64,
    /// Anomalies flagged in the session.
    pub anomalies: u64,
}

/// A session's decision chain, with the PII findings of its records
/// (kinds, fields and spans; never values).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionChain {
    /// The chain.
    #[serde(flatten)]
    pub chain: traceledger_projection::sessions::SessionView,
    /// Findings of the session's records that carry personal data or secrets.
    pub pii: Vec<traceledger_projection::pii::RecordFindings>,
}

/// A page of sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionPage {
    /// Sessions.
    pub items: Vec<SessionItem>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// A signed checkpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointBody {
    /// Tree size.
    pub size: u64,
    /// Root hash, hex.
    pub root: String,
    /// The C2SP signed note.
    pub note: String,
}

impl From<&StoredCheckpoint> for CheckpointBody {
    fn from(c: &StoredCheckpoint) -> Self {
        CheckpointBody { size: c.size, root: c.root.to_hex(), note: c.note.clone() }
    }
}

/// An RFC 6962 inclusion proof with its checkpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct InclusionProof {
    /// The record.
    pub seq: u64,
    /// Its leaf hash, hex.
    pub leaf_hash: String,
    /// Tree size proved against.
    pub size: u64,
    /// Audit path, hex hashes.
    pub proof: Vec<String>,
    /// The signed checkpoint of that size.
    pub checkpoint: CheckpointBody,
}

/// An RFC 6962 consistency proof between two checkpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyProof {
    /// Older checkpoint.
    pub from: CheckpointBody,
    /// Newer checkpoint.
    pub to: CheckpointBody,
    /// Proof, hex hashes.
    pub proof: Vec<String>,
}

/// A page of checkpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointPage {
    /// Checkpoints, smallest first.
    pub items: Vec<CheckpointBody>,
    /// `min_size` of the next page.
    pub next_min_size: Option<u64>,
}

/// A page of the access log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessPage {
    /// The chain (`_access.<tenant>`).
    pub chain: String,
    /// Records in it.
    pub size: u64,
    /// Access records: seq, at, latency_ms, and who/role/route/status….
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    /// `before` of the next page.
    pub next_before: Option<u64>,
}

/// A page of PII findings.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingsPage {
    /// Records with findings.
    pub items: Vec<RecordFindings>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// The PII inventory.
#[derive(Debug, Serialize, ToSchema)]
pub struct PiiInventory {
    /// Kinds per agent and provider.
    pub inventory: Vec<InventoryRow>,
    /// Records per classification.
    pub classification: BTreeMap<String, u64>,
}

/// A page of anomalies.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnomalyPage {
    /// Anomalies, in chain order.
    pub items: Vec<Anomaly>,
    /// Anomalies of the tenant per kind.
    pub counts: BTreeMap<String, u64>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// One message of a projection stream.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamItem {
    /// Its offset in the tenant's partition of the stream's topic.
    pub offset: u64,
    /// The message (the stream's Avro record, as JSON; docs/streams.md).
    #[schema(value_type = Object)]
    pub message: serde_json::Value,
}

/// A page of a projection stream.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamPage {
    /// Messages of the key's tenant, in order.
    pub items: Vec<StreamItem>,
    /// Where to read next: always given (poll it for messages published later).
    pub next_cursor: String,
}

/// Availability, with each agent's breaker now.
#[derive(Debug, Serialize, ToSchema)]
pub struct Availability {
    /// The figures.
    #[serde(flatten)]
    pub report: AvailabilityReport,
    /// Breakers by agent.
    pub breakers: BTreeMap<String, Breaker>,
}

/// Webhook deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deliveries {
    /// Attempts, newest first.
    pub items: Vec<Delivery>,
}

/// The tenant's keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// Keys (never secrets).
    pub items: Vec<KeyInfo>,
}

/// A new key.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewKey {
    /// The secret, shown this once.
    pub secret: String,
    /// The key.
    pub key: KeyInfo,
    /// A reminder.
    pub note: String,
}

/// Whether a policy would load on this node.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyCheck {
    /// It would load.
    pub valid: bool,
    /// What it sets, when valid.
    pub summary: Option<traceledger_policy::PolicySummary>,
    /// The first problem, when not.
    pub error: Option<traceledger_policy::PolicyError>,
}
