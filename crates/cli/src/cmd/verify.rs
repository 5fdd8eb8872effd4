//! `traceledger verify`: check a bundle with nothing but verifier keys.

use crate::progress::{Bar, BYTES};
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};
use traceledger_bundle::{read_keyring_json, verify_bundle, BundleError, Options, Verified};
use traceledger_core::signing::{Keyring, VerifierKey};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Bundle directory.
    bundle: PathBuf,
    /// Trusted verifier key (`name+id+base64`); repeat for rotated keys.
    /// Without --key or --keyring the bundle's own keys are used, which
    /// proves integrity but not who sealed it.
    #[arg(long = "key", value_name = "VKEY")]
    keys: Vec<String>,
    /// Trusted keyring file (JSON array of {verifier_key, not_before, not_after}).
    #[arg(long)]
    keyring: Option<PathBuf>,
    /// Accept erased content that nothing in the bundle accounts for (no
    /// signed erasure in the tenant's privacy chain, no commitment_only
    /// policy, no withheld statement by the exporter), listing it as a
    /// warning: for bundles exported before exports carried these.
    #[arg(long)]
    allow_unattested_erasure: bool,
    /// A c2sp.org/tlog-policy file: each tenant must have a checkpoint in
    /// the bundle that carries the policy's quorum of witness cosignatures.
    #[arg(long, value_name = "FILE")]
    witness_policy: Option<PathBuf>,
    /// An RFC 3161 TSA's certificate (PEM or DER): each tenant must have a
    /// checkpoint it timestamped, and its tokens must verify; repeat.
    #[arg(long = "tsa-cert", value_name = "FILE")]
    tsa_certs: Vec<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn pinned(a: &VerifyArgs) -> Result<Option<Keyring>, BundleError> {
    if a.keys.is_empty() && a.keyring.is_none() {
        return Ok(None);
    }
    let mut ring = match &a.keyring {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| BundleError::Unusable {
                path: p.display().to_string(),
                offset: None,
                reason: e.to_string(),
            })?;
            read_keyring_json(p, &bytes).map_err(|e| BundleError::Unusable {
                path: p.display().to_string(),
                offset: None,
                reason: e.to_string(),
            })?
        }
        None => Keyring::default(),
    };
    for (i, k) in a.keys.iter().enumerate() {
        let key = VerifierKey::parse(k).map_err(|e| BundleError::Unusable {
            path: format!("--key #{}", i + 1),
            offset: None,
            reason: e.to_string(),
        })?;
        ring.push(key);
    }
    Ok(Some(ring))
}

/// Verifies and prints; returns the exit code.
pub fn verify_and_print(bundle: &Path, opts: &Options, json: bool) -> anyhow::Result<u8> {
    let mut bar = Bar::new(!json, BYTES);
    let result = verify_bundle(bundle, opts, &mut bar);
    bar.finish();
    print_result(&result, json)
}

fn print_result(result: &Result<Verified, BundleError>, json: bool) -> anyhow::Result<u8> {
    match result {
        Ok(v) if json => {
            let mut obj = serde_json::to_value(v).context("json")?;
            obj["outcome"] = "valid".into();
            println!("{obj}");
            Ok(0)
        }
        Ok(v) => {
            print_valid(v);
            Ok(0)
        }
        Err(e) if json => {
            let obj = match e {
                BundleError::Invalid(f) => {
                    let mut o = serde_json::to_value(f).context("json")?;
                    o["outcome"] = "invalid".into();
                    o
                }
                other => serde_json::to_value(other).context("json")?,
            };
            println!("{obj}");
            Ok(e.exit_code() as u8)
        }
        Err(e) => {
            println!("✘ {e}");
            Ok(e.exit_code() as u8)
        }
    }
}

fn print_valid(v: &Verified) {
    let r = &v.report;
    println!(
        "✔ VALID  {} records in {} tenant(s), {} signatures, {} checkpoints, {} files",
        r.records,
        r.tenants.len(),
        r.signatures,
        r.checkpoints,
        v.files
    );
    println!("  log      {}", v.log);
    println!("  created  {}", v.created);
    println!("  signed   {}", v.manifest_signers.join(", "));
    if v.keys_pinned {
        println!("  keys     pinned by you");
    } else {
        println!("  keys     ⚠ taken from the bundle itself: this proves integrity, not origin.");
        println!("           Pass --key with the operator's published verifier key to prove who sealed it.");
    }
    println!();
    println!("  {:<20} {:>9} {:>13} {:>9} {:>8}  root", "tenant", "records", "checkpointed", "content", "erased");
    for t in &r.tenants {
        println!(
            "  {:<20} {:>9} {:>13} {:>9} {:>8}  {}…",
            t.tenant_id,
            t.records,
            t.checkpointed,
            t.content_verified,
            t.content_erased,
            &t.root[..16]
        );
    }
    let e = &v.erasures;
    if e.by_signed_erasure + e.by_redaction_policy + e.withheld_by_exporter > 0 || !e.unattested.is_empty() {
        println!();
        println!(
            "  erased content: {} record(s) under signed erasures, {} sealed without content by policy, {} withheld by \
             the exporter",
            e.by_signed_erasure, e.by_redaction_policy, e.withheld_by_exporter
        );
    }
    for u in &e.unattested {
        println!(
            "  ⚠ {}: the content of {} record(s) (seqs {}) is erased and nothing in the bundle says why \
             (accepted by --allow-unattested-erasure)",
            u.tenant_id, u.records, u.seqs
        );
    }
    for (tenant, w) in &v.witnessed {
        let by: Vec<String> = w.by.iter().map(|(n, t)| format!("{n} at {}", super::utc(*t))).collect();
        if by.is_empty() {
            println!("  witnessed  {tenant}: checkpoint of {} records (the policy asks for no witness)", w.size);
        } else {
            println!("  witnessed  {tenant}: checkpoint of {} records cosigned by {}", w.size, by.join(", "));
        }
    }
    for (tenant, stamps) in &v.timestamped {
        for t in stamps {
            println!(
                "  timestamped {tenant}: the tree of {} records existed by {} ({})",
                t.size,
                super::utc(t.gen_time),
                t.tsa
            );
        }
    }
    for t in r.tenants.iter().filter(|t| t.checkpointed < t.records) {
        println!(
            "  ⚠ {}: records {}..{} are chained and signed but not yet covered by a signed checkpoint",
            t.tenant_id, t.checkpointed, t.records
        );
    }
}

pub fn run(a: VerifyArgs) -> anyhow::Result<u8> {
    let witness_policy = match super::witness_policy(a.witness_policy.as_deref(), &[]) {
        Ok(p) => p,
        Err(e) => {
            let path = a.witness_policy.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            return print_result(&Err(BundleError::Unusable { path, offset: None, reason: format!("{e:#}") }), a.json);
        }
    };
    let tsa_certs = match super::tsa_certs(&a.tsa_certs) {
        Ok(c) => c,
        Err(e) => {
            let reason = format!("{e:#}");
            return print_result(
                &Err(BundleError::Unusable { path: "--tsa-cert".into(), offset: None, reason }),
                a.json,
            );
        }
    };
    match pinned(&a) {
        Ok(keys) => verify_and_print(
            &a.bundle,
            &Options {
                pinned_keys: keys,
                allow_unattested_erasure: a.allow_unattested_erasure,
                witness_policy,
                tsa_certs,
            },
            a.json,
        ),
        Err(e) => print_result(&Err(e), a.json),
    }
}
