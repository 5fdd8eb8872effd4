//! The report as one self-contained, printable HTML page: no script, no
//! external asset, inline CSS and inline SVG charts (volume over time, PII
//! by kind, uptime per agent). Every value is escaped by the template.

use crate::regulation::{Requirement, Status};
use crate::{Count, Soc2Report, Uptime};
use maud::{html, Markup, PreEscaped, DOCTYPE};

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f24;margin:24px auto;max-width:1000px;padding:0 16px}\
h1{font-size:1.5rem}h2{font-size:1.2rem;border-bottom:2px solid #1f5fbf;padding-bottom:4px;margin-top:32px}h3{font-size:1rem;margin-top:20px}\
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:8px 0}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #d9dee5}\
th{background:#f5f7fa}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px}\
dt{color:#5b6470}dd{margin:0;overflow-wrap:anywhere}code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8rem}\
pre{background:#f5f7fa;padding:8px;white-space:pre-wrap;overflow-wrap:anywhere}.ok{color:#1a7f37;font-weight:700}.bad{color:#c62828;font-weight:700}\
svg text{font-size:11px;fill:#1b1f24}svg .bar{fill:#1f5fbf}svg .err{fill:#c62828}.muted{color:#5b6470}\
.warn{color:#9a6700;font-weight:700}svg .met{fill:#1a7f37}svg .not_configured{fill:#d4a72c}svg .gap{fill:#c62828}td ul{margin:0;padding-left:16px}\
@media print{h2{break-before:auto}section{break-inside:avoid-page}}";

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

fn counts_table(what: &str, rows: &[Count]) -> Markup {
    html! {
        @if rows.is_empty() { p.muted { "None recorded." } } @else {
            table { thead { tr { th { (what) } th.n { "count" } } }
                tbody { @for c in rows { tr { td { (c.name) } td.n { (c.count) } } } } }
        }
    }
}

/// A horizontal bar chart; `id` lets a reader (and the tests) find it.
fn bars(id: &str, title: &str, items: &[(String, f64, String)]) -> Markup {
    let row = 22.0;
    let (label_w, width) = (200.0, 760.0);
    let top = items.iter().map(|i| i.1).fold(0.0_f64, f64::max).max(1e-9);
    let height = items.len() as f64 * row + 8.0;
    html! {
        figure {
            svg id=(id) role="img" aria-label=(title) width=(width) height=(height) viewBox=(format!("0 0 {width} {height}")) xmlns="http://www.w3.org/2000/svg" {
                title { (title) }
                @for (i, (label, v, shown)) in items.iter().enumerate() {
                    @let y = 4.0 + i as f64 * row;
                    @let w = ((width - label_w - 170.0) * v / top).max(1.0);
                    text x="0" y=(y + 14.0) { (label) }
                    rect class="bar" x=(label_w) y=(y + 3.0) width=(w) height=(row - 8.0) {}
                    text x=(label_w + w + 6.0) y=(y + 14.0) { (shown) }
                }
            }
            figcaption.muted { (title) }
        }
    }
}

fn uptime_table(rows: &[Uptime]) -> Markup {
    html! {
        table {
            thead { tr { th { "name" } th.n { "events" } th.n { "errors" } th.n { "error rate" } th.n { "uptime" } th.n { "p95 latency" } } }
            tbody { @for u in rows { tr {
                td { (u.name) } td.n { (u.events) } td.n { (u.errors) } td.n { (pct(u.error_rate)) } td.n { (pct(u.uptime)) }
                td.n { @if let Some(p) = u.p95_ms { (format!("{p:.0} ms")) } @else { "—" } }
            } } }
        }
    }
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Met => "ok",
        Status::NotConfigured => "warn",
        Status::Gap => "bad",
    }
}

/// A run of one status in a framework's bar: where it starts, how many.
type Segment = (f64, usize, Status);

/// One stacked bar per framework: how many of its requirements are met,
/// not configured, or a gap.
fn status_chart(reqs: &[Requirement]) -> Markup {
    let mut frameworks: Vec<&str> = Vec::new();
    for r in reqs {
        if !frameworks.contains(&r.framework.as_str()) {
            frameworks.push(&r.framework);
        }
    }
    let (row, label_w, unit) = (24.0, 140.0, 56.0);
    let height = frameworks.len() as f64 * row + 8.0;
    // Each framework's segments: where it starts, how many, which status.
    let rows: Vec<(&str, Vec<Segment>)> = frameworks
        .iter()
        .map(|f| {
            let mut x = label_w;
            let segs = [Status::Met, Status::NotConfigured, Status::Gap]
                .into_iter()
                .filter_map(|st| {
                    let n = reqs.iter().filter(|r| r.framework == *f && r.status == st).count();
                    let at = x;
                    x += unit * n as f64;
                    (n > 0).then_some((at, n, st))
                })
                .collect();
            (*f, segs)
        })
        .collect();
    let width = 760.0;
    html! {
        figure {
            svg id="chart-regulations" role="img" aria-label="Requirements by status" width=(width) height=(height) viewBox=(format!("0 0 {width} {height}")) xmlns="http://www.w3.org/2000/svg" {
                title { "Requirements by framework and status (green met, amber not configured, red gap)" }
                @for (i, (f, segments)) in rows.iter().enumerate() {
                    @let y = 4.0 + i as f64 * row;
                    text x="0" y=(y + 15.0) { (f) }
                    @for (x, n, st) in segments {
                        rect class=(match st { Status::Met => "met", Status::NotConfigured => "not_configured", Status::Gap => "gap" }) x=(x) y=(y + 3.0) width=(unit * *n as f64 - 2.0) height=(row - 8.0) {
                            title { (n) " " (st.label()) }
                        }
                        text x=(x + 4.0) y=(y + 15.0) style="fill:#fff" { (n) " " (st.label()) }
                    }
                }
            }
            figcaption.muted { "Requirements by framework and status" }
        }
    }
}

/// The report as HTML.
pub fn render(r: &Soc2Report) -> String {
    let pi = &r.processing_integrity;
    let c = &r.confidentiality;
    let a = &r.availability;
    let s = &r.security;
    let p = &r.privacy;
    // Volume per day (all agents), oldest first.
    let mut days: std::collections::BTreeMap<&str, (u64, u64)> = std::collections::BTreeMap::new();
    for v in &pi.volumes {
        let d = days.entry(v.day.as_str()).or_default();
        d.0 += v.events;
        d.1 += v.errors;
    }
    let volume: Vec<(String, f64, String)> =
        days.iter().map(|(d, (e, x))| (d.to_string(), *e as f64, format!("{e} events, {x} errors"))).collect();
    let pii: Vec<(String, f64, String)> =
        c.by_kind.iter().map(|k| (k.name.replace('_', " "), k.count as f64, k.count.to_string())).collect();
    let uptime: Vec<(String, f64, String)> =
        a.agents.iter().map(|u| (u.name.clone(), u.uptime, pct(u.uptime))).collect();
    let v = &pi.verification;
    let done = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "SOC 2 evidence — " (r.tenant_id) " — " (r.from) " to " (r.to) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { "SOC 2 evidence report: " (r.tenant_id) }
                    dl {
                        dt { "Period" } dd { (r.from) " to " (r.to) " (UTC, end exclusive)" }
                        dt { "Generated" } dd { (r.generated_at) }
                        dt { "Policy" } dd { code { (r.policy) } }
                        dt { "Anchored to" } dd {
                            @if let Some(an) = &r.anchor { "checkpoint " code { (an.origin) } " of size " (an.size) ", root " code { (an.root) } }
                            @else { "no signed checkpoint yet" }
                        }
                        dt { "Format" } dd { (r.format) }
                    }
                    p.muted { "This file is signed: its SHA-256 and the checkpoint above are in a signed note beside it (" code { ".sig" } "). Check both offline with " code { "traceledger verify-report FILE --key VERIFIER_KEY" } "." }
                    nav aria-label="Sections" { ol {
                        li { a href="#processing-integrity" { "Processing Integrity" } }
                        li { a href="#confidentiality" { "Confidentiality" } }
                        li { a href="#availability" { "Availability" } }
                        li { a href="#security" { "Security" } }
                        li { a href="#privacy" { "Privacy" } }
                        li { a href="#regulations" { "EU AI Act, ISO/IEC 42001, NIST AI RMF" } }
                    } }
                }
                section id="processing-integrity" {
                    h2 { "Processing Integrity" }
                    h3 { "Chain and checkpoint verification at report time" }
                    p { @if v.valid { span.ok { "VALID" } } @else { span.bad { "INVALID" } }
                        ": " (v.records) " records (hash chain, leaf hashes, content commitments), " (v.signatures) " signatures, " (v.checkpoints) " signed checkpoints." }
                    @if let Some(f) = &v.failure { p.bad { "First failure: " (f) } }
                    h3 { "Trace volume per day" }
                    @if volume.is_empty() { p.muted { "No events in the period." } } @else { (bars("chart-volume", "Events per day (all agents)", &volume)) }
                    table { thead { tr { th { "day" } th { "agent" } th.n { "events" } th.n { "errors" } } }
                        tbody { @for d in &pi.volumes { tr { td { (d.day) } td { (d.agent) } td.n { (d.events) } td.n { (d.errors) } } } } }
                    h3 { "Completeness" }
                    @let k = &pi.completeness;
                    dl {
                        dt { "Sessions" } dd { (k.sessions) }
                        dt { "Complete" } dd { (k.complete) }
                        dt { "Open" } dd { (k.open) }
                        dt { "Incomplete" } dd { (k.incomplete) }
                        dt { "Steps recorded / expected" } dd { (k.recorded_steps) " / " (k.expected_steps) }
                        dt { "Missing step indexes" } dd { (k.missing_steps) }
                    }
                    @if !k.incomplete_sessions.is_empty() { p { "Incomplete: " @for (i, sid) in k.incomplete_sessions.iter().enumerate() { @if i > 0 { ", " } code { (sid) } } } }
                    h3 { "Output-validation failures" }
                    (counts_table("agent", &pi.output_validation_failures))
                }
                section id="confidentiality" {
                    h2 { "Confidentiality" }
                    p { (c.pii_records) " records carry personal data or secrets (detected spans; values are never stored in findings)." }
                    @if pii.is_empty() { p.muted { "No personal data found." } } @else { (bars("chart-pii", "Records with personal data, by kind", &pii)) }
                    h3 { "By agent" } (counts_table("agent", &c.by_agent))
                    h3 { "By field" } (counts_table("field", &c.by_field))
                    h3 { "Data classification" } (counts_table("classification", &c.classification))
                    h3 { "Redaction before sealing" } p { (c.redaction) }
                    h3 { "Encryption at rest" } p { (c.encryption_at_rest) }
                }
                section id="availability" {
                    h2 { "Availability" }
                    @if uptime.is_empty() { p.muted { "No agent activity in the period." } } @else { (bars("chart-uptime", "Uptime per agent", &uptime)) }
                    h3 { "Agents" } (uptime_table(&a.agents))
                    h3 { "Model providers" } (uptime_table(&a.providers))
                    dl {
                        dt { "Provider failovers" } dd { (a.failovers) }
                        dt { "Rate-limit warnings" } dd { (a.rate_limit_warnings) }
                        dt { "Budget trips" } dd { (a.budget_trips) }
                    }
                }
                section id="security" {
                    h2 { "Security" }
                    h3 { "API access (the tenant's sealed access chain)" }
                    dl {
                        dt { "Authenticated calls" } dd { (s.access.calls) }
                        dt { "Refused for the role (403)" } dd { (s.access.forbidden) }
                        dt { "Rate limited (429)" } dd { (s.access.rate_limited) }
                    }
                    (counts_table("HTTP status", &s.access.by_status))
                    (counts_table("role", &s.access.by_role))
                    h3 { "API keys and roles" }
                    dl {
                        dt { "Active" } dd { (s.keys.active) }
                        dt { "Revoked" } dd { (s.keys.revoked) }
                        dt { "Expired" } dd { (s.keys.expired) }
                        dt { "Expiring within 30 days" } dd { (s.keys.expiring_30d) }
                        dt { "Without expiry" } dd { (s.keys.without_expiry) }
                        dt { "Made by rotation" } dd { (s.keys.rotated) }
                    }
                    (counts_table("role (active keys)", &s.keys.by_role))
                    h3 { "Detections" }
                    dl {
                        dt { "Prompt-injection detections" } dd { (s.prompt_injections) }
                        dt { "Tool calls out of policy" } dd { (s.tools_out_of_policy) }
                    }
                }
                section id="privacy" {
                    h2 { "Privacy" }
                    h3 { "Personal-data inventory (kind → agent → provider)" }
                    @if p.inventory.is_empty() { p.muted { "None." } } @else {
                        table { thead { tr { th { "kind" } th { "agent" } th { "provider" } th.n { "records" } } }
                            tbody { @for i in &p.inventory { tr { td { (i.kind) } td { (i.agent) } td { (i.provider) } td.n { (i.records) } } } } }
                    }
                    h3 { "Model providers seen" }
                    p { @if p.providers_seen.is_empty() { "None." } @else { (p.providers_seen.join(", ")) } }
                    h3 { "Provider register" }
                    @if p.register.is_empty() { p.bad { "No provider register is configured (traceledger up --providers FILE)." } } @else {
                        table { thead { tr { th { "provider" } th { "region" } th.n { "input retention" } th { "training use" } th { "contract" } th { "DPA" } th { "transfer basis" } } }
                            tbody { @for r in &p.register { tr {
                                td { (r.name) } td { (r.region) }
                                td.n { @if let Some(d) = r.retention_days { (d) " days" } @else { "—" } }
                                td { @if r.training_use { "yes" } @else { "no" } }
                                td { (r.contract.clone().unwrap_or_default()) }
                                td { @if r.dpa { "signed" } @else { span.bad { "none" } } }
                                td { (format!("{:?}", r.transfer_basis).to_lowercase()) }
                            } } } }
                    }
                    h3 { "Flags" }
                    @if p.unregistered_providers.is_empty() && p.transfer_flags.is_empty() { p.ok { "None." } } @else {
                        ul {
                            @for u in &p.unregistered_providers { li.bad { "Provider " code { (u) } " is used but missing from the register." } }
                            @for f in &p.transfer_flags { li.bad { (f) } }
                        }
                    }
                    h3 { "Data-subject requests" } p { (p.dsar) }
                    h3 { "Retention" } p { (p.retention) }
                    @if !p.erasures.is_empty() {
                        table #erasures {
                            thead { tr { th { "seq" } th { "sealed" } th { "action" } th { "subject" } th.n { "records erased" } th.n { "held" } th { "requested by" } } }
                            tbody {
                                @for e in &p.erasures {
                                    tr { td.n { (e.seq) } td { (e.sealed_at) } td { (e.action) } td { (e.subject.as_deref().unwrap_or("—")) } td.n { (e.records) } td.n { (e.held) } td { (e.requested_by) } }
                                }
                            }
                        }
                    }
                }
                section id="regulations" {
                    h2 { "Regulation mapping: EU AI Act, ISO/IEC 42001, NIST AI RMF" }
                    p.muted { "Each requirement on AI-system logs, paraphrased (read the reference for the text), with the evidence this ledger holds and a status: met, not configured (the ledger can meet it once what the finding names is set up), or gap." }
                    @if r.regulations.is_empty() { p.muted { "Not assessed." } } @else {
                        (status_chart(&r.regulations))
                        table #requirements {
                            thead { tr { th { "framework" } th { "reference" } th { "requirement" } th { "status" } th { "evidence" } } }
                            tbody { @for q in &r.regulations { tr {
                                td { (q.framework) } td { (q.reference) } td { (q.asks) }
                                td { span class=(status_class(q.status)) { (q.status.label()) } br; span.muted { (q.finding) } }
                                td { ul { @for e in &q.evidence { li { (e) } } } }
                            } } }
                        }
                    }
                }
                @if let Some(an) = &r.anchor {
                    section id="anchor" { h2 { "Anchor checkpoint (signed note)" } pre { (an.note) } }
                }
            }
        }
    };
    done.into_string()
}
