//! The report's signature: a C2SP signed note, by the ledger's key, whose
//! text names the report and the SHA-256 of the exact bytes served, and the
//! checkpoint the report rests on:
//!
//! ```text
//! traceledger report v1
//! soc2 html acme
//! 2026-11-01T00:00:00Z 2026-12-01T00:00:00Z
//! sha256 6f1c…
//! anchor traceledger.local/acme 1102 9b1e…
//! ```
//!
//! It travels beside the file (`report.html.sig`, or the
//! `X-Traceledger-Report-Signature` header, base64). `verify` needs only the
//! file, the note and the ledger's verifier key.

use sha2::{Digest, Sha256};
use traceledger_core::checkpoint::{open_note, sign_note};
use traceledger_core::signing::{Keyring, SigningKey};

/// First line of every report note.
pub const HEADER: &str = "traceledger report v1";

/// What a report note says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// Report kind (`soc2`).
    pub kind: String,
    /// `json` or `html`.
    pub format: String,
    /// Tenant.
    pub tenant_id: String,
    /// Period start and end (RFC 3339).
    pub from: String,
    /// Period end.
    pub to: String,
    /// SHA-256 of the report's bytes, hex.
    pub sha256: String,
    /// Anchor checkpoint: origin, size, root (hex); `None` before the first checkpoint.
    pub anchor: Option<(String, u64, String)>,
}

/// Why a report does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    /// The note's signature does not verify under any trusted key.
    #[error("signature: {0}")]
    Signature(String),
    /// The note's text is not a report note.
    #[error("the note is not a traceledger report note: {0}")]
    Text(String),
    /// The bytes are not the ones signed.
    #[error("the report's SHA-256 is {actual}, the note signs {signed}: the report was altered")]
    Digest {
        /// What the note signs.
        signed: String,
        /// What the file hashes to.
        actual: String,
    },
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Signed {
    /// The note text for `bytes`.
    pub fn text(&self) -> String {
        let anchor = match &self.anchor {
            Some((origin, size, root)) => format!("anchor {origin} {size} {root}"),
            None => "anchor none".into(),
        };
        format!(
            "{HEADER}\n{} {} {}\n{} {}\nsha256 {}\n{anchor}\n",
            self.kind, self.format, self.tenant_id, self.from, self.to, self.sha256
        )
    }

    /// Parses a note's text (after its signature is verified).
    pub fn parse(text: &str) -> Result<Signed, NoteError> {
        let bad = |why: &str| NoteError::Text(why.to_string());
        let lines: Vec<&str> = text.strip_suffix('\n').ok_or_else(|| bad("no final newline"))?.split('\n').collect();
        let [head, what, period, digest, anchor] = lines.as_slice() else {
            return Err(bad("a report note has five lines"));
        };
        if *head != HEADER {
            return Err(bad("first line"));
        }
        let words = |l: &str, n: usize| -> Result<Vec<String>, NoteError> {
            let w: Vec<String> = l.split(' ').map(str::to_string).collect();
            if w.len() == n && w.iter().all(|x| !x.is_empty()) {
                Ok(w)
            } else {
                Err(bad(&format!("`{l}` must have {n} words")))
            }
        };
        let what = words(what, 3)?;
        let period = words(period, 2)?;
        let digest = words(digest, 2)?;
        if digest[0] != "sha256" || digest[1].len() != 64 || !digest[1].bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the digest line is `sha256 <64 hex digits>`"));
        }
        let anchor = if *anchor == "anchor none" {
            None
        } else {
            let a = words(anchor, 4)?;
            let size = a[2].parse().map_err(|_| bad("anchor size"))?;
            if a[0] != "anchor" {
                return Err(bad("the last line is `anchor ORIGIN SIZE ROOT`"));
            }
            Some((a[1].clone(), size, a[3].clone()))
        };
        let [kind, format, tenant_id] = <[String; 3]>::try_from(what).map_err(|_| bad("kind line"))?;
        let [from, to] = <[String; 2]>::try_from(period).map_err(|_| bad("period line"))?;
        Ok(Signed { kind, format, tenant_id, from, to, sha256: digest[1].clone(), anchor })
    }
}

/// Signs `bytes` (the report exactly as served) as `what`, with the digest filled in.
pub fn sign(bytes: &[u8], what: &Signed, key: &SigningKey) -> Result<String, NoteError> {
    let signed = Signed { sha256: hex_sha256(bytes), ..what.clone() };
    sign_note(&signed.text(), key).map_err(|e| NoteError::Signature(e.to_string()))
}

