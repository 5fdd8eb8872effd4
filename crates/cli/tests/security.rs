//! Regression tests of the independent audit's findings (issue 19), over
//! real HTTP on loopback against `traceledger up`: each fails on the code
//! before its fix. docs/security.md names which test pins which finding.

mod common;

use common::{create_key, http_as, urlencode, wait_for};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::Child;

struct Node {
    child: Child,
    addr: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &std::path::Path, args: &[&str]) -> Node {
    let (child, addr) = common::start_up(data, args);
    Node { child, addr }
}

fn post(addr: &str, key: &str, path: &str, body: &[u8]) -> (u16, String, Value) {
    let (status, ctype, body) = http_as(addr, Some(key), "POST", path, body);
    (status, ctype, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn event(tenant: Option<&str>, session: &str, n: u128) -> Value {
    let mut e = json!({
        "event_id": uuid::Uuid::from_u128(n).to_string(),
        "agent_id": "agent",
        "session_id": session,
        "step_index": 0,
        "kind": "decision",
        "timestamp": "2026-11-27T09:14:03Z",
        "output": "approved",
    });
    if let Some(t) = tenant {
        e["tenant_id"] = json!(t);
    }
    e
}

fn sessions(addr: &str, key: &str) -> Vec<String> {
    let (status, _, body) = http_as(addr, Some(key), "GET", "/v1/sessions?limit=1000", b"");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["session"]["session_id"].as_str().expect("id").to_string())
        .collect()
}

/// Finding 1 (critical): the JSON array form of an event, and events that
/// name another tenant or a system chain, are refused on every ingest path
/// and nothing of them is sealed. Finding 6: a batch's item count and its
/// error list are bounded. Finding 16: `bearer` in any case.
#[test]
fn no_key_writes_into_another_tenants_chain() {
    let data = tempfile::tempdir().expect("tmp");
    let member = create_key(data.path(), "acme", "member");
    let victim = create_key(data.path(), "victim", "owner");
    let node = start(data.path(), &[]);
    let addr = &node.addr;

    let id = uuid::Uuid::from_u128(7).to_string();
    let array = json!([[
        id,
        "victim",
        "forged-agent",
        "vsess",
        7,
        null,
        "decision",
        "2026-01-01T00:00:00Z",
        null,
        "injected",
        "approved"
    ]]);
    let (status, ctype, p) = post(addr, &member, "/v1/events", array.to_string().as_bytes());
    assert_eq!((status, ctype.as_str()), (400, "application/problem+json"), "the array form: {p}");
    assert!(p["errors"][0]["reason"].as_str().is_some_and(|r| r.contains("JSON object")), "{p}");
    // An array with the key's own tenant is refused as well: one spelling.
    let own = json!([[id, "acme", "a", "s", 0, null, "decision", "2026-01-01T00:00:00Z"]]);
    assert_eq!(post(addr, &member, "/v1/events", own.to_string().as_bytes()).0, 400);
    // Nested records in the array form.
    let mut nested = event(None, "nested", 8);
    nested["model"] = json!(["openai", "gpt-4o", null]);
    let (status, _, p) = post(addr, &member, "/v1/events", json!([nested]).to_string().as_bytes());
    assert_eq!(status, 400, "{p}");
    assert_eq!(p["errors"][0]["field"], "model", "{p}");
    for tenant in ["victim", "_access.victim", "_privacy.victim", "_access"] {
        let (status, _, p) =
            post(addr, &member, "/v1/events", json!([event(Some(tenant), "vsess", 9)]).to_string().as_bytes());
        assert_eq!(status, 403, "{tenant}: {p}");
        assert_eq!(p["errors"][0]["field"], "tenant_id", "{p}");
    }
    // OTLP/JSON: a message written as an array is refused too (the tenant
    // there is always the key's).
    let (status, _, body) = http_as(addr, Some(&member), "POST", "/v1/traces", br#"{"resourceSpans":[[]]}"#);
    assert_eq!(status, 400, "{body}");

    // The victim's own marker, on the victim's partition after anything
    // forged would be: once it is queryable, nothing forged came before it.
    let (status, _, p) = post(addr, &victim, "/v1/events", json!([event(None, "marker", 10)]).to_string().as_bytes());
    assert_eq!(status, 202, "{p}");
    wait_for(addr, &victim, "/v1/sessions", "the victim's marker", |v| {
        v["items"].as_array().is_some_and(|i| !i.is_empty())
    });
    assert_eq!(sessions(addr, &victim), ["marker"], "nothing but the victim's own event is in its chain");
    // The victim's access log holds only the victim's own calls.
    let (_, _, body) = http_as(addr, Some(&victim), "GET", "/v1/access-log?limit=1000", b"");
    assert!(!body.contains("FORGED") && !body.contains("forged-agent"), "{body}");

    // Finding 6: at most 10,000 events per request, and a small answer for
    // a body of a million bad items.
    let many = format!("[{}1]", "1,".repeat(10_000));
    let (status, _, p) = post(addr, &member, "/v1/events", many.as_bytes());
    assert_eq!((status, p["count"].as_u64(), p["limit"].as_u64()), (413, Some(10_001), Some(10_000)), "{p}");
    let bad = format!("[{}1]", "1,".repeat(999));
    let (status, _, body) = http_as(addr, Some(&member), "POST", "/v1/events", bad.as_bytes());
    let p: Value = serde_json::from_str(&body).expect("problem");
    assert_eq!((status, p["error_count"].as_u64()), (400, Some(1000)), "{p}");
    assert_eq!(p["errors"].as_array().map(Vec::len), Some(100), "the first 100 errors are listed");
    assert!(body.len() < 20_000, "the answer is {} bytes", body.len());

    // Finding 16: the scheme is case-insensitive (RFC 9110).
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let req = format!(
        "GET /v1/whoami HTTP/1.1\r\nHost: {addr}\r\nauthorization: bearer {member}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

/// Finding 2 (high): only an Owner rotates or revokes an Owner key, and a
/// revoked key is not rotated back to life — every role × {rotate, revoke}
/// × target role. Finding 13: `expires_in_days` is bounded. Finding 16: a
/// 413 on a query route is problem+json.
#[test]
fn no_role_takes_over_a_key_above_it() {
    let data = tempfile::tempdir().expect("tmp");
    let owner = create_key(data.path(), "acme", "owner");
    let node = start(data.path(), &[]);
    let addr = &node.addr;
    let new_key = |role: &str| -> (String, String) {
        let (status, _, v) = post(addr, &owner, "/v1/keys", json!({"role": role}).to_string().as_bytes());
        assert_eq!(status, 201, "{v}");
        (v["secret"].as_str().expect("secret").to_string(), v["key"]["id"].as_str().expect("id").to_string())
    };
    let roles = ["owner", "admin", "member", "viewer", "auditor"];
    let actors: Vec<(&str, String)> = roles.iter().map(|r| (*r, new_key(r).0)).collect();
    for (actor, secret) in &actors {
        for target in roles {
            let allowed = matches!(*actor, "owner" | "admin") && (target != "owner" || *actor == "owner");
            let (_, id) = new_key(target);
            let path = format!("/v1/keys/{}/rotate", urlencode(&id));
            let (status, _, p) = post(addr, secret, &path, br#"{"overlap_seconds": 0}"#);
            assert_eq!(status, if allowed { 201 } else { 403 }, "{actor} rotates {target}: {p}");
            let (_, id) = new_key(target);
            let (status, _, body) = http_as(addr, Some(secret), "DELETE", &format!("/v1/keys/{}", urlencode(&id)), b"");
            assert_eq!(status, if allowed { 200 } else { 403 }, "{actor} revokes {target}: {body}");
        }
    }
    // A revoked key stays dead.
    let (dead, id) = new_key("member");
    let (status, _, _) = http_as(addr, Some(&owner), "DELETE", &format!("/v1/keys/{}", urlencode(&id)), b"");
    assert_eq!(status, 200);
    let (status, _, p) = post(addr, &owner, &format!("/v1/keys/{}/rotate", urlencode(&id)), b"");
    assert_eq!(status, 409, "rotating a revoked key: {p}");
    assert_eq!(http_as(addr, Some(&dead), "GET", "/v1/whoami", b"").0, 401);

    // Finding 13: a lifetime past ten years is refused, not overflowed.
    let (status, _, p) = post(
        addr,
        &owner,
        "/v1/keys",
        json!({"role": "member", "expires_in_days": 106_751_992}).to_string().as_bytes(),
    );
    assert_eq!((status, p["field"].as_str()), (400, Some("expires_in_days")), "{p}");

    // Finding 16: axum's own 413 (a query route's body limit) is a problem.
    let big = vec![b' '; 3 << 20];
    let (status, ctype, body) = http_as(addr, Some(&owner), "POST", "/v1/policy/check", &big);
    assert_eq!((status, ctype.as_str()), (413, "application/problem+json"), "{body}");
}

/// Finding 7: a request of many empty spans is refused before it is
/// decoded (413 naming the limit). Finding 8: an address that keeps
/// failing authentication is refused before its key is looked at.
#[test]
fn floods_are_refused_before_they_cost_memory_or_records() {
    use traceledger_otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
    use traceledger_otlp::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
    let data = tempfile::tempdir().expect("tmp");
    let member = create_key(data.path(), "acme", "member");
    let node = start(data.path(), &[]);
    let addr = &node.addr;

    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans: vec![Span::default(); 60_000], ..Default::default() }],
            ..Default::default()
        }],
    };
    let body = traceledger_otlp::encode(&req, traceledger_otlp::Encoding::Protobuf);
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {member}\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    let _ = s.write_all(&body);
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    assert!(resp.contains("60000 spans") && resp.contains("50000"), "{resp}");

    // Bad keys: the burst of failures is answered 401, then 429 without
    // looking at the key — a valid one included, from that address.
    let mut statuses = Vec::new();
    for i in 0..80 {
        statuses.push(http_as(addr, Some(&format!("tlk_test_bad{i}")), "GET", "/v1/whoami", b"").0);
    }
    assert!(statuses[..50].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[60..].iter().all(|s| *s == 429), "{statuses:?}");
    let (status, _, body) = http_as(addr, Some(&member), "GET", "/v1/whoami", b"");
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("failed authentications"), "{body}");
}

/// Finding 12: erasure calls are paced per tenant (each one carried out
/// compacts the stores); another tenant is not held back.
#[test]
fn erasure_calls_are_paced_per_tenant() {
    let data = tempfile::tempdir().expect("tmp");
    let owner = create_key(data.path(), "acme", "owner");
    let other = create_key(data.path(), "globex", "owner");
    let node = start(data.path(), &["--erasures-per-minute", "3"]);
    let addr = &node.addr;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(http_as(addr, Some(&owner), "POST", "/v1/dsar/hmac:nobody/erase", b"").0);
    }
    assert_eq!(statuses, [404, 404, 404, 429]);
    let (status, ctype, body) = http_as(addr, Some(&owner), "POST", "/v1/retention/run", b"");
    assert_eq!((status, ctype.as_str()), (429, "application/problem+json"), "{body}");
    assert!(body.contains("retry_after"), "{body}");
    let (status, _, body) = http_as(addr, Some(&other), "POST", "/v1/dsar/hmac:nobody/erase", b"");
    assert_eq!(status, 404, "{body}");
}
