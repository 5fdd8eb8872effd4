//! One module per subcommand.

pub mod bench;
pub mod config;
pub mod dsar;
pub mod export;
pub mod fleet;
pub mod keys;
pub mod policy;
pub mod project;
pub mod proof;
pub mod report;
pub mod retention;
pub mod seal;
pub mod sequencer;
pub mod up;
pub mod vault;
pub mod verify;
pub mod witness;

pub use traceledger_node::now;
pub use traceledger_node::output::{init_tracing, notice, set_log_format, LogFormat};

/// The keyring of `--key` values (`name+id+key` each), naming the one that
/// does not parse.
pub fn keyring_of(keys: &[String]) -> anyhow::Result<traceledger_core::signing::Keyring> {
    let keys = keys
        .iter()
        .map(|k| traceledger_core::signing::VerifierKey::parse(k).map_err(|e| anyhow::anyhow!("--key {k}: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(traceledger_core::signing::Keyring::new(keys))
}

/// The TSA certificates of `--tsa-cert` files (PEM or DER).
pub fn tsa_certs(files: &[std::path::PathBuf]) -> anyhow::Result<Vec<traceledger_tsa::Certificate>> {
    use anyhow::Context;
    files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).with_context(|| format!("--tsa-cert {}", f.display()))?;
            traceledger_tsa::certificate(&bytes).with_context(|| format!("--tsa-cert {}", f.display()))
        })
        .collect()
}

/// Unix seconds as a UTC time for people.
pub fn utc(secs: u64) -> String {
    chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(i64::MAX), 0)
        .map_or_else(|| secs.to_string(), |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
}

/// The witness policy an auditor asks for: a c2sp.org/tlog-policy file
/// (`--witness-policy`), or `--witness VKEY`s of which every one must have
/// cosigned; `None` when neither is given.
pub fn witness_policy(
    file: Option<&std::path::Path>,
    witnesses: &[String],
) -> anyhow::Result<Option<traceledger_core::tlog_policy::Policy>> {
    use anyhow::Context;
    use traceledger_core::tlog_policy::Policy;
    match (file, witnesses) {
        (Some(_), [_, ..]) => anyhow::bail!("give --witness-policy or --witness, not both"),
        (Some(f), []) => {
            let text = std::fs::read_to_string(f).with_context(|| format!("--witness-policy {}", f.display()))?;
            Ok(Some(Policy::parse(&text).with_context(|| format!("--witness-policy {}", f.display()))?))
        }
        (None, []) => Ok(None),
        (None, ws) => {
            let mut text = String::new();
            for (i, w) in ws.iter().enumerate() {
                let name = w.split('+').next().unwrap_or_default();
                text.push_str(&format!("witness {name}#{i} {w}\n"));
            }
            let names: Vec<String> = ws
                .iter()
                .enumerate()
                .map(|(i, w)| format!("{}#{i}", w.split('+').next().unwrap_or_default()))
                .collect();
            text.push_str(&format!("group every all {}\nquorum every\n", names.join(" ")));
            Ok(Some(Policy::parse(&text).context("--witness")?))
        }
    }
}
