//! Helpers shared by the process-level suites.

use std::path::Path;
use std::process::Command;

/// Exports a stopped node's data directory with `traceledger export --data`,
/// verifies the bundle with `traceledger verify` pinned to the node's key,
/// and returns the number of records exported.
pub fn export_and_verify(data: &Path) -> u64 {
    let out = data.join("export-bundle");
    let o = Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .args(["export", "--json", "--data"])
        .arg(data)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("export");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let vkey = std::fs::read_to_string(data.join("keys/ledger.pub")).expect("node key");
    let o = Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .arg("verify")
        .arg(&out)
        .args(["--key", vkey.trim()])
        .output()
        .expect("verify");
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    summary["records"].as_u64().expect("records")
}
