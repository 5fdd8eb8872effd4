//! The node's attestors: `--witness-policy FILE` read once at start-up, its
//! witnesses with a URL wired into the sequencer as its [`Witnesses`]; and
//! `--tsa-url` with `--tsa-cert`, an RFC 3161 TSA over HTTP
//! (`application/timestamp-query`) as its [`Timestamps`].

use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use traceledger_core::tlog_policy::Policy;
use traceledger_core::Hash;
use traceledger_sequencer::{Timestamping, Timestamps, Witnesses, Witnessing};
use traceledger_witness::client::{Outcome, Submitter};

struct PolicyWitnesses(Submitter);

impl Witnesses for PolicyWitnesses {
    fn cosign(
        &self,
        origin: &str,
        size: u64,
        note: &str,
        prove: &(dyn Fn(u64) -> Option<Vec<Hash>> + Sync),
    ) -> Vec<String> {
        let mut lines = Vec::new();
        for (name, outcome) in self.0.names().into_iter().zip(self.0.submit(origin, size, note, prove)) {
            match outcome {
                Outcome::Cosigned(line) => lines.push(line),
                Outcome::Failed(why) => tracing::warn!(witness = %name, origin, size, "not cosigned: {why}"),
            }
        }
        lines
    }
}

/// The sequencer's witnesses from a policy file.
pub fn from_policy_file(path: &Path) -> anyhow::Result<Witnessing> {
    let text = std::fs::read_to_string(path).with_context(|| format!("--witness-policy {}", path.display()))?;
    let policy = Policy::parse(&text).with_context(|| format!("--witness-policy {}", path.display()))?;
    let submitter = Submitter::new(&policy).map_err(anyhow::Error::msg).with_context(|| path.display().to_string())?;
    Ok(Witnessing(Arc::new(PolicyWitnesses(submitter))))
}

struct Tsa {
    agent: ureq::Agent,
    url: String,
    name: String,
    cert: traceledger_tsa::Certificate,
}

impl Tsa {
    fn ask(&self, note: &str) -> Result<String, String> {
        let nonce = rand::random::<u64>();
        let req = traceledger_tsa::request(note.as_bytes(), nonce).map_err(|e| e.to_string())?;
        let mut res = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/timestamp-query")
            .send(&req[..])
            .map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let body = res.body_mut().with_config().limit(1 << 20).read_to_vec().map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("{status} {}", String::from_utf8_lossy(&body[..body.len().min(200)])));
        }
        let token = traceledger_tsa::token_of(&body).map_err(|e| e.to_string())?;
        traceledger_tsa::verify(&token, note.as_bytes(), &self.cert).map_err(|e| e.to_string())?;
        traceledger_tsa::note_line(&self.name, &self.cert, &token).map_err(|e| e.to_string())
    }
}

impl Timestamps for Tsa {
    fn timestamp(&self, note: &str) -> Option<String> {
        // A transient failure is retried once; the next checkpoint tries again.
        let first = self.ask(note);
        match first.or_else(|_| self.ask(note)) {
            Ok(line) => Some(line),
            Err(why) => {
                tracing::warn!(tsa = %self.url, "no timestamp: {why}");
                None
            }
        }
    }
}

/// The sequencer's TSA from `--tsa-url`, `--tsa-cert`, `--tsa-name`.
pub fn tsa(url: &str, cert: &Path, name: &str, every: std::time::Duration) -> anyhow::Result<Timestamping> {
    let bytes = std::fs::read(cert).with_context(|| format!("--tsa-cert {}", cert.display()))?;
    let cert = traceledger_tsa::certificate(&bytes).with_context(|| format!("--tsa-cert {}", cert.display()))?;
    traceledger_tsa::check_name(name).context("--tsa-name")?;
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .http_status_as_error(false)
        .user_agent("traceledger-tsa-client/1")
        .build()
        .into();
    let tsa = Tsa { agent, url: url.to_string(), name: name.to_string(), cert };
    Ok(Timestamping { tsa: Arc::new(tsa), every })
}
