//! Content erasure on a running node (embedded log): a DSAR erasure and a
//! retention run, each sealed in the tenant's `_privacy.<tenant>` chain.
//!
//! Records are first sealed "400 days ago" (the node runs under libfaketime),
//! then the node runs on the real clock with a policy of min_days = 30 and
//! max_days = 365. Checked: the DSAR erases the subject's old records and
//! holds the recent ones (until when); the API shows the content erased and
//! the commitments kept; the retention run erases everything older than a
//! year, and a second run erases nothing new; roles without the permission
//! are refused; the SOC 2 report lists the erasures; the RocksDB files of the whole data directory hold none of
//! the erased canaries (and still hold a kept one, so the scan can see);
//! the ledger model rebuilt from the log holds them erased too; and
//! `traceledger export` + `verify` pass on the erased ledger.

mod common;

use common::{files_containing, get_ok, http_as, post_events, start_up, start_up_with, wait_for, Killed};
use serde_json::{json, Value};
use std::process::Command;

const TENANT: &str = "acme";

/// Events of one session about `subject`, each input a distinct canary.
fn events(session: &str, subject: &str, canary: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "event_id": uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string(),
                "agent_id": "support-bot",
                "session_id": session,
                "step_index": i,
                "kind": "llm_call",
                "timestamp": "2026-01-01T00:00:00Z",
                "input": format!("{canary}-{i} please refund order 4411"),
                "output": format!("{canary}-{i} refund issued"),
                "subject_ids": [subject],
            })
        })
        .collect()
}

fn erased(v: &Value) -> bool {
    v["content_erased"].as_array().is_some_and(|a| a.len() == 2) && v["event"].get("input").is_none()
}

