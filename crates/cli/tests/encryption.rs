//! Encryption at rest on a running node (embedded log), end to end.
//!
//! A node started with `--master-key` seals events whose every content
//! field (input, output, reasoning, tool arguments and results) is a
//! canary. Checked: the API serves the content decrypted; a DSAR erasure
//! works on encrypted records; no file of the data directory — ledger, log,
//! read models, write-ahead logs — holds a canary, while clear metadata (an
//! agent id) is found, so the scan can see; the data directory is refused
//! without its key, with a message saying why; `export --without-content`
//! needs no key and verifies (the chain is in the clear); a full export
//! needs the key and verifies; rotating the master rewraps the data keys
//! and leaves every other file byte for byte as it was; the old master is
//! refused and the new one reads the records; and a KMS hook (a program
//! wrapping with openssl) takes over as the master in a second rotation.

mod common;

use common::{files_containing, get_ok, http_as, post_events, start_up, wait_for, Killed};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TENANT: &str = "acme";
const CANARY: &str = "QZX-SECRET";

fn tl(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_traceledger")).args(args).args(paths).output().expect("traceledger")
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Three events of `subject`, every content field a canary.
fn events(subject: &str, from: usize) -> Vec<Value> {
    (from..from + 3)
        .map(|i| {
            json!({
                "event_id": uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string(),
                "agent_id": "agent-plainmeta",
                "session_id": format!("s-{subject}"),
                "step_index": i - from,
                "kind": "tool_call",
                "timestamp": "2026-01-01T00:00:00Z",
                "input": format!("{CANARY}-IN-{i}"),
                "output": format!("{CANARY}-OUT-{i}"),
                "reasoning": format!("{CANARY}-WHY-{i}"),
                "tools": [{"name": "lookup", "call_id": format!("c{i}"), "status": "ok",
                           "arguments": format!("{CANARY}-ARG-{i}"), "result": format!("{CANARY}-RES-{i}")}],
                "subject_ids": [subject],
            })
        })
        .collect()
}

/// SHA-256 of every file under `dir` but those in `skip`.
fn snapshot(dir: &Path, skip: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.starts_with(skip) {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), hex::encode(Sha256::digest(std::fs::read(&p).expect("read"))));
            }
        }
    }
    out
}

/// Exports `data` to `out` with `extra` options and verifies the bundle
/// with the node's key; returns the bundle directory.
fn export_verified(data: &Path, out: &Path, extra: &[&str], extra_paths: &[&Path]) -> PathBuf {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_traceledger"));
    cmd.args(["export", "--json", "--data"]).arg(data).arg("--out").arg(out).args(extra).args(extra_paths);
    ok(&cmd.output().expect("export"));
    let vkey = std::fs::read_to_string(data.join("keys/ledger.pub")).expect("node key");
    ok(&tl(&["verify", "--key", vkey.trim()], &[out]));
    out.to_path_buf()
}

/// A KMS hook: wraps with openssl under a secret of its own, bound to the
/// context the vault passes.
fn kms_hook(dir: &Path) -> PathBuf {
    let p = dir.join("kms-hook.sh");
    std::fs::write(
        &p,
        r#"#!/bin/sh
set -eu
export KMS_PASS="hook-secret|${TRACELEDGER_KMS_CONTEXT:-}"
case "$1" in
  id) echo "test-kms/key-1" ;;
  wrap) base64 -d | openssl enc -aes-256-cbc -pbkdf2 -salt -pass env:KMS_PASS | base64 -w0 ;;
  unwrap) base64 -d | openssl enc -d -aes-256-cbc -pbkdf2 -pass env:KMS_PASS | base64 -w0 ;;
  *) echo "unknown operation $1" >&2; exit 2 ;;
esac
"#,
    )
    .expect("hook");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    p
}

