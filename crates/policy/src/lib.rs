//! The policy of a traceledger node: one TOML file, scoped per tenant and
//! agent, that says what counts as an anomaly and where alerts go.
//!
//! ```toml
//! [injection]                 # prompt-injection detection (defaults shown)
//! threshold = 0.5             # flag at this combined score
//! fields = ["input", "tool_result"]
//!
//! [rate]                      # request-rate spikes per agent
//! window_seconds = 60
//! history_windows = 10
//! factor = 3.0
//! min_events = 20
//!
//! [[validate]]                # output validation
//! agent = "credit-scorer"
//! field = "output.credit_score"
//! range = { min = 300, max = 850 }
//!
//! [[tools]]                   # permission boundaries
//! agent = "support-bot"
//! allowed = ["search_kb", "create_ticket"]
//!
//! [[budget]]
//! agent = "credit-scorer"
//! daily_usd = 50.0
//!
//! [[retention]]              # content retention per tenant (any when absent)
//! tenant = "acme"
//! min_days = 180              # no erasure (DSAR included) of younger content
//! max_days = 730              # the retention job erases older content
//!
//! [[alert]]
//! url = "https://hooks.example.com/traceledger"
//! secret_env = "TRACELEDGER_WEBHOOK_SECRET"
//! on = ["injection", "budget"]
//! ```
//!
//! Parsing is pure and strict: unknown keys, wrong types, bad regexes, bad
//! JSON Schemas, impossible ranges and duplicate scopes are refused with the
//! line, column and key path of the first problem. Evaluation is pure too;
//! the state a rule needs across events (rates, models per session, spend)
//! is kept by the caller.

pub mod injection;
mod path;
pub mod redact;

pub use path::FieldPath;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;
use toml::Spanned;
use traceledger_core::TraceEvent;

/// What a policy sets, in counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicySummary {
    /// Version (the file's `version`, or its digest).
    pub version: String,
    /// SHA-256 of the text.
    pub digest: String,
    /// Output-validation rules.
    pub validate: usize,
    /// Tool boundaries.
    pub tools: usize,
    /// Prompt-injection pattern families in force.
    pub injection_families: usize,
    /// Injection score that flags.
    pub injection_threshold: f64,
    /// Budgets.
    pub budgets: usize,
    /// Rate limits.
    pub limits: usize,
    /// Alert sinks.
    pub alerts: usize,
    /// Retention rules.
    #[serde(default)]
    pub retention: usize,
    /// Redaction rules.
    #[serde(default)]
    pub redactions: usize,
}

/// A policy that could not be loaded: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, utoipa::ToSchema)]
#[error("{}{path}: {message}", location(*.line, *.column))]
pub struct PolicyError {
    /// 1-based line of the offending entry, when known.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// Key path, e.g. `validate[2].regex`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn location(line: Option<usize>, col: Option<usize>) -> String {
    match (line, col) {
        (Some(l), Some(c)) => format!("line {l}, column {c}: "),
        (Some(l), None) => format!("line {l}: "),
        _ => String::new(),
    }
}

/// How bad an anomaly is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Needs attention.
    #[default]
    Medium,
    /// Needs action now.
    High,
}

/// What kind of anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// An output (or other field) broke a validation rule.
    OutputValidation,
    /// A tool was called outside the agent's allowed tools.
    ToolOutOfPolicy,
    /// Text looked like a prompt injection.
    PromptInjection,
    /// An agent's request rate spiked.
    RateSpike,
    /// The model or provider changed inside a session.
    Failover,
    /// Spend crossed a configured budget.
    BudgetExceeded,
    /// Token or request usage crossed the warning share of a rate limit.
    RateLimitWarning,
    /// A session ended with missing steps.
    IncompleteSession,
    /// A rival record was published for an applied seq.
    Fork,
}

