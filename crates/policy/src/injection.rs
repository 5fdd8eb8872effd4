//! Prompt-injection detection, as the policy configures it: the layered
//! detector of `traceledger-injection` (normalisation, pattern families,
//! classifier), with the families, weights and classifier switch a policy
//! file sets (`[injection]`).

pub use traceledger_injection::{builtin, Detection, Detector, Family, Source, CLASSIFIER};
