//! One module per subcommand.

pub mod bench;
pub mod bench_read;
pub mod config;
pub mod dsar;
pub mod export;
pub mod fleet;
pub mod keys;
pub mod metrics;
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

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (timestamp, level, target, fields, spans).
    Json,
}

static LOG_FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

/// Sets the format [`init_tracing`] uses (once, from the command line).
pub fn set_log_format(f: LogFormat) {
    let _ = LOG_FORMAT.set(f);
}

/// Are log lines JSON (`--log-format json`)?
pub fn logs_are_json() -> bool {
    LOG_FORMAT.get() == Some(&LogFormat::Json)
}

/// A message for the operator on stderr: a line of text, or a log line
/// when logs are JSON (so stderr stays one JSON object per line).
pub fn notice(msg: &str) {
    if logs_are_json() {
        tracing::info!("{msg}");
    } else {
        eprintln!("{msg}");
    }
}

/// Logs to stderr, as text or JSON (`--log-format`); `RUST_LOG` filters
/// (default: warnings).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match LOG_FORMAT.get().copied().unwrap_or(LogFormat::Text) {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
    };
}
