//! Canonical bytes of a sealed record (format v1), specified byte for byte
//! in `docs/ledger-format.md`.
//!
//! Hand-written rather than delegated to an Avro or serde encoder: the bytes
//! are a signed commitment that must never change with a library upgrade,
//! and sealing sits on the hot path (the encoder writes into one
//! pre-sized buffer with no intermediate values).
//!
//! Layout primitives: integers are fixed-width big-endian; a string is a u32
//! length then UTF-8 bytes; an optional value is `0x00` (absent) or `0x01`
//! then the value; a list is a u32 count then the items; a commitment slot is
//! `0x00` (no content) or `0x01` then the 32-byte commitment.

use crate::event::{Timestamp, TraceEvent};
use crate::hash::Hash;
use crate::header::RecordHeader;

/// First bytes of every canonical record: format name and version.
pub const MAGIC: &[u8; 8] = b"TLREC\x00\x00\x01";

/// The content fields of an event in slot order: input, output, reasoning,
/// then for each tool call its arguments and its result.
pub fn content_slots(ev: &TraceEvent) -> Vec<Option<&str>> {
    let mut v = Vec::with_capacity(3 + 2 * ev.tools.len());
    v.push(ev.input.as_deref());
    v.push(ev.output.as_deref());
    v.push(ev.reasoning.as_deref());
    for t in &ev.tools {
        v.push(t.arguments.as_deref());
        v.push(t.result.as_deref());
    }
    v
}

/// Human name of content slot `i` of an event with tools (`tools[0].result`).
pub fn slot_name(i: usize) -> String {
    match i {
        0 => "input".into(),
        1 => "output".into(),
        2 => "reasoning".into(),
        n => {
            let t = (n - 3) / 2;
            let f = if (n - 3) % 2 == 0 { "arguments" } else { "result" };
            format!("tools[{t}].{f}")
        }
    }
}

/// Number of content slots of an event.
pub fn slot_count(ev: &TraceEvent) -> usize {
    3 + 2 * ev.tools.len()
}

struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn len(&mut self, n: usize) {
        // Lengths above u32::MAX cannot occur: events are capped far below.
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    fn opt<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Self, T)) {
        match v {
            None => self.u8(0),
            Some(x) => {
                self.u8(1);
                f(self, x)
            }
        }
    }
    fn ts(&mut self, t: Timestamp) {
        self.i64(t.0);
    }
}

/// Encodes the canonical bytes of a record. `commitments` has one entry per
/// content slot ([`content_slots`]); `None` marks a slot that had no content.
///
/// Returns `None` when the commitments do not match the event's slot count.
pub fn encode(header: &RecordHeader, ev: &TraceEvent, commitments: &[Option<Hash>]) -> Option<Vec<u8>> {
    if commitments.len() != slot_count(ev) {
        return None;
    }
    let approx =
        256 + ev.tools.len() * 96 + ev.attributes.iter().map(|a| a.key.len() + a.value.len() + 8).sum::<usize>();
    let mut e = Enc(Vec::with_capacity(approx));
    let commit = |e: &mut Enc, c: &Option<Hash>| e.opt(c.as_ref(), |e, h| e.bytes(&h.0));

    e.bytes(MAGIC);
    // Header.
    e.str(&header.tenant_id);
    e.u64(header.seq);
    e.bytes(&header.prev_hash.0);
    e.ts(header.sealed_at);
    e.u32(header.key_id);
    e.opt(header.source.as_ref(), |e, s| {
        e.str(&s.topic);
        e.u32(s.partition);
        e.u64(s.offset);
    });
    e.str(&header.policy);
    // Event.
    e.bytes(ev.event_id.as_bytes());
    e.str(&ev.agent_id);
    e.str(&ev.session_id);
    e.u32(ev.step_index);
    e.opt(ev.parent_event_id.as_ref(), |e, p| e.bytes(p.as_bytes()));
    e.u8(ev.kind.code());
    e.ts(ev.timestamp);
    e.opt(ev.model.as_ref(), |e, m| {
        e.str(&m.provider);
        e.str(&m.name);
        e.opt(m.version.as_deref(), |e, v| e.str(v));
    });
    commit(&mut e, &commitments[0]);
    commit(&mut e, &commitments[1]);
    commit(&mut e, &commitments[2]);
    e.len(ev.tools.len());
    for (i, t) in ev.tools.iter().enumerate() {
        e.str(&t.name);
        e.str(&t.call_id);
        e.u8(t.status.code());
        commit(&mut e, &commitments[3 + 2 * i]);
        commit(&mut e, &commitments[4 + 2 * i]);
    }
    e.opt(ev.tokens.as_ref(), |e, t| {
        e.u64(t.input);
        e.u64(t.output);
        e.u64(t.cached);
    });
    e.opt(ev.cost_micros, |e, v| e.u64(v));
    e.opt(ev.latency_ms, |e, v| e.u64(v));
    e.u8(ev.status.code.code());
    e.opt(ev.status.message.as_deref(), |e, m| e.str(m));
    e.len(ev.subject_ids.len());
    for s in &ev.subject_ids {
        e.str(s);
    }
    e.opt(ev.data_classification, |e, c| e.u8(c.code()));
    e.opt(ev.expected_steps, |e, v| e.u32(v));
    e.len(ev.attributes.len());
    for a in &ev.attributes {
        e.str(&a.key);
        e.str(&a.value);
    }
    Some(e.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{commitment, genesis, leaf_hash};
    use crate::seal::Source;

    /// The known-answer vector of `docs/ledger-format.md`: the shared example
    /// event as seq 0 of tenant `acme`, every salt 32 bytes of 0x11.
    pub(crate) fn known_answer() -> (Vec<u8>, Vec<Option<Hash>>) {
        let ev = TraceEvent::from_json(include_bytes!("../../../tests/fixtures/trace-event.json")).expect("fixture");
        let salt = [0x11u8; 32];
        let commitments: Vec<Option<Hash>> =
            content_slots(&ev).into_iter().map(|v| v.map(|v| commitment(&salt, v))).collect();
        let header = RecordHeader {
            tenant_id: "acme".into(),
            seq: 0,
            prev_hash: genesis("acme"),
            sealed_at: Timestamp(1_795_771_200_000_000),
            key_id: 0xc74f20a3,
            source: Some(Source { topic: "traces.raw".into(), partition: 3, offset: 42 }),
            policy: "default/v1".into(),
        };
        (encode(&header, &ev, &commitments).expect("slots"), commitments)
    }

    #[test]
    fn known_answer_vector() {
        let (bytes, commitments) = known_answer();
        assert_eq!(commitments.len(), 5);
        assert_eq!(genesis("acme").to_hex(), "f03e84a8106e1d1c8e948a393aa48ff8b03418299865103262a65329ce8cb62e");
        assert_eq!(bytes.len(), 607);
        // The full bytes are in docs/ledger-format.md.
        assert_eq!(hex::encode(&bytes), include_str!("../../../docs/vectors/canonical-example.hex").trim());
        assert_eq!(leaf_hash(&bytes).to_hex(), "1ba5cb48aceec07ec66ef3966542029ae440bedab42436969e390b4af858916b");
    }

    #[test]
    fn slot_names() {
        assert_eq!(slot_name(0), "input");
        assert_eq!(slot_name(2), "reasoning");
        assert_eq!(slot_name(3), "tools[0].arguments");
        assert_eq!(slot_name(6), "tools[1].result");
    }
}
