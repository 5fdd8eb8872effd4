//! `traceledger export`: a new bundle from a verified one — some tenants
//! only, or with all content erased (metadata-only evidence for an auditor
//! who must not see prompts and outputs). The original checkpoints are
//! copied as signed; the new manifest is signed by `--key`.
//!
//! With `--data DIR` it exports from a node's data directory instead (a
//! stopped node; RocksDB allows one process at a time): the records the log
//! acknowledged, with the sequencer's signed checkpoints.

use crate::progress::{Bar, ITEMS};
use anyhow::{bail, Context};
use clap::Args;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use traceledger_bundle::{read_signing_key, verify_bundle, BundleWriter, KeyringEntry, Options, RecordReader};
use traceledger_core::erasure::goes_with;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Source bundle (verified before anything is exported).
    #[arg(long, required_unless_present = "data", conflicts_with = "data")]
    from: Option<PathBuf>,
    /// Source node data directory (of a stopped `traceledger up`/`sequencer`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Log name of the node (with --data).
    #[arg(long, default_value = "traceledger.local", requires = "data")]
    log_name: String,
    /// Signing key for the new manifest (mode 0600); with --data, default
    /// the node's own key.
    #[arg(long, env = "TRACELEDGER_KEY")]
    key: Option<PathBuf>,
    /// New bundle directory.
    #[arg(long)]
    out: PathBuf,
    /// Export only these tenants (repeat); default all.
    #[arg(long = "tenant")]
    tenants: Vec<String>,
    /// Erase every content field (input, output, reasoning, tool arguments
    /// and results); commitments stay, so the export still verifies.
    #[arg(long)]
    without_content: bool,
    /// Trusted verifier key for checking the source (repeat); default: the
    /// source bundle's own keyring.
    #[arg(long = "source-key", value_name = "VKEY")]
    source_keys: Vec<String>,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
    /// The data directory's master key (with --data, when it is encrypted
    /// at rest; not needed with --without-content).
    #[command(flatten)]
    vault: traceledger_node::VaultArgs,
}

#[derive(Debug, Serialize)]
struct ExportSummary {
    bundle: PathBuf,
    records: u64,
    tenants: BTreeMap<String, u64>,
    checkpoints_copied: u64,
    content_erased: bool,
}

pub fn run(a: ExportArgs) -> anyhow::Result<u8> {
    if let Some(data) = &a.data {
        return from_data(data, &a);
    }
    let Some(from) = a.from.clone() else { bail!("pass --from BUNDLE or --data DIR") };
    let Some(key_path) = &a.key else { bail!("--key is required with --from") };
    let key = read_signing_key(key_path)?;
    let a = ExportArgs { from: Some(from.clone()), ..a };
    let from = &from;
    let pinned = if a.source_keys.is_empty() {
        None
    } else {
        let keys = a
            .source_keys
            .iter()
            .map(|k| traceledger_core::signing::VerifierKey::parse(k))
            .collect::<Result<Vec<_>, _>>()?;
        Some(traceledger_core::signing::Keyring::new(keys))
    };
    // Erased content the source does not account for stays unaccounted for
    // in the copy, whose verification then says so.
    let source = verify_bundle(
        from,
        &Options { pinned_keys: pinned, allow_unattested_erasure: true, witness_policy: None, tsa_certs: Vec::new() },
        &mut (),
    )
    .map_err(|e| anyhow::anyhow!("source bundle {} does not verify: {e}", from.display()))?;
    let known: BTreeSet<&str> = source.report.tenants.iter().map(|t| t.tenant_id.as_str()).collect();
    for t in &a.tenants {
        if !known.contains(t.as_str()) {
            bail!(
                "tenant `{t}` is not in {} (it holds: {})",
                from.display(),
                known.iter().copied().collect::<Vec<_>>().join(", ")
            );
        }
    }
    // A tenant's privacy chain goes with it (its signed erasures account
    // for its erased content), and so do the source's withheld statements.
    let wanted = |t: &str| a.tenants.is_empty() || a.tenants.iter().any(|w| goes_with(t, w));
    let withheld = traceledger_bundle::read_withheld(from)?;

    let mut w = BundleWriter::create(&a.out, &source.log, &key, super::now(), 0)?;
    let ring_path = from.join("keys/keyring.json");
    let ring: Vec<KeyringEntry> =
        serde_json::from_slice(&std::fs::read(&ring_path).with_context(|| ring_path.display().to_string())?)
            .with_context(|| ring_path.display().to_string())?;
    w.set_keyring(ring);

    let mut copied = 0;
    for t in source.report.tenants.iter().filter(|t| wanted(&t.tenant_id)) {
        let dir = from.join("checkpoints").join(&t.tenant_id);
        let mut notes: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| dir.display().to_string())?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        notes.sort();
        for n in notes {
            let size: u64 = n
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse().ok())
                .with_context(|| format!("{}: not <size>.note", n.display()))?;
            w.add_checkpoint_note(&t.tenant_id, size, &std::fs::read(&n).with_context(|| n.display().to_string())?)?;
            copied += 1;
        }
    }

    let mut bar = Bar::new(!a.json, ITEMS);
    bar.set_total(source.report.records);
    let path = from.join("records.avro");
    let file = std::io::BufReader::new(std::fs::File::open(&path).with_context(|| path.display().to_string())?);
    let mut tenants: BTreeMap<String, u64> = BTreeMap::new();
    for (i, rec) in RecordReader::new(file)?.enumerate() {
        let rec = rec?;
        bar.set(i as u64);
        if !wanted(&rec.header.tenant_id) {
            continue;
        }
        let tenant = rec.header.tenant_id.clone();
        if a.without_content || withheld.get(&tenant).is_some_and(|s| s.contains(rec.header.seq)) {
            w.append_withheld(rec)?;
        } else {
            w.append(&rec)?;
        }
        *tenants.entry(tenant).or_default() += 1;
    }
    bar.finish();
    let records = w.finish()?;
    let s = ExportSummary {
        bundle: a.out.clone(),
        records,
        tenants,
        checkpoints_copied: copied,
        content_erased: a.without_content,
    };
    print_summary(&s, &key, a.json)
}