/// Verifies a report: the note's signature under `keys`, its text, and
/// that `bytes` are the bytes it signs. Returns what it says and who signed.
pub fn verify(bytes: &[u8], note: &str, keys: &Keyring) -> Result<(Signed, Vec<String>), NoteError> {
    let (text, signers) = open_note(note.as_bytes(), keys).map_err(|e| NoteError::Signature(e.to_string()))?;
    let text = String::from_utf8(text).map_err(|_| NoteError::Text("not UTF-8".into()))?;
    let signed = Signed::parse(&text)?;
    let actual = hex_sha256(bytes);
    if actual != signed.sha256 {
        return Err(NoteError::Digest { signed: signed.sha256, actual });
    }
    Ok((signed, signers))
}

/// The anchor checkpoint's signed note as the report itself carries it
/// (`anchor.note` in JSON, the `<pre>` of the anchor section in HTML), so
/// that an auditor can check its witness cosignatures: the report's bytes
/// are signed, so this is the note the operator put in the report.
pub fn anchor_note(bytes: &[u8], format: &str) -> Option<String> {
    match format {
        "json" => {
            let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
            v["anchor"]["note"].as_str().map(str::to_string)
        }
        "html" => {
            let text = std::str::from_utf8(bytes).ok()?;
            let section = &text[text.find("<section id=\"anchor\">")?..];
            let pre = &section[section.find("<pre>")? + 5..];
            let escaped = &pre[..pre.find("</pre>")?];
            // The inverse of maud's escaping (&, <, >, ").
            Some(escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> SigningKey {
        SigningKey::generate("traceledger.test", &mut rand::rngs::OsRng).expect("key")
    }

    fn what() -> Signed {
        Signed {
            kind: "soc2".into(),
            format: "json".into(),
            tenant_id: "acme".into(),
            from: "2026-11-01T00:00:00Z".into(),
            to: "2026-12-01T00:00:00Z".into(),
            sha256: String::new(),
            anchor: Some(("traceledger.test/acme".into(), 42, "ab".repeat(32))),
        }
    }

    #[test]
    fn a_signed_report_verifies_and_says_what_it_signs() {
        let k = key();
        let ring =
            Keyring::new(vec![traceledger_core::signing::VerifierKey::parse(&k.verifier_key_string()).expect("vk")]);
        let note = sign(b"{\"report\":1}", &what(), &k).expect("sign");
        let (s, signers) = verify(b"{\"report\":1}", &note, &ring).expect("verify");
        assert_eq!(s.tenant_id, "acme");
        assert_eq!(s.anchor.as_ref().map(|a| a.1), Some(42));
        assert_eq!(signers.len(), 1);
        assert!(matches!(verify(b"{\"report\":2}", &note, &ring), Err(NoteError::Digest { .. })));
        let other =
            Keyring::new(
                vec![traceledger_core::signing::VerifierKey::parse(&key().verifier_key_string()).expect("vk")],
            );
        assert!(matches!(verify(b"{\"report\":1}", &note, &other), Err(NoteError::Signature(_))));
        let none = Signed { anchor: None, ..what() };
        let note = sign(b"x", &none, &k).expect("sign");
        assert_eq!(verify(b"x", &note, &ring).expect("verify").0.anchor, None);
    }

    proptest! {
        /// Any change to the bytes, or any byte of the note, is refused; never a panic.
        #[test]
        fn tampering_is_refused(body in proptest::collection::vec(any::<u8>(), 0..200), flip in any::<usize>(), to in any::<u8>()) {
            let k = key();
            let ring = Keyring::new(vec![traceledger_core::signing::VerifierKey::parse(&k.verifier_key_string()).expect("vk")]);
            let note = sign(&body, &what(), &k).expect("sign");
            prop_assert!(verify(&body, &note, &ring).is_ok());
            if !body.is_empty() {
                let mut b = body.clone();
                let i = flip % b.len();
                prop_assume!(b[i] != to);
                b[i] = to;
                prop_assert!(verify(&b, &note, &ring).is_err());
            }
            let mut n = note.clone().into_bytes();
            let i = flip % n.len();
            prop_assume!(n[i] != to);
            n[i] = to;
            let n = String::from_utf8_lossy(&n).into_owned();
            prop_assume!(n != note);
            prop_assert!(verify(&body, &n, &ring).is_err());
        }
    }
}
