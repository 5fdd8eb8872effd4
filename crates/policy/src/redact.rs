//! Redaction before sealing: per tenant and agent, what happens to the
//! content fields of an event before the sequencer seals it.
//!
//! | mode | the sealed record holds |
//! |---|---|
//! | `keep` | the content as sent |
//! | `mask` | the content with each detected PII span (of the chosen kinds) replaced by `[KIND]`; the commitment is over the masked text |
//! | `commitment_only` | no content: it is committed to (salted hash over the original) and erased at once, so a holder of the original can later prove what was sent |
//! | `drop` | no content and no commitment |
//!
//! The rule that applied is recorded in each sealed record's policy label
//! (`policy:<version>/redact:<mode>`), which the signature covers.

use serde::{Deserialize, Serialize};
use traceledger_core::erasure::Redacted;
use traceledger_core::TraceEvent;

/// What redaction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RedactMode {
    /// Content as sent.
    Keep,
    /// Detected PII spans replaced by `[KIND]`.
    Mask,
    /// Committed to, then erased before storing.
    CommitmentOnly,
    /// Removed before sealing: no content, no commitment.
    Drop,
}

impl RedactMode {
    /// Its name in the policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            RedactMode::Keep => "keep",
            RedactMode::Mask => "mask",
            RedactMode::CommitmentOnly => "commitment_only",
            RedactMode::Drop => "drop",
        }
    }
}

/// A content field a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContentField {
    /// `input`.
    Input,
    /// `output`.
    Output,
    /// `reasoning`.
    Reasoning,
    /// Every tool call's `arguments`.
    ToolArguments,
    /// Every tool call's `result`.
    ToolResult,
}

impl ContentField {
    /// Its name in the policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentField::Input => "input",
            ContentField::Output => "output",
            ContentField::Reasoning => "reasoning",
            ContentField::ToolArguments => "tool_arguments",
            ContentField::ToolResult => "tool_result",
        }
    }
}

/// Every content field.
pub const ALL_FIELDS: [ContentField; 5] = [
    ContentField::Input,
    ContentField::Output,
    ContentField::Reasoning,
    ContentField::ToolArguments,
    ContentField::ToolResult,
];

fn all_fields() -> Vec<ContentField> {
    ALL_FIELDS.to_vec()
}

/// One `[[redact]]` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redaction {
    /// Tenant (any when absent).
    pub tenant: Option<String>,
    /// Agent or agent prefix ending in `*` (any when absent).
    pub agent: Option<String>,
    /// What happens.
    pub mode: RedactMode,
    /// Which fields (every content field when absent).
    #[serde(default = "all_fields")]
    pub fields: Vec<ContentField>,
    /// `mask` only: the PII kinds masked (`email`, `credit_card`, …; every
    /// kind when absent).
    #[serde(default)]
    pub kinds: Vec<String>,
}

/// Replaces each detected span of the wanted kinds by `[KIND]`; returns
/// the new text when anything was masked.
fn mask(text: &str, kinds: &[String]) -> Option<String> {
    let mut found = traceledger_pii::scan(text);
    found.retain(|f| kinds.is_empty() || kinds.iter().any(|k| k == f.kind.name()));
    if found.is_empty() {
        return None;
    }
    found.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in found {
        // Overlapping findings: the earlier, longer one already covers it.
        // Spans are byte offsets the scanner found on char boundaries.
        if f.start < at || !text.is_char_boundary(f.start) || !text.is_char_boundary(f.end) {
            continue;
        }
        out.push_str(&text[at..f.start]);
        out.push('[');
        out.push_str(&f.kind.name().to_ascii_uppercase());
        out.push(']');
        at = f.end;
    }
    out.push_str(&text[at..]);
    Some(out)
}

impl Redaction {
    /// Applies the rule to `e` (of policy `version`); says what it did.
    pub fn apply(&self, version: &str, e: &mut TraceEvent) -> Redacted {
        let label = format!("policy:{version}/redact:{}", self.mode.as_str());
        let mut out = Redacted { label, erase_slots: Vec::new(), changed: false };
        let has = |f: ContentField| self.fields.contains(&f);
        // Content slots in canonical order: input, output, reasoning, then
        // each tool's arguments and result.
        let mut slots: Vec<(usize, &mut Option<String>)> = Vec::new();
        for (i, (f, v)) in [
            (ContentField::Input, &mut e.input),
            (ContentField::Output, &mut e.output),
            (ContentField::Reasoning, &mut e.reasoning),
        ]
        .into_iter()
        .enumerate()
        {
            if has(f) {
                slots.push((i, v));
            }
        }
        for (t, tool) in e.tools.iter_mut().enumerate() {
            if has(ContentField::ToolArguments) {
                slots.push((3 + 2 * t, &mut tool.arguments));
            }
            if has(ContentField::ToolResult) {
                slots.push((4 + 2 * t, &mut tool.result));
            }
        }
        for (slot, v) in slots {
            let Some(text) = v.as_ref() else { continue };
            match self.mode {
                RedactMode::Keep => {}
                RedactMode::Mask => {
                    if let Some(m) = mask(text, &self.kinds) {
                        *v = Some(m);
                        out.changed = true;
                    }
                }
                RedactMode::CommitmentOnly => {
                    out.erase_slots.push(slot);
                    out.changed = true;
                }
                RedactMode::Drop => {
                    *v = None;
                    out.changed = true;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn field_names_are_the_policy_file_names() {
        for f in ALL_FIELDS {
            assert_eq!(serde_json::to_value(f).expect("json"), f.as_str());
        }
    }

    #[test]
    fn masking_replaces_each_span_of_the_wanted_kinds() {
        let t = "mail jane@example.com or call +1 415 555 0100, card 4111 1111 1111 1111";
        let all = mask(t, &[]).expect("masked");
        assert!(!all.contains("jane@example.com") && !all.contains("4111"), "{all}");
        assert!(all.contains("[EMAIL]") && all.contains("[CREDIT_CARD]"), "{all}");
        let only_mail = mask(t, &["email".into()]).expect("masked");
        assert!(only_mail.contains("[EMAIL]") && only_mail.contains("4111 1111 1111 1111"), "{only_mail}");
        assert_eq!(mask("nothing personal here", &[]), None);
    }

    proptest! {
        #[test]
        fn masking_never_panics_and_leaves_no_detected_email(s in "\\PC{0,80}", user in "[a-z]{1,8}") {
            let text = format!("{s} {user}@example.org {s}");
            let m = mask(&text, &["email".into()]).expect("an email is found");
            let address = format!("{user}@example.org");
            prop_assert!(!m.contains(&address), "{}", m);
        }
    }
}
