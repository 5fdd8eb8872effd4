//! Regulation mapping: the requirements on AI-system logs of the EU AI Act
//! (Art. 12, Art. 19, Art. 26(6)), ISO/IEC 42001 (control A.6.2.8) and the
//! NIST AI RMF functions, each assessed against the evidence already in
//! the report, with a status an auditor can sort by.
//!
//! Pure: [`assess`] reads a [`Soc2Report`] and its [`Recording`] and
//! nothing else, so the assessment is reproducible from the signed JSON.
//! The requirement texts are paraphrases for orientation, not the law's
//! words; the reference says where to read the original.

use crate::{Count, Soc2Report};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Six months, in days: the floor of Art. 19(1) and Art. 26(6) (read as
/// 183 days, the longest six consecutive months).
pub const SIX_MONTHS_DAYS: u32 = 183;

/// How a requirement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ReportRequirementStatus)]
pub enum Status {
    /// The evidence shows the requirement is met.
    Met,
    /// The ledger could meet it, but what it needs is not set up (a rule,
    /// a register, an evaluator): the finding says what.
    NotConfigured,
    /// The evidence shows the requirement is not met.
    Gap,
}

impl Status {
    /// The word shown to readers.
    pub fn label(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::NotConfigured => "not configured",
            Status::Gap => "gap",
        }
    }
}

/// One requirement and how the ledger's evidence meets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportRequirement)]
pub struct Requirement {
    /// `EU AI Act`, `ISO/IEC 42001`, `NIST AI RMF`.
    pub framework: String,
    /// Where to read it, e.g. `Art. 12(2)(a)`.
    pub reference: String,
    /// What it asks, paraphrased.
    pub asks: String,
    /// The evidence the ledger holds for it (figures of this report).
    pub evidence: Vec<String>,
    /// Met, not configured, or gap.
    pub status: Status,
    /// Why that status, and what to do when it is not met.
    pub finding: String,
}

/// What the ledger recorded, read from every record of the tenant's chain
/// at report time (the period's figures by event time).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReportRecording)]
pub struct Recording {
    /// When the tenant's first record was sealed (RFC 3339): the start of
    /// the logged lifetime.
    pub first_sealed_at: Option<String>,
    /// When its last record was sealed.
    pub last_sealed_at: Option<String>,
    /// The period's events by kind.
    pub kinds: Vec<Count>,
    /// Agents with an event in the period.
    pub agents: u64,
    /// Models used in the period (`provider/name[@version]`), by calls.
    pub models: Vec<Count>,
    /// Guardrail events in the period whose verdict was "triggered".
    pub guardrails_triggered: u64,
    /// Actions taken by the period's triggered guardrails (`not reported`
    /// when a guardrail said none).
    pub guardrail_actions: Vec<Count>,
    /// The period's evaluation results by label (`unlabelled` without one).
    pub evaluation_labels: Vec<Count>,
}

impl Recording {
    fn kind(&self, k: &str) -> u64 {
        self.kinds.iter().find(|c| c.name == k).map_or(0, |c| c.count)
    }
}

fn list(v: &[Count]) -> String {
    if v.is_empty() {
        return "none".into();
    }
    v.iter().map(|c| format!("{} {}", c.name, c.count)).collect::<Vec<_>>().join(", ")
}

fn req(
    framework: &str,
    reference: &str,
    asks: &str,
    evidence: Vec<String>,
    status: Status,
    finding: String,
) -> Requirement {
    Requirement {
        framework: framework.into(),
        reference: reference.into(),
        asks: asks.into(),
        evidence,
        status,
        finding,
    }
}

