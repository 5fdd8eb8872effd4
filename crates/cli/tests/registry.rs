//! The node's schema registry (`/registry`), `--schema-registry-url`, and
//! the wire format against Confluent's own Python client (confluent-kafka
//! from PyPI, installed by `scripts/python-deps.sh`).
//!
//! Node A (embedded log) serves the registry for topic prefix P. Node B, on
//! a real broker (tansu) with prefix P, takes its schema ids from A's
//! registry (`--schema-registry-url`) and takes events over HTTP. The
//! client reads A's registry, registers the node's own schema (accepted:
//! same id) and another (refused, read-only), then consumes B's
//! `traces.raw` and `ledger.sealed` with its Consumer and decodes every
//! message with its AvroDeserializer against A's registry — no traceledger
//! code on that side. Checked: every event comes back, from both topics,
//! with its ids. A node whose subjects the registry refuses does not start,
//! and says why. (The registry here has our ids, so B's swap is the
//! identity; `traceledger_log::schema_ids` tests the swap with other ids.)

mod common;

use common::{http_as, post_events, python, start_up, wait_for, Killed};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::Command;

#[test]
fn confluents_client_reads_the_registry_and_decodes_both_topics() {
    let broker = std::env::var("TRACELEDGER_TEST_BROKER")
        .expect("TRACELEDGER_TEST_BROKER is not set: run `make test`, which starts a tansu broker for these tests");
    let prefix = format!("reg{}-", std::process::id());
    let registry_data = tempfile::tempdir().expect("tmp");
    let (child, registry) = start_up(registry_data.path(), &["--topic-prefix", &prefix]);
    let registry_node = Killed(child);
    let registry_url = format!("http://{registry}/registry");
    let data = tempfile::tempdir().expect("tmp");
    let (child, addr) = start_up(
        data.path(),
        &["--kafka", &broker, "--topic-prefix", &prefix, "--tenant", "acme", "--schema-registry-url", &registry_url],
    );
    let node = Killed(child);
    let owner = std::fs::read_to_string(data.path().join("bootstrap-owner.key")).expect("owner key");
    let owner = owner.trim();
    let events: Vec<Value> = (0..5)
        .map(|i| {
            json!({
                "event_id": uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string(),
                "agent_id": "support-bot", "session_id": "s-1", "step_index": i, "kind": "llm_call",
                "timestamp": "2026-01-01T00:00:00Z", "input": format!("hello {i}"),
            })
        })
        .collect();
    post_events(&addr, owner, &events);
    wait_for(&addr, owner, "/v1/records/4", "sealed", |_| true);

    // B's topics use A's ids: B's own /registry sends clients there.
    let (status, _, body) = http_as(&addr, None, "GET", "/registry/schemas/ids/1", b"");
    assert!(status == 404 && body.contains(&registry_url), "{status} {body}");

    // The registry answers as Confluent's does, errors included.
    let (status, ctype, body) = http_as(&registry, None, "GET", "/registry/schemas/ids/99", b"");
    assert_eq!((status, ctype.as_str()), (404, "application/vnd.schemaregistry.v1+json"), "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).expect("json")["error_code"], 40403);
    let (status, _, body) =
        http_as(&registry, None, "GET", &format!("/registry/subjects/{prefix}traces.raw-value/versions/x"), b"");
    assert_eq!(status, 422, "{body}");

    let avsc = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/v1");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/registry/confluent_client.py");
    let o = Command::new(python())
        .arg(script)
        .arg(&registry_url)
        .args([&broker, &format!("{prefix}traces.raw"), &format!("{prefix}ledger.sealed"), "acme", "5", avsc])
        .output()
        .expect("python (scripts/python-deps.sh makes the venv)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let seen: Value = serde_json::from_slice(&o.stdout).expect("json");

    let subjects: Vec<&str> = seen["subjects"].as_array().expect("subjects").iter().filter_map(Value::as_str).collect();
    let want: Vec<String> = [
        "ledger.checkpoints",
        "ledger.sealed",
        "projections.anomalies",
        "projections.availability",
        "projections.pii",
        "projections.sessions",
        "traces.raw",
    ]
    .iter()
    .map(|t| format!("{prefix}{t}-value"))
    .collect();
    assert_eq!(subjects, want);
    assert_eq!(seen["raw_latest"], json!({"id": 1, "version": 1}));
    assert_eq!(seen["register_same"], 1, "registering the node's own schema gives its id");
    assert_eq!(seen["register_other"], json!({"status": 422, "error_code": 42205}), "read-only");

    let sent: BTreeSet<&str> = events.iter().filter_map(|e| e["event_id"].as_str()).collect();
    let raw: BTreeSet<&str> =
        seen["raw"].as_array().expect("raw").iter().filter_map(|e| e["event_id"].as_str()).collect();
    assert_eq!(raw, sent, "every raw event decoded by Confluent's deserializer");
    assert!(seen["raw"]
        .as_array()
        .expect("raw")
        .iter()
        .all(|e| e["input"].as_str().is_some_and(|i| i.starts_with("hello "))));
    let sealed = seen["sealed"].as_array().expect("sealed");
    let ids: BTreeSet<&str> = sealed.iter().filter_map(|r| r["event_id"].as_str()).collect();
    assert_eq!(ids, sent, "every sealed record decoded");
    let seqs: BTreeSet<u64> = sealed.iter().filter_map(|r| r["seq"].as_u64()).collect();
    assert_eq!(seqs, (0..5).collect());
    assert!(sealed.iter().all(|r| r["leaf_hash_len"] == 32 && r["signature_len"] == 64), "{sealed:?}");
    node.interrupt();

    // Subjects the registry refuses: the node does not start, and says why.
    let other = tempfile::tempdir().expect("tmp");
    let o = Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .args(["up", "--http", "127.0.0.1:0", "--kafka", &broker, "--topic-prefix", "unregistered-"])
        .args(["--schema-registry-url", &registry_url, "--data"])
        .arg(other.path())
        .output()
        .expect("up");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("schema registry refused subject unregistered-traces.raw-value") && err.contains("42205"),
        "{err}"
    );
    registry_node.interrupt();
}