#[test]
fn dsar_erasure_and_retention_erase_content_keep_the_chain_and_leave_no_copy_on_disk() {
    let data = tempfile::tempdir().expect("tmp");
    let policy = data.path().join("policy.toml");
    std::fs::write(&policy, "[[retention]]\ntenant = \"acme\"\nmin_days = 30\nmax_days = 365\n").expect("policy");
    let policy = policy.to_str().expect("utf-8");
    let up_args = ["--tenant", TENANT, "--checkpoint-seconds", "1", "--policy", policy];

    // 400 days ago: alice's first session and bob's.
    let mut old = Command::new(env!("CARGO_BIN_EXE_traceledger"));
    old.env("LD_PRELOAD", libfaketime()).env("FAKETIME", "-400d").env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    let (child, addr) = start_up_with(old, data.path(), &up_args);
    let node = Killed(child);
    let owner = std::fs::read_to_string(data.path().join("bootstrap-owner.key")).expect("owner key");
    let owner = owner.trim().to_string();
    post_events(&addr, &owner, &events("alice-1", "hmac:alice", "QZX-ALICE-OLD", 3));
    post_events(&addr, &owner, &events("bob-1", "hmac:bob", "QZX-BOB-OLD", 2));
    let r4 = wait_for(&addr, &owner, "/v1/records/4", "the old records sealed", |_| true);
    let sealed_then = r4["sealed_at"].as_str().expect("sealed_at").to_string();
    assert!(sealed_then.starts_with("2025-"), "sealed under faketime: {sealed_then}");
    node.interrupt();

    // Now: alice's second session, then the node on the real clock.
    let (child, addr) = start_up(data.path(), &up_args);
    let node = Killed(child);
    post_events(&addr, &owner, &events("alice-2", "hmac:alice", "QZX-ALICE-NEW", 2));
    let new = wait_for(&addr, &owner, "/v1/records/6", "the new records sealed", |_| true);
    assert!(new["sealed_at"].as_str().is_some_and(|t| !t.starts_with("2025-")), "{new}");

    // Roles without the permission are refused; an unknown subject is 404.
    let auditor = create_key_live(&addr, &owner, "auditor");
    let member = create_key_live(&addr, &owner, "member");
    for k in [&auditor, &member] {
        let (status, _, body) = http_as(&addr, Some(k), "POST", "/v1/dsar/hmac:alice/erase", b"");
        assert_eq!(status, 403, "{body}");
        let (status, _, body) = http_as(&addr, Some(k), "POST", "/v1/retention/run", b"");
        assert_eq!(status, 403, "{body}");
    }
    let (status, ctype, body) = http_as(&addr, Some(&owner), "POST", "/v1/dsar/hmac:nobody/erase", b"");
    assert_eq!((status, ctype.as_str()), (404, "application/problem+json"), "{body}");

    // DSAR: alice's 3 old records erased; her 2 recent ones held (min 30 days).
    let (status, _, body) = http_as(&addr, Some(&owner), "POST", "/v1/dsar/hmac:alice/erase", b"");
    assert_eq!(status, 202, "{body}");
    let out: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (out["erasing"].as_u64(), out["held"].as_u64(), out["seqs"].as_str()),
        (Some(3), Some(2), Some("0-2")),
        "{out}"
    );
    assert_eq!(out["recorded_in"], "_privacy.acme");
    let until = out["held_until"].as_str().expect("held_until");
    assert!(until > new["sealed_at"].as_str().expect("t"), "held until 30 days after the newest: {until}");
    for seq in 0..3 {
        let r = wait_for(&addr, &owner, &format!("/v1/records/{seq}"), "alice's old record erased", erased);
        assert_eq!(r["commitments"][0].as_str().map(str::len), Some(64), "the commitment stays: {r}");
    }
    for seq in [3, 5, 6] {
        let r = get_ok(&addr, &owner, &format!("/v1/records/{seq}"));
        assert!(r["content_erased"].as_array().is_some_and(Vec::is_empty), "seq {seq} keeps its content: {r}");
        assert!(r["event"]["input"].as_str().is_some_and(|i| i.starts_with("QZX-")), "{r}");
    }
    let actions = wait_for(&addr, &auditor, "/v1/privacy/actions", "the DSAR sealed", |v| {
        v.as_array().is_some_and(|a| a.len() == 1)
    });
    assert_eq!(
        (actions[0]["action"].as_str(), actions[0]["subject"].as_str()),
        (Some("dsar_erase"), Some("hmac:alice"))
    );
    assert!(actions[0]["requested_by"].as_str().is_some_and(|k| k.starts_with("tlk_")), "{actions}");

    // Retention: everything sealed before now − 365 days (seqs 0-4); a
    // second run finds nothing new. Both runs are sealed.
    let (status, _, body) = http_as(&addr, Some(&owner), "POST", "/v1/retention/run", b"");
    assert_eq!(status, 202, "{body}");
    let run: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (run["action"].as_str(), run["seqs"].as_str(), run["erasing"].as_u64()),
        (Some("retention"), Some("0-4"), Some(5)),
        "{run}"
    );
    for seq in 3..5 {
        wait_for(&addr, &owner, &format!("/v1/records/{seq}"), "bob's record erased by retention", erased);
    }
    let _ = wait_for(&addr, &owner, "/v1/privacy/actions", "the first run sealed", |v| {
        v.as_array().is_some_and(|a| a.len() == 2)
    });
    // The second run through the CLI: nothing new to erase.
    let key_file = data.path().join("owner.key");
    std::fs::write(&key_file, &owner).expect("key file");
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_traceledger"))
            .args(args)
            .args(["--url", &format!("http://{addr}"), "--api-key-file"])
            .arg(&key_file)
            .output()
            .expect("traceledger")
    };
    let o = cli(&["retention", "run", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!((again["erasing"].as_u64(), again["seqs"].as_str()), (Some(0), Some("")), "{again}");
    let o = cli(&["dsar", "erase", "--subject", "hmac:nobody"]);
    assert_eq!(o.status.code(), Some(2), "an unknown subject is an error");
    assert!(String::from_utf8_lossy(&o.stderr).contains("no record of this tenant names this subject"));
    let actions = wait_for(&addr, &owner, "/v1/privacy/actions", "both runs sealed", |v| {
        v.as_array().is_some_and(|a| a.len() == 3)
    });
    assert_eq!(actions[2]["action"], "retention");
    let o = cli(&["retention", "actions"]);
    let listed = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && listed.contains("3 action(s)") && listed.contains("dsar_erase"), "{listed}");
    let rule = get_ok(&addr, &auditor, "/v1/retention");
    assert_eq!((rule["rule"]["min_days"].as_u64(), rule["rule"]["max_days"].as_u64()), (Some(30), Some(365)), "{rule}");
    // The recent records still hold their content.
    assert!(!erased(&get_ok(&addr, &owner, "/v1/records/6")));
    // The SOC 2 report's Privacy section lists the three sealed erasures.
    let period = "from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";
    let rep = get_ok(&addr, &auditor, &format!("/v1/reports/soc2?{period}&format=json"));
    let p = &rep["privacy"];
    assert_eq!(
        (p["retention_rule"]["min_days"].as_u64(), p["retention_rule"]["max_days"].as_u64()),
        (Some(30), Some(365))
    );
    let rows: Vec<(&str, u64, u64)> = p["erasures"]
        .as_array()
        .expect("erasures")
        .iter()
        .map(|e| {
            (e["action"].as_str().expect("action"), e["records"].as_u64().expect("n"), e["held"].as_u64().expect("n"))
        })
        .collect();
    assert_eq!(rows, [("dsar_erase", 3, 2), ("retention", 5, 0), ("retention", 0, 0)], "{p}");
    assert!(
        p["retention"].as_str().is_some_and(|t| t.contains("2 retention run(s)") && t.contains("erased 5 record(s)")),
        "{p}"
    );
    let (status, html) = common::get_bytes(&addr, &auditor, &format!("/v1/reports/soc2?{period}&format=html"));
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&html).contains("id=\"erasures\""), "the HTML lists them");
    node.interrupt();

    // No copy of erased content anywhere in the data directory's files
    // (ledger, log, read models); the held content is still there.
    for canary in ["QZX-ALICE-OLD", "QZX-BOB-OLD"] {
        let hits = files_containing(data.path(), canary.as_bytes());
        assert!(hits.is_empty(), "{canary} survives in {hits:?}");
    }
    assert!(!files_containing(data.path(), b"QZX-ALICE-NEW").is_empty(), "kept content is visible to the scan");

    // The ledger model rebuilt from the log: the erasures hold.
    std::fs::remove_dir_all(data.path().join("projections/ledger")).expect("drop the ledger model");
    let (child, addr) = start_up(data.path(), &up_args);
    let node = Killed(child);
    let r = wait_for(&addr, &owner, "/v1/records/6", "the rebuilt model caught up", |_| true);
    assert!(!erased(&r), "{r}");
    for seq in 0..5 {
        assert!(erased(&get_ok(&addr, &owner, &format!("/v1/records/{seq}"))), "seq {seq} after the rebuild");
    }
    // The API's export carries the tenant's privacy chain: its signed
    // erasures account for every erased record, so it verifies strictly
    // (issue 19, finding 14), and says what it found.
    let v = common::api_export_verifies(&addr, &owner, &data.path().join("api-export"), data.path());
    assert!(v["erasures"]["by_signed_erasure"].as_u64() >= Some(5), "{v}");
    assert_eq!(v["erasures"]["unattested"], serde_json::json!([]), "{v}");
    node.interrupt();

    // The erased ledger exports and verifies with the node's key alone.
    assert!(common::export_and_verify(data.path()) >= 7);
}

