//! Helpers shared by the process-level suites.
// Each test binary uses a subset of these helpers.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Exports a stopped node's data directory with `traceledger export --data`,
/// verifies the bundle with `traceledger verify` pinned to the node's key,
/// and returns the number of records exported of the agents' tenants (the
/// system's `_access.*` chains of API calls are exported too, not counted).
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
    let tenants = summary["tenants"].as_object().expect("tenants");
    tenants.iter().filter(|(t, _)| !t.starts_with('_')).map(|(_, n)| n.as_u64().expect("count")).sum()
}

/// Exports the key's tenant through the API at `addr` (`GET /v1/export`),
/// unpacks the bundle into `out` and verifies it offline pinned to the
/// public key in `data/keys/ledger.pub`; the verifier's JSON report.
pub fn api_export_verifies(addr: &str, key: &str, out: &Path, data: &Path) -> serde_json::Value {
    let (status, tar_bytes) = get_bytes(addr, key, "/v1/export");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&tar_bytes));
    tar::Archive::new(&tar_bytes[..]).unpack(out).expect("untar");
    let bundle = std::fs::read_dir(out).expect("dir").next().expect("bundle").expect("entry").path();
    let vkey = std::fs::read_to_string(data.join("keys/ledger.pub")).expect("ledger.pub");
    verify_json(&bundle, vkey.trim())
}

/// `traceledger verify BUNDLE --key VKEY --json`, which must pass; its report.
pub fn verify_json(bundle: &Path, vkey: &str) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .arg("verify")
        .arg(bundle)
        .args(["--key", vkey, "--json"])
        .output()
        .expect("verify");
    assert!(
        o.status.success(),
        "{}: {}{}",
        bundle.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("verify json")
}

/// Creates an API key on a stopped node's data directory; returns its secret.
pub fn create_key(data: &Path, tenant: &str, role: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .args(["keys", "create", "--tenant", tenant, "--role", role, "--env", "test", "--json", "--data"])
        .arg(data)
        .output()
        .expect("keys create");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    v["secret"].as_str().expect("secret").to_string()
}

/// One HTTP/1.1 request with `key`, if any.
pub fn http_as(addr: &str, key: Option<&str>, method: &str, path: &str, body: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let auth = key.map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    // The server may answer (413) before reading a large body.
    let _ = s.write_all(body);
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp).into_owned();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = headers.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let ctype = headers
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type:").map(|v| v.trim().to_string()))
        .unwrap_or_default();
    (status, ctype, body.to_string())
}

/// A GET with `key`: the status and the body's bytes (for binary bodies).
pub fn get_bytes(addr: &str, key: &str, path: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = get_with_headers(addr, key, path);
    (status, body)
}

/// Starts `traceledger up --http 127.0.0.1:0 ARGS --data DATA` and returns
/// the process and the address it prints on its first line.
pub fn start_up(data: &Path, args: &[&str]) -> (Child, String) {
    start_up_with(Command::new(env!("CARGO_BIN_EXE_traceledger")), data, args)
}

/// [`start_up`] through `cmd`, which runs the binary (e.g. under faketime).
pub fn start_up_with(mut cmd: Command, data: &Path, args: &[&str]) -> (Child, String) {
    let mut child = cmd
        .args(["up", "--http", "127.0.0.1:0"])
        .args(args)
        .arg("--data")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start traceledger up");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout")).read_line(&mut line).expect("first line");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, addr)
}

/// A request a webhook received: its headers and body.
pub type Delivered = (Vec<(String, String)>, Vec<u8>);

/// A webhook receiver on loopback that answers 204 at once and hands over
/// each request's headers (lower-case names) and body; its URL.
pub fn webhook() -> (String, std::sync::mpsc::Receiver<Delivered>) {
    let srv = tiny_http::Server::http("127.0.0.1:0").expect("webhook server");
    let url = format!("http://{}/hook", srv.server_addr().to_ip().expect("ip"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for mut req in srv.incoming_requests() {
            let mut body = Vec::new();
            let _ = req.as_reader().read_to_end(&mut body);
            let headers =
                req.headers().iter().map(|h| (h.field.to_string().to_ascii_lowercase(), h.value.to_string())).collect();
            let _ = req.respond(tiny_http::Response::empty(204));
            let _ = tx.send((headers, body));
        }
    });
    (url, rx)
}

/// A child process killed when dropped (a node under test).
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Killed {
    /// Stops the node as Ctrl-C does (a clean shutdown) and checks that it
    /// exits with success.
    pub fn interrupt(mut self) {
        let _ = Command::new("kill").args(["-INT", &self.0.id().to_string()]).status();
        let status = self.0.wait().expect("wait for the node");
        assert!(status.success(), "the node stopped with {status}");
    }
}

/// A GET with `key` that must answer 200; its JSON.
pub fn get_ok(addr: &str, key: &str, path: &str) -> serde_json::Value {
    let (status, _, body) = http_as(addr, Some(key), "GET", path, b"");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("json")
}

/// A stopped node's data directory holding the demo fleet (2 tenants, 6
/// sessions per agent) and an Auditor key of its first tenant in
/// `DATA/demo-<tenant>.key` (`up --demo --once`).
pub fn demo_data() -> tempfile::TempDir {
    let data = tempfile::tempdir().expect("tmp");
    let o = Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .args(["up", "--demo", "--once", "--http", "127.0.0.1:0", "--tenants", "2", "--sessions", "6", "--data"])
        .arg(data.path())
        .output()
        .expect("up --demo");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    data
}

/// Posts events with `key`; they must be accepted (202).
pub fn post_events(addr: &str, key: &str, evs: &[Value]) {
    let (status, _, body) = http_as(addr, Some(key), "POST", "/v1/events", &serde_json::to_vec(evs).expect("json"));
    assert_eq!(status, 202, "{body}");
}

/// Waits until `ok` holds of `GET path` (the pipeline is asynchronous).
pub fn wait_for(addr: &str, key: &str, path: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let (status, _, body) = http_as(addr, Some(key), "GET", path, b"");
        if status == 200 {
            let v: Value = serde_json::from_str(&body).expect("json");
            if ok(&v) {
                return v;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{what}: {path} answered {status} {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Files under `dir` (recursively) that contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p).expect("read").windows(needle.len()).any(|w| w == needle) {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

/// Percent-encodes a path segment (key ids contain `…`).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The Python of the test venv (scripts/python-deps.sh makes it; PyPI's
/// clients and checkers live there).
pub fn python() -> String {
    let venv = std::env::var("TRACELEDGER_VENV")
        .unwrap_or_else(|_| format!("{}/.cache/traceledger/venv", std::env::var("HOME").expect("HOME")));
    format!("{venv}/bin/python")
}

/// Starts `traceledger ARGS` and returns it with the address of its
/// `listening on http://…` line.
pub fn start(args: &[&str]) -> (Killed, String) {
    // Killed at once, so that a failed start leaves no process behind.
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_traceledger"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start traceledger"),
    );
    let mut out = BufReader::new(child.0.stdout.take().expect("stdout"));
    let mut line = String::new();
    loop {
        line.clear();
        assert!(out.read_line(&mut line).expect("read stdout") > 0, "{args:?} exited before listening");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().expect("address").to_string();
            // Keep draining stdout so the process never blocks on it.
            std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
            return (child, addr);
        }
    }
}

/// A GET with `key`: the status, the response head and the body bytes.
pub fn get_with_headers(addr: &str, key: &str, path: &str) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read");
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, head, resp[split + 4..].to_vec())
}