impl AnomalyKind {
    /// Every kind.
    pub const ALL: &'static [AnomalyKind] = &[
        AnomalyKind::OutputValidation,
        AnomalyKind::ToolOutOfPolicy,
        AnomalyKind::PromptInjection,
        AnomalyKind::RateSpike,
        AnomalyKind::Failover,
        AnomalyKind::BudgetExceeded,
        AnomalyKind::RateLimitWarning,
        AnomalyKind::IncompleteSession,
        AnomalyKind::Fork,
    ];

    /// Its snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::OutputValidation => "output_validation",
            AnomalyKind::ToolOutOfPolicy => "tool_out_of_policy",
            AnomalyKind::PromptInjection => "prompt_injection",
            AnomalyKind::RateSpike => "rate_spike",
            AnomalyKind::Failover => "failover",
            AnomalyKind::BudgetExceeded => "budget_exceeded",
            AnomalyKind::RateLimitWarning => "rate_limit_warning",
            AnomalyKind::IncompleteSession => "incomplete_session",
            AnomalyKind::Fork => "fork",
        }
    }

    /// The alert topic it is delivered under.
    pub fn topic(self) -> AlertTopic {
        match self {
            AnomalyKind::PromptInjection => AlertTopic::Injection,
            AnomalyKind::BudgetExceeded | AnomalyKind::RateLimitWarning => AlertTopic::Budget,
            AnomalyKind::IncompleteSession => AlertTopic::Completeness,
            AnomalyKind::Fork => AlertTopic::Fork,
            _ => AlertTopic::Anomaly,
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What alert sinks subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertTopic {
    /// Output validation, tool boundaries, rate spikes, failovers.
    Anomaly,
    /// Prompt-injection detections.
    Injection,
    /// Budget trips and rate-limit warnings.
    Budget,
    /// Sessions that ended incomplete.
    Completeness,
    /// Forks in a tenant's chain.
    Fork,
}

/// One thing a rule found in one event. Details never carry content
/// values: they name the field and the rule, and the record is a link away.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// Kind.
    pub kind: AnomalyKind,
    /// Severity.
    pub severity: Severity,
    /// The rule that fired (`validate[2]` or its name, `tools[0]`, a family list…).
    pub rule: String,
    /// What was wrong, without content.
    pub detail: String,
    /// Score, for detections that have one.
    pub score: Option<f64>,
}

/// A numeric range (either end optional, both inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Lowest allowed.
    pub min: Option<f64>,
    /// Highest allowed.
    pub max: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    tenant: Option<String>,
    agent: Option<String>,
    kind: Option<String>,
    field: String,
    #[serde(default)]
    required: bool,
    severity: Option<Severity>,
    range: Option<Range>,
    regex: Option<String>,
    one_of: Option<Vec<Value>>,
    schema: Option<Value>,
}

/// What a validation rule checks.
#[derive(Debug, Clone)]
pub enum Check {
    /// A number in a range.
    Range(Range),
    /// A string matching a regex.
    Regex(regex::Regex),
    /// One of a set of values (compared as JSON; strings also match numbers' text).
    OneOf(Vec<Value>),
    /// Valid under a JSON Schema.
    Schema(std::sync::Arc<jsonschema::Validator>),
}

/// An output-validation rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `validate[i]` or its name.
    pub id: String,
    /// Tenant it applies to (any when `None`).
    pub tenant: Option<String>,
    /// Agent (exact, or a `prefix*`; any when `None`).
    pub agent: Option<String>,
    /// Event kind it applies to (any when `None`).
    pub kind: Option<traceledger_core::event::EventKind>,
    /// Field.
    pub field: FieldPath,
    /// An event of the scope without the field breaks the rule.
    pub required: bool,
    /// Severity of a violation.
    pub severity: Severity,
    /// The check.
    pub check: Check,
}

/// Tools an agent may call.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolBoundary {
    /// Tenant (any when absent).
    pub tenant: Option<String>,
    /// Agent (exact or `prefix*`; any when absent).
    pub agent: Option<String>,
    /// Allowed tool names.
    pub allowed: Vec<String>,
}

/// Prompt-injection settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InjectionConfig {
    /// Flag at this combined score (0, 1].
    pub threshold: f64,
    /// Fields scanned: `input`, `output`, `reasoning`, `tool_arguments`, `tool_result`.
    pub fields: Vec<String>,
    /// Built-in families turned off, by name.
    pub disable: Vec<String>,
    /// Weights of built-in families changed, by name.
    pub weights: std::collections::BTreeMap<String, f64>,
    /// Families added.
    pub family: Vec<injection::Family>,
}

impl Default for InjectionConfig {
    fn default() -> Self {
        InjectionConfig {
            threshold: 0.5,
            fields: vec!["input".into(), "tool_result".into()],
            disable: Vec::new(),
            weights: Default::default(),
            family: Vec::new(),
        }
    }
}

/// Request-rate spike detection per agent: a window's count is a spike when
/// it exceeds both `min_events` and `factor` × the mean of the previous
/// `history_windows` windows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateSpike {
    /// Off when false.
    pub enabled: bool,
    /// Window length.
    pub window_seconds: u64,
    /// Windows averaged as the baseline.
    pub history_windows: u32,
    /// Spike factor over the baseline.
    pub factor: f64,
    /// No spike below this many events in a window.
    pub min_events: u64,
}

impl Default for RateSpike {
    fn default() -> Self {
        RateSpike { enabled: true, window_seconds: 60, history_windows: 10, factor: 3.0, min_events: 20 }
    }
}

