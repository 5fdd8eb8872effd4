//! `traceledger dsar`: data-subject requests. `subject-id` derives the id
//! agents record for a customer (HMAC-SHA256 under the tenant's secret);
//! `export` fetches every record about that person from a running node as a
//! verifiable bundle (`GET /v1/dsar/{subject}`), written as a tar; `erase`
//! erases their content (`POST /v1/dsar/{subject}/erase`), recorded in the
//! ledger, holding what the retention minimum still keeps.

use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum DsarCommand {
    /// Print the subject id agents record for a customer id.
    SubjectId(SubjectArgs),
    /// Export a data subject's records from a running node (tar of a verifiable bundle).
    Export(ExportArgs),
    /// Erase a data subject's content on a running node (commitments stay; recorded in the ledger).
    Erase(EraseArgs),
}

/// Where the node is and which key to use.
#[derive(Debug, Args)]
pub struct NodeAccess {
    /// The node's address.
    #[arg(long, env = "TRACELEDGER_URL", default_value = "http://127.0.0.1:7070")]
    pub url: String,
    /// A file holding an API key of the tenant (Owner or Admin to erase).
    #[arg(long, env = "TRACELEDGER_API_KEY_FILE")]
    pub api_key_file: PathBuf,
}

impl NodeAccess {
    /// Sends `method path` with the key; returns (status, body).
    pub fn call(&self, method: &str, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        let key = std::fs::read_to_string(&self.api_key_file)
            .with_context(|| format!("API key file {}", self.api_key_file.display()))?;
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let agent = ureq::Agent::new_with_config(ureq::config::Config::builder().http_status_as_error(false).build());
        let auth = format!("Bearer {}", key.trim());
        let resp = match method {
            "POST" => agent.post(&url).header("authorization", &auth).send_empty(),
            _ => agent.get(&url).header("authorization", &auth).call(),
        };
        let mut resp = resp.with_context(|| format!("{method} {url}"))?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().with_config().limit(64 << 20).read_to_vec().context("reading the answer")?;
        Ok((status, body))
    }
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    #[command(flatten)]
    node: NodeAccess,
    /// The subject id (`hmac:…`; see `dsar subject-id`).
    #[arg(long)]
    subject: String,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
}

/// Prints an erasure outcome for people, or as JSON.
pub fn print_outcome(body: &[u8], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", String::from_utf8_lossy(body));
        return Ok(());
    }
    let v: serde_json::Value = serde_json::from_slice(body).context("the node's answer is not JSON")?;
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    println!(
        "erasure {} ({}) recorded in {}",
        v["erasure_id"].as_str().unwrap_or("?"),
        v["action"].as_str().unwrap_or("?"),
        v["recorded_in"].as_str().unwrap_or("?")
    );
    println!("  erasing          {:>8} record(s)  {}", n("erasing"), v["seqs"].as_str().unwrap_or(""));
    if let Some(s) = v["subject"].as_str() {
        println!("  subject          {s}");
        println!("  already erased   {:>8}", n("already_erased"));
        println!(
            "  held             {:>8}  (inside the retention minimum{})",
            n("held"),
            v["held_until"].as_str().map(|t| format!(", until {t}")).unwrap_or_default()
        );
    }
    if let Some(c) = v["cutoff"].as_str() {
        println!("  cutoff           {c}");
    }
    println!("the content goes once the sequencer seals the erasure; commitments stay and the chain still verifies");
    Ok(())
}

#[derive(Debug, Args)]
pub struct SubjectArgs {
    /// A file holding the tenant's subject secret (the one the agents' SDK uses).
    #[arg(long, env = "TRACELEDGER_SUBJECT_SECRET_FILE")]
    secret_file: PathBuf,
    /// The customer id.
    customer: String,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The node's address.
    #[arg(long, env = "TRACELEDGER_URL", default_value = "http://127.0.0.1:7070")]
    url: String,
    /// A file holding an API key (Owner, Admin or Auditor) of the tenant.
    #[arg(long, env = "TRACELEDGER_API_KEY_FILE")]
    api_key_file: PathBuf,
    /// The subject id (`hmac:…`; see `dsar subject-id`).
    #[arg(long)]
    subject: String,
    /// Where to write the tar.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(c: DsarCommand) -> anyhow::Result<u8> {
    match c {
        DsarCommand::Erase(a) => {
            let (status, body) = a.node.call("POST", &format!("/v1/dsar/{}/erase", a.subject))?;
            if status != 202 {
                anyhow::bail!("the node answered {status}: {}", String::from_utf8_lossy(&body));
            }
            print_outcome(&body, a.json)?;
            Ok(0)
        }
        DsarCommand::SubjectId(a) => {
            let secret = std::fs::read(&a.secret_file).with_context(|| a.secret_file.display().to_string())?;
            anyhow::ensure!(!secret.is_empty(), "the secret file {} is empty", a.secret_file.display());
            println!("{}", traceledger_sdk::subject_id(&secret, &a.customer));
            Ok(0)
        }
        DsarCommand::Export(a) => {
            let key = std::fs::read_to_string(&a.api_key_file)
                .with_context(|| format!("API key file {}", a.api_key_file.display()))?;
            let url = format!("{}/v1/dsar/{}", a.url.trim_end_matches('/'), a.subject);
            let agent =
                ureq::Agent::new_with_config(ureq::config::Config::builder().http_status_as_error(false).build());
            let mut resp = agent
                .get(&url)
                .header("authorization", &format!("Bearer {}", key.trim()))
                .call()
                .with_context(|| format!("GET {url}"))?;
            let status = resp.status().as_u16();
            let about = resp
                .headers()
                .get("x-traceledger-subject-records")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("0")
                .to_string();
            let body = resp.body_mut().with_config().limit(u64::MAX).read_to_vec().context("reading the export")?;
            if status != 200 {
                anyhow::bail!("the node answered {status}: {}", String::from_utf8_lossy(&body));
            }
            std::fs::write(&a.out, &body).with_context(|| a.out.display().to_string())?;
            eprintln!(
                "wrote {} ({} bytes): {about} record(s) about the subject with content; untar it and run `traceledger verify DIR --key VKEY`",
                a.out.display(),
                body.len()
            );
            Ok(0)
        }
    }
}
