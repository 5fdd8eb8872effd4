//! The `pii` read model: personal data and secrets found in each record's
//! content (input, output, reasoning, tool arguments and results), stored
//! as spans — field, kind, byte range, confidence, detector — never the
//! values; the record's data classification (the most sensitive of what was
//! found and what the agent declared); and the per-agent inventory: which
//! kinds flow to which model provider.

use crate::{json, tkey, unjson, Accepted, Error, Projection, Result, Rows, Store};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use traceledger_core::event::Classification;
use traceledger_core::TraceEvent;
use traceledger_pii::{classify, scan, Class};

const FINDINGS: &str = "findings";
const INVENTORY: &str = "inventory";
const CLASSES: &str = "classes";
/// Records with findings per session (for the session list's filter).
const BY_SESSION: &str = "by_session";

/// One finding in a record, without the value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldFinding {
    /// `input`, `output`, `reasoning`, `tools[i].arguments`, `tools[i].result`.
    pub field: String,
    /// Kind (`email`, `ssn`, …).
    pub kind: String,
    /// Byte offsets in the field.
    pub start: usize,
    /// End (exclusive).
    pub end: usize,
    /// 0..1.
    pub confidence: f32,
    /// Detector.
    pub detector: String,
}

/// The findings of one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordFindings {
    /// Seq in the tenant's chain.
    pub seq: u64,
    /// Event id.
    pub event_id: String,
    /// Agent.
    pub agent_id: String,
    /// Session.
    pub session_id: String,
    /// Model provider the content went to, if any.
    pub provider: Option<String>,
    /// Classification the agent declared.
    pub declared: Option<String>,
    /// Classification from the findings and the declaration (the higher).
    pub classification: String,
    /// What was found (at most [`MAX_FINDINGS_PER_FIELD`] per field and
    /// [`MAX_FINDINGS_PER_RECORD`] in all, the first by position).
    pub findings: Vec<FieldFinding>,
    /// Findings past those limits: counted, not stored.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Findings stored per content field of a record; the rest are counted.
pub const MAX_FINDINGS_PER_FIELD: usize = 100;

/// Findings stored per record; the rest are counted.
pub const MAX_FINDINGS_PER_RECORD: usize = 1000;

/// A page of findings stops once it holds this many bytes of rows (always
/// at least one row), whatever its `limit`.
pub const MAX_PAGE_BYTES: usize = 4 << 20;

/// One inventory row: a kind of data an agent sent to a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InventoryRow {
    /// Agent.
    pub agent_id: String,
    /// Kind.
    pub kind: String,
    /// Provider (`none` for steps without a model).
    pub provider: String,
    /// Records carrying it.
    pub records: u64,
}

/// The pii projection.
#[derive(Debug, Default)]
pub struct Pii;

fn class_name(c: Class) -> &'static str {
    match c {
        Class::Public => "public",
        Class::Internal => "internal",
        Class::Confidential => "confidential",
        Class::Restricted => "restricted",
    }
}

fn declared(c: Classification) -> Class {
    match c {
        Classification::Public => Class::Public,
        Classification::Internal => Class::Internal,
        Classification::Confidential => Class::Confidential,
        Classification::Restricted => Class::Restricted,
    }
}

/// Scans every content field of an event: the findings kept (see
/// [`RecordFindings::findings`]), and the classification they imply.
pub fn scan_event(e: &TraceEvent) -> (Vec<FieldFinding>, Class) {
    let s = scan_event_counted(e);
    (s.findings, s.class)
}

/// What [`scan_event_counted`] found in an event.
pub struct Scanned {
    /// The findings kept, at most [`MAX_FINDINGS_PER_FIELD`] per field and
    /// [`MAX_FINDINGS_PER_RECORD`] in all.
    pub findings: Vec<FieldFinding>,
    /// The classification every finding implies.
    pub class: Class,
    /// Findings not kept.
    pub omitted: u64,
    /// Every kind found, kept or not, sorted.
    pub kinds: Vec<&'static str>,
}