impl RateSpike {
    /// The count above which a window is a spike, given the previous
    /// windows' counts (missing windows count as 0).
    pub fn threshold(&self, history: &[u64]) -> u64 {
        let n = self.history_windows.max(1) as f64;
        let mean = history.iter().sum::<u64>() as f64 / n;
        (self.factor * mean).ceil().max(self.min_events as f64) as u64
    }
}

/// Model/provider change detection inside a session.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Failover {
    /// Off when false.
    pub enabled: bool,
    /// Severity of a provider change (a model change within one provider is one lower).
    pub severity: Severity,
}

impl Default for Failover {
    fn default() -> Self {
        Failover { enabled: true, severity: Severity::Medium }
    }
}

/// Availability settings, applied when availability is read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AvailabilityConfig {
    /// An agent silent for longer than this is down for the excess.
    pub heartbeat_gap_seconds: u64,
    /// A provider minute with at least this error ratio is down.
    pub down_error_ratio: f64,
    /// The breaker opens when the error ratio over the window reaches this…
    pub breaker_error_ratio: f64,
    /// …with at least this many events in the window.
    pub breaker_min_events: u64,
    /// Window of the breaker.
    pub breaker_window_seconds: u64,
    /// After this long without errors an open breaker is half-open.
    pub breaker_cooldown_seconds: u64,
}

impl Default for AvailabilityConfig {
    fn default() -> Self {
        AvailabilityConfig {
            heartbeat_gap_seconds: 300,
            down_error_ratio: 0.5,
            breaker_error_ratio: 0.5,
            breaker_min_events: 10,
            breaker_window_seconds: 300,
            breaker_cooldown_seconds: 60,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudget {
    tenant: Option<String>,
    agent: Option<String>,
    daily_usd: Option<f64>,
    session_usd: Option<f64>,
}

/// Spend limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Budget {
    /// Tenant (any when absent).
    pub tenant: Option<String>,
    /// Agent (any when absent).
    pub agent: Option<String>,
    /// Per UTC day, micro-USD.
    pub daily_micros: Option<u64>,
    /// Per session, micro-USD.
    pub session_micros: Option<u64>,
}

/// A provider's or agent's rate limit, watched at a warning share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Tenant (any when absent).
    pub tenant: Option<String>,
    /// Agent (any when absent).
    pub agent: Option<String>,
    /// Provider (any when absent).
    pub provider: Option<String>,
    /// Tokens (input + output) per minute.
    pub tokens_per_minute: Option<u64>,
    /// Requests (model calls) per minute.
    pub requests_per_minute: Option<u64>,
    /// Warn at this share of the limit (default 0.8).
    #[serde(default = "default_warn_at")]
    pub warn_at: f64,
}

fn default_warn_at() -> f64 {
    0.8
}

/// A webhook that receives alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSink {
    /// Name in the delivery log.
    #[serde(default)]
    pub name: String,
    /// `http://` or `https://` URL.
    pub url: String,
    /// Environment variable holding the HMAC-SHA256 key (never the key itself).
    pub secret_env: String,
    /// Tenant (any when absent).
    pub tenant: Option<String>,
    /// Topics (all when empty).
    #[serde(default)]
    pub on: Vec<AlertTopic>,
    /// Least severity delivered.
    #[serde(default)]
    pub min_severity: Severity,
}

impl AlertSink {
    /// Does this sink take an alert of `kind`/`severity` for `tenant`?
    pub fn wants(&self, tenant: &str, kind: AnomalyKind, severity: Severity) -> bool {
        self.tenant.as_deref().is_none_or(|t| t == tenant)
            && (self.on.is_empty() || self.on.contains(&kind.topic()))
            && severity >= self.min_severity
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: Option<u32>,
    injection: Option<Spanned<InjectionConfig>>,
    rate: Option<Spanned<RateSpike>>,
    #[serde(default)]
    failover: Failover,
    availability: Option<Spanned<AvailabilityConfig>>,
    #[serde(default)]
    validate: Vec<Spanned<RawRule>>,
    #[serde(default)]
    tools: Vec<Spanned<ToolBoundary>>,
    #[serde(default)]
    budget: Vec<Spanned<RawBudget>>,
    #[serde(default)]
    limit: Vec<Spanned<Limit>>,
    #[serde(default)]
    alert: Vec<Spanned<AlertSink>>,
    #[serde(default)]
    retention: Vec<Spanned<Retention>>,
    #[serde(default)]
    redact: Vec<Spanned<redact::Redaction>>,
}

/// How long a tenant's content is kept. Erasure keeps every record's
/// metadata and commitments (the chain stays verifiable); it removes the
/// content (input, output, reasoning, tool arguments and results).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Tenant (every tenant when absent).
    pub tenant: Option<String>,
    /// Content younger than this is never erased, by the retention job or a
    /// DSAR (e.g. 180 for EU AI Act Art. 19 logs): a DSAR holds it, and says
    /// until when.
    #[serde(default)]
    pub min_days: u32,
    /// Content older than this is erased by the retention job; kept
    /// forever when absent.
    pub max_days: Option<u32>,
}

