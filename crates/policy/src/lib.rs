//! The policy of a traceledger node: one TOML file, scoped per tenant and
//! agent, that says what counts as an anomaly and where alerts go.
//!
//! ```toml
//! [injection]                 # prompt-injection detection (defaults shown)
//! threshold = 0.5             # flag at this combined score
//! fields = ["input", "tool_result"]   # tool results are read as data
//! classifier = true           # the learned layer; false leaves the patterns
//! disable = []                # built-in families turned off, by name
//! weights = {}                # built-in families re-weighted: { role_markers = 0.7 }
//! # [[injection.family]]      # families added: matched case-insensitively
//! # name = "canary"           # against the normalised text
//! # weight = 0.9
//! # patterns = ["zebra-\\d+"]
//! # data_only = false         # true: only in tool results
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

mod evaluate;
pub mod injection;
mod parse;
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
    /// The learned classifier on (default) or off.
    pub classifier: bool,
}

impl Default for InjectionConfig {
    fn default() -> Self {
        InjectionConfig {
            threshold: 0.5,
            fields: vec!["input".into(), "tool_result".into()],
            disable: Vec::new(),
            weights: Default::default(),
            family: Vec::new(),
            classifier: true,
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
        let detector = injection::Detector::builtin();
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

impl Policy {
    /// The most specific redaction rule for `agent` of `tenant`.
    pub fn redaction_for(&self, tenant: &str, agent: &str) -> Option<&redact::Redaction> {
        best(&self.redactions, |r| scope_match(r.tenant.as_deref(), r.agent.as_deref(), tenant, agent)).map(|(_, r)| r)
    }

    /// Applies the redaction rule of the event's tenant and agent, if any.
    pub fn redact(&self, e: &mut TraceEvent) -> Option<traceledger_core::erasure::Redacted> {
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