/// Scans every content field of an event, keeping a bounded number of
/// findings: a field of a million IP addresses is one finding kind, not a
/// million rows.
pub fn scan_event_counted(e: &TraceEvent) -> Scanned {
    let mut fields: Vec<(String, &str)> = Vec::new();
    for (name, v) in [("input", &e.input), ("output", &e.output), ("reasoning", &e.reasoning)] {
        if let Some(v) = v {
            fields.push((name.to_string(), v));
        }
    }
    for (i, t) in e.tools.iter().enumerate() {
        if let Some(a) = &t.arguments {
            fields.push((format!("tools[{i}].arguments"), a));
        }
        if let Some(r) = &t.result {
            fields.push((format!("tools[{i}].result"), r));
        }
    }
    let mut out = Vec::new();
    let mut class = Class::Public;
    let mut omitted = 0u64;
    let mut kinds = std::collections::BTreeSet::new();
    for (field, text) in fields {
        let found = scan(text);
        class = class.max(classify(&found));
        kinds.extend(found.iter().map(|f| f.kind.name()));
        let room = MAX_FINDINGS_PER_FIELD.min(MAX_FINDINGS_PER_RECORD - out.len());
        omitted += found.len().saturating_sub(room) as u64;
        for f in found.into_iter().take(room) {
            out.push(FieldFinding {
                field: field.clone(),
                kind: f.kind.name().to_string(),
                start: f.start,
                end: f.end,
                confidence: f.confidence,
                detector: f.detector.to_string(),
            });
        }
    }
    Scanned { findings: out, class, omitted, kinds: kinds.into_iter().collect() }
}

fn inventory_key(tenant: &str, agent: &str, kind: &str, provider: &str) -> Vec<u8> {
    tkey(tenant, format!("{agent}\0{kind}\0{provider}").as_bytes())
}

impl Projection for Pii {
    fn name(&self) -> &'static str {
        "pii"
    }

    fn column_families(&self) -> &'static [&'static str] {
        &[FINDINGS, INVENTORY, CLASSES, BY_SESSION]
    }

    fn apply(&self, store: &Store, wb: &mut Rows, records: &[Accepted<'_>]) -> Result<()> {
        let mut inventory: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut classes: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut by_session: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        for a in records {
            let e = &a.record.event;
            let Scanned { findings, class: found, omitted, kinds } = scan_event_counted(e);
            let decl = e.data_classification.map(declared);
            let class = decl.map_or(found, |d| d.max(found));
            *classes.entry(tkey(&e.tenant_id, class_name(class).as_bytes())).or_default() += 1;
            if findings.is_empty() {
                continue;
            }
            let provider = e.model.as_ref().map(|m| m.provider.clone());
            let row = RecordFindings {
                seq: a.record.header.seq,
                event_id: e.event_id.to_string(),
                agent_id: e.agent_id.clone(),
                session_id: e.session_id.clone(),
                provider: provider.clone(),
                declared: e.data_classification.map(|c| c.symbol().to_string()),
                classification: class_name(class).to_string(),
                findings,
                omitted,
            };
            wb.put_cf(store.cf(FINDINGS)?, tkey(&e.tenant_id, &a.record.header.seq.to_be_bytes()), json(&row)?);
            if wb.publishing() {
                wb.emit(store, &e.tenant_id, &message(&e.tenant_id, e.timestamp.0, &row)?)?;
            }
            *by_session.entry(tkey(&e.tenant_id, e.session_id.as_bytes())).or_default() += 1;
            for k in kinds {
                let key = inventory_key(&e.tenant_id, &e.agent_id, k, provider.as_deref().unwrap_or("none"));
                *inventory.entry(key).or_default() += 1;
            }
        }
        store.add_counts(wb, INVENTORY, inventory)?;
        store.add_counts(wb, CLASSES, classes)?;
        store.add_counts(wb, BY_SESSION, by_session)?;
        Ok(())
    }
}

/// The `projections.pii` message of a record's findings.
fn message(tenant: &str, timestamp: i64, r: &RecordFindings) -> Result<Vec<u8>> {
    use traceledger_wire::projections::{encode, FindingMessage, PiiFindingsMessage, Stream};
    let m = PiiFindingsMessage {
        dedup_key: format!("{tenant}/pii/{}", r.seq),
        tenant_id: tenant.to_string(),
        seq: crate::streams::long(r.seq),
        event_id: r.event_id.clone(),
        agent_id: r.agent_id.clone(),
        session_id: r.session_id.clone(),
        timestamp,
        provider: r.provider.clone(),
        declared: r.declared.clone(),
        classification: r.classification.clone(),
        findings: r
            .findings
            .iter()
            .map(|f| FindingMessage {
                field: f.field.clone(),
                kind: f.kind.clone(),
                start: crate::streams::long(f.start as u64),
                end: crate::streams::long(f.end as u64),
                confidence: f.confidence,
                detector: f.detector.clone(),
            })
            .collect(),
        omitted: crate::streams::long(r.omitted),
    };
    Ok(encode(Stream::Pii, &m)?)
}

/// Reads of the pii model.
pub struct PiiView<'a> {
    store: &'a Store,
}