/// Microseconds in a day.
pub const DAY_MICROS: i64 = 86_400_000_000;

impl Retention {
    /// Content sealed before this time is past the maximum (None: no maximum).
    pub fn cutoff(&self, now_micros: i64) -> Option<i64> {
        self.max_days.map(|d| now_micros - i64::from(d) * DAY_MICROS)
    }

    /// Content sealed after this time is inside the minimum: not erasable.
    pub fn hold_after(&self, now_micros: i64) -> i64 {
        now_micros - i64::from(self.min_days) * DAY_MICROS
    }
}

/// A loaded policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// SHA-256 of the file (hex); `builtin` for the default policy.
    pub digest: String,
    /// Output-validation rules.
    pub rules: Vec<Rule>,
    /// Tool boundaries.
    pub tools: Vec<ToolBoundary>,
    /// Injection settings.
    pub injection: InjectionConfig,
    detector: injection::Detector,
    /// Rate spikes.
    pub rate: RateSpike,
    /// Failover.
    pub failover: Failover,
    /// Availability.
    pub availability: AvailabilityConfig,
    /// Budgets.
    pub budgets: Vec<Budget>,
    /// Rate limits.
    pub limits: Vec<Limit>,
    /// Alert sinks.
    pub alerts: Vec<AlertSink>,
    /// Retention per tenant.
    pub retention: Vec<Retention>,
    /// Redaction before sealing, per tenant and agent.
    pub redactions: Vec<redact::Redaction>,
}

impl Default for Policy {
    fn default() -> Self {
        // The built-in families are constants covered by tests.
        #[allow(clippy::expect_used)]
        let detector = injection::Detector::new(injection::builtin()).expect("built-in injection families compile");
        Policy {
            digest: "builtin".into(),
            rules: Vec::new(),
            tools: Vec::new(),
            injection: InjectionConfig::default(),
            detector,
            rate: RateSpike::default(),
            failover: Failover::default(),
            availability: AvailabilityConfig::default(),
            budgets: Vec::new(),
            limits: Vec::new(),
            alerts: Vec::new(),
            retention: Vec::new(),
            redactions: Vec::new(),
        }
    }
}

/// How closely a (tenant, agent) scope matches; `None` when it does not.
/// A tenant counts 1, an agent prefix 2, an exact agent 4.
pub fn scope_match(tenant: Option<&str>, agent: Option<&str>, t: &str, a: &str) -> Option<u8> {
    let mut score = 0;
    if let Some(st) = tenant {
        if st != t {
            return None;
        }
        score += 1;
    }
    if let Some(sa) = agent {
        match sa.strip_suffix('*') {
            Some(prefix) if a.starts_with(prefix) => score += 2,
            Some(_) => return None,
            None if sa == a => score += 4,
            None => return None,
        }
    }
    Some(score)
}

fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..at.min(text.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
    (line, col)
}

const INJECTION_FIELDS: &[&str] = &["input", "output", "reasoning", "tool_arguments", "tool_result"];

fn check_scope(tenant: &Option<String>, agent: &Option<String>) -> Result<(), String> {
    if let Some(t) = tenant {
        if !traceledger_core::event::is_valid_tenant_id(t) {
            return Err(format!("tenant {t:?} is not a valid tenant id"));
        }
    }
    if let Some(a) = agent {
        if a.is_empty() || a[..a.len() - usize::from(a.ends_with('*'))].contains('*') {
            return Err(format!("agent {a:?}: an agent id, or a prefix ending in a single '*'"));
        }
    }
    Ok(())
}

fn usd_micros(v: Option<f64>, what: &str) -> Result<Option<u64>, String> {
    match v {
        None => Ok(None),
        Some(x) if (0.0..1e12).contains(&x) => Ok(Some((x * 1e6).round() as u64)),
        Some(x) => Err(format!("{what} must be a non-negative amount, is {x}")),
    }
}

