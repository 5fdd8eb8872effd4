//! The witness protocol's `add-checkpoint` call (c2sp.org/tlog-witness):
//! the request body, and the rules a witness applies before it cosigns.
//!
//! ```text
//! old <size of the previous checkpoint the client believes the witness has>
//! <base64 hash>              (0–63 lines: RFC 6962 consistency proof old → new)
//!
//! <the new checkpoint, a signed note>
//! ```
//!
//! Hand-written for the same reason as [`crate::cosignature`]: no crate we
//! can reach implements it. [`judge`] is the whole decision, pure: the
//! witness service persists what it returns and signs.

use crate::checkpoint::Checkpoint;
use crate::hash::Hash;
use crate::merkle;
use crate::signing::Keyring;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

/// The spec's bound on consistency proof lines.
pub const MAX_PROOF_LINES: usize = 63;

/// The largest request body a witness reads (a checkpoint with 100
/// signature lines and a full proof fit well inside it).
pub const MAX_BODY: usize = 64 * 1024;

/// An `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the latest checkpoint the client believes the witness
    /// cosigned for this origin (0: none).
    pub old: u64,
    /// RFC 6962 consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The checkpoint, a signed note, verbatim.
    pub checkpoint: Vec<u8>,
}

fn decimal(s: &str) -> Option<u64> {
    // One spelling per number: no sign, no leading zeroes.
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl AddCheckpoint {
    /// Parses a request body strictly; the error names the line at fault.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        if body.len() > MAX_BODY {
            return Err(format!("body of {} bytes exceeds {MAX_BODY}", body.len()));
        }
        let mut rest = body;
        let mut line_no = 0usize;
        let mut next_line = |rest: &mut &[u8]| -> Result<String, String> {
            line_no += 1;
            let at = rest.iter().position(|&b| b == b'\n').ok_or(format!("line {line_no}: no newline"))?;
            let line = std::str::from_utf8(&rest[..at]).map_err(|_| format!("line {line_no}: not UTF-8"))?.to_string();
            *rest = &rest[at + 1..];
            Ok(line)
        };
        let first = next_line(&mut rest)?;
        let old = first
            .strip_prefix("old ")
            .and_then(decimal)
            .ok_or("line 1: expected `old <size>` in decimal with no leading zeroes")?;
        let mut proof = Vec::new();
        loop {
            let line = next_line(&mut rest)?;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(format!("more than {MAX_PROOF_LINES} consistency proof lines"));
            }
            let raw = B64.decode(&line).map_err(|_| format!("line {}: not base64", proof.len() + 2))?;
            let h: [u8; 32] = raw.try_into().map_err(|_| format!("line {}: not a 32-byte hash", proof.len() + 2))?;
            if B64.encode(h) != line {
                return Err(format!("line {}: not the canonical base64 of the hash", proof.len() + 2));
            }
            proof.push(Hash(h));
        }
        if rest.is_empty() {
            return Err("no checkpoint after the blank line".into());
        }
        Ok(AddCheckpoint { old, proof, checkpoint: rest.to_vec() })
    }

    /// The request body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old).into_bytes();
        for h in &self.proof {
            out.extend_from_slice(B64.encode(h.0).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.checkpoint);
        out
    }
}

/// Why a witness does not cosign, with the HTTP status the spec assigns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400: a malformed request, or an old size above the new one.
    BadRequest(String),
    /// 403: no trusted signature, or a trusted key's signature fails.
    Forbidden(String),
    /// 404: no key is trusted for this origin.
    UnknownOrigin(String),
    /// 409: the old size is not the witness's latest; it carries that size.
    Conflict(u64),
    /// 422: the proof does not verify, or a same-size checkpoint with
    /// another root (a fork).
    Unprocessable(String),
}

impl Refusal {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::Forbidden(_) => 403,
            Refusal::UnknownOrigin(_) => 404,
            Refusal::Conflict(_) => 409,
            Refusal::Unprocessable(_) => 422,
        }
    }

    /// A one-line reason for the response body and the witness's log.
    pub fn reason(&self) -> String {
        match self {
            Refusal::BadRequest(w) | Refusal::Forbidden(w) | Refusal::UnknownOrigin(w) | Refusal::Unprocessable(w) => {
                w.clone()
            }
            Refusal::Conflict(size) => format!("the latest checkpoint cosigned for this origin has size {size}"),
        }
    }
}

/// The latest checkpoint a witness cosigned for an origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latest {
    /// Its size.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
}

/// A checkpoint the witness may cosign: the state to persist, atomically
/// with the check, before answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The checkpoint's origin.
    pub origin: String,
    /// The new latest state for the origin.
    pub latest: Latest,
    /// The checkpoint body to cosign (ends in a newline).
    pub body: Vec<u8>,
}

