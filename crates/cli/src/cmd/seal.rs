//! `traceledger seal`: JSON-lines trace events → a verifiable bundle, offline,
//! with the same sealing code the sequencer uses.

use crate::progress::{Bar, ITEMS};
use anyhow::Context;
use clap::Args;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use traceledger_bundle::{read_signing_key, BundleWriter};
use traceledger_core::event::Timestamp;
use traceledger_core::seal::{ChainHead, Sealer, Source};
use traceledger_core::signing::SigningKey;
use traceledger_core::TraceEvent;

#[derive(Debug, Args)]
pub struct SealArgs {
    /// JSON-lines file of TraceEvents (one JSON object per line; `-` for stdin).
    #[arg(long)]
    events: PathBuf,
    /// Signing key file (mode 0600).
    #[arg(long, env = "TRACELEDGER_KEY")]
    key: PathBuf,
    /// Bundle directory to create.
    #[arg(long)]
    out: PathBuf,
    /// Log name for checkpoint origins (`<log>/<tenant>`); defaults to the key name.
    #[arg(long, env = "TRACELEDGER_LOG")]
    log: Option<String>,
    /// Write a signed checkpoint per tenant every N records (and at the end).
    #[arg(long, default_value_t = 1000)]
    checkpoint_every: u64,
    /// Policy identifier recorded in each sealed record.
    #[arg(long, default_value = "default/v1")]
    policy: String,
    /// Write malformed lines here (JSON lines with line number and reason)
    /// and go on; without it the first malformed line stops the run.
    #[arg(long)]
    dead_letter: Option<PathBuf>,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

/// What a sealing run did.
#[derive(Debug, Default, Serialize)]
pub struct SealSummary {
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Records sealed.
    pub sealed: u64,
    /// Events skipped because their event_id was already sealed.
    pub duplicates: u64,
    /// Malformed lines sent to the dead-letter file.
    pub rejected: u64,
    /// Records per tenant.
    pub tenants: BTreeMap<String, u64>,
    /// Verifier key of the signing key.
    pub verifier_key: String,
}

/// Where and how to seal.
pub struct SealPlan<'a> {
    /// Signing key.
    pub key: &'a SigningKey,
    /// Bundle directory to create.
    pub out: &'a Path,
    /// Log name of checkpoint origins.
    pub log: &'a str,
    /// Checkpoint cadence per tenant.
    pub checkpoint_every: u64,
    /// Policy identifier recorded in records.
    pub policy: &'a str,
    /// Name of the input, recorded as each record's source topic.
    pub source_name: &'a str,
}

/// Seals `events` (line number, parsed event or error) into a new bundle.
pub fn seal_events(
    events: impl Iterator<Item = (u64, Result<TraceEvent, String>)>,
    plan: &SealPlan<'_>,
    mut dead_letter: Option<&mut dyn Write>,
    bar: &mut Bar,
) -> anyhow::Result<SealSummary> {
    let SealPlan { key, out, log, checkpoint_every, policy, source_name } = *plan;
    let mut writer = BundleWriter::create(out, log, key, super::now(), checkpoint_every)?;
    let sealer = Sealer::new(key.clone(), policy);
    let mut heads: BTreeMap<String, ChainHead> = BTreeMap::new();
    let mut seen = HashSet::new();
    let mut summary =
        SealSummary { bundle: out.to_path_buf(), verifier_key: key.verifier_key_string(), ..Default::default() };
    // ThreadRng is a CSPRNG (ChaCha, reseeded from the OS): salts must be unguessable.
    let mut rng = rand::thread_rng();
    let mut last = Timestamp(i64::MIN);
    for (line, ev) in events {
        let ev = match ev {
            Ok(ev) => ev,
            Err(reason) => match dead_letter.as_mut() {
                Some(w) => {
                    writeln!(w, "{}", serde_json::json!({"line": line, "reason": reason}))?;
                    summary.rejected += 1;
                    continue;
                }
                None => anyhow::bail!("{source_name}:{line}: {reason} (use --dead-letter FILE to skip bad lines)"),
            },
        };
        if !seen.insert((ev.tenant_id.clone(), ev.event_id)) {
            summary.duplicates += 1;
            continue;
        }
        let head = heads.entry(ev.tenant_id.clone()).or_insert_with(|| ChainHead::genesis(&ev.tenant_id));
        // sealed_at never goes backwards, even if the wall clock does.
        let now = super::now().max(Timestamp(last.0.saturating_add(1)));
        last = now;
        let source = Source { topic: source_name.to_string(), partition: 0, offset: line.saturating_sub(1) };
        let rec = sealer.seal(head, ev, now, Some(source), &mut rng);
        writer.append(&rec)?;
        *summary.tenants.entry(rec.header.tenant_id).or_default() += 1;
        summary.sealed += 1;
        bar.set(summary.sealed);
    }
    writer.finish()?;
    bar.finish();
    Ok(summary)
}

/// Reads JSON lines, yielding (1-based line number, event or reason).
pub fn read_jsonl(r: impl BufRead) -> impl Iterator<Item = (u64, Result<TraceEvent, String>)> {
    r.split(b'\n').enumerate().filter_map(|(i, line)| {
        let n = i as u64 + 1;
        match line {
            Err(e) => Some((n, Err(format!("read error: {e}")))),
            Ok(l) if l.iter().all(u8::is_ascii_whitespace) => None,
            Ok(l) => Some((n, TraceEvent::from_json(&l).map_err(|e| e.to_string()))),
        }
    })
}

pub fn run(a: SealArgs) -> anyhow::Result<u8> {
    let key = read_signing_key(&a.key)?;
    let log = a.log.clone().unwrap_or_else(|| key.name().to_string());
    let input: Box<dyn BufRead> = if a.events.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(&a.events).with_context(|| a.events.display().to_string())?;
        Box::new(BufReader::with_capacity(1 << 20, f))
    };
    let mut dl = match &a.dead_letter {
        Some(p) => Some(std::fs::File::create(p).with_context(|| p.display().to_string())?),
        None => None,
    };
    let mut bar = Bar::new(!a.json, ITEMS);
    let name = a.events.file_name().map_or_else(|| "stdin".into(), |n| n.to_string_lossy().into_owned());
    let source_name = format!("file:{name}");
    let plan = SealPlan {
        key: &key,
        out: &a.out,
        log: &log,
        checkpoint_every: a.checkpoint_every,
        policy: &a.policy,
        source_name: &source_name,
    };
    let s = seal_events(read_jsonl(input), &plan, dl.as_mut().map(|f| f as &mut dyn Write), &mut bar)?;
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!("sealed {} records of {} tenant(s) into {}", s.sealed, s.tenants.len(), s.bundle.display());
        if s.duplicates > 0 {
            println!("  {} duplicate event_id(s) sealed once and skipped", s.duplicates);
        }
        if s.rejected > 0 {
            println!("  {} malformed line(s) written to the dead-letter file", s.rejected);
        }
        println!("verify with: traceledger verify {} --key {}", s.bundle.display(), s.verifier_key);
    }
    Ok(0)
}
