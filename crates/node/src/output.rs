//! How the node talks to its operator: log lines on stderr (text or JSON),
//! and notices that follow the same choice.

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

/// What the projection supervisor says when a thread stops on an error:
/// logged already, and in text mode also printed as an `error:` line for
/// the operator at the terminal.
pub fn projection_stopped() -> traceledger_projection::supervisor::OnStop {
    std::sync::Arc::new(|msg: &str| {
        if !logs_are_json() {
            eprintln!("error: {msg}");
        }
    })
}
