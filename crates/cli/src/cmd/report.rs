//! `traceledger report soc2`: fetches the signed SOC 2 evidence report of a
//! key's tenant from a running node and writes it with its signed note
//! (`FILE` and `FILE.sig`); `traceledger verify-report FILE --key VKEY`
//! checks both offline.

use anyhow::Context;
use base64::Engine;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The SOC 2 report: a section per Trust Service Criterion, anchored to a signed checkpoint.
    Soc2(Soc2Args),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Html,
    /// The signed HTML (written beside, as OUT with extension .html, and its .sig), printed to PDF by Chromium.
    Pdf,
}

#[derive(Debug, Args)]
pub struct Soc2Args {
    /// The node's address.
    #[arg(long, env = "TRACELEDGER_URL", default_value = "http://127.0.0.1:7070")]
    url: String,
    /// A file holding an API key (Owner, Admin or Auditor) of the tenant; the key picks the tenant.
    #[arg(long, env = "TRACELEDGER_API_KEY_FILE")]
    api_key_file: PathBuf,
    /// Period start, RFC 3339 (inclusive), e.g. 2026-10-01T00:00:00Z.
    #[arg(long)]
    from: String,
    /// Period end, RFC 3339 (exclusive).
    #[arg(long)]
    to: String,
    #[arg(long, value_enum, default_value = "html")]
    format: Format,
    /// Where to write the report; its signed note goes to OUT.sig.
    #[arg(long)]
    out: PathBuf,
    /// Chromium, for --format pdf.
    #[arg(long, env = "CHROMIUM", default_value = "chromium")]
    chromium: PathBuf,
}

pub fn run(c: ReportCommand) -> anyhow::Result<u8> {
    let ReportCommand::Soc2(a) = c;
    let key = std::fs::read_to_string(&a.api_key_file)
        .with_context(|| format!("API key file {}", a.api_key_file.display()))?;
    let format = match a.format {
        Format::Json => "json",
        Format::Html | Format::Pdf => "html",
    };
    // A PDF is a print of the signed HTML: the HTML and its note are what verify.
    let signed_out = match a.format {
        Format::Pdf => a.out.with_extension("html"),
        _ => a.out.clone(),
    };
    let url = format!("{}/v1/reports/soc2", a.url.trim_end_matches('/'));
    let agent = ureq::Agent::new_with_config(ureq::config::Config::builder().http_status_as_error(false).build());
    let mut resp = agent
        .get(&url)
        .query("from", &a.from)
        .query("to", &a.to)
        .query("format", format)
        .header("authorization", &format!("Bearer {}", key.trim()))
        .call()
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status().as_u16();
    let sig = resp.headers().get("x-traceledger-report-signature").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = resp.body_mut().with_config().limit(1 << 30).read_to_vec().context("reading the report")?;
    if status != 200 {
        anyhow::bail!("the node answered {status}: {}", String::from_utf8_lossy(&body));
    }
    let note = base64::engine::general_purpose::STANDARD
        .decode(sig.context("the node sent no X-Traceledger-Report-Signature")?)
        .context("the signature header is not base64")?;
    std::fs::write(&signed_out, &body).with_context(|| signed_out.display().to_string())?;
    let sig_path = sig_path(&signed_out);
    std::fs::write(&sig_path, &note).with_context(|| sig_path.display().to_string())?;
    eprintln!("wrote {} ({} bytes) and its signed note {}", signed_out.display(), body.len(), sig_path.display());
    if let Format::Pdf = a.format {
        print_pdf(&a.chromium, &signed_out, &a.out)?;
        eprintln!(
            "printed {} from it (the PDF is a rendering; the HTML and its note are the evidence)",
            a.out.display()
        );
    }
    eprintln!("check it: traceledger verify-report {} --key VERIFIER_KEY", signed_out.display());
    Ok(0)
}

/// Prints an HTML file to PDF with headless Chromium (no network, a fresh profile).
fn print_pdf(chromium: &std::path::Path, html: &std::path::Path, pdf: &std::path::Path) -> anyhow::Result<()> {
    let profile = tempfile::tempdir()?;
    let html = std::fs::canonicalize(html)?;
    let o = std::process::Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--no-pdf-header-footer"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .with_context(|| format!("running {} (set --chromium or CHROMIUM)", chromium.display()))?;
    let ok = std::fs::read(pdf).is_ok_and(|b| b.starts_with(b"%PDF"));
    anyhow::ensure!(ok, "Chromium did not print a PDF: {}", String::from_utf8_lossy(&o.stderr));
    Ok(())
}