/// Debian's libfaketime (installed by scripts/deps.sh), preloaded into the
/// node itself rather than through the `faketime` wrapper, so that the
/// node gets the test's signals.
fn libfaketime() -> String {
    let o = Command::new("dpkg").args(["-L", "libfaketime"]).output().expect("dpkg -L libfaketime");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find(|l| l.ends_with("/libfaketimeMT.so.1"))
        .unwrap_or_else(|| panic!("libfaketime is not installed (scripts/deps.sh installs faketime)"))
        .to_string()
}

/// Creates a key through the API (the node holds the key store open).
fn create_key_live(addr: &str, owner: &str, role: &str) -> String {
    let (status, _, body) =
        http_as(addr, Some(owner), "POST", "/v1/keys", json!({ "role": role }).to_string().as_bytes());
    assert_eq!(status, 201, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    v["secret"].as_str().expect("secret").to_string()
}

#[test]
fn redaction_rules_apply_before_sealing_and_the_label_is_signed() {
    let data = tempfile::tempdir().expect("tmp");
    let policy = data.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[redact]]\nagent = \"mailer\"\nmode = \"mask\"\nkinds = [\"email\"]\n\n\
         [[redact]]\nagent = \"vault\"\nmode = \"commitment_only\"\nfields = [\"input\"]\n",
    )
    .expect("policy");
    let (child, addr) = start_up(data.path(), &["--tenant", TENANT, "--policy", policy.to_str().expect("utf-8")]);
    let node = Killed(child);
    let owner = std::fs::read_to_string(data.path().join("bootstrap-owner.key")).expect("owner key");
    let owner = owner.trim();
    // Each agent's input carries its own canary.
    let ev = |agent: &str, input: &str| {
        json!({
            "event_id": uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string(),
            "agent_id": agent, "session_id": format!("s-{agent}"), "step_index": 0, "kind": "llm_call",
            "timestamp": "2026-01-01T00:00:00Z", "input": input, "output": format!("done by {agent}"),
        })
    };
    post_events(
        &addr,
        owner,
        &[
            ev("mailer", "reply to qzx.mailer.canary@example.com today"),
            ev("vault", "QZX-VAULT-CANARY-INPUT for the vault"),
            ev("plain", "reply to qzx.plain.canary@example.com today"),
        ],
    );
    let masked = wait_for(&addr, owner, "/v1/records/0", "sealed", |_| true);
    assert_eq!(masked["event"]["input"], "reply to [EMAIL] today", "{masked}");
    let version = get_ok(&addr, owner, "/v1/policy")["version"].as_str().expect("version").to_string();
    assert_eq!(masked["policy"], format!("policy:{version}/redact:mask"));
    let vault = wait_for(&addr, owner, "/v1/records/1", "sealed", |_| true);
    assert_eq!(vault["content_erased"], json!(["input"]), "committed to, then erased: {vault}");
    assert_eq!(vault["commitments"][0].as_str().map(str::len), Some(64));
    assert_eq!(vault["event"]["output"], "done by vault", "only the input: {vault}");
    assert!(vault["policy"].as_str().is_some_and(|p| p.ends_with("/redact:commitment_only")));
    let plain = wait_for(&addr, owner, "/v1/records/2", "sealed", |_| true);
    let (_, _, health) = http_as(&addr, None, "GET", "/v1/health", b"");
    let health: Value = serde_json::from_str(&health).expect("health");
    assert_eq!(health["sequencer"]["redacted"], 2, "the mailer's and the vault's events: {health}");
    assert_eq!(
        (plain["policy"].as_str(), plain["event"]["input"].as_str()),
        (Some("default/v1"), Some("reply to qzx.plain.canary@example.com today"))
    );
    // The SOC 2 report names the rules in force.
    let rep = get_ok(&addr, owner, "/v1/reports/soc2?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&format=json");
    let said = rep["confidentiality"]["redaction"].as_str().expect("redaction");
    assert!(
        said.contains("mailer: mask of email on input, output, reasoning, tool_arguments, tool_result")
            && said.contains("vault: commitment_only on input"),
        "{said}"
    );
    node.interrupt();
    // No file of the data directory holds a redacted canary — not the
    // ledger, not the read models, not the log (raw copies are tombstoned);
    // the unredacted one is found, so the scan can see.
    for canary in [&b"qzx.mailer.canary@example.com"[..], b"QZX-VAULT-CANARY-INPUT"] {
        let hits = files_containing(data.path(), canary);
        assert!(hits.is_empty(), "{} survives in {hits:?}", String::from_utf8_lossy(canary));
    }
    assert!(!files_containing(&data.path().join("ledger"), b"qzx.plain.canary@example.com").is_empty());
    assert!(common::export_and_verify(data.path()) >= 3, "redacted records verify");
}
