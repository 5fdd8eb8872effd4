//! Field paths of output-validation rules, and resolving them in an event.
//!
//! ```text
//! path  := root ( "." key | "[" index "]" )*
//! root  := input | output | reasoning            (text; a suffix parses it as JSON)
//!        | attributes.<key>                      (text; likewise)
//!        | tool.<name|*>.arguments | tool.<name|*>.result   (text; likewise)
//!        | tool.<name|*>.status
//!        | latency_ms | cost_micros | tokens.input | tokens.output | tokens.cached
//!        | model.provider | model.name | status
//! ```

use serde_json::Value;
use traceledger_core::TraceEvent;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Root {
    Input,
    Output,
    Reasoning,
    Attribute(String),
    ToolArguments(String),
    ToolResult(String),
    ToolStatus(String),
    LatencyMs,
    CostMicros,
    TokensInput,
    TokensOutput,
    TokensCached,
    ModelProvider,
    ModelName,
    Status,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A parsed field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    root: Root,
    steps: Vec<Step>,
    text: String,
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Splits `a.b[2].c` into segments, brackets kept as their own segments.
fn segments(s: &str) -> Result<Vec<Step>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| format!("unclosed '[' in {s:?}"))?;
            let n = r[..end].parse::<usize>().map_err(|_| format!("index {:?} in {s:?} is not a number", &r[..end]))?;
            out.push(Step::Index(n));
            rest = &r[end + 1..];
            rest = rest.strip_prefix('.').unwrap_or(rest);
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        if end == 0 {
            return Err(format!("empty segment in {s:?}"));
        }
        out.push(Step::Key(rest[..end].to_string()));
        rest = &rest[end..];
        if let Some(r) = rest.strip_prefix('.') {
            if r.is_empty() {
                return Err(format!("{s:?} ends with '.'"));
            }
            rest = r;
        }
    }
    Ok(out)
}

impl FieldPath {
    /// Parses a path; the error says what is wrong with it.
    pub fn parse(s: &str) -> Result<Self, String> {
        let segs = segments(s)?;
        let key = |i: usize| match segs.get(i) {
            Some(Step::Key(k)) => Some(k.as_str()),
            _ => None,
        };
        let (root, used) = match (key(0), key(1), key(2)) {
            (Some("input"), ..) => (Root::Input, 1),
            (Some("output"), ..) => (Root::Output, 1),
            (Some("reasoning"), ..) => (Root::Reasoning, 1),
            (Some("latency_ms"), ..) => (Root::LatencyMs, 1),
            (Some("cost_micros"), ..) => (Root::CostMicros, 1),
            (Some("status"), ..) => (Root::Status, 1),
            (Some("tokens"), Some("input"), _) => (Root::TokensInput, 2),
            (Some("tokens"), Some("output"), _) => (Root::TokensOutput, 2),
            (Some("tokens"), Some("cached"), _) => (Root::TokensCached, 2),
            (Some("model"), Some("provider"), _) => (Root::ModelProvider, 2),
            (Some("model"), Some("name"), _) => (Root::ModelName, 2),
            (Some("attributes"), Some(k), _) => (Root::Attribute(k.to_string()), 2),
            (Some("tool"), Some(t), Some("arguments")) => (Root::ToolArguments(t.to_string()), 3),
            (Some("tool"), Some(t), Some("result")) => (Root::ToolResult(t.to_string()), 3),
            (Some("tool"), Some(t), Some("status")) => (Root::ToolStatus(t.to_string()), 3),
            _ => {
                return Err(format!(
                    "{s:?} does not start with a known field (input, output, reasoning, attributes.KEY, \
                     tool.NAME.arguments|result|status, latency_ms, cost_micros, tokens.input|output|cached, \
                     model.provider|name, status)"
                ))
            }
        };
        let steps = segs[used..].to_vec();
        let text_root = matches!(
            root,
            Root::Input
                | Root::Output
                | Root::Reasoning
                | Root::Attribute(_)
                | Root::ToolArguments(_)
                | Root::ToolResult(_)
        );
        if !steps.is_empty() && !text_root {
            return Err(format!("{s:?}: only text fields (input, output, reasoning, attributes, tool arguments and results) have sub-paths"));
        }
        Ok(FieldPath { root, steps, text: s.to_string() })
    }

