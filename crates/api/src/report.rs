//! Gathers the SOC 2 report's figures of one tenant over a period from the
//! read models (the rendering and the signature are `traceledger-report`'s).
//!
//! Everything is read at report time: the tenant's chain is verified record
//! by record against its signed checkpoints, the latest checkpoint becomes
//! the report's anchor. The PII figures are the whole ledger's (findings
//! carry no time), every other figure is the period's.

use crate::ApiState;
use std::collections::BTreeMap;
use traceledger_core::checkpoint::Checkpoint;
use traceledger_core::event::{access_chain, EventKind, Timestamp};
use traceledger_core::signing::Keyring;
use traceledger_core::verify::Verifier;
use traceledger_policy::AnomalyKind;
use traceledger_projection::anomaly::{AnomalyView, Filter as AnomalyFilter};
use traceledger_projection::availability::AvailabilityView;
use traceledger_projection::ledger::LedgerView;
use traceledger_projection::pii::PiiView;
use traceledger_projection::sessions::{Completeness as C, Filter as SessionFilter, SessionsView};
use traceledger_report as r;

type Res<T> = Result<T, String>;

fn e(x: impl std::fmt::Display) -> String {
    x.to_string()
}

fn counts(m: BTreeMap<String, u64>) -> Vec<r::Count> {
    r::ranked(m.into_iter().map(|(name, count)| r::Count { name, count }).collect())
}