/// The origin line of a note, before any signature is checked.
pub fn origin_of(note: &[u8]) -> Option<&str> {
    let end = note.iter().position(|&b| b == b'\n')?;
    std::str::from_utf8(&note[..end]).ok().filter(|o| !o.is_empty())
}

/// Applies c2sp.org/tlog-witness's rules to `req`, given the keys trusted
/// for an origin and the witness's latest state for it.
pub fn judge(
    req: &AddCheckpoint,
    keys_for: impl Fn(&str) -> Option<Keyring>,
    latest: Option<Latest>,
) -> Result<Accepted, Refusal> {
    let origin =
        origin_of(&req.checkpoint).ok_or_else(|| Refusal::BadRequest("the checkpoint has no origin line".into()))?;
    let keys =
        keys_for(origin).ok_or_else(|| Refusal::UnknownOrigin(format!("no log key is trusted for `{origin}`")))?;
    let (cp, _) = Checkpoint::open(&req.checkpoint, &keys).map_err(|e| Refusal::Forbidden(e.to_string()))?;
    if req.old > cp.size {
        return Err(Refusal::BadRequest(format!("old size {} is above the checkpoint's size {}", req.old, cp.size)));
    }
    let known = latest.unwrap_or(Latest { size: 0, root: merkle::empty_root() });
    if req.old != known.size {
        return Err(Refusal::Conflict(known.size));
    }
    if cp.size == 0 && cp.root != merkle::empty_root() {
        return Err(Refusal::Unprocessable("a checkpoint of size 0 must have the empty tree's root".into()));
    }
    if req.old == 0 {
        if !req.proof.is_empty() {
            return Err(Refusal::Unprocessable("a proof from size 0 must be empty".into()));
        }
    } else if req.old == cp.size {
        if cp.root != known.root {
            return Err(Refusal::Unprocessable(format!(
                "fork: size {} was cosigned with root {}, this checkpoint has root {}",
                cp.size,
                known.root.to_hex(),
                cp.root.to_hex()
            )));
        }
        if !req.proof.is_empty() {
            return Err(Refusal::Unprocessable("a proof between equal sizes must be empty".into()));
        }
    } else if let Err(e) = merkle::verify_consistency(&req.proof, req.old, cp.size, known.root, cp.root) {
        return Err(Refusal::Unprocessable(format!(
            "the consistency proof from size {} to {} does not verify ({e}): the log forked or rewrote history",
            req.old, cp.size
        )));
    }
    let body = crate::cosignature::split_note(&req.checkpoint).map_err(|e| Refusal::BadRequest(e.to_string()))?.0;
    Ok(Accepted { origin: cp.origin, latest: Latest { size: cp.size, root: cp.root }, body: body.to_vec() })
}

