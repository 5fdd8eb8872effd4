//! The SOC 2 evidence report of one tenant over a period: one section per
//! Trust Service Criterion, each backed by figures read from the ledger's
//! read models at report time, anchored to a signed checkpoint; then the
//! regulation mapping (EU AI Act Art. 12, 19, 26(6); ISO/IEC 42001
//! A.6.2.8; NIST AI RMF), each requirement with its evidence and status.
//!
//! This crate is pure: the figures come in as a [`Soc2Report`] (gathered by
//! the API crate from the stores), and go out as JSON, as self-contained
//! printable HTML with inline SVG charts ([`html`]), and with a signed note
//! over the SHA-256 of the exact bytes served ([`note`]), which
//! `traceledger verify-report` checks offline with the ledger's public key.

pub mod html;
pub mod note;
pub mod providers;
pub mod regulation;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Format name of the JSON report.
pub const FORMAT: &str = "traceledger-soc2/v1";

/// A name and a count (for tables and charts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportCount)]
pub struct Count {
    /// What is counted.
    pub name: String,
    /// How many.
    pub count: u64,
}

/// The signed checkpoint the report rests on: the tenant's tree at report time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportAnchor)]
pub struct Anchor {
    /// Checkpoint origin (`<log>/<tenant>`).
    pub origin: String,
    /// Tree size (records covered).
    pub size: u64,
    /// Root hash, hex.
    pub root: String,
    /// The checkpoint's signed note, as published.
    pub note: String,
}

/// Events and errors of one agent on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportDayVolume)]
pub struct DayVolume {
    /// `YYYY-MM-DD` (UTC, agent clock).
    pub day: String,
    /// Agent.
    pub agent: String,
    /// Events.
    pub events: u64,
    /// Error events.
    pub errors: u64,
}

/// The chain and checkpoints verified at report time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportChainCheck)]
pub struct ChainCheck {
    /// Records verified (hash chain, leaf, commitments, signature).
    pub records: u64,
    /// Signatures verified.
    pub signatures: u64,
    /// Signed checkpoints verified against the records.
    pub checkpoints: u64,
    /// Everything verified.
    pub valid: bool,
    /// The first failure, if any (check, position, detail).
    pub failure: Option<String>,
}

/// Sessions of the period by completeness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportCompleteness)]
pub struct Completeness {
    /// Sessions with a step in the period.
    pub sessions: u64,
    /// Ended with every expected step.
    pub complete: u64,
    /// Not ended, still within the timeout.
    pub open: u64,
    /// Ended with gaps or too few steps, or no end within the timeout.
    pub incomplete: u64,
    /// Steps recorded in the period's sessions.
    pub recorded_steps: u64,
    /// Steps expected (declared or implied by the highest index).
    pub expected_steps: u64,
    /// Step indexes missing inside sessions.
    pub missing_steps: u64,
    /// Up to 50 incomplete session ids.
    pub incomplete_sessions: Vec<String>,
}

/// Trust Service Criterion: Processing Integrity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportProcessingIntegrity)]
pub struct ProcessingIntegrity {
    /// Trace volume per agent and day.
    pub volumes: Vec<DayVolume>,
    /// Chain and checkpoint verification at report time.
    pub verification: ChainCheck,
    /// Completeness of the period's sessions.
    pub completeness: Completeness,
    /// Output-validation failures per agent in the period.
    pub output_validation_failures: Vec<Count>,
}

/// Trust Service Criterion: Confidentiality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportConfidentiality)]
pub struct Confidentiality {
    /// Records carrying personal data or secrets (the whole ledger).
    pub pii_records: u64,
    /// Records with a finding of each kind.
    pub by_kind: Vec<Count>,
    /// Records with findings per agent.
    pub by_agent: Vec<Count>,
    /// Findings per content field.
    pub by_field: Vec<Count>,
    /// Records per data classification.
    pub classification: Vec<Count>,
    /// Redaction before sealing: the policy in force, or why there is none.
    pub redaction: String,
    /// Encryption at rest: the cipher, the tenant's data key and the
    /// master wrapping it, or that there is none.
    #[serde(default)]
    pub encryption_at_rest: String,
}

/// Availability of one agent or provider over the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportUptime)]
pub struct Uptime {
    /// Agent id or provider name.
    pub name: String,
    /// Events.
    pub events: u64,
    /// Error events.
    pub errors: u64,
    /// errors / events.
    pub error_rate: f64,
    /// Share of the period up (heartbeats for agents; error-majority minutes for providers).
    pub uptime: f64,
    /// Latency p95, ms.
    pub p95_ms: Option<f64>,
}

/// Trust Service Criterion: Availability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportAvailability)]
pub struct Availability {
    /// Per agent.
    pub agents: Vec<Uptime>,
    /// Per model provider.
    pub providers: Vec<Uptime>,
    /// Provider failovers in the period.
    pub failovers: u64,
    /// Rate-limit warnings in the period.
    pub rate_limit_warnings: u64,
    /// Budget trips (the circuit breaker's reason to deny) in the period.
    pub budget_trips: u64,
}

