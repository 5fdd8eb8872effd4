//! The provider register: the LLM providers a deployment uses and how they
//! handle data (region, retention of inputs, training use, contract, DPA,
//! transfer basis). The SOC 2 report lists it, and flags providers seen in
//! traces but missing from it, and personal data of EU subjects sent to a
//! provider outside the EU/EEA without a transfer basis.
//!
//! ```toml
//! eu_subjects = true            # the personal data handled includes EU residents'
//!
//! [[provider]]
//! name = "openai"               # as in TraceEvent.model.provider
//! region = "us"                 # where inputs are processed
//! retention_days = 30           # how long the provider keeps inputs
//! training_use = false          # whether inputs may train its models
//! contract = "MSA-2025-017"
//! dpa = true                    # a data-processing agreement is signed
//! transfer_basis = "scc"        # scc | adequacy | bcr | consent | none
//! ```

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Regions inside the EU/EEA: `eu`, `eea`, the member states' ISO codes,
/// and cloud region names that start with `eu-` or `europe-`.
pub fn is_eu_region(region: &str) -> bool {
    const CODES: &[&str] = &[
        "eu", "eea", "at", "be", "bg", "hr", "cy", "cz", "dk", "ee", "fi", "fr", "de", "gr", "hu", "ie", "it", "lv",
        "lt", "lu", "mt", "nl", "pl", "pt", "ro", "sk", "si", "es", "se", "is", "li", "no",
    ];
    let r = region.to_ascii_lowercase();
    CODES.contains(&r.as_str()) || r.starts_with("eu-") || r.starts_with("europe-")
}

/// A transfer basis for personal data leaving the EU/EEA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ReportTransferBasis)]
pub enum TransferBasis {
    /// Standard contractual clauses.
    Scc,
    /// An adequacy decision covers the region.
    Adequacy,
    /// Binding corporate rules.
    Bcr,
    /// Explicit consent of the subjects.
    Consent,
    /// None.
    None,
}

/// One provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReportProvider)]
pub struct Provider {
    /// Name, as in `TraceEvent.model.provider`.
    pub name: String,
    /// Where inputs are processed.
    pub region: String,
    /// How long the provider keeps inputs, days (0: not kept).
    pub retention_days: Option<u32>,
    /// Whether inputs may be used to train the provider's models.
    pub training_use: bool,
    /// Contract reference.
    pub contract: Option<String>,
    /// A data-processing agreement is signed.
    pub dpa: bool,
    /// Basis for transfers out of the EU/EEA.
    #[serde(default = "no_basis")]
    pub transfer_basis: TransferBasis,
}

fn no_basis() -> TransferBasis {
    TransferBasis::None
}

/// The register.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReportRegister)]
pub struct Register {
    /// The personal data handled includes EU residents'.
    #[serde(default)]
    pub eu_subjects: bool,
    /// Providers.
    #[serde(default, rename = "provider")]
    pub providers: Vec<Provider>,
}

impl Register {
    /// Parses a register; a refusal names the line, column and key.
    pub fn parse(text: &str) -> Result<Register, String> {
        let r: Register = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                let col = s.start - text[..s.start.min(text.len())].rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("line {line}, column {col}: ")
            });
            format!("{}{}", at.unwrap_or_default(), e.message())
        })?;
        let mut seen = std::collections::BTreeSet::new();
        for (i, p) in r.providers.iter().enumerate() {
            if p.name.trim().is_empty() || p.region.trim().is_empty() {
                return Err(format!("provider[{i}]: name and region must not be empty"));
            }
            if !seen.insert(p.name.as_str()) {
                return Err(format!("provider[{i}].name: `{}` is registered twice", p.name));
            }
        }
        Ok(r)
    }

    /// The entry of a provider.
    pub fn get(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLE: &str =
        "eu_subjects = true\n\n[[provider]]\nname = \"openai\"\nregion = \"us\"\nretention_days = 30\n\
                           training_use = false\ncontract = \"MSA-1\"\ndpa = true\ntransfer_basis = \"scc\"\n";

    #[test]
    fn a_register_parses_and_refusals_say_where() {
        let r = Register::parse(EXAMPLE).expect("parse");
        assert!(r.eu_subjects);
        assert_eq!(r.get("openai").map(|p| p.transfer_basis), Some(TransferBasis::Scc));
        let e = Register::parse(&EXAMPLE.replace("\"scc\"", "\"handshake\"")).expect_err("bad basis");
        assert!(e.starts_with("line 10, column 18"), "{e}");
        let e = Register::parse(&EXAMPLE.replace("dpa = true", "dpa = true\nsla = 1")).expect_err("unknown key");
        assert!(e.contains("sla"), "{e}");
        let twice =
            format!("{EXAMPLE}\n[[provider]]\nname = \"openai\"\nregion = \"eu\"\ntraining_use = false\ndpa = false\n");
        assert!(Register::parse(&twice).expect_err("twice").contains("registered twice"));
        assert!(is_eu_region("eu-west-1") && is_eu_region("DE") && is_eu_region("europe-west4") && !is_eu_region("us"));
    }

    proptest! {
        /// Any text: a register or a refusal with a message, never a panic.
        #[test]
        fn any_text_parses_or_is_refused(s in "\\PC{0,200}") {
            if let Err(e) = Register::parse(&s) {
                prop_assert!(!e.is_empty());
            }
        }
    }
}
