//! One module per subcommand.

pub mod export;
pub mod fleet;
pub mod keys;
pub mod seal;
pub mod up;
pub mod verify;

/// Current time as a ledger timestamp.
pub fn now() -> traceledger_core::event::Timestamp {
    traceledger_core::event::Timestamp(chrono::Utc::now().timestamp_micros())
}
