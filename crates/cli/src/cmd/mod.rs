//! One module per subcommand.

pub mod bench;
pub mod bench_read;
pub mod dsar;
pub mod export;
pub mod fleet;
pub mod keys;
pub mod node;
pub mod policy;
pub mod project;
pub mod registry;
pub mod report;
pub mod retention;
pub mod seal;
pub mod sequencer;
pub mod up;
pub mod vault;
pub mod verify;

/// Current time as a ledger timestamp.
pub fn now() -> traceledger_core::event::Timestamp {
    traceledger_core::event::Timestamp(chrono::Utc::now().timestamp_micros())
}

/// Logs to stderr; `RUST_LOG` filters (default: warnings).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