/// Every requirement, assessed against `r` (whose `recording` it reads).
pub fn assess(r: &Soc2Report) -> Vec<Requirement> {
    let rec = &r.recording;
    let pi = &r.processing_integrity;
    let v = &pi.verification;
    let k = &pi.completeness;
    let p = &r.privacy;
    let s = &r.security;
    let a = &r.availability;
    let events: u64 = rec.kinds.iter().map(|c| c.count).sum();
    let evaluations: u64 = rec.evaluation_labels.iter().map(|c| c.count).sum();
    let guardrails = rec.kind("guardrail");
    let reviews = rec.kind("human_review");
    let lifetime = match (&rec.first_sealed_at, &rec.last_sealed_at) {
        (Some(f), Some(l)) => format!("{} records sealed from {f} to {l}", v.records),
        _ => "no record sealed yet".to_string(),
    };
    let chain = format!(
        "chain verified at report time: {} ({} records, {} signatures, {} signed checkpoints)",
        if v.valid { "valid" } else { "INVALID" },
        v.records,
        v.signatures,
        v.checkpoints
    );
    let detections = format!(
        "detections in the period: {} prompt injection(s), {} tool call(s) out of policy, {} output-validation \
         failure(s), {} budget trip(s), {} provider failover(s)",
        s.prompt_injections,
        s.tools_out_of_policy,
        pi.output_validation_failures.iter().map(|c| c.count).sum::<u64>(),
        a.budget_trips,
        a.failovers
    );
    let guardrail_line = format!(
        "{guardrails} guardrail check(s), {} triggered; actions taken: {}",
        rec.guardrails_triggered,
        list(&rec.guardrail_actions)
    );
    let evaluation_line = format!("{evaluations} evaluation result(s); by label: {}", list(&rec.evaluation_labels));
    let retention = retention_status(p.retention_rule.as_ref().map(|x| (x.min_days, x.max_days)));
    let mut out = Vec::new();

    // EU AI Act, Art. 12(1).
    let (status, finding) = if v.records == 0 {
        (Status::NotConfigured, "Nothing is recorded yet: point the agents' SDK or OTLP exporter at the ledger.".into())
    } else if !v.valid {
        (Status::Gap, format!("The records do not verify: {}.", v.failure.clone().unwrap_or_default()))
    } else if k.missing_steps > 0 {
        (
            Status::Gap,
            format!(
                "{} step(s) missing inside {} incomplete session(s) of the period: events were not all recorded \
                 (see Processing Integrity, Completeness).",
                k.missing_steps, k.incomplete
            ),
        )
    } else {
        (Status::Met, "Every event the agents emitted is sealed automatically, in order, with no gap.".into())
    };
    out.push(req(
        "EU AI Act",
        "Art. 12(1)",
        "A high-risk AI system technically allows the automatic recording of events (logs) over its lifetime.",
        vec![
            lifetime.clone(),
            chain.clone(),
            format!("{events} event(s) in the period by kind: {}", list(&rec.kinds)),
            format!(
                "{} session(s) in the period, {} complete, {} missing step(s)",
                k.sessions, k.complete, k.missing_steps
            ),
        ],
        status,
        finding,
    ));

    // Art. 12(2)(a): risk situations and substantial modifications.
    let (status, finding) = if v.records == 0 {
        (Status::NotConfigured, "Nothing is recorded yet.".into())
    } else if guardrails + evaluations == 0 {
        (
            Status::Met,
            "The policy's detectors run on every record; no guardrail or evaluator results were recorded, which \
             would add the agents' own risk signals."
                .into(),
        )
    } else {
        (
            Status::Met,
            "Detections, guardrail verdicts and evaluation results are recorded with the steps they concern.".into(),
        )
    };
    out.push(req(
        "EU AI Act",
        "Art. 12(2)(a)",
        "The logs allow identifying situations that may present a risk (Art. 79(1)) or lead to a substantial \
         modification.",
        vec![
            detections.clone(),
            guardrail_line.clone(),
            evaluation_line.clone(),
            format!(
                "models in use in the period (a change is a candidate substantial modification): {}",
                list(&rec.models)
            ),
        ],
        status,
        finding,
    ));

    // Art. 12(2)(b): post-market monitoring.
    let days: std::collections::BTreeSet<&str> = pi.volumes.iter().map(|d| d.day.as_str()).collect();
    let (status, finding) = if pi.volumes.is_empty() {
        (Status::NotConfigured, "No activity in the period to monitor.".into())
    } else {
        (Status::Met, "Volume, errors, availability and latency per agent and provider are kept per day.".into())
    };
    out.push(req(
        "EU AI Act",
        "Art. 12(2)(b)",
        "The logs facilitate the provider's post-market monitoring (Art. 72).",
        vec![
            format!("{} day(s) of activity of {} agent(s) in the period", days.len(), rec.agents),
            format!(
                "{} agent(s) and {} model provider(s) with availability figures",
                a.agents.len(),
                a.providers.len()
            ),
            format!("{} rate-limit warning(s), {} failover(s)", a.rate_limit_warnings, a.failovers),
        ],
        status,
        finding,
    ));

    // Art. 12(2)(c): deployers' monitoring.
    // Every role reads (a viewer without content).
    let readers = s.keys.active;
    let (status, finding) = if readers == 0 {
        (
            Status::NotConfigured,
            "No active key may read the ledger: the deployer cannot monitor the operation. Create a key with a \
             reading role (traceledger keys create --role auditor)."
                .into(),
        )
    } else {
        (
            Status::Met,
            "The deployer reads the logs through the query API with role-scoped keys; every call is sealed.".into(),
        )
    };
    out.push(req(
        "EU AI Act",
        "Art. 12(2)(c)",
        "The logs facilitate monitoring of the system's operation by the deployer (Art. 26(5)).",
        vec![
            format!("{readers} active key(s); by role: {}", list(&s.keys.by_role)),
            format!("{} authenticated API call(s) in the period, sealed in the access chain", s.access.calls),
        ],
        status,
        finding,
    ));

    // Art. 19(1) and Art. 26(6): six months.
    let held = vec![
        p.retention.clone(),
        lifetime.clone(),
        format!(
            "{} erasure(s) sealed in the period; an erasure removes content only, the record, its hash and \
             signature stay",
            p.erasures.len()
        ),
    ];
    out.push(req(
        "EU AI Act",
        "Art. 19(1)",
        "The provider keeps the automatically generated logs under its control for a period appropriate to the \
         purpose, at least six months.",
        held.clone(),
        retention.0,
        retention.1.clone(),
    ));
    let mut deployer = held;
    deployer.push(
        "the ledger runs on the deployer's infrastructure; an export bundle verifies offline with public keys only \
         (traceledger export, traceledger verify)"
            .into(),
    );
    out.push(req(
        "EU AI Act",
        "Art. 26(6)",
        "The deployer keeps the logs under its control for at least six months, unless other law says otherwise.",
        deployer,
        retention.0,
        retention.1,
    ));

    // ISO/IEC 42001 A.6.2.8.
    let (status, finding) = if v.records == 0 {
        (Status::NotConfigured, "Nothing is recorded yet.".into())
    } else if !v.valid {
        (Status::Gap, "The event logs do not verify.".into())
    } else {
        (
            Status::Met,
            "Event logs are recorded while the system is in use, protected against tampering and kept by rule.".into(),
        )
    };
    out.push(req(
        "ISO/IEC 42001",
        "Annex A, A.6.2.8",
        "Determine the life-cycle phases in which AI system event logs are recorded, at least while the system is \
         in use.",
        vec![
            lifetime,
            chain,
            format!("encryption at rest: {}", r.confidentiality.encryption_at_rest),
            format!("retention: {}", p.retention),
        ],
        status,
        finding,
    ));

    // NIST AI RMF.
    let mut missing = Vec::new();
    if p.register.is_empty() {
        missing.push("a provider register (traceledger up --providers FILE)");
    }
    if p.retention_rule.is_none() {
        missing.push("a retention rule");
    }
    out.push(req(
        "NIST AI RMF",
        "GOVERN",
        "Policies, accountability and processes for AI risk are in place and enforced.",
        vec![
            format!("policy in force: {}", r.policy),
            format!("{} active key(s) by role: {}", s.keys.active, list(&s.keys.by_role)),
            format!("{} authenticated call(s), {} refused for the role", s.access.calls, s.access.forbidden),
        ],
        if missing.is_empty() { Status::Met } else { Status::NotConfigured },
        if missing.is_empty() {
            "A versioned policy, role-scoped access and a sealed access chain are in force.".into()
        } else {
            format!("Missing: {}.", missing.join("; "))
        },
    ));
    let flagged = p.unregistered_providers.len() + p.transfer_flags.len();
    out.push(req(
        "NIST AI RMF",
        "MAP",
        "The context, the components (agents, models, providers) and the data the system handles are known.",
        vec![
            format!("{} agent(s); models: {}", rec.agents, list(&rec.models)),
            format!("model providers seen: {}", if p.providers_seen.is_empty() { "none".into() } else { p.providers_seen.join(", ") }),
            format!("{} row(s) of personal-data inventory (kind, agent, provider)", p.inventory.len()),
        ],
        if flagged > 0 { Status::Gap } else { Status::Met },
        if flagged > 0 {
            format!("{flagged} provider flag(s): providers missing from the register or transfers without a basis (Privacy, Flags).")
        } else {
            "Every provider used is registered; the personal-data inventory is current.".into()
        },
    ));
    out.push(req(
        "NIST AI RMF",
        "MEASURE",
        "The system's risks and trustworthiness are measured and tracked.",
        vec![evaluation_line, detections, format!("{} of {} session(s) complete", k.complete, k.sessions)],
        if evaluations > 0 { Status::Met } else { Status::NotConfigured },
        if evaluations > 0 {
            "Evaluator results are recorded beside the steps they judge.".into()
        } else {
            "No evaluator results were recorded in the period: send gen_ai.evaluation.result events (or evaluation \
             events from an SDK) so quality is measured, not only detected."
                .into()
        },
    ));
    out.push(req(
        "NIST AI RMF",
        "MANAGE",
        "Risks are responded to: controls act, people review, incidents and data-subject requests are handled.",
        vec![
            guardrail_line,
            format!("{reviews} human review(s); {} budget trip(s)", a.budget_trips),
            format!("{} erasure(s) and {} data-subject export(s) in the period", p.erasures.len(), p.dsar_exports),
        ],
        if guardrails + reviews > 0 { Status::Met } else { Status::NotConfigured },
        if guardrails + reviews > 0 {
            "Guardrail actions and human reviews are recorded with the steps they acted on.".into()
        } else {
            "No guardrail check or human review was recorded in the period: record them so the response to a risk \
             is evidenced."
                .into()
        },
    ));
    out
}