#[test]
fn content_is_encrypted_at_rest_verifiable_without_a_key_and_master_rotation_touches_no_record() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).expect("keys dir");
    let k1 = keys.join("master-1.key");
    let id1 = ok(&tl(&["vault", "new-master-key", "--out"], &[&k1]));
    assert!(id1.trim().starts_with("file:"), "{id1}");
    let k1s = k1.to_str().expect("utf-8");

    let (child, addr) = start_up(&data, &["--tenant", TENANT, "--checkpoint-seconds", "1", "--master-key", k1s]);
    let node = Killed(child);
    let owner = std::fs::read_to_string(data.join("bootstrap-owner.key")).expect("owner key");
    let owner = owner.trim().to_string();
    post_events(&addr, &owner, &events("hmac:carol", 0));
    post_events(&addr, &owner, &events("hmac:dave", 3));
    wait_for(&addr, &owner, "/v1/records/5", "the records sealed", |_| true);
    let r0 = get_ok(&addr, &owner, "/v1/records/0");
    assert_eq!(r0["event"]["input"], format!("{CANARY}-IN-0"), "served decrypted: {r0}");
    assert_eq!(r0["event"]["tools"][0]["result"], format!("{CANARY}-RES-0"), "{r0}");

    // A DSAR erasure on encrypted records: dave's content goes.
    let (status, _, body) = http_as(&addr, Some(&owner), "POST", "/v1/dsar/hmac:dave/erase", b"");
    assert_eq!(status, 202, "{body}");
    for seq in 3..6 {
        wait_for(&addr, &owner, &format!("/v1/records/{seq}"), "dave's record erased", |v| {
            v["content_erased"].as_array().is_some_and(|a| a.len() == 5) && v["event"].get("input").is_none()
        });
    }
    let health = get_ok(&addr, &owner, "/v1/health");
    // The SOC 2 report's Confidentiality section says how content is kept.
    let rep = get_ok(&addr, &owner, "/v1/reports/soc2?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&format=json");
    let said = rep["confidentiality"]["encryption_at_rest"].as_str().expect("encryption_at_rest");
    assert!(said.contains("XChaCha20-Poly1305") && said.contains("data key version 1"), "{said}");
    assert!(said.contains(id1.trim()), "names the master: {said}");
    node.interrupt();

    // No file holds any content; clear metadata is found, so the scan sees.
    let hits = files_containing(&data, CANARY.as_bytes());
    assert!(hits.is_empty(), "plaintext content at rest in {hits:?}");
    assert!(!files_containing(&data.join("ledger"), b"agent-plainmeta").is_empty(), "the scan finds clear metadata");
    let status: Value =
        serde_json::from_str(&ok(&tl(&["vault", "status", "--json", "--data"], &[&data]))).expect("json");
    assert_eq!(status["encrypted"], true, "{status}");
    let scopes: Vec<&str> =
        status["keys"].as_array().expect("keys").iter().filter_map(|k| k["scope"].as_str()).collect();
    assert!(scopes.contains(&TENANT), "{scopes:?}");
    assert!(status["keys"].as_array().expect("keys").iter().all(|k| k["master"] == id1.trim()), "{status}");
    // /v1/health shown before the stop said so too.
    assert_eq!(health["encryption"]["master"], id1.trim(), "{health}");

    // Without the key: refused, saying why.
    let o = Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .args(["up", "--http", "127.0.0.1:0", "--tenant", TENANT, "--data"])
        .arg(&data)
        .output()
        .expect("up");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("encrypted at rest") && err.contains("--master-key"), "{err}");

    // Without content, no key is needed and the export verifies.
    let b1 = export_verified(&data, &dir.path().join("metadata-only"), &["--without-content"], &[]);
    assert!(files_containing(&b1, CANARY.as_bytes()).is_empty());
    // With the key, the content is there, and it verifies against its commitments.
    let b2 = export_verified(&data, &dir.path().join("full"), &["--master-key"], &[&k1]);
    assert!(!files_containing(&b2, format!("{CANARY}-IN-0").as_bytes()).is_empty(), "content exported");
    assert!(files_containing(&b2, format!("{CANARY}-IN-3").as_bytes()).is_empty(), "erased content stays erased");

    // Rotation: data keys rewrapped, every other file as it was.
    let k2 = keys.join("master-2.key");
    let id2 = ok(&tl(&["vault", "new-master-key", "--out"], &[&k2]));
    let vault_dir = data.join("vault");
    let before = snapshot(&data, &vault_dir);
    let rot: Value = serde_json::from_str(&ok(&tl(
        &["vault", "rotate-master", "--json", "--data", data.to_str().expect("utf-8"), "--master-key", k1s],
        &[Path::new("--new-master-key"), &k2],
    )))
    .expect("json");
    assert_eq!((rot["from"].as_str(), rot["to"].as_str()), (Some(id1.trim()), Some(id2.trim())), "{rot}");
    assert!(rot["rewrapped"].as_u64().is_some_and(|n| n >= 1), "{rot}");
    assert_eq!(snapshot(&data, &vault_dir), before, "rotation touched no record");
    let o = Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .args(["export", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(dir.path().join("old-key"))
        .arg("--master-key")
        .arg(&k1)
        .output()
        .expect("export");
    assert_eq!(o.status.code(), Some(2), "the old master is refused");
    assert!(String::from_utf8_lossy(&o.stderr).contains("wrapped by master"), "{}", String::from_utf8_lossy(&o.stderr));

    // A second rotation hands the data keys to a KMS hook; the node reads
    // the records under it.
    let hook = kms_hook(dir.path());
    let k2s = k2.to_str().expect("utf-8");
    ok(&tl(
        &["vault", "rotate-master", "--data", data.to_str().expect("utf-8"), "--master-key", k2s, "--new-kms-command"],
        &[&hook],
    ));
    let (child, addr) = start_up(&data, &["--tenant", TENANT, "--kms-command", hook.to_str().expect("utf-8")]);
    let node = Killed(child);
    let r1 = get_ok(&addr, &owner, "/v1/records/1");
    assert_eq!(r1["event"]["reasoning"], format!("{CANARY}-WHY-1"), "{r1}");
    assert_eq!(get_ok(&addr, &owner, "/v1/health")["encryption"]["master"], "kms:test-kms/key-1");
    node.interrupt();
}
