//! The c2sp.org/tlog-witness protocol over HTTP, both ends.
//!
//! - [`service`]: a witness anyone can run (`traceledger witness`). It keeps
//!   the latest cosigned size and root per log origin in its data directory,
//!   cosigns a checkpoint only with a consistency proof from that state,
//!   refuses rollbacks and forks, and appends what it cosigned and what it
//!   refused (evidence of a misbehaving log) to files there.
//! - [`client`]: how a log submits each new checkpoint to the witnesses of
//!   its policy and gathers their cosignatures, learning a witness's size
//!   from 409 answers and retrying transient failures.
//!
//! The rules themselves are pure and live in `traceledger_core::tlog_witness`
//! and `traceledger_core::cosignature`.

pub mod client;
pub mod service;

/// The path of the `add-checkpoint` call under a submission prefix.
pub const ADD_CHECKPOINT: &str = "/add-checkpoint";

/// The content type of a 409 answer's body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";