/// Art. 19(1) / Art. 26(6): the retention floor in force.
fn retention_status(rule: Option<(u32, Option<u32>)>) -> (Status, String) {
    match rule {
        None => (
            Status::NotConfigured,
            format!(
                "No retention floor is in force: content is kept, but a data-subject erasure could remove content \
                 younger than six months. Set a retention rule with min_days >= {SIX_MONTHS_DAYS}."
            ),
        ),
        Some((min, _)) if min < SIX_MONTHS_DAYS => {
            (Status::Gap, format!("The retention floor is {min} day(s), under six months ({SIX_MONTHS_DAYS} days)."))
        }
        Some((min, Some(max))) if max < SIX_MONTHS_DAYS => {
            (Status::Gap, format!("Content is erased after {max} day(s), under six months (floor {min})."))
        }
        Some((min, _)) => (
            Status::Met,
            format!("No content younger than {min} day(s) can be erased, a data-subject request included."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_six_month_floor_decides_retention() {
        assert_eq!(retention_status(None).0, Status::NotConfigured);
        assert_eq!(retention_status(Some((30, None))).0, Status::Gap);
        assert_eq!(retention_status(Some((182, Some(400)))).0, Status::Gap);
        assert_eq!(retention_status(Some((183, None))).0, Status::Met);
        assert_eq!(retention_status(Some((200, Some(365)))).0, Status::Met);
    }

    #[test]
    fn statuses_serialise_as_snake_case_words() {
        assert_eq!(serde_json::to_string(&Status::NotConfigured).ok().as_deref(), Some("\"not_configured\""));
        assert_eq!(Status::Gap.label(), "gap");
    }
}