fn compile_rule(i: usize, r: RawRule) -> Result<Rule, (String, String)> {
    let id = r.name.clone().unwrap_or_else(|| format!("validate[{i}]"));
    let at = |k: &str| format!("validate[{i}].{k}");
    check_scope(&r.tenant, &r.agent).map_err(|m| (at("scope"), m))?;
    let field = FieldPath::parse(&r.field).map_err(|m| (at("field"), m))?;
    let kind = match &r.kind {
        None => None,
        Some(k) => Some(traceledger_core::event::EventKind::from_symbol(k).ok_or_else(|| {
            let all: Vec<_> = traceledger_core::event::EventKind::ALL.iter().map(|k| k.symbol()).collect();
            (at("kind"), format!("{k:?} is not an event kind ({})", all.join(", ")))
        })?),
    };
    let given = [r.range.is_some(), r.regex.is_some(), r.one_of.is_some(), r.schema.is_some()];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err((at("check"), "give exactly one of range, regex, one_of, schema".into()));
    }
    let check = if let Some(range) = r.range {
        match (range.min, range.max) {
            (None, None) => return Err((at("range"), "give min, max or both".into())),
            (Some(lo), Some(hi)) if lo > hi => return Err((at("range"), format!("min {lo} is above max {hi}"))),
            _ => Check::Range(range),
        }
    } else if let Some(re) = r.regex {
        Check::Regex(regex::Regex::new(&re).map_err(|e| (at("regex"), e.to_string()))?)
    } else if let Some(set) = r.one_of {
        if set.is_empty() {
            return Err((at("one_of"), "the set is empty".into()));
        }
        Check::OneOf(set)
    } else if let Some(schema) = r.schema {
        // A schema is an inline table or a JSON document in a string.
        let schema = match schema {
            Value::String(s) => serde_json::from_str(&s).map_err(|e| (at("schema"), format!("not JSON: {e}")))?,
            v => v,
        };
        let v = jsonschema::validator_for(&schema).map_err(|e| (at("schema"), e.to_string()))?;
        Check::Schema(std::sync::Arc::new(v))
    } else {
        return Err((at("check"), "give exactly one of range, regex, one_of, schema".into()));
    };
    Ok(Rule {
        id,
        tenant: r.tenant,
        agent: r.agent,
        kind,
        field,
        required: r.required,
        severity: r.severity.unwrap_or_default(),
        check,
    })
}