impl<'a> PiiView<'a> {
    /// A view over a pii store.
    pub fn new(store: &'a Store) -> Self {
        PiiView { store }
    }

    /// Records with findings, by seq from `from`, that have a finding of
    /// `kind` and come from `agent` (when given); at most `limit`, and the
    /// seq to continue from.
    pub fn findings(
        &self,
        tenant: &str,
        kind: Option<&str>,
        agent: Option<&str>,
        from: u64,
        limit: usize,
    ) -> Result<(Vec<RecordFindings>, Option<u64>)> {
        let prefix = tkey(tenant, &[]);
        let start = tkey(tenant, &from.to_be_bytes());
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for item in self.store.scan(FINDINGS, &prefix, &start)? {
            let (_, v) = item?;
            let r: RecordFindings = unjson(&v, "findings")?;
            if out.len() == limit || (!out.is_empty() && bytes + v.len() > MAX_PAGE_BYTES) {
                return Ok((out, Some(r.seq)));
            }
            if kind.is_some_and(|k| !r.findings.iter().any(|f| f.kind == k)) || agent.is_some_and(|a| r.agent_id != a) {
                continue;
            }
            bytes += v.len();
            out.push(r);
        }
        Ok((out, None))
    }

    /// How many of a session's records carry personal data or secrets.
    pub fn session_records(&self, tenant: &str, session: &str) -> Result<u64> {
        Ok(self.store.get(BY_SESSION, &tkey(tenant, session.as_bytes()))?.and_then(|v| crate::be_u64(&v)).unwrap_or(0))
    }

    /// The findings of the records at `seqs` that have any, in `seqs` order
    /// (one batched read: a session's PII badges).
    pub fn of_records(&self, tenant: &str, seqs: &[u64]) -> Result<Vec<RecordFindings>> {
        let keys: Vec<Vec<u8>> = seqs.iter().map(|s| tkey(tenant, &s.to_be_bytes())).collect();
        self.store.multi_get(FINDINGS, &keys).into_iter().flatten().map(|v| unjson(&v, "findings")).collect()
    }

    /// Records per classification (public, internal, confidential, restricted).
    pub fn classes(&self, tenant: &str) -> Result<BTreeMap<String, u64>> {
        let prefix = tkey(tenant, &[]);
        let mut out = BTreeMap::new();
        for item in self.store.scan(CLASSES, &prefix, &prefix)? {
            let (k, v) = item?;
            let n = crate::be_u64(&v).ok_or_else(|| Error::Corrupt("class count".into()))?;
            out.insert(String::from_utf8_lossy(&k[prefix.len()..]).into_owned(), n);
        }
        Ok(out)
    }

    /// The tenant's inventory: kinds per agent and provider.
    pub fn inventory(&self, tenant: &str) -> Result<Vec<InventoryRow>> {
        let prefix = tkey(tenant, &[]);
        let mut out = Vec::new();
        for item in self.store.scan(INVENTORY, &prefix, &prefix)? {
            let (k, v) = item?;
            let rest = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            let mut parts = rest.split('\0');
            let (Some(agent), Some(kind), Some(provider)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(Error::Corrupt("inventory key".into()));
            };
            let records = crate::be_u64(&v).ok_or_else(|| Error::Corrupt("inventory count".into()))?;
            out.push(InventoryRow { agent_id: agent.into(), kind: kind.into(), provider: provider.into(), records });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 19, finding 4: a field of 120,000 IP addresses is one kind of
    /// finding, stored as at most MAX_FINDINGS_PER_FIELD rows (a `limit=1`
    /// findings page was 7.6 MB); the rest are counted, not lost.
    #[test]
    fn findings_are_capped_per_field_and_the_rest_counted() {
        let mut e = traceledger_core::testkit::fixed_events_seeded("acme", 1, 1).remove(0);
        e.input = Some("1.1.1.1 ".repeat(120_000));
        e.output = Some("write to jane.doe@example.com".into());
        e.reasoning = None;
        e.tools.clear();
        let s = scan_event_counted(&e);
        let in_input = s.findings.iter().filter(|f| f.field == "input").count();
        assert_eq!(in_input, MAX_FINDINGS_PER_FIELD);
        assert!(s.findings.iter().any(|f| f.field == "output" && f.kind == "email"), "other fields keep theirs");
        assert_eq!(s.omitted, 120_000 - MAX_FINDINGS_PER_FIELD as u64);
        assert!(s.kinds.contains(&"ipv4") && s.kinds.contains(&"email"), "{:?}", s.kinds);
    }
}
