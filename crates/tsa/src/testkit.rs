//! A real TSA for tests: OpenSSL's `openssl ts -reply` (Debian's openssl)
//! with a self-signed time-stamping certificate, and an HTTP front for it
//! (RFC 3161 over HTTP: `application/timestamp-query` in, `-reply` out).
//! Test support only (the `testkit` feature): it runs processes.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::certificate;

/// Runs `openssl ARGS` in `dir`, which must succeed.
pub fn openssl(args: &[&str], dir: &Path) {
    let o = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl (Debian's openssl package)");
    assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

/// A TSA: a self-signed certificate for time stamping and its key.
pub struct OpensslTsa {
    dir: tempfile::TempDir,
}

impl OpensslTsa {
    /// A TSA with a `kind` ("rsa" or "ec", P-256) key that accepts `digests`.
    pub fn new(kind: &str, digests: &str) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        match kind {
            "rsa" => {
                openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "key.pem"], d)
            }
            _ => openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "key.pem"], d),
        }
        openssl(
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "key.pem",
                "-out",
                "cert.pem",
                "-days",
                "3650",
                "-subj",
                &format!("/CN=traceledger test TSA ({kind})"),
                "-addext",
                "extendedKeyUsage=critical,timeStamping",
            ],
            d,
        );
        std::fs::write(d.join("serial"), "01\n").expect("serial");
        let cnf = format!(
            "[ tsa ]\ndefault_tsa = tsa_config1\n[ tsa_config1 ]\ndir = {}\nserial = $dir/serial\ncrypto_device = builtin\n\
             signer_cert = $dir/cert.pem\nsigner_key = $dir/key.pem\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\n\
             other_policies = 1.2.3.4.5\ndigests = {digests}\naccuracy = secs:1\nordering = yes\ntsa_name = yes\n\
             ess_cert_id_chain = no\ness_cert_id_alg = sha256\n",
            d.display()
        );
        std::fs::write(d.join("tsa.cnf"), cnf).expect("cnf");
        OpensslTsa { dir }
    }

    /// A file of the TSA's directory (`cert.pem`, `key.pem`, `tsa.cnf`).
    pub fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }

    /// OpenSSL's answer to the DER request `req`.
    pub fn reply(&self, req: &[u8]) -> Vec<u8> {
        std::fs::write(self.path("req.der"), req).expect("req");
        openssl(&["ts", "-reply", "-config", "tsa.cnf", "-queryfile", "req.der", "-out", "resp.der"], self.dir.path());
        std::fs::read(self.path("resp.der")).expect("resp")
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Its certificate.
    pub fn cert(&self) -> x509_cert::Certificate {
        certificate(&std::fs::read(self.path("cert.pem")).expect("cert")).expect("parse cert")
    }
}

impl OpensslTsa {
    /// Serves the TSA over HTTP on loopback in a thread; its URL. Each
    /// request is answered by `openssl ts -reply`, one at a time.
    pub fn serve(self) -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/tsa", l.local_addr().expect("addr"));
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut s) = conn else { continue };
                let mut r = BufReader::new(s.try_clone().expect("clone"));
                let mut len = 0usize;
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut body = vec![0; len];
                if r.read_exact(&mut body).is_err() {
                    continue;
                }
                let resp = self.reply(&body);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    resp.len()
                );
                let _ = s.write_all(head.as_bytes()).and_then(|_| s.write_all(&resp));
            }
        });
        url
    }
}