    /// The values at this path in `e` (several for `tool.*`; none when the
    /// field is absent). `Err` when the text at the root is not JSON but the
    /// path goes into it.
    pub fn resolve(&self, e: &TraceEvent) -> Vec<Result<Value, &'static str>> {
        let texts: Vec<&str> = match &self.root {
            Root::Input => e.input.as_deref().into_iter().collect(),
            Root::Output => e.output.as_deref().into_iter().collect(),
            Root::Reasoning => e.reasoning.as_deref().into_iter().collect(),
            Root::Attribute(k) => e.attributes.iter().filter(|a| &a.key == k).map(|a| a.value.as_str()).collect(),
            Root::ToolArguments(t) => tools(e, t).filter_map(|c| c.arguments.as_deref()).collect(),
            Root::ToolResult(t) => tools(e, t).filter_map(|c| c.result.as_deref()).collect(),
            Root::ToolStatus(t) => return tools(e, t).map(|c| Ok(Value::from(c.status.symbol()))).collect(),
            Root::LatencyMs => return e.latency_ms.map(|v| Ok(Value::from(v))).into_iter().collect(),
            Root::CostMicros => return e.cost_micros.map(|v| Ok(Value::from(v))).into_iter().collect(),
            Root::TokensInput => return e.tokens.map(|t| Ok(Value::from(t.input))).into_iter().collect(),
            Root::TokensOutput => return e.tokens.map(|t| Ok(Value::from(t.output))).into_iter().collect(),
            Root::TokensCached => return e.tokens.map(|t| Ok(Value::from(t.cached))).into_iter().collect(),
            Root::ModelProvider => {
                return e.model.as_ref().map(|m| Ok(Value::from(m.provider.as_str()))).into_iter().collect()
            }
            Root::ModelName => return e.model.as_ref().map(|m| Ok(Value::from(m.name.as_str()))).into_iter().collect(),
            Root::Status => return vec![Ok(Value::from(e.status.code.symbol()))],
        };
        let mut out = Vec::new();
        for t in texts {
            if self.steps.is_empty() {
                out.push(Ok(Value::from(t)));
                continue;
            }
            let Ok(mut v) = serde_json::from_str::<Value>(t) else {
                out.push(Err("is not JSON"));
                continue;
            };
            let mut found = true;
            for s in &self.steps {
                let next = match s {
                    Step::Key(k) => v.get_mut(k.as_str()).map(Value::take),
                    Step::Index(i) => v.get_mut(*i).map(Value::take),
                };
                match next {
                    Some(n) => v = n,
                    None => {
                        found = false;
                        break;
                    }
                }
            }
            if found {
                out.push(Ok(v));
            }
        }
        out
    }
}

fn tools<'a>(e: &'a TraceEvent, name: &'a str) -> impl Iterator<Item = &'a traceledger_core::event::ToolCall> + 'a {
    e.tools.iter().filter(move |c| name == "*" || c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert!(FieldPath::parse("output.credit_score").is_ok());
        assert!(FieldPath::parse("output.items[3].price").is_ok());
        assert!(FieldPath::parse("tool.search.arguments.query").is_ok());
        assert!(FieldPath::parse("tokens.output").is_ok());
        for (bad, why) in [
            ("outputs.x", "known field"),
            ("latency_ms.x", "sub-paths"),
            ("output.", "ends with"),
            ("output..x", "empty segment"),
            ("output.a[x]", "not a number"),
            ("output.a[1", "unclosed"),
            ("tool.search", "known field"),
        ] {
            let e = FieldPath::parse(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
