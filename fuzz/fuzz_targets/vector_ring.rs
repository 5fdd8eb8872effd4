//! The verifier key of the C2SP signed-note vectors, for targets that open notes.
use std::sync::OnceLock;
use traceledger_core::signing::{Keyring, VerifierKey};

pub fn ring() -> &'static Keyring {
    static R: OnceLock<Keyring> = OnceLock::new();
    R.get_or_init(|| {
        let k = VerifierKey::parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").expect("vector key");
        Keyring::new(vec![k])
    })
}
