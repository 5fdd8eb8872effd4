//! Witnessed checkpoints end to end, as processes on loopback: a node with
//! a witness policy, two `traceledger witness` processes, the auditor's
//! `verify --witness-policy` and `verify-proof --witness-policy`, and a
//! forked log (a second node with the same key and another history)
//! refused by both witnesses.

mod common;

use common::{get_bytes, get_with_headers, http_as, post_events, start, Killed};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use traceledger_core::signing::SigningKey;

const TENANT: &str = "acme";
const ORIGIN: &str = "traceledger.local/acme";

/// Polls `ok` every 50 ms until it holds or 20 s pass.
fn within<T>(what: &str, mut ok: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = ok() {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{what} within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A node data directory whose ledger key is `key` (as if it had made it).
fn data_with_key(key: &SigningKey) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(d.path().join("keys")).expect("keys dir");
    traceledger_bundle::write_signing_key(&d.path().join("keys/ledger.key"), key).expect("key");
    std::fs::write(d.path().join("keys/ledger.pub"), format!("{}\n", key.verifier_key_string())).expect("pub");
    d
}

/// Starts a witness trusting `log_vkey`; the process, its address and its
/// verifier key.
fn witness(dir: &Path, name: &str, log_vkey: &str) -> (Killed, String, String) {
    let key = dir.join("witness.key");
    let data = dir.join("state");
    let (p, addr) = start(&[
        "witness",
        "--key",
        key.to_str().expect("utf-8"),
        "--name",
        name,
        "--data",
        data.to_str().expect("utf-8"),
        "--log",
        log_vkey,
        "--listen",
        "127.0.0.1:0",
    ]);
    let vkey = std::fs::read_to_string(data.join("witness.vkey")).expect("witness.vkey").trim().to_string();
    (p, addr, vkey)
}

/// `traceledger up` for the tenant on `data`, checkpointing every second,
/// with `extra` flags; the process, its address and its owner key.
fn node(data: &Path, extra: &[&str]) -> (Killed, String, String) {
    let mut args = vec!["up", "--http", "127.0.0.1:0", "--tenant", TENANT, "--checkpoint-seconds", "1"];
    args.extend(extra);
    args.extend(["--data", data.to_str().expect("utf-8")]);
    let (p, addr) = start(&args);
    let owner = std::fs::read_to_string(data.join("bootstrap-owner.key")).expect("owner").trim().to_string();
    (p, addr, owner)
}

fn events(base: u128, n: u128) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "event_id": uuid::Uuid::from_u128(base + i).to_string(),
                "agent_id": "planner", "session_id": "s-witness", "step_index": i, "kind": "llm_call",
                "timestamp": "2026-01-01T00:00:00Z", "input": format!("question {i}"), "output": format!("answer {i}"),
            })
        })
        .collect()
}

fn traceledger(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_traceledger")).args(args).output().expect("run traceledger");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

/// `traceledger verify BUNDLE --key VKEY FLAG FILE --json`, which must
/// fail (exit 1) with the check `check`; the failure's detail.
fn verify_fails(bundle: &Path, vkey: &str, flag: &str, file: &Path, check: &str) -> String {
    let (b, f) = (bundle.to_str().expect("utf-8"), file.to_str().expect("utf-8"));
    let (code, out, _) = traceledger(&["verify", b, "--key", vkey, flag, f, "--json"]);
    assert_eq!(code, 1, "{out}");
    let failure: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(failure["check"], check, "{failure}");
    failure["detail"].as_str().expect("detail").to_string()
}

/// Exports the key's tenant through the API into a fresh directory under
/// `root`; the bundle's path.
fn export(addr: &str, key: &str, root: &Path, n: usize) -> PathBuf {
    let out = root.join(format!("export-{n}"));
    let (status, tar_bytes) = get_bytes(addr, key, "/v1/export");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&tar_bytes));
    tar::Archive::new(&tar_bytes[..]).unpack(&out).expect("untar");
    std::fs::read_dir(&out).expect("dir").next().expect("bundle").expect("entry").path()
}

