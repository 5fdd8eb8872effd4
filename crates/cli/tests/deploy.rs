//! The deployment files (docker-compose.yml, deploy/k8s, the Dockerfile),
//! checked offline by tests/deploy/check.py: against the compose
//! specification and the Kubernetes schemas, and every traceledger command
//! line in them parsed by this build's binary. No Docker engine or cluster
//! runs here; the script's tools come from PyPI (scripts/python-deps.sh).

use std::process::Command;

#[test]
fn compose_kubernetes_and_dockerfile_check_offline() {
    let venv = std::env::var("TRACELEDGER_VENV")
        .unwrap_or_else(|_| format!("{}/.cache/traceledger/venv", std::env::var("HOME").expect("HOME")));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let o = Command::new(format!("{venv}/bin/python"))
        .arg(root.join("tests/deploy/check.py"))
        .args(["--bin", env!("CARGO_BIN_EXE_traceledger"), "--root"])
        .arg(&root)
        .output()
        .expect("python (scripts/python-deps.sh makes the venv)");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("deployment files: all checks passed"), "{out}");
    // Every service and container command line was parsed.
    for what in ["compose sequencer", "compose api", "traceledger-sequencer/sequencer", "traceledger-api/api"] {
        assert!(out.lines().any(|l| l.starts_with("ok") && l.contains(what) && l.ends_with("parses")), "{what}: {out}");
    }
}
