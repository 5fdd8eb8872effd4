//! `traceledger witness`: a c2sp.org/tlog-witness anyone can run, so that
//! an auditor need not take the operator's word that everyone was shown
//! the same tree. Two operators can run one each and witness each other.

use anyhow::Context;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use traceledger_bundle::{read_signing_key, write_signing_key};
use traceledger_core::cosignature::Cosigner;
use traceledger_core::signing::{SigningKey, VerifierKey};
use traceledger_node::http::{bind, serve, shutdown_signal};
use traceledger_witness::service::{router, Witness};

#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// The witness's signing key file; created (0600) when missing.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The witness's name (a schema-less URL, e.g. witness.example.com/w1):
    /// needed to create the key; the key's own name otherwise.
    #[arg(long)]
    name: Option<String>,
    /// Where the witness keeps the latest size per log and its logs of what
    /// it cosigned and refused.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// A log's verifier key (the node's `keys/ledger.pub`): checkpoints
    /// signed by it are witnessed for the origins under its name; repeat.
    #[arg(long = "log", value_name = "VKEY", required = true)]
    logs: Vec<String>,
    /// Address to serve `POST /add-checkpoint` on (port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:7380")]
    listen: SocketAddr,
}

pub fn run(a: WitnessArgs) -> anyhow::Result<u8> {
    let key = if a.key.exists() {
        read_signing_key(&a.key).with_context(|| a.key.display().to_string())?
    } else {
        let name = a.name.as_deref().context("--name is needed to create a witness key")?;
        if let Some(dir) = a.key.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
        }
        let k = SigningKey::generate(name, &mut rand::rngs::OsRng)?;
        write_signing_key(&a.key, &k).with_context(|| a.key.display().to_string())?;
        eprintln!("created witness key {} (0600)", a.key.display());
        k
    };
    let name = a.name.clone().unwrap_or_else(|| key.name().to_string());
    let cosigner = Cosigner::new(&name, &key)?;
    let logs = a
        .logs
        .iter()
        .map(|k| VerifierKey::parse(k).with_context(|| format!("--log {k}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let witness = Witness::open(&a.data, cosigner, logs)?;
    let vkey = witness.verifier_key();
    std::fs::write(a.data.join("witness.vkey"), format!("{vkey}\n"))
        .with_context(|| a.data.join("witness.vkey").display().to_string())?;
    println!("witness {name}");
    println!("  verifier key  {vkey}");
    println!("  policy line   witness <short-name> {vkey} http://{}", a.listen);
    let (listener, _) = bind(a.listen, None, "POST /add-checkpoint")?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(serve(router(Arc::new(witness)), listener, None, shutdown_signal()))?;
    Ok(0)
}
