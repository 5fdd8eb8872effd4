//! RFC 3161 from outside: a TSA's response and a token read from a bundle
//! or report. Must never panic; a token that verifies is over the message.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn cert() -> &'static traceledger_tsa::Certificate {
    static C: OnceLock<traceledger_tsa::Certificate> = OnceLock::new();
    C.get_or_init(|| traceledger_tsa::certificate(include_bytes!("tsa_cert.pem")).expect("the TSA certificate"))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = traceledger_tsa::token_of(data) {
        let _ = traceledger_tsa::verify(&token, b"hi\n", cert());
    }
    let _ = traceledger_tsa::verify(data, b"hi\n", cert());
    let _ = traceledger_tsa::certificate(data);
});