impl Policy {
    /// Parses and validates a policy file's text.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let (line, column) = match e.span() {
                Some(s) => {
                    let (l, c) = line_col(text, s.start);
                    (Some(l), Some(c))
                }
                None => (None, None),
            };
            PolicyError { line, column, path: String::new(), message: e.message().trim().to_string() }
        })?;
        let err = |span: std::ops::Range<usize>, path: String, message: String| {
            let (l, c) = line_col(text, span.start);
            PolicyError { line: Some(l), column: Some(c), path, message }
        };
        if let Some(v) = raw.version {
            if v != 1 {
                return Err(PolicyError {
                    line: None,
                    column: None,
                    path: "version".into(),
                    message: format!("version {v} is not supported (1 is)"),
                });
            }
        }
        let mut rules = Vec::new();
        for (i, r) in raw.validate.into_iter().enumerate() {
            let span = r.span();
            rules.push(compile_rule(i, r.into_inner()).map_err(|(p, m)| err(span, p, m))?);
        }
        let mut tools: Vec<ToolBoundary> = Vec::new();
        for (i, t) in raw.tools.into_iter().enumerate() {
            let span = t.span();
            let t = t.into_inner();
            check_scope(&t.tenant, &t.agent).map_err(|m| err(span.clone(), format!("tools[{i}]"), m))?;
            if let Some(j) = tools.iter().position(|o| o.tenant == t.tenant && o.agent == t.agent) {
                return Err(err(span, format!("tools[{i}]"), format!("same tenant and agent as tools[{j}]")));
            }
            tools.push(t);
        }
        let (inj_span, injection) = spanned(raw.injection);
        if !(injection.threshold > 0.0 && injection.threshold <= 1.0) {
            return Err(err(inj_span, "injection.threshold".into(), "must be in (0, 1]".into()));
        }
        for f in &injection.fields {
            if !INJECTION_FIELDS.contains(&f.as_str()) {
                return Err(err(
                    inj_span,
                    "injection.fields".into(),
                    format!("{f:?} is not one of {}", INJECTION_FIELDS.join(", ")),
                ));
            }
        }
        let builtin = injection::builtin();
        for name in injection.disable.iter().chain(injection.weights.keys()) {
            if !builtin.iter().any(|f| &f.name == name) {
                let names: Vec<_> = builtin.iter().map(|f| f.name.as_str()).collect();
                return Err(err(
                    inj_span,
                    "injection".into(),
                    format!("{name:?} is not a built-in family ({})", names.join(", ")),
                ));
            }
        }
        let families: Vec<_> = builtin
            .into_iter()
            .filter(|f| !injection.disable.contains(&f.name))
            .map(|mut f| {
                if let Some(w) = injection.weights.get(&f.name) {
                    f.weight = *w;
                }
                f
            })
            .chain(injection.family.iter().cloned())
            .collect();
        let detector = injection::Detector::new(families).map_err(|m| err(inj_span, "injection".into(), m))?;
        let (rate_span, rate) = spanned(raw.rate);
        if rate.window_seconds == 0 || rate.history_windows == 0 || !(rate.factor >= 1.0 && rate.factor.is_finite()) {
            return Err(err(
                rate_span,
                "rate".into(),
                "window_seconds and history_windows must be positive, factor at least 1".into(),
            ));
        }
        let (av_span, availability) = spanned(raw.availability);
        for (k, v) in [
            ("down_error_ratio", availability.down_error_ratio),
            ("breaker_error_ratio", availability.breaker_error_ratio),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                return Err(err(av_span.clone(), format!("availability.{k}"), format!("must be in (0, 1], is {v}")));
            }
        }
        if availability.breaker_window_seconds == 0 || availability.heartbeat_gap_seconds == 0 {
            return Err(err(av_span, "availability".into(), "windows and gaps must be positive".into()));
        }
        let mut budgets: Vec<Budget> = Vec::new();
        for (i, b) in raw.budget.into_iter().enumerate() {
            let span = b.span();
            let b = b.into_inner();
            let at = format!("budget[{i}]");
            check_scope(&b.tenant, &b.agent).map_err(|m| err(span.clone(), at.clone(), m))?;
            let daily = usd_micros(b.daily_usd, "daily_usd").map_err(|m| err(span.clone(), at.clone(), m))?;
            let session = usd_micros(b.session_usd, "session_usd").map_err(|m| err(span.clone(), at.clone(), m))?;
            if daily.is_none() && session.is_none() {
                return Err(err(span, at, "give daily_usd, session_usd or both".into()));
            }
            if let Some(j) = budgets.iter().position(|o| o.tenant == b.tenant && o.agent == b.agent) {
                return Err(err(span, at, format!("same tenant and agent as budget[{j}]")));
            }
            budgets.push(Budget { tenant: b.tenant, agent: b.agent, daily_micros: daily, session_micros: session });
        }
        let mut limits = Vec::new();
        for (i, l) in raw.limit.into_iter().enumerate() {
            let span = l.span();
            let l = l.into_inner();
            let at = format!("limit[{i}]");
            check_scope(&l.tenant, &l.agent).map_err(|m| err(span.clone(), at.clone(), m))?;
            if l.tokens_per_minute.unwrap_or(0) == 0 && l.requests_per_minute.unwrap_or(0) == 0 {
                return Err(err(span, at, "give a positive tokens_per_minute or requests_per_minute".into()));
            }
            if !(l.warn_at > 0.0 && l.warn_at <= 1.0) {
                return Err(err(span, format!("{at}.warn_at"), format!("must be in (0, 1], is {}", l.warn_at)));
            }
            limits.push(l);
        }
        let mut alerts = Vec::new();
        for (i, a) in raw.alert.into_iter().enumerate() {
            let span = a.span();
            let mut a = a.into_inner();
            let at = format!("alert[{i}]");
            if !(a.url.starts_with("http://") || a.url.starts_with("https://")) || a.url.len() < 10 {
                return Err(err(span, format!("{at}.url"), format!("{:?} is not an http(s) URL", a.url)));
            }
            if a.secret_env.is_empty() || !a.secret_env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(err(span, format!("{at}.secret_env"), "the name of an environment variable".into()));
            }
            check_scope(&a.tenant, &None).map_err(|m| err(span.clone(), at.clone(), m))?;
            if a.name.is_empty() {
                a.name = format!("alert[{i}]");
            }
            alerts.push(a);
        }
        let mut retention: Vec<Retention> = Vec::new();
        for (i, r) in raw.retention.into_iter().enumerate() {
            let span = r.span();
            let r = r.into_inner();
            let at = format!("retention[{i}]");
            check_scope(&r.tenant, &None).map_err(|m| err(span.clone(), at.clone(), m))?;
            if let Some(max) = r.max_days {
                if max == 0 || max < r.min_days {
                    return Err(err(
                        span,
                        format!("{at}.max_days"),
                        format!("must be positive and at least min_days ({}), is {max}", r.min_days),
                    ));
                }
            }
            if let Some(j) = retention.iter().position(|o| o.tenant == r.tenant) {
                return Err(err(span, at, format!("same tenant as retention[{j}]")));
            }
            retention.push(r);
        }
        let mut redactions: Vec<redact::Redaction> = Vec::new();
        for (i, r) in raw.redact.into_iter().enumerate() {
            let span = r.span();
            let r = r.into_inner();
            let at = format!("redact[{i}]");
            check_scope(&r.tenant, &r.agent).map_err(|m| err(span.clone(), at.clone(), m))?;
            if r.fields.is_empty() {
                return Err(err(
                    span,
                    format!("{at}.fields"),
                    "name at least one field (or leave it out for all)".into(),
                ));
            }
            if let Some(k) = r.kinds.iter().find(|k| !traceledger_pii::Kind::ALL.iter().any(|x| x.name() == k.as_str()))
            {
                let names: Vec<&str> = traceledger_pii::Kind::ALL.iter().map(|x| x.name()).collect();
                return Err(err(span, format!("{at}.kinds"), format!("{k:?} is not one of {}", names.join(", "))));
            }
            if !r.kinds.is_empty() && r.mode != redact::RedactMode::Mask {
                return Err(err(span, format!("{at}.kinds"), "kinds apply to mode = \"mask\" only".into()));
            }
            if let Some(j) = redactions.iter().position(|o| o.tenant == r.tenant && o.agent == r.agent) {
                return Err(err(span, at, format!("same tenant and agent as redact[{j}]")));
            }
            redactions.push(r);
        }
        Ok(Policy {
            digest: hex::encode(Sha256::digest(text.as_bytes())),
            rules,
            tools,
            injection,
            detector,
            rate,
            failover: raw.failover,
            availability,
            budgets,
            limits,
            alerts,
            retention,
            redactions,
        })
    }

    /// The most specific redaction rule for `agent` of `tenant`.
    pub fn redaction_for(&self, tenant: &str, agent: &str) -> Option<&redact::Redaction> {
        best(&self.redactions, |r| scope_match(r.tenant.as_deref(), r.agent.as_deref(), tenant, agent)).map(|(_, r)| r)
    }

    /// Applies the redaction rule of the event's tenant and agent, if any.
    pub fn redact(&self, e: &mut TraceEvent) -> Option<traceledger_core::privacy::Redacted> {
        let rule = self.redaction_for(&e.tenant_id, &e.agent_id)?.clone();
        Some(rule.apply(self.version(), e))
    }

    /// The retention rule of `tenant`: its own, else the one for every tenant.
    pub fn retention_for(&self, tenant: &str) -> Option<&Retention> {
        let own = self.retention.iter().find(|r| r.tenant.as_deref() == Some(tenant));
        own.or_else(|| self.retention.iter().find(|r| r.tenant.is_none()))
    }

    /// The short form of the digest shown to people.
    pub fn version(&self) -> &str {
        &self.digest[..self.digest.len().min(12)]
    }

    /// The injection detector in force.
    pub fn detector(&self) -> &injection::Detector {
        &self.detector
    }

    /// What the policy sets, in counts: for `policy check` and the API.
    pub fn summary(&self) -> PolicySummary {
        PolicySummary {
            version: self.version().to_string(),
            digest: self.digest.clone(),
            validate: self.rules.len(),
            tools: self.tools.len(),
            injection_families: self.detector().families().len(),
            injection_threshold: self.injection.threshold,
            budgets: self.budgets.len(),
            limits: self.limits.len(),
            alerts: self.alerts.len(),
            retention: self.retention.len(),
            redactions: self.redactions.len(),
        }
    }

    /// The most specific budget for `agent` of `tenant`.
    pub fn budget_for(&self, tenant: &str, agent: &str) -> Option<&Budget> {
        best(&self.budgets, |b| scope_match(b.tenant.as_deref(), b.agent.as_deref(), tenant, agent)).map(|(_, b)| b)
    }

    /// Limits that apply to calls of `agent` to `provider`.
    pub fn limits_for<'a>(
        &'a self,
        tenant: &'a str,
        agent: &'a str,
        provider: &'a str,
    ) -> impl Iterator<Item = &'a Limit> {
        self.limits.iter().filter(move |l| {
            scope_match(l.tenant.as_deref(), l.agent.as_deref(), tenant, agent).is_some()
                && l.provider.as_deref().is_none_or(|p| p == provider)
        })
    }

    /// Checks one event against the stateless rules: output validation,
    /// tool boundaries, prompt injection.
    pub fn evaluate(&self, e: &TraceEvent) -> Vec<Violation> {
        let mut out = Vec::new();
        for r in &self.rules {
            if scope_match(r.tenant.as_deref(), r.agent.as_deref(), &e.tenant_id, &e.agent_id).is_none()
                || r.kind.is_some_and(|k| k != e.kind)
            {
                continue;
            }
            let values = r.field.resolve(e);
            if values.is_empty() && r.required {
                out.push(violation(r, format!("{} is missing", r.field)));
            }
            for v in values {
                let problem = match v {
                    // Text that is not JSON has no sub-field: absent,
                    // which only a required rule minds.
                    Err(why) if r.required => Some(format!("{} {why}", r.field)),
                    Err(_) => None,
                    Ok(v) => check(&r.check, &v).map(|why| format!("{} {why}", r.field)),
                };
                if let Some(p) = problem {
                    out.push(violation(r, p));
                }
            }
        }
        let boundary =
            best(&self.tools, |t| scope_match(t.tenant.as_deref(), t.agent.as_deref(), &e.tenant_id, &e.agent_id));
        if let Some((id, b)) = boundary {
            for (i, c) in e.tools.iter().enumerate() {
                if !b.allowed.iter().any(|t| t == &c.name) {
                    out.push(Violation {
                        kind: AnomalyKind::ToolOutOfPolicy,
                        severity: Severity::High,
                        rule: format!("tools[{id}]"),
                        detail: format!("tools[{i}] calls {:?}, not among the {} allowed", c.name, b.allowed.len()),
                        score: None,
                    });
                }
            }
        }
        for (field, text) in self.injection_texts(e) {
            if let Some(d) = self.detector.detect(text) {
                if d.score >= self.injection.threshold {
                    out.push(Violation {
                        kind: AnomalyKind::PromptInjection,
                        severity: if d.score >= 0.8 { Severity::High } else { Severity::Medium },
                        rule: d.families.join("+"),
                        detail: format!("{field} scores {:.2} (threshold {:.2})", d.score, self.injection.threshold),
                        score: Some(d.score),
                    });
                }
            }
        }
        out
    }

    fn injection_texts<'a>(&'a self, e: &'a TraceEvent) -> Vec<(String, &'a str)> {
        let mut out = Vec::new();
        for f in &self.injection.fields {
            match f.as_str() {
                "input" => out.extend(e.input.as_deref().map(|t| ("input".to_string(), t))),
                "output" => out.extend(e.output.as_deref().map(|t| ("output".to_string(), t))),
                "reasoning" => out.extend(e.reasoning.as_deref().map(|t| ("reasoning".to_string(), t))),
                "tool_arguments" => out.extend(
                    e.tools
                        .iter()
                        .enumerate()
                        .filter_map(|(i, c)| Some((format!("tools[{i}].arguments"), c.arguments.as_deref()?))),
                ),
                "tool_result" => out.extend(
                    e.tools
                        .iter()
                        .enumerate()
                        .filter_map(|(i, c)| Some((format!("tools[{i}].result"), c.result.as_deref()?))),
                ),
                _ => {}
            }
        }
        out
    }
}

