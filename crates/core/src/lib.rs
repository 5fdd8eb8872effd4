//! The pure core of traceledger: everything that decides what a ledger
//! record *is* and whether it is valid, with no I/O, no clock and no async.
//!
//! Data enters as a [`TraceEvent`] (parsed from JSON or built by a producer)
//! and leaves as a [`SealedRecord`]: the event with its content fields
//! replaced in the hashed form by salted commitments, placed in a per-tenant
//! hash chain, signed with Ed25519 and covered by RFC 6962 Merkle trees whose
//! heads are published as C2SP signed-note checkpoints.
//!
//! The same code seals (the sequencer, `traceledger seal`) and verifies (the
//! offline verifier), so an auditor runs exactly the rules the writer ran.
//! Byte layouts are specified in `docs/ledger-format.md`.

pub mod accept;
pub mod canonical;
pub mod checkpoint;
pub mod cosignature;
pub mod erasure;
pub mod event;
pub mod hash;
pub mod header;
pub mod merkle;
pub mod seal;
pub mod signing;
pub mod system;
pub mod tile_rows;
pub mod tlog_policy;
pub mod tlog_proof;
pub mod tlog_witness;
pub mod verify;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

mod error;

pub use error::{Error, Result};
pub use event::TraceEvent;
pub use hash::Hash;
pub use seal::SealedRecord;
