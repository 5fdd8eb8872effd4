//! `traceledger up`: the embedded default. Until the streaming pipeline
//! lands, it seals a simulated fleet's events into a bundle under the data
//! directory and verifies it, so a new user sees a working ledger at once.

use crate::progress::{Bar, ITEMS};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use traceledger_bundle::{read_signing_key, write_signing_key};
use traceledger_core::event::StatusCode;
use traceledger_core::keys::SigningKey;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Data directory (keys, events, bundles).
    #[arg(long, env = "TRACELEDGER_DATA", default_value = ".data")]
    data: PathBuf,
    /// Demo fleet: tenants.
    #[arg(long, default_value_t = 3)]
    tenants: usize,
    /// Demo fleet: agents per tenant.
    #[arg(long, default_value_t = 3)]
    agents: usize,
    /// Demo fleet: sessions per agent.
    #[arg(long, default_value_t = 20)]
    sessions: usize,
}

pub fn run(a: UpArgs) -> anyhow::Result<u8> {
    let keys = a.data.join("keys");
    std::fs::create_dir_all(&keys).with_context(|| keys.display().to_string())?;
    let key_path = keys.join("ledger.key");
    let key = if key_path.exists() {
        read_signing_key(&key_path)?
    } else {
        let k = SigningKey::generate("traceledger.local", &mut rand::rngs::OsRng)?;
        write_signing_key(&key_path, &k)?;
        std::fs::write(keys.join("ledger.pub"), format!("{}\n", k.verifier_key_string()))?;
        println!("created signing key {} (0600)", key_path.display());
        k
    };
    let spec = super::fleet::FleetArgs {
        out: "-".into(),
        tenants: a.tenants,
        agents: a.agents,
        sessions: a.sessions,
        seed: 7,
    }
    .spec();
    let events = traceledger_fleet::generate(&spec);
    let errors = events.iter().filter(|e| e.status.code == StatusCode::Error).count();
    let with_subjects = events.iter().filter(|e| !e.subject_ids.is_empty()).count();
    let sessions: std::collections::BTreeSet<_> = events.iter().map(|e| (&e.tenant_id, &e.session_id)).collect();
    println!(
        "demo fleet: {} events, {} sessions, {} tenants × {} agents ({} error steps, {} events about identifiable people)",
        events.len(),
        sessions.len(),
        a.tenants,
        a.agents,
        errors,
        with_subjects
    );
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let bundle = a.data.join("bundles").join(format!("demo-{stamp}"));
    let mut bar = Bar::new(true, ITEMS);
    bar.set_total(events.len() as u64);
    let summary = super::seal::seal_events(
        events.into_iter().enumerate().map(|(i, e)| (i as u64 + 1, Ok(e))),
        &super::seal::SealPlan {
            key: &key,
            out: &bundle,
            log: key.name(),
            checkpoint_every: 100,
            policy: "default/v1",
            source_name: "demo-fleet",
        },
        None,
        &mut bar,
    )?;
    println!("sealed {} records into {}", summary.sealed, bundle.display());
    println!();
    let vkey = traceledger_core::keys::VerifierKey::parse(&key.verifier_key_string())?;
    let ring = traceledger_core::keys::Keyring::new(vec![vkey]);
    let code = super::verify::verify_and_print(&bundle, Some(ring.clone()), false)?;
    println!();
    tamper_demo(&bundle, &key, &ring)?;
    let exe = std::env::current_exe().map_or_else(|_| "traceledger".into(), |p| p.display().to_string());
    println!();
    println!("Try it yourself:");
    println!("  {exe} verify {} --key {}", bundle.display(), key.verifier_key_string());
    println!("  # then change any byte of {}/records.avro and verify again", bundle.display());
    Ok(code)
}

/// Shows tamper evidence on a copy: one sealed output is edited and the
/// bundle rewritten with a freshly signed manifest — what an insider holding
/// the signing key could do — and the verifier names the record.
fn tamper_demo(
    bundle: &std::path::Path,
    key: &SigningKey,
    ring: &traceledger_core::keys::Keyring,
) -> anyhow::Result<()> {
    use traceledger_bundle::{verify_bundle, BundleError, BundleWriter, Options, RecordReader};
    let file = std::fs::File::open(bundle.join("records.avro")).context("records.avro")?;
    let mut records: Vec<_> = RecordReader::new(std::io::BufReader::new(file))?.collect::<Result<_, _>>()?;
    let Some(victim) = records.iter().skip(records.len() / 2).position(|r| r.event.output.is_some()) else {
        return Ok(());
    };
    let victim = victim + records.len() / 2;
    let r = &mut records[victim];
    let before = r.event.output.clone().unwrap_or_default();
    let after = "{\"score\": 850, \"approved\": true}";
    r.event.output = Some(after.into());
    let (tenant, seq) = (r.header.tenant_id.clone(), r.header.seq);
    let mut copy = bundle.as_os_str().to_owned();
    copy.push("-tampered");
    let copy = PathBuf::from(copy);
    let mut w = BundleWriter::create(&copy, key.name(), key, super::now(), 100)?;
    for r in &records {
        w.append(r)?;
    }
    w.finish()?;
    println!("Tamper evidence: in a copy, the output of {tenant} seq {seq} was changed");
    println!("  from {before:?}");
    println!("  to   {after:?}, and the bundle re-signed with the ledger key:");
    match verify_bundle(&copy, &Options { pinned_keys: Some(ring.clone()) }, &mut ()) {
        Err(BundleError::Invalid(f)) => println!("  ✘ caught: {f}"),
        Err(e) => println!("  ✘ caught: {e}"),
        Ok(_) => anyhow::bail!("the tampered copy verified: this is a bug, please report it"),
    }
    println!("  (copy kept at {})", copy.display());
    Ok(())
}