fn print_summary(s: &ExportSummary, key: &traceledger_core::signing::SigningKey, json: bool) -> anyhow::Result<u8> {
    if json {
        println!("{}", serde_json::to_string(s)?);
    } else {
        println!(
            "exported {} records of {} tenant(s) to {}{}",
            s.records,
            s.tenants.len(),
            s.bundle.display(),
            if s.content_erased { " with all content erased (commitments kept)" } else { "" }
        );
        println!("verify with: traceledger verify {} --key {}", s.bundle.display(), key.verifier_key_string());
    }
    Ok(0)
}

fn from_data(data: &std::path::Path, a: &ExportArgs) -> anyhow::Result<u8> {
    use traceledger_bundle::BundlePlan;
    use traceledger_sequencer::export::{export, ExportPlan};
    let key_path = a.key.clone().unwrap_or_else(|| data.join("keys/ledger.key"));
    let key = read_signing_key(&key_path)?;
    let store_path = data.join("ledger");
    anyhow::ensure!(store_path.is_dir(), "{} holds no ledger (expected {})", data.display(), store_path.display());
    // Without content, encrypted records export with no key (content reads as erased).
    let vault = if a.without_content && a.vault.master_key.is_none() && a.vault.kms_command.is_none() {
        None
    } else {
        a.vault.open(data)?
    };
    let store = traceledger_sequencer::store::Store::open(&store_path)
        .with_context(|| format!("{} (is the node still running?)", store_path.display()))?
        .with_vault(vault);
    let node_key = data.join("keys/ledger.pub");
    let mut keyring = Vec::new();
    if let Ok(text) = std::fs::read_to_string(&node_key) {
        keyring.push(KeyringEntry { verifier_key: text.trim().to_string(), not_before: None, not_after: None });
    }
    let mut bar = Bar::new(!a.json, ITEMS);
    bar.set_total(store.accepted_records()?);
    let plan = ExportPlan {
        bundle: BundlePlan { out: &a.out, log_name: &a.log_name, key: &key, keyring, now: super::now() },
        tenants: &a.tenants,
        without_content: a.without_content,
    };
    let done = export(&store, &plan, |n| bar.set(n))?;
    bar.finish();
    let s = ExportSummary {
        bundle: a.out.clone(),
        records: done.records,
        tenants: done.tenants,
        checkpoints_copied: done.checkpoints,
        content_erased: a.without_content,
    };
    print_summary(&s, &key, a.json)
}
