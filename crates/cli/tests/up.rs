//! `traceledger up` as a process: HTTP ingest on loopback, durability of a
//! 2xx across kill -9, retries that never duplicate, problem+json errors,
//! and export of the stopped node's data directory.

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

struct Up {
    child: Child,
    addr: String,
    /// The bootstrap Owner key of tenant `tenant-0`.
    key: String,
}

fn up(data: &Path) -> Up {
    let (child, addr) =
        common::start_up(data, &["--partitions", "2", "--checkpoint-seconds", "1", "--tenant", "tenant-0"]);
    let key = std::fs::read_to_string(data.join("bootstrap-owner.key")).expect("bootstrap key").trim().to_string();
    Up { child, addr, key }
}

/// One HTTP/1.1 request with the node's key; returns (status, content-type, body).
fn http(node: &Up, method: &str, path: &str, body: &[u8]) -> (u16, String, String) {
    common::http_as(&node.addr, Some(&node.key), method, path, body)
}

fn events(n: usize, seed: usize) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            serde_json::json!({
                "event_id": format!("00000000-0000-4000-8000-{:012x}", seed * 1_000_000 + i),
                "tenant_id": "tenant-0",
                "agent_id": "agent-1",
                "session_id": format!("s-{seed}"),
                "step_index": i,
                "kind": "llm_call",
                "timestamp": "2026-11-27T10:00:00Z",
                "input": format!("question {i}"),
                "output": format!("answer {i}"),
            })
        })
        .collect()
}

fn health(addr: &str) -> serde_json::Value {
    let (status, _, body) = common::http_as(addr, None, "GET", "/v1/health", b"");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("health json")
}

