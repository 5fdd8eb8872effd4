//! Signed notes and checkpoints from outside: must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use traceledger_core::checkpoint::{open_note, Checkpoint};
use traceledger_core::signing::{Keyring, VerifierKey};

fn ring() -> &'static Keyring {
    static R: OnceLock<Keyring> = OnceLock::new();
    R.get_or_init(|| {
        let k = VerifierKey::parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").expect("vector key");
        Keyring::new(vec![k])
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = open_note(data, ring());
    let _ = Checkpoint::open(data, ring());
});