/// Parses a 409 response body (`<size>\n`).
pub fn parse_conflict(body: &[u8]) -> Option<u64> {
    std::str::from_utf8(body).ok()?.strip_suffix('\n').and_then(decimal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::MemoryTree;
    use crate::signing::{SigningKey, VerifierKey};
    use proptest::prelude::*;

    struct Log {
        key: SigningKey,
        tree: MemoryTree,
    }

    impl Log {
        fn new() -> Self {
            Log {
                key: SigningKey::generate("log.example", &mut rand::rngs::OsRng).expect("k"),
                tree: MemoryTree::new(),
            }
        }
        fn grow(&mut self, n: u64) {
            for i in 0..n {
                let s = self.tree.size();
                self.tree.push(crate::hash::sha256(&(s + i).to_be_bytes()));
            }
        }
        fn note(&self, size: u64) -> Vec<u8> {
            let root = self.tree.root_at(size).expect("root");
            Checkpoint { origin: "log.example/v1/acme".into(), size, root }.sign(&self.key).expect("sign").into_bytes()
        }
        fn req(&self, old: u64, size: u64) -> AddCheckpoint {
            let proof =
                if old == 0 || old == size { vec![] } else { self.tree.consistency_proof(old, size).expect("proof") };
            AddCheckpoint { old, proof, checkpoint: self.note(size) }
        }
        fn keys(&self) -> impl Fn(&str) -> Option<Keyring> + '_ {
            |o: &str| {
                (o == "log.example/v1/acme")
                    .then(|| Keyring::new(vec![VerifierKey::parse(&self.key.verifier_key_string()).expect("v")]))
            }
        }
    }

    #[test]
    fn the_spec_example_request_parses_and_encodes_back() {
        let body = "old 20852014\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\njrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
        let r = AddCheckpoint::parse(body.as_bytes()).expect("parse");
        assert_eq!((r.old, r.proof.len()), (20852014, 2));
        assert_eq!(origin_of(&r.checkpoint), Some("example.com/behind-the-sofa"));
        assert_eq!(r.encode(), body.as_bytes());
    }

    #[test]
    fn malformed_requests_name_the_line() {
        for (body, want) in [
            ("old 01\n\nx\n", "line 1"),
            ("old -1\n\nx\n", "line 1"),
            ("new 1\n\nx\n", "line 1"),
            ("old 1\nnot base64!\n\nx\n", "line 2"),
            ("old 1\nAAAA\n\nx\n", "line 2"),
            ("old 1\n\n", "no checkpoint"),
            ("old 1\n", "no newline"),
        ] {
            let err = AddCheckpoint::parse(body.as_bytes()).expect_err(body);
            assert!(err.contains(want), "{body:?}: {err}");
        }
        let many = format!("old 1\n{}\nx\n", format!("{}\n", B64.encode([0u8; 32])).repeat(64));
        assert!(AddCheckpoint::parse(many.as_bytes()).expect_err("64").contains("63"));
    }

    #[test]
    fn the_witness_rules_in_the_order_the_spec_gives_them() {
        let mut log = Log::new();
        log.grow(10);
        // First sight, from 0.
        let a = judge(&log.req(0, 10), log.keys(), None).expect("first");
        assert_eq!(a.latest.size, 10);
        // A client that guessed wrong learns the size.
        assert_eq!(judge(&log.req(0, 10), log.keys(), Some(a.latest)), Err(Refusal::Conflict(10)));
        // Growth with a proof.
        log.grow(7);
        let b = judge(&log.req(10, 17), log.keys(), Some(a.latest)).expect("grow");
        assert_eq!(b.latest.size, 17);
        // The same size again is fine; a rollback is a 400.
        judge(&log.req(17, 17), log.keys(), Some(b.latest)).expect("same");
        let rollback = AddCheckpoint { old: 17, proof: vec![], checkpoint: log.note(10) };
        let err = judge(&rollback, log.keys(), Some(b.latest)).expect_err("rollback");
        assert_eq!(err.status(), 400);
        // A fork: another tree of the same origin and key.
        let mut fork = Log { key: log.key.clone(), tree: MemoryTree::new() };
        fork.grow(5);
        fork.tree.push(crate::hash::sha256(b"other"));
        fork.grow(11);
        let err = judge(&fork.req(10, 17), fork.keys(), Some(a.latest)).expect_err("fork");
        assert_eq!(err.status(), 422, "{err:?}");
        let err = judge(&fork.req(17, 17), fork.keys(), Some(b.latest)).expect_err("same-size fork");
        assert!(err.reason().contains("fork"), "{err:?}");
        // Unknown origin, unsigned, wrong key.
        assert_eq!(judge(&log.req(0, 10), |_: &str| None, None).expect_err("404").status(), 404);
        let stranger = Log::new();
        let signed_by_stranger = AddCheckpoint { old: 0, proof: vec![], checkpoint: stranger.note(0) };
        assert_eq!(judge(&signed_by_stranger, log.keys(), None).expect_err("403").status(), 403);
        // A proof from 0 must be empty.
        let mut r = log.req(0, 17);
        r.proof.push(Hash([0; 32]));
        assert_eq!(judge(&r, log.keys(), None).expect_err("422").status(), 422);
    }

    proptest! {
        #[test]
        fn requests_round_trip(old in 0u64..u64::MAX, n in 0usize..=63, note in "[a-z]{1,10}\n[0-9]{1,5}\n\n\u{2014} k [A-Za-z0-9+/]{4}\n") {
            let proof: Vec<Hash> = (0..n).map(|i| crate::hash::sha256(&i.to_be_bytes())).collect();
            let r = AddCheckpoint { old, proof, checkpoint: note.into_bytes() };
            prop_assert_eq!(AddCheckpoint::parse(&r.encode()), Ok(r));
        }

        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = AddCheckpoint::parse(&bytes);
            let _ = parse_conflict(&bytes);
        }

        #[test]
        fn any_growth_of_an_honest_log_is_cosigned(first in 1u64..40, more in 0u64..40) {
            let mut log = Log::new();
            log.grow(first);
            let a = judge(&log.req(0, first), log.keys(), None).expect("first");
            log.grow(more);
            let b = judge(&log.req(first, first + more), log.keys(), Some(a.latest)).expect("growth");
            prop_assert_eq!(b.latest.size, first + more);
        }
    }
}