/// A table's span and value; the defaults (at the file's start) when absent.
fn spanned<T: Default>(v: Option<Spanned<T>>) -> (std::ops::Range<usize>, T) {
    match v {
        Some(s) => (s.span(), s.into_inner()),
        None => (0..0, T::default()),
    }
}

/// The item of `items` with the highest score (the first of equals), and
/// its position.
fn best<T>(items: &[T], score: impl Fn(&T) -> Option<u8>) -> Option<(usize, &T)> {
    let mut found: Option<(usize, &T, u8)> = None;
    for (i, it) in items.iter().enumerate() {
        if let Some(s) = score(it) {
            if found.is_none_or(|(_, _, b)| s > b) {
                found = Some((i, it, s));
            }
        }
    }
    found.map(|(i, t, _)| (i, t))
}

fn violation(r: &Rule, detail: String) -> Violation {
    Violation { kind: AnomalyKind::OutputValidation, severity: r.severity, rule: r.id.clone(), detail, score: None }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        _ => None,
    }
}

/// Why `v` fails `c`, without its value; `None` when it passes.
fn check(c: &Check, v: &Value) -> Option<String> {
    match c {
        Check::Range(r) => match as_number(v) {
            None => Some("is not a number".into()),
            Some(x) => {
                let lo = r.min.is_some_and(|m| x < m);
                let hi = r.max.is_some_and(|m| x > m);
                let fmt = |o: Option<f64>| o.map(|x| x.to_string()).unwrap_or_default();
                (lo || hi).then(|| format!("is outside {}..{}", fmt(r.min), fmt(r.max)))
            }
        },
        Check::Regex(re) => {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (!re.is_match(&s)).then(|| format!("does not match /{}/", re.as_str()))
        }
        Check::OneOf(set) => {
            let hit = set.iter().any(|a| a == v || matches!((a, v), (Value::String(s), Value::Number(n)) | (Value::Number(n), Value::String(s)) if &n.to_string() == s));
            (!hit).then(|| format!("is not one of the {} allowed values", set.len()))
        }
        Check::Schema(validator) => {
            let doc = match v {
                Value::String(s) => match serde_json::from_str::<Value>(s) {
                    Ok(d) => d,
                    // A plain string is itself the instance.
                    Err(_) => v.clone(),
                },
                other => other.clone(),
            };
            let first = validator.iter_errors(&doc).next().map(|e| {
                // The schema path names the constraint; the instance path
                // the place. Neither carries the value.
                format!("breaks the schema at {:?} ({})", e.instance_path().to_string(), e.schema_path())
            });
            first
        }
    }
}
