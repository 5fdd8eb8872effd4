//! Signed notes and checkpoints from outside: must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use traceledger_core::checkpoint::{open_note, Checkpoint};
#[path = "vector_ring.rs"]
mod vector_ring;
use vector_ring::ring;

fuzz_target!(|data: &[u8]| {
    let _ = open_note(data, ring());
    let _ = Checkpoint::open(data, ring());
});
