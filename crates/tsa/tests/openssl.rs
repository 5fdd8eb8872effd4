//! Against a real TSA: OpenSSL's `openssl ts -reply` (Debian's openssl),
//! with RSA and P-256 keys, answering the requests this crate builds; and
//! OpenSSL's own `openssl ts -verify` agreeing with what this crate accepts.

use proptest::prelude::*;
use traceledger_tsa::testkit::{openssl, OpensslTsa as Tsa};
use traceledger_tsa::{request, token_of, verify, TsaError};

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

#[test]
fn openssl_tokens_verify_with_rsa_and_p256_and_openssl_agrees() {
    let msg = b"traceledger.local/acme\n42\nSBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2d7I=\n";
    for kind in ["rsa", "ec"] {
        let tsa = Tsa::new(kind, "sha256");
        let resp = tsa.reply(&request(msg, 7).expect("request"));
        let token = token_of(&resp).expect("granted");
        let t = verify(&token, msg, &tsa.cert()).expect(kind);
        assert!(t.gen_time.abs_diff(now()) < 600, "{kind}: gen_time {} vs now {}", t.gen_time, now());
        assert_eq!(t.policy, "1.2.3.4.1");
        // OpenSSL's verifier accepts the same response for the same data.
        std::fs::write(tsa.path("msg"), msg).expect("msg");
        openssl(&["ts", "-verify", "-data", "msg", "-in", "resp.der", "-CAfile", "cert.pem"], tsa.dir());
        // Another message, another TSA's certificate: refused, saying which.
        let other = verify(&token, b"another checkpoint\n", &tsa.cert()).expect_err("another message");
        assert!(other.to_string().contains("another message"), "{other}");
        let stranger = Tsa::new(kind, "sha256");
        let err = verify(&token, msg, &stranger.cert()).expect_err("another TSA");
        assert!(err.to_string().contains("another certificate"), "{err}");
    }
}

#[test]
fn a_refusal_is_reported_with_its_status() {
    // A TSA that takes SHA-512 imprints only refuses ours.
    let tsa = Tsa::new("ec", "sha512");
    let resp = tsa.reply(&request(b"x", 1).expect("request"));
    match token_of(&resp) {
        Err(TsaError::Refused { status, text }) => {
            assert_eq!(status, 2, "rejection");
            assert!(!text.is_empty());
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(matches!(token_of(b"\x30\x03junk"), Err(TsaError::Der { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// No single-byte change of a token makes it say something else: it
    /// fails, or (a change in what CMS leaves unsigned: the digest algorithm
    /// list, the certificate copy) it says exactly what it said.
    #[test]
    fn a_changed_token_never_says_something_else(at in any::<prop::sample::Index>(), x in 1u8..=255) {
        use std::sync::OnceLock;
        static T: OnceLock<(Tsa, Vec<u8>)> = OnceLock::new();
        let (tsa, token) = T.get_or_init(|| {
            let tsa = Tsa::new("ec", "sha256");
            let token = token_of(&tsa.reply(&request(b"m", 3).expect("request"))).expect("token");
            (tsa, token)
        });
        let mut t = token.clone();
        let i = at.index(t.len());
        t[i] ^= x;
        if let Ok(v) = verify(&t, b"m", &tsa.cert()) {
            prop_assert_eq!(v, verify(token, b"m", &tsa.cert()).expect("original"));
        }

    }
}

#[test]
fn a_checkpoint_note_carries_its_timestamp_as_a_line_that_survives_cosignatures() {
    use traceledger_core::checkpoint::Checkpoint;
    use traceledger_core::cosignature::{add_lines, split_note, Cosigner};
    use traceledger_core::signing::{Keyring, SigningKey, VerifierKey};
    use traceledger_tsa::{note_line, note_timestamps};
    let log = SigningKey::generate("log.example", &mut rand::rngs::OsRng).expect("key");
    let ring = Keyring::new(vec![VerifierKey::parse(&log.verifier_key_string()).expect("vkey")]);
    let note = Checkpoint { origin: "log.example/acme".into(), size: 9, root: traceledger_core::hash::sha256(b"r") }
        .sign(&log)
        .expect("sign");
    let tsa = Tsa::new("ec", "sha256");
    let token = token_of(&tsa.reply(&request(note.as_bytes(), 11).expect("request"))).expect("token");
    let line = note_line("tsa.test", &tsa.cert(), &token).expect("line");
    // A witness cosigns first; the timestamp line comes after; order does
    // not matter to either.
    let w = Cosigner::new("w.example", &SigningKey::generate("w", &mut rand::rngs::OsRng).expect("k")).expect("c");
    let (body, _) = split_note(note.as_bytes()).expect("split");
    let stamped = add_lines(note.as_bytes(), &[line.clone(), w.cosign(body, 5).expect("cosign")]).expect("add");
    let found = note_timestamps(stamped.as_bytes(), &ring, &tsa.cert()).expect("verifies");
    assert_eq!(found.len(), 1);
    // The log key still opens the note; another TSA finds nothing of its own.
    Checkpoint::open(stamped.as_bytes(), &ring).expect("open");
    assert!(note_timestamps(stamped.as_bytes(), &ring, &Tsa::new("ec", "sha256").cert()).expect("none").is_empty());
    // The line moved onto another checkpoint does not verify.
    let other = Checkpoint { origin: "log.example/acme".into(), size: 10, root: traceledger_core::hash::sha256(b"s") }
        .sign(&log)
        .expect("sign");
    let moved = add_lines(other.as_bytes(), &[line]).expect("add");
    let err = note_timestamps(moved.as_bytes(), &ring, &tsa.cert()).expect_err("moved");
    assert!(err.to_string().contains("another message"), "{err}");
}
