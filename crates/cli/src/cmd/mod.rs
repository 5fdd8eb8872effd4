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