/// API access in the period, from the tenant's access chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportAccessSummary)]
pub struct AccessSummary {
    /// Authenticated calls recorded.
    pub calls: u64,
    /// Calls per HTTP status.
    pub by_status: Vec<Count>,
    /// Calls per role.
    pub by_role: Vec<Count>,
    /// 403 answers (a role asked for more than it may).
    pub forbidden: u64,
    /// 429 answers (rate limited).
    pub rate_limited: u64,
}

/// API keys of the tenant at report time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportKeysSummary)]
pub struct KeysSummary {
    /// Keys that work now.
    pub active: u64,
    /// Revoked keys.
    pub revoked: u64,
    /// Keys past their expiry.
    pub expired: u64,
    /// Active keys expiring within 30 days.
    pub expiring_30d: u64,
    /// Keys made by rotation.
    pub rotated: u64,
    /// Active keys without an expiry.
    pub without_expiry: u64,
    /// Active keys per role (role assignments).
    pub by_role: Vec<Count>,
}

/// Trust Service Criterion: Security.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportSecurity)]
pub struct Security {
    /// API access.
    pub access: AccessSummary,
    /// Keys, rotation, expiry, roles.
    pub keys: KeysSummary,
    /// Prompt-injection detections in the period.
    pub prompt_injections: u64,
    /// Tool calls outside their boundary in the period.
    pub tools_out_of_policy: u64,
}

/// One row of the PII inventory: a kind of data an agent sent to a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportInventoryRow)]
pub struct InventoryRow {
    /// Kind of data.
    pub kind: String,
    /// Agent.
    pub agent: String,
    /// Model provider (`none` when no model was called).
    pub provider: String,
    /// Records.
    pub records: u64,
}

/// Trust Service Criterion: Privacy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportPrivacy)]
pub struct Privacy {
    /// Kind → agent → provider.
    pub inventory: Vec<InventoryRow>,
    /// Model providers seen in the period's traces.
    pub providers_seen: Vec<String>,
    /// The provider register in force (empty when none is configured).
    pub register: Vec<providers::Provider>,
    /// Whether the personal data handled includes EU residents' (from the register).
    pub eu_subjects: bool,
    /// Providers seen in traces or sent personal data but missing from the register.
    pub unregistered_providers: Vec<String>,
    /// Personal data of EU subjects sent outside the EU/EEA without a transfer basis.
    pub transfer_flags: Vec<String>,
    /// Data-subject requests handled, or why none are recorded.
    pub dsar: String,
    /// Retention actions, or why none are recorded.
    pub retention: String,
    /// The retention rule in force for the tenant (none: content is kept).
    #[serde(default)]
    pub retention_rule: Option<RetentionRule>,
    /// Data-subject export requests answered in the period (access chain).
    #[serde(default)]
    pub dsar_exports: u64,
    /// Erasures sealed in the period (`_privacy.<tenant>`): DSAR erasures
    /// and retention runs, oldest first.
    #[serde(default)]
    pub erasures: Vec<ErasureRow>,
}

/// A retention rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportRetentionRule)]
pub struct RetentionRule {
    /// Nothing younger is erased.
    pub min_days: u32,
    /// The retention job erases older content (none: kept).
    pub max_days: Option<u32>,
}

/// One erasure sealed in the tenant's privacy chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportErasure)]
pub struct ErasureRow {
    /// Seq in `_privacy.<tenant>`.
    pub seq: u64,
    /// Sealed at (RFC 3339).
    pub sealed_at: String,
    /// `dsar_erase` or `retention`.
    pub action: String,
    /// The data subject (DSAR).
    pub subject: Option<String>,
    /// Records whose content it erased.
    pub records: u64,
    /// Records held inside the retention minimum (DSAR).
    pub held: u64,
    /// Who asked (an API key id, or `retention-job`).
    pub requested_by: String,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Soc2Report {
    /// [`FORMAT`].
    pub format: String,
    /// Tenant.
    pub tenant_id: String,
    /// Period start (RFC 3339, inclusive).
    pub from: String,
    /// Period end (RFC 3339, exclusive).
    pub to: String,
    /// When the report was made (RFC 3339).
    pub generated_at: String,
    /// Policy version whose rules and thresholds applied.
    pub policy: String,
    /// The checkpoint the report rests on; `None` when the tenant has none yet.
    pub anchor: Option<Anchor>,
    /// Processing Integrity.
    pub processing_integrity: ProcessingIntegrity,
    /// Confidentiality.
    pub confidentiality: Confidentiality,
    /// Availability.
    pub availability: Availability,
    /// Security.
    pub security: Security,
    /// Privacy.
    pub privacy: Privacy,
    /// What the ledger recorded (read from every record at report time).
    #[serde(default)]
    pub recording: regulation::Recording,
    /// EU AI Act, ISO/IEC 42001 and NIST AI RMF requirements, each with
    /// its evidence and status ([`regulation::assess`] of the above).
    #[serde(default)]
    pub regulations: Vec<regulation::Requirement>,
}

/// Sorts counts largest first, then by name.
pub fn ranked(mut v: Vec<Count>) -> Vec<Count> {
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    v
}
