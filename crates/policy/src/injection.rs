//! Prompt-injection detection: families of patterns, each with a weight,
//! combined into one score.
//!
//! One case-insensitive [`RegexSet`] pass over the text says which patterns
//! match; a family's weight counts once however many of its patterns match;
//! the families found combine as independent evidence (noisy-or:
//! `1 − Π(1 − wᵢ)`), so two weak signals together can cross the threshold
//! one alone does not. The families and weights are defaults a policy file
//! can tune, disable or extend.

use regex::RegexSet;
use serde::{Deserialize, Serialize};

/// A family of injection patterns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    /// Name, reported with each detection.
    pub name: String,
    /// Weight in (0, 1]: the score of this family alone.
    pub weight: f64,
    /// Regular expressions (matched case-insensitively).
    pub patterns: Vec<String>,
}

/// The built-in families.
pub fn builtin() -> Vec<Family> {
    let f = |name: &str, weight: f64, patterns: &[&str]| Family {
        name: name.to_string(),
        weight,
        patterns: patterns.iter().map(|p| p.to_string()).collect(),
    };
    vec![
        f(
            "instruction_override",
            0.6,
            &[
                r"\b(ignore|disregard|forget|override|skip)\s+([\w']+\s+){0,3}?(previous|prior|above|earlier|preceding|original|system)\s+(instructions?|prompts?|rules|directions|guidelines|messages?)",
                r"\bdo\s+not\s+follow\s+(the|your)\s+(previous|prior|system)\s+(instructions?|rules)",
                r"\bnew\s+(system\s+)?instructions?\s*:",
                r"\bfrom\s+now\s+on\s*,?\s+you\s+(will|must|are)",
            ],
        ),
        f(
            "role_hijack",
            0.5,
            &[
                r"\byou\s+are\s+now\s+(an?\s+)?(unrestricted|unfiltered|jailbroken|evil|dan\b|developer\s+mode)",
                r"\b(developer|god|jailbreak|dan)\s+mode\s+(enabled|activated|on)\b",
                r"\bpretend\s+(that\s+)?you\s+(are|have)\s+(no|not\s+bound|free\s+of)",
                r"\bact\s+as\s+(an?\s+)?(unrestricted|unfiltered|uncensored)",
                r"\bwithout\s+(any\s+)?(restrictions|filters|safety\s+guidelines)\b",
            ],
        ),
        f(
            "prompt_exfiltration",
            0.5,
            &[
                r"\b(reveal|print|show|repeat|output|display|leak|tell\s+me)\s+(me\s+)?(your|the)\s+(full\s+|entire\s+|hidden\s+|initial\s+|original\s+)*(system\s+prompt|instructions|prompt|configuration)",
                r"\bwhat\s+(is|are)\s+your\s+(system\s+prompt|initial\s+instructions|hidden\s+instructions)",
            ],
        ),
        f(
            "delimiter_injection",
            0.4,
            &[
                r"<\|im_(start|end)\|>",
                r"<\|(system|assistant|user|endoftext)\|>",
                r"\[/?INST\]",
                r"</?\s*(system|sys)\s*>",
                r"^\s*#{2,}\s*(system|instruction)s?\b",
                r"\bBEGIN\s+(SYSTEM|ADMIN)\s+(PROMPT|INSTRUCTIONS?)\b",
            ],
        ),
        f(
            "tool_exfiltration",
            0.4,
            &[
                r"\b(send|post|upload|forward|email|exfiltrate|transmit)\b[^.\n]{0,80}\b(to|at)\s+(https?://|[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,})",
                r"\b(curl|wget)\s+(-\S+\s+)*https?://",
                r"!\[[^\]]*\]\(https?://[^)]*\?[^)]*=",
            ],
        ),
        f(
            "authority_claim",
            0.3,
            &[
                r"\b(this\s+is|message\s+from|i\s+am)\s+(the|your)\s+(system\s+administrator|administrator|developer|creator|openai|anthropic)\b",
                r"\b(urgent|important)\s*:\s*(the\s+)?(assistant|ai|model|agent)\s+(must|should)\b",
            ],
        ),
        f(
            "obfuscation",
            0.3,
            &[
                r"\b(decode|base64\s*-d|atob)\b[^\n]{0,40}[A-Za-z0-9+/]{40,}={0,2}",
                r"[\x{200B}\x{200C}\x{200D}\x{2060}\x{FEFF}]",
                r"[\x{E0000}-\x{E007F}]",
            ],
        ),
    ]
}

/// The detector compiled from a list of families.
#[derive(Debug, Clone)]
pub struct Detector {
    set: RegexSet,
    /// Family index of each pattern of `set`.
    family_of: Vec<usize>,
    families: Vec<Family>,
}

/// What the detector found in one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Combined score in [0, 1].
    pub score: f64,
    /// Names of the families that matched.
    pub families: Vec<String>,
}

impl Detector {
    /// Compiles `families`; the error names the family and pattern index.
    pub fn new(families: Vec<Family>) -> Result<Self, String> {
        let mut pats = Vec::new();
        let mut family_of = Vec::new();
        for (i, f) in families.iter().enumerate() {
            if !(f.weight > 0.0 && f.weight <= 1.0) {
                return Err(format!("family {:?}: weight must be in (0, 1], is {}", f.name, f.weight));
            }
            if f.patterns.is_empty() {
                return Err(format!("family {:?}: no patterns", f.name));
            }
            for (j, p) in f.patterns.iter().enumerate() {
                if let Err(e) = regex::Regex::new(p) {
                    return Err(format!("family {:?} pattern {j}: {e}", f.name));
                }
                pats.push(format!("(?im){p}"));
                family_of.push(i);
            }
        }
        let set = RegexSet::new(&pats).map_err(|e| format!("patterns: {e}"))?;
        Ok(Detector { set, family_of, families })
    }

    /// Scores `text`; `None` when no family matched.
    pub fn detect(&self, text: &str) -> Option<Detection> {
        let matches = self.set.matches(text);
        if !matches.matched_any() {
            return None;
        }
        let mut hit = vec![false; self.families.len()];
        for m in matches.iter() {
            hit[self.family_of[m]] = true;
        }
        let mut miss = 1.0;
        let mut families = Vec::new();
        for (f, _) in self.families.iter().zip(&hit).filter(|(_, h)| **h) {
            miss *= 1.0 - f.weight;
            families.push(f.name.clone());
        }
        Some(Detection { score: 1.0 - miss, families })
    }

    /// The families it checks.
    pub fn families(&self) -> &[Family] {
        &self.families
    }
}
