//! `traceledger prove` fetches one record's portable proof from a running
//! node (`GET /v1/proofs/record`, c2sp.org/tlog-proof) into a file;
//! `traceledger verify-proof` checks such a file offline with nothing but
//! the ledger's verifier key.

use super::dsar::NodeAccess;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ProveArgs {
    #[command(flatten)]
    node: NodeAccess,
    /// The record (its seq in the key's tenant's chain).
    #[arg(long)]
    seq: u64,
    /// Against the signed checkpoint of this tree size (default: the first covering the record).
    #[arg(long)]
    size: Option<u64>,
    /// Where to write the proof (default: <seq>.tlog-proof).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Exit 0 with the proof written; 1 when the node refuses.
pub fn prove(a: ProveArgs) -> anyhow::Result<u8> {
    let mut path = format!("/v1/proofs/record?seq={}", a.seq);
    if let Some(n) = a.size {
        path.push_str(&format!("&size={n}"));
    }
    let (status, body) = a.node.call("GET", &path)?;
    if status != 200 {
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let detail = v["detail"].as_str().map_or_else(|| String::from_utf8_lossy(&body).into_owned(), str::to_string);
        eprintln!("error: the node answered {status}: {detail}");
        return Ok(1);
    }
    let out = a.out.unwrap_or_else(|| PathBuf::from(format!("{}.tlog-proof", a.seq)));
    std::fs::write(&out, &body).with_context(|| out.display().to_string())?;
    eprintln!(
        "wrote {} ({} bytes): record {} and its inclusion proof; check it with `traceledger verify-proof {} --key VKEY`",
        out.display(),
        body.len(),
        a.seq,
        out.display()
    );
    Ok(0)
}

#[derive(Debug, Args)]
pub struct VerifyProofArgs {
    /// The proof file (`.tlog-proof`).
    file: PathBuf,
    /// The ledger's verifier key (name+id+key); repeat for several.
    #[arg(long = "key", required = true)]
    keys: Vec<String>,
    /// A c2sp.org/tlog-policy file whose witness quorum the checkpoint must carry.
    #[arg(long, value_name = "FILE")]
    witness_policy: Option<PathBuf>,
    /// A witness verifier key (name+id+base64, type 0x04) that must have
    /// cosigned the checkpoint; repeat: every one must have.
    #[arg(long = "witness", value_name = "VKEY")]
    witnesses: Vec<String>,
    /// An RFC 3161 TSA's certificate (PEM or DER) whose timestamp the
    /// checkpoint must carry; repeat.
    #[arg(long = "tsa-cert", value_name = "FILE")]
    tsa_certs: Vec<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit 0 when the proof proves its record; 1 when it does not; 2 when the
/// file is not a proof (or cannot be read).
pub fn verify(a: VerifyProofArgs) -> anyhow::Result<u8> {
    let ring = super::keyring_of(&a.keys)?;
    let policy = super::witness_policy(a.witness_policy.as_deref(), &a.witnesses)?;
    let bytes = std::fs::read(&a.file).with_context(|| a.file.display().to_string())?;
    let tsa_certs = super::tsa_certs(&a.tsa_certs)?;
    match traceledger_bundle::verify_record_proof_attested(&bytes, &ring, policy.as_ref(), &tsa_certs) {
        Ok(p) => {
            if a.json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({"ok": true, "proof": p}))?);
            } else {
                let e = &p.event;
                println!(
                    "ok: record {} of {} is in the tree of {} records signed by {}",
                    p.seq,
                    p.origin,
                    p.tree_size,
                    p.checkpoint_signers.join(", ")
                );
                println!("  root        {}", p.root);
                println!("  leaf        {}", p.leaf_hash);
                println!("  event       {} ({:?})", e.event_id, e.kind);
                println!("  agent       {}  session {}  step {}", e.agent_id, e.session_id, e.step_index);
                println!("  at          {}  sealed {}", e.timestamp.to_rfc3339(), p.sealed_at);
                for (name, t) in &p.witnessed {
                    println!("  witnessed   by {name} at {}", super::utc(*t));
                }
                for (tsa, t) in &p.timestamped {
                    println!("  timestamped the tree existed by {} ({tsa})", super::utc(*t));
                }
            }
            Ok(0)
        }
        Err(e) => {
            let code = e.exit_code();
            if a.json {
                println!("{}", serde_json::json!({"ok": false, "error": e.to_string(), "exit_code": code}));
            } else {
                eprintln!("FAILED: {}: {e}", a.file.display());
            }
            Ok(code as u8)
        }
    }
}
