//! Reading a policy file: TOML into a checked [`Policy`], every problem
//! with its line, column and key path.

use super::*;

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudget {
    tenant: Option<String>,
    agent: Option<String>,
    daily_usd: Option<f64>,
    session_usd: Option<f64>,
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

const INJECTION_FIELDS: &[&str] = &["input", "output", "reasoning", "tool_arguments", "tool_result"];

fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..at.min(text.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
    (line, col)
}

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

/// A table's span and value; the defaults (at the file's start) when absent.
fn spanned<T: Default>(v: Option<Spanned<T>>) -> (std::ops::Range<usize>, T) {
    match v {
        Some(s) => (s.span(), s.into_inner()),
        None => (0..0, T::default()),
    }
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
        // The earlier detector's family names, read as their successors.
        let rename = |n: &str| -> String {
            match n {
                "prompt_exfiltration" => "prompt_extraction",
                "delimiter_injection" => "role_markers",
                "tool_exfiltration" => "exfiltration",
                other => other,
            }
            .to_string()
        };
        let mut injection = injection;
        injection.disable = injection.disable.iter().map(|n| rename(n)).collect();
        injection.weights = injection.weights.into_iter().map(|(k, v)| (rename(&k), v)).collect();
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
        let detector = injection::Detector::new(families, injection.classifier)
            .map_err(|m| err(inj_span, "injection".into(), m))?;
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
}