/// The report of `tenant` over [from, to) (µs), made at `now`.
pub fn soc2(s: &ApiState, keyring: &Keyring, tenant: &str, from: i64, to: i64, now: i64) -> Res<r::Soc2Report> {
    let policy = s.policy.current();
    let ledger = LedgerView::new(&s.ledger);
    let anchor = ledger.latest_checkpoint(tenant).map_err(e)?.map(|cp| r::Anchor {
        origin: cp.note.lines().next().unwrap_or_default().to_string(),
        size: cp.size,
        root: cp.root.to_hex(),
        note: cp.note,
    });
    let anomalies = anomaly_counts(s, tenant, from, to)?;
    let by_kind = |k: AnomalyKind| anomalies.iter().filter(|(kind, _)| *kind == k).map(|(_, n)| n).sum::<u64>();
    let per_agent = |k: AnomalyKind| {
        let mut m = BTreeMap::new();
        for ((kind, agent), n) in &anomalies_by_agent(s, tenant, from, to, k)? {
            debug_assert_eq!(*kind, k);
            m.insert(agent.clone(), *n);
        }
        Ok::<_, String>(counts(m))
    };
    let avail = AvailabilityView::new(&s.availability).report(tenant, from, to, &policy).map_err(e)?;
    let uptime = |v: &[traceledger_projection::availability::ScopeAvailability]| -> Vec<r::Uptime> {
        v.iter()
            .map(|x| r::Uptime {
                name: x.name.clone(),
                events: x.events,
                errors: x.errors,
                error_rate: if x.events == 0 { 0.0 } else { x.errors as f64 / x.events as f64 },
                uptime: x.uptime,
                p95_ms: x.latency_ms.as_ref().map(|l| l.p95),
            })
            .collect()
    };
    let pii = PiiView::new(&s.pii);
    let inventory = pii.inventory(tenant).map_err(e)?;
    let (unregistered, transfer_flags) = provider_flags(&s.providers, &avail.providers, &inventory);
    let (access, dsar) = access(s, tenant, from, to)?;
    let rule = s
        .policy
        .current()
        .retention_for(tenant)
        .map(|r| r::RetentionRule { min_days: r.min_days, max_days: r.max_days });
    let erasures = erasures(s, tenant, from, to)?;
    let mut tally = Tally::new(from, to);
    let verification = verify_chain(s, keyring, tenant, &mut tally)?;
    let (dsar_erasures, runs): (Vec<&r::ErasureRow>, Vec<&r::ErasureRow>) =
        erasures.iter().partition(|e| e.action == "dsar_erase");
    let mut report = r::Soc2Report {
        format: r::FORMAT.into(),
        tenant_id: tenant.into(),
        from: Timestamp(from).to_rfc3339(),
        to: Timestamp(to).to_rfc3339(),
        generated_at: Timestamp(now).to_rfc3339(),
        policy: policy.version().to_string(),
        anchor,
        processing_integrity: r::ProcessingIntegrity {
            volumes: volumes(s, tenant, from, to)?,
            verification,
            completeness: completeness(s, tenant, from, to, now)?,
            output_validation_failures: per_agent(AnomalyKind::OutputValidation)?,
        },
        confidentiality: confidentiality(&pii, tenant, &policy, s.ledger.vault())?,
        availability: r::Availability {
            agents: uptime(&avail.agents),
            providers: uptime(&avail.providers),
            failovers: by_kind(AnomalyKind::Failover),
            rate_limit_warnings: by_kind(AnomalyKind::RateLimitWarning),
            budget_trips: by_kind(AnomalyKind::BudgetExceeded),
        },
        security: r::Security {
            access,
            keys: keys(s, tenant, now)?,
            prompt_injections: by_kind(AnomalyKind::PromptInjection),
            tools_out_of_policy: by_kind(AnomalyKind::ToolOutOfPolicy),
        },
        privacy: r::Privacy {
            inventory: inventory
                .into_iter()
                .map(|i| r::InventoryRow { kind: i.kind, agent: i.agent_id, provider: i.provider, records: i.records })
                .collect(),
            providers_seen: avail.providers.iter().map(|p| p.name.clone()).collect(),
            register: s.providers.providers.clone(),
            eu_subjects: s.providers.eu_subjects,
            unregistered_providers: unregistered.clone(),
            transfer_flags,
            dsar: format!(
                "{dsar} data-subject export request(s) answered in the period (GET /v1/dsar/{{subject}}, from the sealed \
                 access chain); {} erasure request(s) sealed, erasing {} record(s) and holding {} inside the retention \
                 minimum (the _privacy.{tenant} chain).",
                dsar_erasures.len(),
                dsar_erasures.iter().map(|e| e.records).sum::<u64>(),
                dsar_erasures.iter().map(|e| e.held).sum::<u64>(),
            ),
            retention: match &rule {
                None => "No retention rule is configured: content is kept.".to_string(),
                Some(r) => format!(
                    "Content is kept at least {} day(s) (no erasure of younger content, a DSAR included){}; {} \
                     retention run(s) sealed in the period erased {} record(s).",
                    r.min_days,
                    r.max_days.map(|m| format!(" and erased after {m} day(s) by the retention job")).unwrap_or_default(),
                    runs.len(),
                    runs.iter().map(|e| e.records).sum::<u64>(),
                ),
            },
            retention_rule: rule,
            dsar_exports: dsar,
            erasures,
        },
        recording: tally.finish(),
        regulations: Vec::new(),
    };
    report.regulations = r::regulation::assess(&report);
    Ok(report)
}

/// The period's events by kind, agent, model, guardrail outcome and
/// evaluation label, gathered on the verification walk over every record.
struct Tally {
    from: i64,
    to: i64,
    out: r::regulation::Recording,
    kinds: BTreeMap<String, u64>,
    agents: std::collections::BTreeSet<String>,
    models: BTreeMap<String, u64>,
    actions: BTreeMap<String, u64>,
    labels: BTreeMap<String, u64>,
}

