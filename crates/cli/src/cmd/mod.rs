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