/// Fetches the tenant's SOC 2 report in `format` with its signed note
/// (the `X-Traceledger-Report-Signature` header) into `dir`; the file.
fn fetch_report(addr: &str, key: &str, format: &str, dir: &Path) -> PathBuf {
    use base64::Engine;
    let path = format!("/v1/reports/soc2?from=2025-01-01T00:00:00Z&to=2028-01-01T00:00:00Z&format={format}");
    let (status, head, body) = get_with_headers(addr, key, &path);
    assert_eq!(status, 200, "{head}");
    let sig = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("x-traceledger-report-signature")))
        .map(|(_, v)| v.trim().to_string())
        .expect("signature header");
    let file = dir.join(format!("report.{format}"));
    std::fs::write(&file, &body).expect("report");
    let note = base64::engine::general_purpose::STANDARD.decode(sig).expect("base64");
    std::fs::write(dir.join(format!("report.{format}.sig")), note).expect("sig");
    file
}

#[test]
fn a_node_with_two_witnesses_exports_cosigned_checkpoints_and_a_forked_log_is_refused() {
    let log_key = SigningKey::generate("traceledger.local", &mut rand::rngs::OsRng).expect("key");
    let log_vkey = log_key.verifier_key_string();
    let (w1_dir, w2_dir) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    let (_w1, w1_addr, w1_vkey) = witness(w1_dir.path(), "witness.test/w1", &log_vkey);
    let (_w2, w2_addr, w2_vkey) = witness(w2_dir.path(), "witness.test/w2", &log_vkey);
    let work = tempfile::tempdir().expect("tmp");
    let policy = work.path().join("witnesses.policy");
    std::fs::write(
        &policy,
        format!(
            "# the node submits to both; an auditor needs both\nlog {log_vkey}\nwitness W1 {w1_vkey} http://{w1_addr}\n\
             witness W2 {w2_vkey} http://{w2_addr}\ngroup both all W1 W2\nquorum both\n"
        ),
    )
    .expect("policy");
    let policy_arg = policy.to_str().expect("utf-8");

    // Node A: the honest log.
    let a_data = data_with_key(&log_key);
    let (_a, a_addr, a_owner) = node(a_data.path(), &["--witness-policy", policy_arg]);
    post_events(&a_addr, &a_owner, &events(0x3171_0000, 5));

    // The checkpoint it serves (tlog-tiles) carries both cosignatures.
    let note = within("a checkpoint of 5 records cosigned by both witnesses", || {
        let (status, _, body) = http_as(&a_addr, Some(&a_owner), "GET", &format!("/v1/tlog/{TENANT}/checkpoint"), b"");
        (status == 200
            && body.lines().nth(1) == Some("5")
            && body.contains("\u{2014} witness.test/w1 ")
            && body.contains("\u{2014} witness.test/w2 "))
        .then_some(body)
    });
    assert!(note.starts_with(&format!("{ORIGIN}\n5\n")), "{note}");

    // The auditor's verify, with the policy: the export's tenants each have
    // a checkpoint with the quorum (the access chain's newest may still be
    // on its way to the witnesses; its earlier ones are cosigned).
    let mut n = 0;
    let report: Value = within("an export whose tenants all carry the quorum", || {
        n += 1;
        let bundle = export(&a_addr, &a_owner, work.path(), n);
        let (code, out, err) = traceledger(&[
            "verify",
            bundle.to_str().expect("utf-8"),
            "--key",
            &log_vkey,
            "--witness-policy",
            policy_arg,
            "--json",
        ]);
        assert!(code == 0 || code == 1, "verify: {code} {out} {err}");
        (code == 0).then(|| serde_json::from_str(&out).expect("json"))
    });
    let acme = &report["witnessed"][TENANT];
    assert_eq!(acme["size"], 5, "{report}");
    let by: Vec<&str> = acme["by"].as_array().expect("by").iter().map(|p| p[0].as_str().expect("name")).collect();
    assert_eq!(by, ["W1", "W2"]);
    let bundle = export(&a_addr, &a_owner, work.path(), 1000);
    let text =
        traceledger(&["verify", bundle.to_str().expect("utf-8"), "--key", &log_vkey, "--witness-policy", policy_arg]);
    assert!(text.1.contains("witnessed  acme: checkpoint of 5 records cosigned by W1 at"), "{}", text.1);

    // A policy that also needs a witness that never saw the log fails, and
    // says what is missing.
    let absent = traceledger_core::cosignature::Cosigner::new(
        "witness.test/w3",
        &SigningKey::generate("w3", &mut rand::rngs::OsRng).expect("key"),
    )
    .expect("cosigner");
    let strict = work.path().join("strict.policy");
    std::fs::write(
        &strict,
        format!(
            "witness W1 {w1_vkey}\nwitness W2 {w2_vkey}\nwitness W3 {}\ngroup all3 all W1 W2 W3\nquorum all3\n",
            absent.verifier_key_string()
        ),
    )
    .expect("strict");
    let detail = verify_fails(&bundle, &log_vkey, "--witness-policy", &strict, "witness_quorum");
    assert!(detail.contains("group all3 needs 3 of 3 and has 2 (W1 yes, W2 yes, W3 no)"), "{detail}");

    // A portable proof (against the covering checkpoint the node picks,
    // the cosigned one) checks with the policy, offline; and `--witness` for a witness that did not cosign fails.
    let key_file = work.path().join("owner.key");
    std::fs::write(&key_file, &a_owner).expect("key file");
    let proof = work.path().join("r2.tlog-proof");
    let (code, _, err) = traceledger(&[
        "prove",
        "--url",
        &format!("http://{a_addr}"),
        "--api-key-file",
        key_file.to_str().expect("utf-8"),
        "--seq",
        "2",
        "--out",
        proof.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = traceledger(&[
        "verify-proof",
        proof.to_str().expect("utf-8"),
        "--key",
        &log_vkey,
        "--witness-policy",
        policy_arg,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("witnessed   by W1 at") && out.contains("witnessed   by W2 at"), "{out}");
    let (code, _, err) = traceledger(&[
        "verify-proof",
        proof.to_str().expect("utf-8"),
        "--key",
        &log_vkey,
        "--witness",
        &absent.verifier_key_string(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("lacks the witness quorum"), "{err}");

    // The SOC 2 report, JSON and HTML: its anchor checkpoint (the note the
    // signed report carries) meets the policy, and not the strict one.
    for format in ["json", "html"] {
        let file = fetch_report(&a_addr, &a_owner, format, work.path());
        let file = file.to_str().expect("utf-8");
        let (code, out, err) =
            traceledger(&["verify-report", file, "--key", &log_vkey, "--witness-policy", policy_arg, "--json"]);
        assert_eq!(code, 0, "{format}: {out}{err}");
        let v: Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v["anchor"]["size"], 5, "{v}");
        let names: Vec<&str> =
            v["witnessed_by"].as_array().expect("by").iter().map(|p| p[0].as_str().expect("name")).collect();
        assert_eq!(names, ["W1", "W2"], "{format}");
        let strict_arg = strict.to_str().expect("utf-8");
        let (code, out, _) =
            traceledger(&["verify-report", file, "--key", &log_vkey, "--witness-policy", strict_arg, "--json"]);
        assert_eq!(code, 1, "{format}: {out}");
        assert!(out.contains("W3 no"), "{out}");
    }

    // Node B: the same key and log name, another history for the same
    // tenant (a split view). Both witnesses refuse it, and keep the request.
    let b_data = data_with_key(&log_key);
    let (_b, b_addr, b_owner) = node(b_data.path(), &["--witness-policy", policy_arg]);
    post_events(&b_addr, &b_owner, &events(0x3171_1000, 8));
    for dir in [w1_dir.path(), w2_dir.path()] {
        let refused = within("the witness refusing the forked checkpoint", || {
            let log = std::fs::read_to_string(dir.join("state/refused.log")).unwrap_or_default();
            log.lines()
                .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
                .find(|v| v["origin"] == ORIGIN && v["status"] == 422)
        });
        assert!(refused["reason"].as_str().expect("reason").contains("consistency proof"), "{refused}");
    }
    // B's checkpoint of the tenant carries no cosignature, and its export
    // fails the auditor's policy for that tenant.
    let (_, _, b_note) = http_as(&b_addr, Some(&b_owner), "GET", &format!("/v1/tlog/{TENANT}/checkpoint"), b"");
    assert!(!b_note.contains("witness.test"), "{b_note}");
    let b_bundle = export(&b_addr, &b_owner, work.path(), 2000);
    verify_fails(&b_bundle, &log_vkey, "--witness-policy", &policy, "witness_quorum");
    // …while the same bundle without a policy verifies: only witnesses
    // tell the two histories apart.
    assert_eq!(traceledger(&["verify", b_bundle.to_str().expect("utf-8"), "--key", &log_vkey]).0, 0);
}

#[test]
fn a_node_with_a_tsa_timestamps_its_checkpoints_and_the_bundle_proves_when() {
    use traceledger_tsa::testkit::OpensslTsa;
    let work = tempfile::tempdir().expect("tmp");
    let tsa = OpensslTsa::new("ec", "sha256");
    let cert = work.path().join("tsa.pem");
    std::fs::copy(tsa.path("cert.pem"), &cert).expect("cert");
    let url = tsa.serve();
    let other = OpensslTsa::new("rsa", "sha256");
    let data = tempfile::tempdir().expect("tmp");
    let c = cert.to_str().expect("utf-8");
    let (_node, addr, owner) = node(data.path(), &["--tsa-url", &url, "--tsa-cert", c, "--tsa-name", "tsa.test"]);
    post_events(&addr, &owner, &events(0x3171_2000, 4));
    within("a checkpoint of 4 records with a timestamp line", || {
        let (status, _, body) = http_as(&addr, Some(&owner), "GET", &format!("/v1/tlog/{TENANT}/checkpoint"), b"");
        (status == 200 && body.lines().nth(1) == Some("4") && body.contains("\u{2014} tsa.test ")).then_some(())
    });
    let vkey = std::fs::read_to_string(data.path().join("keys/ledger.pub")).expect("pub").trim().to_string();
    let mut n = 0;
    let report: Value = within("an export whose tenants each carry a timestamp", || {
        n += 1;
        let bundle = export(&addr, &owner, work.path(), n);
        let b = bundle.to_str().expect("utf-8");
        let (code, out, err) =
            traceledger(&["verify", b, "--key", &vkey, "--tsa-cert", cert.to_str().expect("utf-8"), "--json"]);
        assert!(code == 0 || code == 1, "verify: {code} {out} {err}");
        (code == 0).then(|| serde_json::from_str(&out).expect("json"))
    });
    let acme = &report["timestamped"][TENANT][0];
    assert_eq!(acme["size"], 4, "{report}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    assert!(acme["gen_time"].as_u64().expect("time").abs_diff(now) < 600, "{acme}");
    // One record's portable proof against the timestamped checkpoint.
    let key_file = work.path().join("owner.key");
    std::fs::write(&key_file, &owner).expect("key file");
    let proof = work.path().join("r1.tlog-proof");
    let url = format!("http://{addr}");
    let (k, p) = (key_file.to_str().expect("utf-8"), proof.to_str().expect("utf-8"));
    let (code, _, err) =
        traceledger(&["prove", "--url", &url, "--api-key-file", k, "--seq", "1", "--size", "4", "--out", p]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) =
        traceledger(&["verify-proof", p, "--key", &vkey, "--tsa-cert", cert.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("timestamped the tree existed by"), "{out}");
    // Another TSA's certificate: no timestamp of its own, named.
    let other_cert = other.path("cert.pem");
    let (code, _, err) =
        traceledger(&["verify-proof", p, "--key", &vkey, "--tsa-cert", other_cert.to_str().expect("utf-8")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("carries no timestamp of TSA"), "{err}");
    // The report anchored to the timestamped checkpoint.
    let file = fetch_report(&addr, &owner, "json", work.path());
    let (f, c) = (file.to_str().expect("utf-8"), cert.to_str().expect("utf-8"));
    let (code, out, err) = traceledger(&["verify-report", f, "--key", &vkey, "--tsa-cert", c, "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["anchor"]["size"], 4, "{v}");
    assert_eq!(v["timestamped_by"].as_array().map(Vec::len), Some(1), "{v}");
    let o = other_cert.to_str().expect("utf-8");
    let (code, out, _) = traceledger(&["verify-report", f, "--key", &vkey, "--tsa-cert", o, "--json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("carries no timestamp of TSA"), "{out}");
    let bundle = export(&addr, &owner, work.path(), 1000);
    let detail = verify_fails(&bundle, &vkey, "--tsa-cert", &other_cert, "timestamp");
    assert!(detail.contains("carries a timestamp of TSA"), "{detail}");
}