fn sig_path(p: &std::path::Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

#[derive(Debug, Args)]
pub struct VerifyReportArgs {
    /// The report file (JSON or HTML, exactly as written).
    file: PathBuf,
    /// Its signed note (default: FILE.sig).
    #[arg(long)]
    sig: Option<PathBuf>,
    /// The ledger's verifier key (name+id+key); repeat for several.
    #[arg(long = "key", required = true)]
    keys: Vec<String>,
    /// A c2sp.org/tlog-policy file: the checkpoint the report is anchored
    /// to (its signed note, as the report carries it) must carry the
    /// policy's witness quorum.
    #[arg(long, value_name = "FILE")]
    witness_policy: Option<PathBuf>,
    /// An RFC 3161 TSA's certificate (PEM or DER) whose timestamp the
    /// anchor checkpoint must carry; repeat.
    #[arg(long = "tsa-cert", value_name = "FILE")]
    tsa_certs: Vec<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// The report's anchor checkpoint note, as the report carries it: it opens
/// under `ring` and is the checkpoint the signed note names.
fn anchor_note(
    bytes: &[u8],
    s: &traceledger_report::note::Signed,
    ring: &traceledger_core::signing::Keyring,
) -> Result<String, String> {
    let Some((origin, size, root)) = &s.anchor else {
        return Err("the report is anchored to no checkpoint, so nothing attests to it".into());
    };
    let note = traceledger_report::note::anchor_note(bytes, &s.format)
        .ok_or("the report does not carry its anchor checkpoint's note")?;
    let (cp, _) = traceledger_core::checkpoint::Checkpoint::open(note.as_bytes(), ring)
        .map_err(|e| format!("the anchor note: {e}"))?;
    if (&cp.origin, cp.size, cp.root.to_hex()) != (origin, *size, root.clone()) {
        return Err(format!(
            "the anchor note is checkpoint {} of size {}, the signed note names {origin} of size {size}",
            cp.origin, cp.size
        ));
    }
    Ok(note)
}

/// The witnesses (policy name, time) and timestamps (TSA, time) on the
/// report's anchor checkpoint that `policy` and `tsas` ask for.
type Attested = (Vec<(String, u64)>, Vec<(String, u64)>);

fn anchor_attested(
    bytes: &[u8],
    s: &traceledger_report::note::Signed,
    ring: &traceledger_core::signing::Keyring,
    policy: Option<&traceledger_core::tlog_policy::Policy>,
    tsas: &[traceledger_tsa::Certificate],
) -> Result<Attested, String> {
    if policy.is_none() && tsas.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let note = anchor_note(bytes, s, ring)?;
    let size = s.anchor.as_ref().map_or(0, |a| a.1);
    let witnessed = match policy {
        Some(p) => p.check(note.as_bytes()).map_err(|e| format!("the anchor checkpoint of size {size} {e}"))?.by,
        None => Vec::new(),
    };
    let stamped = tsas
        .iter()
        .map(|cert| {
            let t = traceledger_tsa::required_timestamp(note.as_bytes(), ring, cert)
                .map_err(|e| format!("the anchor: {e}"))?;
            Ok((traceledger_tsa::subject(cert), t))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((witnessed, stamped))
}

/// Exit 0 when the report is the one signed; 1 when it is not; 2 on unusable input.
pub fn verify(a: VerifyReportArgs) -> anyhow::Result<u8> {
    let ring = super::keyring_of(&a.keys)?;
    let policy = super::witness_policy(a.witness_policy.as_deref(), &[])?;
    let tsas = super::tsa_certs(&a.tsa_certs)?;
    let bytes = std::fs::read(&a.file).with_context(|| a.file.display().to_string())?;
    let sig = a.sig.clone().unwrap_or_else(|| sig_path(&a.file));
    let note = std::fs::read_to_string(&sig).with_context(|| sig.display().to_string())?;
    let verified =
        traceledger_report::note::verify(&bytes, &note, &ring).map_err(|e| e.to_string()).and_then(|(s, signers)| {
            let (witnessed, stamped) = anchor_attested(&bytes, &s, &ring, policy.as_ref(), &tsas)?;
            Ok((s, signers, witnessed, stamped))
        });
    match verified {
        Ok((s, signers, witnessed, stamped)) => {
            if a.json {
                let anchor = s.anchor.as_ref().map(|(o, n, r)| json!({"origin": o, "size": n, "root": r}));
                println!(
                    "{}",
                    json!({"valid": true, "kind": s.kind, "format": s.format, "tenant": s.tenant_id, "from": s.from,
                           "to": s.to, "sha256": s.sha256, "anchor": anchor, "signed_by": signers,
                           "witnessed_by": witnessed, "timestamped_by": stamped})
                );
            } else {
                println!("✔ VALID  {} report of tenant `{}`, {} to {}", s.kind, s.tenant_id, s.from, s.to);
                println!("  sha256     {}", s.sha256);
                match &s.anchor {
                    Some((o, n, r)) => println!("  anchored   checkpoint {o} of size {n}, root {r}"),
                    None => println!("  anchored   no checkpoint (the tenant had none)"),
                }
                println!("  signed by  {}", signers.join(", "));
                for (name, t) in &witnessed {
                    println!("  witnessed  by {name} at {}", super::utc(*t));
                }
                for (tsa, t) in &stamped {
                    println!("  timestamped  the anchor existed by {} ({tsa})", super::utc(*t));
                }
            }
            Ok(0)
        }
        Err(e) => {
            if a.json {
                println!("{}", json!({"valid": false, "error": e}));
            } else {
                println!("✘ INVALID: {}: {e}", a.file.display());
            }
            Ok(1)
        }
    }
}
