//! HTTPS: `traceledger up --tls-cert --tls-key` serves the API and the
//! console over TLS (rustls) with a certificate the client pins; a client
//! that does not trust it, and plain HTTP, get nothing.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn agent(root: Option<&rcgen::Certificate>) -> ureq::Agent {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(c) = root {
        let cert = ureq::tls::Certificate::from_der(c.der()).to_owned();
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]));
    }
    ureq::Agent::new_with_config(
        ureq::config::Config::builder().tls_config(tls.build()).http_status_as_error(false).build(),
    )
}

#[test]
fn the_api_and_console_are_served_over_tls_with_the_given_certificate() {
    let data = tempfile::tempdir().expect("tmp");
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).expect("certificate");
    let (cert, key) = (data.path().join("cert.pem"), data.path().join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).expect("cert");
    std::fs::write(&key, ck.signing_key.serialize_pem()).expect("key");
    let mut child = Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .args(["up", "--http", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .arg("--data")
        .arg(data.path().join("node"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("up");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout")).read_line(&mut line).expect("first line");
    let _node = common::Killed(child);
    let addr =
        line.split("https://").nth(1).and_then(|r| r.split_whitespace().next()).expect("https address").to_string();

    let pinned = agent(Some(&ck.cert));
    let mut r = pinned.get(format!("https://{addr}/v1/health")).call().expect("https health");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.body_mut().read_to_string().expect("body").contains("\"status\""));
    let r = pinned.get(format!("https://{addr}/")).call().expect("console");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().get("content-security-policy").is_some());
    let r = pinned.get(format!("https://{addr}/v1/sessions")).call().expect("keyed route");
    assert_eq!(r.status().as_u16(), 401, "the API still needs a key over TLS");

    // A client that does not trust the certificate is refused by the handshake.
    assert!(agent(None).get(format!("https://{addr}/v1/health")).call().is_err());
    // Plain HTTP on the TLS port gets no HTTP answer.
    let (status, _, _) = common::http_as(&addr, None, "GET", "/v1/health", b"");
    assert_ne!(status, 200);
}

#[test]
fn a_certificate_without_its_key_is_refused_at_start() {
    let o = Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .args(["up", "--http", "127.0.0.1:0", "--tls-cert", "/nonexistent.pem", "--data", "/nonexistent"])
        .output()
        .expect("up");
    assert_eq!(o.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--tls-key"), "{}", String::from_utf8_lossy(&o.stderr));
}