/// Waits until the node has sealed and published everything it was given.
fn settle(addr: &str) {
    let start = Instant::now();
    while health(addr)["lag"] != 0 {
        assert!(start.elapsed() < Duration::from_secs(120), "the node did not catch up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sigterm(mut up: Up) {
    let ok = Command::new("kill").args(["-TERM", &up.child.id().to_string()]).status().expect("kill");
    assert!(ok.success());
    let status = up.child.wait().expect("wait");
    assert!(status.success(), "up exits 0 on SIGTERM: {status}");
}

#[test]
fn ingest_is_durable_idempotent_and_exportable() {
    let data = tempfile::tempdir().expect("tmp");
    let node = up(data.path());
    let batch = serde_json::to_vec(&events(20, 1)).expect("json");
    let (status, _, body) = http(&node, "POST", "/v1/events", &batch);
    assert_eq!((status, body.as_str()), (202, r#"{"accepted":20}"#));
    // A retry of the same batch is accepted and sealed once.
    assert_eq!(http(&node, "POST", "/v1/events", &batch).0, 202);

    // A bad batch: every bad event named by index and field, none accepted.
    let mut bad = events(5, 2);
    bad[1]["agent_id"] = "".into();
    bad[3].as_object_mut().expect("object").remove("kind");
    let (status, ctype, body) = http(&node, "POST", "/v1/events", &serde_json::to_vec(&bad).expect("json"));
    assert_eq!((status, ctype.as_str()), (400, "application/problem+json"), "{body}");
    let p: serde_json::Value = serde_json::from_str(&body).expect("problem");
    assert_eq!(p["status"], 400);
    let errs = p["errors"].as_array().expect("errors");
    assert_eq!(errs.iter().map(|e| e["index"].as_u64().expect("index")).collect::<Vec<_>>(), vec![1, 3]);
    assert_eq!(errs[0]["field"], "agent_id");
    assert!(errs[1]["reason"].as_str().expect("reason").contains("kind"), "{body}");

    let (status, ctype, body) = http(&node, "POST", "/v1/events", b"{not json");
    assert_eq!((status, ctype.as_str()), (400, "application/problem+json"), "{body}");
    let huge = vec![b' '; (16 << 20) + 1];
    let (status, ctype, _) = http(&node, "POST", "/v1/events", &huge);
    assert_eq!((status, ctype.as_str()), (413, "application/problem+json"));
    let (status, ctype, _) = http(&node, "GET", "/v1/nowhere", b"");
    assert_eq!((status, ctype.as_str()), (404, "application/problem+json"));

    // Ingest needs a key; a key ingests only its own tenant's events (a
    // missing tenant_id is the key's), and a batch naming another tenant is
    // refused whole, by index.
    let (status, ctype, body) = common::http_as(&node.addr, None, "POST", "/v1/events", &batch);
    assert_eq!((status, ctype.as_str()), (401, "application/problem+json"), "{body}");
    let (status, _, _) = common::http_as(&node.addr, Some("tlk_live_not-a-key"), "POST", "/v1/events", &batch);
    assert_eq!(status, 401);
    let mut mixed = events(3, 4);
    mixed[2]["tenant_id"] = "tenant-1".into();
    mixed[0].as_object_mut().expect("object").remove("tenant_id");
    let (status, _, body) = http(&node, "POST", "/v1/events", &serde_json::to_vec(&mixed).expect("json"));
    assert_eq!(status, 403, "{body}");
    let p: serde_json::Value = serde_json::from_str(&body).expect("problem");
    assert_eq!(p["errors"][0]["index"], 2);
    assert_eq!(p["errors"][0]["field"], "tenant_id");

    // A 202 means durable: kill -9 right after it loses nothing.
    let batch2 = serde_json::to_vec(&events(30, 3)).expect("json");
    assert_eq!(http(&node, "POST", "/v1/events", &batch2).0, 202);
    let mut child = node.child;
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    let node = up(data.path());
    // The client retries after the crash: still no duplicate.
    assert_eq!(http(&node, "POST", "/v1/events", &batch2).0, 202);
    settle(&node.addr);
    assert_eq!(health(&node.addr)["status"], "ok");
    sigterm(node);

    assert_eq!(common::export_and_verify(data.path()), 50, "20 + 30 events, each once");
}

#[test]
fn the_demo_runs_end_to_end() {
    let data = tempfile::tempdir().expect("tmp");
    let demo = || {
        Command::new(env!("CARGO_BIN_EXE_traceledger"))
            .args(["up", "--demo", "--once", "--http", "127.0.0.1:0", "--tenants", "2", "--sessions", "3", "--data"])
            .arg(data.path())
            .output()
            .expect("up --demo")
    };
    let o = demo();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("demo fleet:") && out.contains("✔ VALID"), "{out}");
    // The tamper demo edits one sealed output in a re-signed copy and must catch it.
    assert!(out.contains("✘ caught:") && out.contains("commitment check failed"), "{out}");
    assert!(err.contains("created signing key") && data.path().join("keys/ledger.key").exists());
    // A second run reuses the key and adds to the same ledger.
    let o = demo();
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stderr).contains("created signing key"));
    let first: u64 =
        out.split("sequenced ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).expect("count");
    let total = common::export_and_verify(data.path());
    assert!(total > first, "the second run's events join the first's");
    // Each run's data-subject request sealed one erasure in `_privacy.acme`
    // (export_and_verify counts the agents' tenants only).
    let second = String::from_utf8_lossy(&o.stdout).to_string();
    let erasures =
        [out.as_ref(), second.as_str()].iter().filter(|o| o.contains("data-subject request of tenant")).count() as u64;
    // The demo projected the decision chains; a rebuild of the sessions
    // model on the stopped node applies every record once, from offset 0.
    assert!(out.contains("projected the decision chains:"), "{out}");
    let o = Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .args(["project", "--once", "--rebuild", "sessions", "--only", "sessions", "--json", "--data"])
        .arg(data.path())
        .output()
        .expect("project --rebuild");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["sessions"]["applied"].as_u64(), Some(total + erasures));
    assert_eq!(v["sessions"]["lag"].as_u64(), Some(0));
    assert_eq!(v["sessions"]["forks"].as_u64(), Some(0));
}

/// Issue 23, part 5: the demo backfills a month of history with its
/// incidents, the same seed gives the same fleet, and a serving demo keeps
/// a live trickle of sessions.
#[test]
fn the_living_demo_has_a_month_every_incident_and_a_trickle() {
    let once = |data: &Path| {
        let o = Command::new(env!("CARGO_BIN_EXE_traceledger"))
            .args(["up", "--demo", "--once", "--http", "127.0.0.1:0", "--seed", "11", "--tenants", "2"])
            .args(["--sessions", "12", "--data"])
            .arg(data)
            .output()
            .expect("up --demo");
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
        out
    };
    let fleet = |out: &str| out.lines().find(|l| l.starts_with("demo fleet:")).map(str::to_string);
    let (a, b) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    let out = once(a.path());
    assert_eq!(fleet(&out), fleet(&once(b.path())), "the same seed, the same fleet");
    assert!(out.contains("data-subject request of tenant `acme`"), "{out}");
    assert!(a.path().join("demo-policy.toml").exists() && a.path().join("demo-providers.toml").exists());

    let (child, addr) = common::start_up(
        a.path(),
        &["--demo", "--seed", "11", "--tenants", "2", "--sessions", "12", "--trickle-seconds", "1"],
    );
    let _node = common::Killed(child);
    let key = std::fs::read_to_string(a.path().join("demo-acme.key")).expect("demo key");
    let key = key.trim();
    // Every kind of anomaly the history stages (a fork is not staged).
    let want = [
        "rate_spike",
        "prompt_injection",
        "budget_exceeded",
        "rate_limit_warning",
        "tool_out_of_policy",
        "output_validation",
        "failover",
        "incomplete_session",
    ];
    let kinds = |v: &serde_json::Value| -> std::collections::BTreeSet<String> {
        v["items"].as_array().into_iter().flatten().filter_map(|i| i["kind"].as_str().map(str::to_string)).collect()
    };
    let got = common::wait_for(&addr, key, "/v1/anomalies?limit=1000", "every staged anomaly", |v| {
        want.iter().all(|k| kinds(v).contains(*k))
    });
    assert!(want.iter().all(|k| kinds(&got).contains(*k)));
    // A month of sessions, then live ones: a session within the last minute.
    let now_us =
        || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64);
    // The trickle starts once the rerun's demo (duplicates, export, verify,
    // tamper check) is done: minutes on a loaded CI machine.
    let live = |v: &serde_json::Value| {
        v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["session"]["last_at"].as_i64().is_some_and(|t| now_us() - t < 60_000_000))
    };
    let start = Instant::now();
    let sessions = loop {
        let v = common::get_ok(&addr, key, "/v1/sessions?limit=1000");
        if live(&v) {
            break v;
        }
        assert!(start.elapsed() < Duration::from_secs(600), "no live session in 10 minutes");
        std::thread::sleep(Duration::from_millis(200));
    };
    let days: std::collections::BTreeSet<i64> = sessions["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["session"]["first_at"].as_i64())
        .map(|t| t.div_euclid(86_400_000_000))
        .collect();
    assert!(days.len() >= 8 && days.last().zip(days.first()).is_some_and(|(l, f)| l - f >= 25), "{days:?}");
    // The report over the month: every regulation requirement is met with
    // the demo's policy and register.
    let rep = common::get_ok(&addr, key, "/v1/reports/soc2?from=2026-01-01T00:00:00Z&to=2030-01-01T00:00:00Z");
    let statuses: Vec<(&str, &str)> = rep["regulations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|q| Some((q["reference"].as_str()?, q["status"].as_str()?)))
        .collect();
    assert_eq!(statuses.len(), 11);
    assert!(statuses.iter().all(|(_, s)| *s == "met"), "{statuses:?}");
}
