//! Portable proofs of one record: the c2sp.org/tlog-proof text format.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 of opaque data>        (optional)
//! index <decimal, no leading zeroes>
//! <base64 SHA-256>                     (the RFC 6962 audit path, one per line)
//!
//! <the checkpoint, a signed note, verbatim>
//! ```
//!
//! Hand-written: no crate in the registries implements this format (the
//! `tlog_tiles` crate this project uses has tiles and checkpoints, not
//! proofs). Parsing is strict — one spelling per proof, as the spec's
//! "no leading zeroes" asks — so that a proof's bytes are the proof: a
//! parse of [`TlogProof::encode`]'s output gives the same value, and any
//! other input is refused with the line at fault.

use crate::hash::Hash;
use base64::Engine;

/// The first line of every proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Audit paths longer than this are refused (a tree of 2^64 leaves needs 64).
const MAX_HASHES: usize = 64;

/// One entry's proof of inclusion in a checkpointed tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque data (not authenticated by the proof itself; here, the
    /// sealed record, whose leaf hash the verifier derives from it).
    pub extra: Option<Vec<u8>>,
    /// Zero-based index of the entry.
    pub index: u64,
    /// The RFC 6962 audit path, leaf's sibling first.
    pub hashes: Vec<Hash>,
    /// The checkpoint: a signed note, verbatim (ends with a newline).
    pub checkpoint: Vec<u8>,
}

/// Why bytes are not a proof: the 1-based line and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl TlogProof {
    /// The proof's text.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!("{HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", b64().encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.hashes {
            out.push_str(&b64().encode(h.0));
            out.push('\n');
        }
        out.push('\n');
        let mut out = out.into_bytes();
        out.extend_from_slice(&self.checkpoint);
        out
    }

    /// Parses a proof; the checkpoint is kept as bytes (open it with the
    /// log's keys to trust anything in it).
    pub fn parse(bytes: &[u8]) -> Result<TlogProof, ParseError> {
        let err = |line: usize, reason: String| ParseError { line, reason };
        // The part before the checkpoint is ASCII lines; find the blank
        // line that ends it.
        let split = bytes
            .windows(2)
            .position(|w| w == b"\n\n")
            .ok_or_else(|| err(1, "no blank line before the checkpoint".into()))?;
        let head = std::str::from_utf8(&bytes[..split])
            .map_err(|e| err(1, format!("not UTF-8 before the checkpoint: {e}")))?;
        let checkpoint = bytes[split + 2..].to_vec();
        let mut lines = head.split('\n').enumerate().map(|(i, l)| (i + 1, l));
        match lines.next() {
            Some((_, HEADER)) => {}
            Some((n, other)) => return Err(err(n, format!("expected `{HEADER}`, found `{}`", clip(other)))),
            None => return Err(err(1, "empty".into())),
        }
        let (mut n, mut line) = lines.next().ok_or_else(|| err(2, "no `index` line".into()))?;
        let mut extra = None;
        if let Some(v) = line.strip_prefix("extra ") {
            extra = Some(b64().decode(v).map_err(|e| err(n, format!("`extra` is not base64: {e}")))?);
            (n, line) = lines.next().ok_or_else(|| err(n + 1, "no `index` line".into()))?;
        }
        let digits =
            line.strip_prefix("index ").ok_or_else(|| err(n, format!("expected `index N`, found `{}`", clip(line))))?;
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        let index = digits
            .parse::<u64>()
            .ok()
            .filter(|_| canonical)
            .ok_or_else(|| err(n, format!("`{}` is not a decimal index without leading zeroes", clip(digits))))?;
        let mut hashes = Vec::new();
        for (n, line) in lines {
            let raw = b64().decode(line).map_err(|e| err(n, format!("a proof hash is not base64: {e}")))?;
            let h: [u8; 32] =
                raw.try_into().map_err(|r: Vec<u8>| err(n, format!("a proof hash of {} bytes", r.len())))?;
            if hashes.len() == MAX_HASHES {
                return Err(err(n, format!("more than {MAX_HASHES} proof hashes")));
            }
            hashes.push(Hash(h));
        }
        if checkpoint.is_empty() {
            return Err(err(head.split('\n').count() + 2, "no checkpoint after the blank line".into()));
        }
        Ok(TlogProof { extra, index, hashes, checkpoint })
    }
}

/// A line as shown in an error: at most 40 characters.
fn clip(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOTE: &[u8] =
        b"example.com/log\n2\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 example.com/log AAAA\n";

    fn sample() -> TlogProof {
        TlogProof { extra: Some(b"record".to_vec()), index: 1, hashes: vec![Hash([7; 32])], checkpoint: NOTE.to_vec() }
    }

    #[test]
    fn the_specs_layout() {
        let text = String::from_utf8(sample().encode()).expect("utf-8");
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra cmVjb3Jk\nindex 1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\nexample.com/log\n"), "{text}");
        let none = TlogProof { extra: None, hashes: Vec::new(), index: 0, ..sample() };
        assert!(String::from_utf8(none.encode()).expect("utf-8").starts_with("c2sp.org/tlog-proof@v1\nindex 0\n\n"));
        assert_eq!(TlogProof::parse(&none.encode()), Ok(none));
    }

    #[test]
    fn every_other_spelling_is_refused_with_its_line() {
        let good = String::from_utf8(sample().encode()).expect("utf-8");
        for (bad, line, why) in [
            (good.replace("@v1", "@v2"), 1, "expected `c2sp.org/tlog-proof@v1`"),
            (good.replace("index 1", "index 01"), 3, "without leading zeroes"),
            (good.replace("index 1", "index +1"), 3, "without leading zeroes"),
            (good.replace("index 1", "index "), 3, "without leading zeroes"),
            (good.replace("index 1", "idx 1"), 3, "expected `index N`"),
            (good.replace("extra cmVjb3Jk", "extra !!"), 2, "not base64"),
            (good.replace("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=", "BwcH"), 4, "of 3 bytes"),
            (good.split("\n\n").next().expect("head").to_string(), 1, "no blank line"),
            (format!("{}\n\n", good.split("\n\n").next().expect("head")), 6, "no checkpoint"),
        ] {
            let e = TlogProof::parse(bad.as_bytes()).expect_err(&bad);
            assert_eq!(e.line, line, "{bad:?}: {e}");
            assert!(e.reason.contains(why), "{bad:?}: {e}");
        }
    }

    proptest! {
        #[test]
        fn a_proof_parses_back_to_itself(
            extra in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
            index in any::<u64>(),
            hashes in proptest::collection::vec(any::<[u8; 32]>(), 0..64),
            note in "[a-z./]{1,20}\n[0-9]{1,5}\n[A-Za-z0-9+/]{43}=\n\n— [a-z.]{1,9} [A-Za-z0-9+/]{8}\n",
        ) {
            let p = TlogProof { extra, index, hashes: hashes.into_iter().map(Hash).collect(), checkpoint: note.into_bytes() };
            prop_assert_eq!(TlogProof::parse(&p.encode()), Ok(p));
        }

        #[test]
        fn any_bytes_parse_or_are_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(p) = TlogProof::parse(&bytes) {
                prop_assert_eq!(p.encode(), bytes);
            }
        }
    }
}
