//! The web console end to end in real headless Chromium (Debian's
//! `chromium`, driven by playwright-core from `tests/console/e2e.mjs`):
//! a node holding the demo fleet plus a 1,000-step session; sign-in, the
//! sessions list, a decision chain, Verify in browser passing, the role
//! views, key creation and revocation, a DSAR export and erasure on the
//! Privacy page; then one record's content is edited
//! in the stopped node's store and Verify in browser must catch it.
//!
//! Needs `node`, `chromium` and `tests/console/node_modules`, which
//! `scripts/deps.sh` installs (`make test` runs it first).

mod common;

use common::{create_key, http_as};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

use common::get_ok as get;

/// Waits until `f` holds, polling the node (it answers from its own state).
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(120), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A session of 1,000 llm_call steps, posted in batches with a Member key.
fn ingest_long_session(addr: &str, key: &str, tenant: &str) -> String {
    let session = "sess-long-1000".to_string();
    for batch in 0..10 {
        let events: Vec<Value> = (0..100)
            .map(|j| {
                let i = batch * 100 + j;
                json!({
                    "event_id": format!("10000000-0000-4000-8000-{i:012x}"),
                    "tenant_id": tenant,
                    "agent_id": "long-runner",
                    "session_id": session,
                    "step_index": i,
                    "kind": if i == 999 { "agent_end" } else { "llm_call" },
                    "timestamp": "2026-11-27T10:00:00Z",
                    "model": {"provider": "openai", "name": "gpt-4o"},
                    "input": format!("question {i}"),
                    "output": format!("answer {i}"),
                    "tokens": {"input": 10, "output": 5, "cached": 0},
                    "latency_ms": 100 + i,
                })
            })
            .collect();
        let body = serde_json::to_vec(&events).expect("json");
        let (status, _, text) = http_as(addr, Some(key), "POST", "/v1/events", &body);
        assert_eq!(status, 202, "{text}");
    }
    session
}