impl Tally {
    fn new(from: i64, to: i64) -> Self {
        Tally {
            from,
            to,
            out: Default::default(),
            kinds: BTreeMap::new(),
            agents: Default::default(),
            models: BTreeMap::new(),
            actions: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    }

    fn push(&mut self, rec: &traceledger_core::seal::SealedRecord) {
        let sealed = rec.header.sealed_at.to_rfc3339();
        if self.out.first_sealed_at.is_none() {
            self.out.first_sealed_at = Some(sealed.clone());
        }
        self.out.last_sealed_at = Some(sealed);
        let ev = &rec.event;
        if ev.timestamp.0 < self.from || ev.timestamp.0 >= self.to {
            return;
        }
        let attr = |k: &str| ev.attributes.iter().find(|a| a.key == k).map(|a| a.value.as_str());
        *self.kinds.entry(ev.kind.symbol().to_string()).or_default() += 1;
        if !self.agents.contains(&ev.agent_id) {
            self.agents.insert(ev.agent_id.clone());
        }
        if let Some(m) = &ev.model {
            let v = m.version.as_deref().map(|v| format!("@{v}")).unwrap_or_default();
            *self.models.entry(format!("{}/{}{v}", m.provider, m.name)).or_default() += 1;
        }
        match ev.kind {
            EventKind::Guardrail if attr("gen_ai.guardrail.triggered") == Some("true") => {
                self.out.guardrails_triggered += 1;
                let action = attr("gen_ai.guardrail.action").unwrap_or("not reported").to_string();
                *self.actions.entry(action).or_default() += 1;
            }
            EventKind::Evaluation => {
                let label = attr("gen_ai.evaluation.score.label").unwrap_or("unlabelled").to_string();
                *self.labels.entry(label).or_default() += 1;
            }
            _ => {}
        }
    }

    fn finish(self) -> r::regulation::Recording {
        let mut out = self.out;
        out.kinds = counts(self.kinds);
        out.agents = self.agents.len() as u64;
        out.models = counts(self.models);
        out.guardrail_actions = counts(self.actions);
        out.evaluation_labels = counts(self.labels);
        out
    }
}

/// Erasures sealed in `[from, to)` in the tenant's privacy chain.
fn erasures(s: &ApiState, tenant: &str, from: i64, to: i64) -> Res<Vec<r::ErasureRow>> {
    let actions = crate::privacy_ops::actions(&LedgerView::new(&s.ledger), tenant).map_err(|e| e.to_string())?;
    Ok(actions
        .into_iter()
        .filter(|a| Timestamp::parse_rfc3339(&a.sealed_at).is_some_and(|t| t.0 >= from && t.0 < to))
        .map(|a| r::ErasureRow {
            seq: a.seq,
            sealed_at: a.sealed_at,
            action: a.outcome.action,
            subject: a.outcome.subject,
            records: a.outcome.erasing,
            held: a.outcome.held,
            requested_by: a.requested_by,
        })
        .collect())
}

/// Providers used but not registered; personal data of EU subjects sent
/// outside the EU/EEA without a transfer basis.
fn provider_flags(
    reg: &r::providers::Register,
    seen: &[traceledger_projection::availability::ScopeAvailability],
    inventory: &[traceledger_projection::pii::InventoryRow],
) -> (Vec<String>, Vec<String>) {
    let used: std::collections::BTreeSet<&str> = seen
        .iter()
        .map(|p| p.name.as_str())
        .chain(inventory.iter().map(|i| i.provider.as_str()).filter(|p| *p != "none"))
        .collect();
    let unregistered: Vec<String> = used.iter().filter(|p| reg.get(p).is_none()).map(|p| p.to_string()).collect();
    let mut flags = Vec::new();
    if reg.eu_subjects {
        let mut sent: BTreeMap<&str, (u64, std::collections::BTreeSet<&str>)> = BTreeMap::new();
        for i in inventory.iter().filter(|i| i.provider != "none" && i.records > 0) {
            let e = sent.entry(i.provider.as_str()).or_default();
            e.0 += i.records;
            e.1.insert(i.kind.as_str());
        }
        for (p, (n, kinds)) in sent {
            let kinds = kinds.into_iter().collect::<Vec<_>>().join(", ");
            match reg.get(p) {
                None => flags.push(format!(
                    "personal data ({kinds}; {n} record-kinds) sent to `{p}`, which is not in the register: region and transfer basis unknown"
                )),
                Some(e) if !r::providers::is_eu_region(&e.region)
                    && e.transfer_basis == r::providers::TransferBasis::None =>
                {
                    flags.push(format!(
                        "personal data of EU subjects ({kinds}; {n} record-kinds) sent to `{p}` in region `{}` without a transfer basis",
                        e.region
                    ))
                }
                Some(_) => {}
            }
        }
    }
    (unregistered, flags)
}

/// Anomalies of the period per kind (every page of the model's list).
fn anomaly_counts(s: &ApiState, tenant: &str, from: i64, to: i64) -> Res<Vec<(AnomalyKind, u64)>> {
    let mut m: BTreeMap<AnomalyKind, u64> = BTreeMap::new();
    let f = AnomalyFilter { from: Some(from), to: Some(to), ..Default::default() };
    each_anomaly(s, tenant, &f, |a| *m.entry(a.kind).or_default() += 1)?;
    Ok(m.into_iter().collect())
}

fn anomalies_by_agent(
    s: &ApiState,
    tenant: &str,
    from: i64,
    to: i64,
    kind: AnomalyKind,
) -> Res<BTreeMap<(AnomalyKind, String), u64>> {
    let mut m = BTreeMap::new();
    let f = AnomalyFilter { kind: Some(kind), from: Some(from), to: Some(to), ..Default::default() };
    each_anomaly(s, tenant, &f, |a| *m.entry((a.kind, a.agent_id.clone())).or_default() += 1)?;
    Ok(m)
}

fn each_anomaly(
    s: &ApiState,
    tenant: &str,
    f: &AnomalyFilter,
    mut each: impl FnMut(&traceledger_projection::anomaly::Anomaly),
) -> Res<()> {
    let v = AnomalyView::new(&s.anomaly);
    let mut at = (0, 0);
    loop {
        let (items, next) = v.list(tenant, f, at, 1000).map_err(e)?;
        items.iter().for_each(&mut each);
        match next {
            Some(n) => at = n,
            None => return Ok(()),
        }
    }
}

/// Events and errors per agent and UTC day.
fn volumes(s: &ApiState, tenant: &str, from: i64, to: i64) -> Res<Vec<r::DayVolume>> {
    let series = AvailabilityView::new(&s.availability).series(tenant, from, to, 1440).map_err(e)?;
    let mut out = Vec::new();
    for x in series.series.iter().filter(|x| x.scope == "agent") {
        for p in &x.points {
            let day = Timestamp(p.at).to_rfc3339().chars().take(10).collect();
            out.push(r::DayVolume { day, agent: x.name.clone(), events: p.events, errors: p.errors });
        }
    }
    out.sort_by(|a, b| a.day.cmp(&b.day).then_with(|| a.agent.cmp(&b.agent)));
    Ok(out)
}

/// Every record of the tenant's chain and every signed checkpoint, through
/// the same verifier `traceledger verify` runs on a bundle.
fn verify_chain(s: &ApiState, keyring: &Keyring, tenant: &str, tally: &mut Tally) -> Res<r::ChainCheck> {
    let ledger = LedgerView::new(&s.ledger);
    let size = ledger.size(tenant).map_err(e)?;
    let mut v = Verifier::new(keyring, None);
    let failed = |f: &dyn std::fmt::Display, records: u64| r::ChainCheck {
        records,
        signatures: 0,
        checkpoints: 0,
        valid: false,
        failure: Some(f.to_string()),
    };
    for seq in 0..size {
        let Some(rec) = ledger.sealed(tenant, seq).map_err(e)? else {
            return Ok(failed(&format!("record {seq} is missing from the ledger model"), seq));
        };
        tally.push(&rec);
        if let Err(f) = v.push_record(&rec) {
            return Ok(failed(&f, seq));
        }
    }
    let mut min = 0;
    loop {
        let page = ledger.checkpoints(tenant, min, 1000).map_err(e)?;
        let Some(last) = page.last().map(|c| c.size) else { break };
        for cp in &page {
            match Checkpoint::open(cp.note.as_bytes(), keyring) {
                Ok((c, _)) => {
                    if let Err(f) = v.push_checkpoint(c) {
                        return Ok(failed(&f, size));
                    }
                }
                Err(err) => return Ok(failed(&format!("checkpoint of size {}: {err}", cp.size), size)),
            }
        }
        min = last + 1;
    }
    match v.finish() {
        Ok(rep) => Ok(r::ChainCheck {
            records: rep.records,
            signatures: rep.signatures,
            checkpoints: rep.checkpoints,
            valid: true,
            failure: None,
        }),
        Err(f) => Ok(failed(&f, size)),
    }
}

fn completeness(s: &ApiState, tenant: &str, from: i64, to: i64, now: i64) -> Res<r::Completeness> {
    let v = SessionsView::new(&s.sessions);
    let f = SessionFilter { from: Some(from), to: Some(to), ..Default::default() };
    let mut c = r::Completeness {
        sessions: 0,
        complete: 0,
        open: 0,
        incomplete: 0,
        recorded_steps: 0,
        expected_steps: 0,
        missing_steps: 0,
        incomplete_sessions: Vec::new(),
    };
    let mut cursor: Option<String> = None;
    loop {
        let (items, next) = v.list(tenant, &f, cursor.as_deref(), 1000, now, s.session_timeout_micros).map_err(e)?;
        for (x, state) in items {
            c.sessions += 1;
            c.recorded_steps += x.recorded;
            let span = u64::from(x.max_step_index) + 1;
            c.expected_steps += span.max(x.expected_steps.map_or(0, u64::from));
            c.missing_steps += span.saturating_sub(x.recorded);
            match state {
                C::Complete => c.complete += 1,
                C::Open => c.open += 1,
                C::Incomplete => {
                    c.incomplete += 1;
                    if c.incomplete_sessions.len() < 50 {
                        c.incomplete_sessions.push(x.session_id.clone());
                    }
                }
            }
        }
        match next {
            Some(n) => cursor = Some(n),
            None => return Ok(c),
        }
    }
}

/// The redaction rules that apply to `tenant`, in words.
fn redaction_in_force(policy: &traceledger_policy::Policy, tenant: &str) -> String {
    let rules: Vec<String> = policy
        .redactions
        .iter()
        .filter(|r| r.tenant.as_deref().is_none_or(|t| t == tenant))
        .map(|r| {
            let fields: Vec<&str> = r.fields.iter().map(|f| f.as_str()).collect();
            let kinds = if r.kinds.is_empty() { String::new() } else { format!(" of {}", r.kinds.join(", ")) };
            format!(
                "{}: {}{kinds} on {}",
                r.agent.as_deref().unwrap_or("every agent"),
                r.mode.as_str(),
                fields.join(", ")
            )
        })
        .collect();
    if rules.is_empty() {
        "No redaction rule applies to this tenant: content is sealed as sent, with a salted commitment per field."
            .into()
    } else {
        format!(
            "Policy {} redacts before sealing ({}); each record names the rule applied in its signed header.",
            policy.version(),
            rules.join("; ")
        )
    }
}

/// Encryption at rest of the tenant's content on this node, in words.
fn encryption_in_force(vault: Option<&traceledger_vault::Vault>, tenant: &str) -> String {
    let Some(v) = vault else {
        return "Not encrypted at rest: this node runs without a master key (docs/encryption.md).".into();
    };
    let versions = v.versions(tenant);
    let keys = match versions.last() {
        None => "no data key yet (the tenant has no content stored)".to_string(),
        Some((n, created)) => format!(
            "data key version {n} (of {}), created {}",
            versions.len(),
            traceledger_core::event::Timestamp(*created).to_rfc3339()
        ),
    };
    format!(
        "Content is encrypted at rest with XChaCha20-Poly1305 under the tenant's own {keys}, wrapped by master key {}; \
         hashes and signatures stay verifiable without any key.",
        v.master_id()
    )
}

fn confidentiality(
    pii: &PiiView<'_>,
    tenant: &str,
    policy: &traceledger_policy::Policy,
    vault: Option<&traceledger_vault::Vault>,
) -> Res<r::Confidentiality> {
    let (mut by_kind, mut by_agent, mut by_field) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut records = 0;
    let mut from = 0;
    loop {
        let (items, next) = pii.findings(tenant, None, None, from, 1000).map_err(e)?;
        for rec in &items {
            records += 1;
            *by_agent.entry(rec.agent_id.clone()).or_default() += 1;
            let mut kinds: Vec<&str> = rec.findings.iter().map(|f| f.kind.as_str()).collect();
            kinds.sort_unstable();
            kinds.dedup();
            for k in kinds {
                *by_kind.entry(k.to_string()).or_default() += 1;
            }
            for f in &rec.findings {
                *by_field.entry(f.field.clone()).or_default() += 1;
            }
        }
        match next {
            Some(n) => from = n,
            None => break,
        }
    }
    Ok(r::Confidentiality {
        pii_records: records,
        by_kind: counts(by_kind),
        by_agent: counts(by_agent),
        by_field: counts(by_field),
        classification: counts(pii.classes(tenant).map_err(e)?),
        redaction: redaction_in_force(policy, tenant),
        encryption_at_rest: encryption_in_force(vault, tenant),
    })
}

/// The tenant's access chain over the period: calls per status and role.
/// Also returns the DSAR exports answered (200) in the period.
fn access(s: &ApiState, tenant: &str, from: i64, to: i64) -> Res<(r::AccessSummary, u64)> {
    let chain = access_chain(tenant);
    let ledger = LedgerView::new(&s.ledger);
    let (mut by_status, mut by_role) = (BTreeMap::new(), BTreeMap::new());
    let (mut calls, mut dsar) = (0, 0);
    for seq in 0..ledger.size(&chain).map_err(e)? {
        let Some(rec) = ledger.sealed(&chain, seq).map_err(e)? else { continue };
        let at = rec.event.timestamp.0;
        if at < from || at >= to {
            continue;
        }
        calls += 1;
        let attr = |k: &str| rec.event.attributes.iter().find(|a| a.key == k).map(|a| a.value.clone());
        let status = attr("access.status").unwrap_or_default();
        dsar += u64::from(attr("access.route").as_deref() == Some("/v1/dsar/{subject}") && status == "200");
        *by_status.entry(status).or_default() += 1;
        *by_role.entry(attr("access.role").unwrap_or_default()).or_default() += 1;
    }
    let n = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    let summary = r::AccessSummary {
        calls,
        forbidden: n(&by_status, "403"),
        rate_limited: n(&by_status, "429"),
        by_status: counts(by_status),
        by_role: counts(by_role),
    };
    Ok((summary, dsar))
}

fn keys(s: &ApiState, tenant: &str, now: i64) -> Res<r::KeysSummary> {
    const DAYS_30: i64 = 30 * 86_400 * 1_000_000;
    let mut k = r::KeysSummary {
        active: 0,
        revoked: 0,
        expired: 0,
        expiring_30d: 0,
        rotated: 0,
        without_expiry: 0,
        by_role: Vec::new(),
    };
    let mut roles = BTreeMap::new();
    for key in s.keys.list(tenant).map_err(e)? {
        k.rotated += u64::from(key.rotated_from.is_some());
        if key.revoked_at.is_some_and(|t| t <= now) {
            k.revoked += 1;
        } else if key.expires_at.is_some_and(|t| t <= now) {
            k.expired += 1;
        } else {
            k.active += 1;
            k.without_expiry += u64::from(key.expires_at.is_none());
            k.expiring_30d += u64::from(key.expires_at.is_some_and(|t| t - now <= DAYS_30));
            *roles.entry(key.role.name().to_string()).or_default() += 1;
        }
    }
    k.by_role = counts(roles);
    Ok(k)
}
