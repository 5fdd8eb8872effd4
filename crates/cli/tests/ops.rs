//! Operating a node: OTLP/JSON ingest through `POST /v1/traces`, Prometheus
//! `/metrics` for every stage, request ids on answers and JSON log lines.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A raw HTTP/1.1 exchange: status, headers (lower-case names), body.
fn exchange(addr: &str, head: &str, body: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let text = String::from_utf8_lossy(&resp[..split]).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, resp[split + 4..].to_vec())
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The value of the sample `line_start` (a metric name with its labels).
fn sample(metrics: &str, line_start: &str) -> Option<f64> {
    metrics.lines().find_map(|l| l.strip_prefix(line_start)?.strip_prefix(' ')?.split(' ').next()?.parse().ok())
}

fn metrics(addr: &str) -> String {
    let (status, ctype, body) = common::http_as(addr, None, "GET", "/metrics", b"");
    assert_eq!(status, 200, "{body}");
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    body
}

#[test]
fn otlp_metrics_request_ids_and_json_logs() {
    let data = tempfile::tempdir().expect("tmp");
    let log_path = data.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .args(["--log-format", "json", "up", "--http", "127.0.0.1:0", "--tenant", "acme", "--data"])
        .arg(data.path().join("node"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).expect("log file"))
        .spawn()
        .expect("start");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().expect("stdout")), &mut line)
        .expect("first line");
    let addr = line.split("http://").nth(1).and_then(|r| r.split_whitespace().next()).expect("address").to_string();
    let key = std::fs::read_to_string(data.path().join("node/bootstrap-owner.key")).expect("key").trim().to_string();

    // OTLP/JSON: 3 GenAI spans (4 events: the agent span is a start and an
    // end) and one HTTP span, which is not taken.
    let body = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/otlp/genai-trace.json"))
        .expect("fixture");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nx-request-id: trace-me-42\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (status, headers, answer) = exchange(&addr, &head, &body);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(header(&headers, "x-request-id"), Some("trace-me-42"), "a sent request id is kept");
    let answer: serde_json::Value = serde_json::from_slice(&answer).expect("json answer");
    assert_eq!(answer["partialSuccess"]["rejectedSpans"], "1", "{answer}");
    assert!(answer["partialSuccess"]["errorMessage"].as_str().is_some_and(|m| m.contains("GET /flights")), "{answer}");

    // A request without an id gets one.
    let (_, headers, _) =
        exchange(&addr, &format!("GET /v1/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"), b"");
    let made = header(&headers, "x-request-id").expect("a request id");
    assert_eq!(made.len(), 36, "a UUID: {made}");

    // The session the trace became, through the query API.
    let chain = common::wait_for(&addr, &key, "/v1/sessions/trip-77", "the OTLP session", |v| {
        v["steps"].as_array().is_some_and(|s| s.len() == 4)
    });
    let kinds: Vec<&str> =
        chain["steps"].as_array().expect("steps").iter().filter_map(|s| s["kind"].as_str()).collect();
    assert_eq!(kinds, ["agent_start", "llm_call", "tool_call", "agent_end"]);

    // Metrics of every stage, once the read models caught up.
    let start = Instant::now();
    let m = loop {
        let m = metrics(&addr);
        // Authenticated calls append access records to the raw topic, so
        // the node has settled only when every partition's lag is 0 too.
        let raw_settled =
            m.lines().filter(|l| l.starts_with("traceledger_consumer_lag_records{")).all(|l| l.ends_with(" 0"));
        if sample(&m, "traceledger_projection_lag{model=\"sessions\"}") == Some(0.0)
            && sample(&m, "traceledger_events_sealed_total").is_some_and(|n| n >= 4.0)
            && raw_settled
        {
            break m;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "metrics never settled:\n{m}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(sample(&m, "traceledger_otlp_spans_taken_total"), Some(4.0), "{m}");
    assert_eq!(sample(&m, "traceledger_otlp_spans_rejected_total"), Some(1.0), "{m}");
    assert_eq!(sample(&m, "traceledger_up"), Some(1.0));
    assert_eq!(
        sample(&m, "traceledger_http_requests_total{route=\"/v1/traces\",method=\"POST\",status=\"200\"}"),
        Some(1.0),
        "{m}"
    );
    assert!(sample(&m, "traceledger_seal_latency_seconds_count").is_some_and(|n| n >= 4.0), "{m}");
    assert_eq!(sample(&m, "traceledger_consumer_lag_records{partition=\"0\"}"), Some(0.0), "{m}");
    assert!(sample(&m, "traceledger_projection_applied_total{model=\"sessions\"}").is_some_and(|n| n >= 4.0), "{m}");
    assert!(m.contains("traceledger_http_request_duration_seconds_bucket{"), "{m}");
    assert!(!m.contains("acme") && !m.contains("trip-77"), "no tenant or session names in metrics");
    assert!(m.trim_end().ends_with("# EOF"));

    let _ = child.kill();
    let _ = child.wait();
    let logs = std::fs::read_to_string(&log_path).expect("logs");
    let request_line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["span"]["id"] == "trace-me-42")
        .unwrap_or_else(|| panic!("no JSON log line with the request id in:\n{logs}"));
    assert_eq!(request_line["span"]["path"], "/v1/traces");
    assert!(
        logs.lines().all(|l| l.trim().is_empty() || serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{logs}"
    );
    assert!(!logs.contains(&key), "no API key in the logs");
}

#[test]
fn rate_limited_requests_are_counted() {
    let data = tempfile::tempdir().expect("tmp");
    let (mut child, addr) =
        common::start_up(data.path(), &["--tenant", "acme", "--rate-limit", "1", "--rate-burst", "2"]);
    let key = std::fs::read_to_string(data.path().join("bootstrap-owner.key")).expect("key").trim().to_string();
    let statuses: Vec<u16> = (0..5).map(|_| common::http_as(&addr, Some(&key), "GET", "/v1/whoami", b"").0).collect();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(refused >= 2, "{statuses:?}");
    let m = metrics(&addr);
    assert_eq!(sample(&m, "traceledger_http_rate_limited_total{route=\"/v1/whoami\"}"), Some(refused as f64), "{m}");
    let _ = child.kill();
    let _ = child.wait();
}

fn traceledger(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_traceledger"));
    c.args(args).env_remove("TRACELEDGER_DATA").env_remove("TRACELEDGER_KAFKA").env_remove("TRACELEDGER_CONFIG");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run traceledger")
}

#[test]
fn the_example_config_checks_and_shows_where_each_option_came_from() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/traceledger.example.toml");
    let o = traceledger(&["--config", example, "config", "check", "--json"], &[("TRACELEDGER_KAFKA", "k:9")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let opt = |sub: &str, name: &str| -> (Vec<String>, String) {
        let e = v[sub].as_array().expect("options").iter().find(|e| e["option"] == name).expect(name);
        let values =
            e["value"].as_array().expect("values").iter().filter_map(|x| x.as_str().map(String::from)).collect();
        (values, e["source"].as_str().expect("source").to_string())
    };
    assert_eq!(opt("up", "partitions"), (vec!["4".into()], "file".into()));
    assert_eq!(opt("sequencer", "partitions"), (vec!["12".into()], "file".into()));
    assert_eq!(opt("up", "data"), (vec!["/var/lib/traceledger".into()], "file".into()), "the top level");
    assert_eq!(opt("sequencer", "kafka"), (vec!["k:9".into()], "env".into()), "the environment wins");
    assert_eq!(opt("up", "rate-tier"), (vec!["bulk=1000:2000".into()], "file".into()));
    assert_eq!(opt("up", "sign-threads").1, "default");
    // Human output: one line per option.
    let o = traceledger(&["--config", example, "config", "check", "--for", "up"], &[]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("valid for up") && text.lines().any(|l| l.contains("partitions") && l.contains("file")),
        "{text}"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "partitons = 3\n").expect("write");
    let o = traceledger(&["--config", bad.to_str().expect("utf-8"), "config", "check"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("`partitons` is not an option"), "{o:?}");
    let o = traceledger(&["--config", bad.to_str().expect("utf-8"), "up", "--once"], &[]);
    assert_eq!(o.status.code(), Some(2), "a run refuses the file too");
    assert!(String::from_utf8_lossy(&o.stderr).contains("`partitons`"), "{o:?}");
    std::fs::write(&bad, "[up]\npartitions = \"many\"\n").expect("write");
    let o = traceledger(&["--config", bad.to_str().expect("utf-8"), "config", "check", "--for", "up"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("many"), "{o:?}");
    std::fs::write(&bad, "[up]\npartitions = [1\n").expect("write");
    let o = traceledger(&["--config", bad.to_str().expect("utf-8"), "config", "check"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 2"), "TOML errors name the line: {o:?}");
}