fn e2e(phase: &str, env: &[(&str, &str)]) {
    let dir = repo().join("tests/console");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "tests/console/node_modules is missing: run scripts/deps.sh (make test does)"
    );
    let artifacts = std::env::var("TRACELEDGER_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join("traceledger-console-artifacts"));
    let o = Command::new("node")
        .arg("e2e.mjs")
        .current_dir(&dir)
        .env("TL_PHASE", phase)
        .env("TL_ARTIFACTS", &artifacts)
        .envs(env.iter().copied())
        .output()
        .expect("node (scripts/deps.sh installs it)");
    let out = String::from_utf8_lossy(&o.stdout);
    print!("{out}");
    assert!(o.status.success(), "console e2e ({phase}) failed:\n{out}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains(&format!("console e2e [{phase}]: passed")), "{out}");
}

/// Edits the output of record `seq` of `tenant` in the stopped node's
/// ledger read model, leaving its commitments, hashes and signature as they
/// were: what an operator with write access to the disk could do.
fn tamper(data: &Path, tenant: &str, seq: u64) -> String {
    use traceledger_projection::{ledger::Ledger, tkey, Store};
    use traceledger_wire as wire;
    let store = Store::open(&data.join("projections/ledger"), &Ledger::default()).expect("open the ledger read model");
    let key = tkey(tenant, &seq.to_be_bytes());
    let bytes = store.get("records", &key).expect("read").expect("the record is stored");
    let mut r = wire::decode_record(&bytes, usize::MAX).expect("decode");
    let before = r.event.output.clone().expect("the record has an output");
    let after = format!("{before} (approved by an edit)");
    r.event.output = Some(after.clone());
    let mut wb = rocksdb::WriteBatch::default();
    wb.put_cf(store.cf("records").expect("records"), &key, wire::encode_record(&r));
    store.write(wb).expect("write");
    after
}

#[test]
fn the_console_in_chromium_verifies_records_and_catches_a_tampered_one() {
    let data = common::demo_data();
    // The demo leaves an Auditor key of its first tenant in DATA/demo-<tenant>.key.
    let (tenant, auditor) = std::fs::read_dir(data.path())
        .expect("data")
        .filter_map(|e| e.ok())
        .find_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let t = name.strip_prefix("demo-")?.strip_suffix(".key")?.to_string();
            Some((t, std::fs::read_to_string(e.path()).ok()?.trim().to_string()))
        })
        .expect("the demo's Auditor key");
    let viewer = create_key(data.path(), &tenant, "viewer");
    let owner = create_key(data.path(), &tenant, "owner");
    let member = create_key(data.path(), &tenant, "member");
    let vkey = std::fs::read_to_string(data.path().join("keys/ledger.pub")).expect("ledger.pub").trim().to_string();

    let start = || {
        let (child, addr) = common::start_up(data.path(), &["--checkpoint-seconds", "1"]);
        (common::Killed(child), addr)
    };
    let node = start();
    let addr = node.1.clone();
    let long = ingest_long_session(&addr, &member, &tenant);
    until("the long session's last record to be checkpointed", || {
        let (status, _, body) = http_as(&addr, Some(&auditor), "GET", &format!("/v1/sessions/{long}"), b"");
        let Ok(v) = serde_json::from_str::<Value>(&body) else { return false };
        let Some(last) =
            v["summary"]["last_seq"].as_u64().filter(|_| status == 200 && v["summary"]["recorded"] == 1000)
        else {
            return false;
        };
        http_as(&addr, Some(&auditor), "GET", &format!("/v1/proofs/inclusion?seq={last}"), b"").0 == 200
    });
    // A demo session with tool calls, and one of its records with an output.
    let sessions = get(&addr, &auditor, "/v1/sessions?limit=500");
    let (session, seq) = sessions["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|s| s["session"]["tool_calls"].as_u64() > Some(0) && s["session"]["session_id"] != long.as_str())
        .find_map(|s| {
            let id = s["session"]["session_id"].as_str()?.to_string();
            let chain = get(&addr, &auditor, &format!("/v1/sessions/{id}"));
            let seq = chain["steps"]
                .as_array()?
                .iter()
                .find(|st| st["has_content"].as_array().is_some_and(|c| c.iter().any(|f| f == "output")))?["seq"]
                .as_u64()?;
            Some((id, seq))
        })
        .expect("a demo session with tool calls and a step with an output");
    // A data subject of the demo not named in that record (the owner's part
    // of the run erases their content through the Privacy page).
    let rec = |n: u64| get(&addr, &auditor, &format!("/v1/records/{n}"));
    let spared = rec(seq)["event"]["subject_ids"].clone();
    let (subject, subject_seq) = (0..seq + 200)
        .find_map(|n| {
            let r = rec(n);
            let s = r["event"]["subject_ids"].as_array()?.first()?.as_str()?.to_string();
            let has_content = r["event"].get("input").is_some();
            (has_content && !spared.as_array().is_some_and(|a| a.iter().any(|x| x == s.as_str()))).then_some((s, n))
        })
        .expect("a subject of the demo besides the verified record's");
    let subject_seq = subject_seq.to_string();
    let seq_s = seq.to_string();
    let url = format!("http://{addr}");
    let env = [
        ("TL_URL", url.as_str()),
        ("TL_AUDITOR", auditor.as_str()),
        ("TL_VIEWER", viewer.as_str()),
        ("TL_OWNER", owner.as_str()),
        ("TL_VKEY", vkey.as_str()),
        ("TL_SESSION", session.as_str()),
        ("TL_SEQ", seq_s.as_str()),
        ("TL_LONG", long.as_str()),
        ("TL_SUBJECT", subject.as_str()),
        ("TL_SUBJECT_SEQ", subject_seq.as_str()),
    ];
    e2e("clean", &env);
    drop(node);

    let edited = tamper(data.path(), &tenant, seq);
    let node = start();
    let url = format!("http://{}", node.1);
    // The API now serves the edited text: only a check against the signed
    // commitment can tell.
    let rec = get(&node.1, &auditor, &format!("/v1/records/{seq}"));
    assert_eq!(rec["event"]["output"], edited.as_str());
    let env: Vec<(&str, &str)> =
        env.iter().map(|&(k, v)| if k == "TL_URL" { (k, url.as_str()) } else { (k, v) }).collect();
    e2e("tampered", &env);
}

#[test]
fn the_console_is_served_with_a_strict_content_security_policy() {
    let data = tempfile::tempdir().expect("tmp");
    let (child, addr) = common::start_up(data.path(), &[]);
    let _node = common::Killed(child);
    for (path, ctype) in [
        ("/", "text/html; charset=utf-8"),
        ("/console/app.js", "text/javascript; charset=utf-8"),
        ("/console/verify.js", "text/javascript; charset=utf-8"),
        ("/console/style.css", "text/css; charset=utf-8"),
    ] {
        let mut s = std::net::TcpStream::connect(&addr).expect("connect");
        use std::io::{Read, Write};
        write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("write");
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read");
        let head = resp.split("\r\n\r\n").next().expect("head").to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{path}: {head}");
        assert!(head.contains(&format!("content-type: {ctype}")), "{path}: {head}");
        assert!(head.contains("content-security-policy: default-src 'none'; script-src 'self'"), "{path}: {head}");
        assert!(head.contains("x-content-type-options: nosniff") && head.contains("x-frame-options: deny"), "{head}");
    }
    // Nothing else of the source tree is served; the API still needs a key.
    assert_eq!(http_as(&addr, None, "GET", "/console/../Cargo.toml", b"").0, 404);
    assert_eq!(http_as(&addr, None, "GET", "/console/index.html", b"").0, 404);
    assert_eq!(http_as(&addr, None, "GET", "/v1/sessions", b"").0, 401);
}
