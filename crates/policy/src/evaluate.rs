//! Applying a policy to an event: the validation rules, tool boundaries
//! and injection detector that fire on it.

use super::*;

impl Policy {
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
            // Tool results are data the agent reads: text in them that
            // addresses the agent is itself the attack.
            let source = if field.ends_with(".result") { injection::Source::Data } else { injection::Source::Prompt };
            if let Some(d) = self.detector.detect(text, source) {
                if d.score >= self.injection.threshold {
                    let classifier = d.classifier.map(|p| format!("; classifier {p:.2}")).unwrap_or_default();
                    let layers = d.layers.iter().filter(|l| **l != "text").copied().collect::<Vec<_>>();
                    let layers =
                        if layers.is_empty() { String::new() } else { format!("; found in {}", layers.join(", ")) };
                    out.push(Violation {
                        kind: AnomalyKind::PromptInjection,
                        severity: if d.score >= 0.8 { Severity::High } else { Severity::Medium },
                        rule: d.rule(),
                        detail: format!(
                            "{field} scores {:.2} (threshold {:.2}{classifier}{layers})",
                            d.score, self.injection.threshold
                        ),
                        score: Some(d.score),
                    });
                }
            }
        }
        out
    }

    pub(crate) fn injection_texts<'a>(&'a self, e: &'a TraceEvent) -> Vec<(String, &'a str)> {
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
