//! The topic wire format, shared by every service that reads or writes a
//! topic (ingest, the sequencer, projections, the SDK, the vault's stored
//! records): [`avro`] holds the v1 schemas and the apache-avro mapping,
//! [`binary`] the hand-written hot-path codec, and this module the framing.
//!
//! The Confluent wire format: magic byte `0`, a 4-byte big-endian schema
//! id, then the Avro binary encoding. This is what Redpanda's and
//! Confluent's schema registries and serdes expect, so their tools read our
//! topics. Without a registry the ids come from `schemas/ids.json`.
//!
//! Decoding never panics; each failure says why in words fit for a
//! dead-letter reason. The Avro itself goes through [`crate::binary`], a
//! typed codec checked byte for byte against apache-avro.

pub mod avro;
pub mod binary;
mod error;
mod ids;
pub mod projections;

pub use error::DecodeError;
pub use ids::{CHECKPOINT_V1, SEALED_RECORD_V1, TRACE_EVENT_V1};

use crate::binary::BinaryError;
use traceledger_core::event::Timestamp;
use traceledger_core::{Hash, SealedRecord, TraceEvent};

/// Largest message accepted by default (1 MiB), as Kafka's default: the
/// largest raw event, and the largest sealed record, the sequencer takes
/// (the broker's limit, `traceledger_log::kafka::MESSAGE_LIMIT`, leaves
/// room above it for keys and headers).
pub const DEFAULT_MAX_MESSAGE: usize = 1 << 20;

/// Header bytes of a sealed record at most, beyond the tenant id, source
/// topic and policy label strings: seq, prev and leaf hashes, sealed_at,
/// key id, source partition and offset, the varint lengths, union and
/// array markers, and the signature (231 by count; rounded up).
const SEALED_FIXED: usize = 256;

/// Bytes per content slot at most: a commitment and a salt, each with its
/// union marker.
const SEALED_PER_SLOT: usize = 66;

/// How many more bytes than `ev`'s own wire encoding the record sealing it
/// takes, at most, under a policy label of `policy_len` bytes and a source
/// topic name of `topic_len` bytes. Ingest refuses an event whose encoding
/// plus this is over the limit, and the sequencer dead-letters it: a
/// sealed record over the broker's limit could never be published.
pub fn sealed_overhead(ev: &TraceEvent, policy_len: usize, topic_len: usize) -> usize {
    let slots = 3 + 2 * ev.tools.len();
    SEALED_FIXED + ev.tenant_id.len() + policy_len + topic_len + SEALED_PER_SLOT * slots
}

/// Policy label length ingest allows for when it cannot know the label the
/// sequencer will record (a redaction rule's).
pub const POLICY_LABEL_ALLOWANCE: usize = 256;

/// Why `ev`, `encoded_len` bytes in its wire encoding, cannot be sealed
/// under a policy label of `policy_len` bytes from a raw topic whose name
/// has `topic_len` bytes: its sealed record could be over `limit`. `None`
/// when it fits. Ingest and the sequencer both ask this.
pub fn too_large_to_seal(
    ev: &TraceEvent,
    encoded_len: usize,
    policy_len: usize,
    topic_len: usize,
    limit: usize,
) -> Option<String> {
    let overhead = sealed_overhead(ev, policy_len, topic_len);
    let bound = encoded_len.saturating_add(overhead);
    (bound > limit).then(|| {
        format!(
            "too large to seal: the event is {encoded_len} bytes encoded and its sealed record up to {bound}; a \
             sealed record may take {limit}, so an event may take about {} here",
            limit.saturating_sub(overhead)
        )
    })
}

/// Why ingest refuses `ev` for a raw topic named `topic`: its sealed form
/// could be over [`DEFAULT_MAX_MESSAGE`] under any policy label (the
/// sequencer would only dead-letter it). `None` when it fits.
pub fn unsealable(ev: &TraceEvent, topic: &str) -> Option<String> {
    too_large_to_seal(ev, encode_event(ev).len(), POLICY_LABEL_ALLOWANCE, topic.len(), DEFAULT_MAX_MESSAGE)
}

/// Why a message was refused. The `Display` text is the dead-letter reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Larger than the configured limit.
    #[error("oversize: {size} bytes exceeds the {limit}-byte limit")]
    Oversize {
        /// Message size.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// Shorter than the 5-byte header.
    #[error("truncated: {0} bytes is shorter than the 5-byte wire header")]
    Truncated(usize),
    /// First byte is not 0.
    #[error("bad magic byte {0:#04x}: not the Confluent wire format")]
    BadMagic(u8),
    /// A schema id we do not know.
    #[error("unknown schema id {0}")]
    UnknownSchema(u32),
    /// Bytes that are not Avro of the schema.
    #[error("undecodable Avro: {0}")]
    Avro(String),
    /// Avro that decodes but is not a valid event.
    #[error("invalid event: {0}")]
    Invalid(String),
}

/// Frames `payload` (Avro binary) with the wire header for `schema_id`.
pub fn frame(schema_id: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 5);
    out.push(0);
    out.extend_from_slice(&schema_id.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Splits a framed message into (schema id, payload).
pub fn unframe(msg: &[u8], limit: usize) -> Result<(u32, &[u8]), WireError> {
    if msg.len() > limit {
        return Err(WireError::Oversize { size: msg.len(), limit });
    }
    let Some((&magic, rest)) = msg.split_first() else { return Err(WireError::Truncated(0)) };
    let Some((id, payload)) = rest.split_first_chunk::<4>() else { return Err(WireError::Truncated(msg.len())) };
    if magic != 0 {
        return Err(WireError::BadMagic(magic));
    }
    Ok((u32::from_be_bytes(*id), payload))
}

/// A trace event in the wire format, with schema id [`TRACE_EVENT_V1`].
pub fn encode_event(ev: &TraceEvent) -> Vec<u8> {
    frame(TRACE_EVENT_V1, &binary::encode_event(ev))
}

impl From<BinaryError> for WireError {
    fn from(e: BinaryError) -> Self {
        match e {
            BinaryError::Malformed { .. } => WireError::Avro(e.to_string()),
            BinaryError::Misfit(e) => WireError::Invalid(e.to_string()),
        }
    }
}

/// The Avro payload of a framed message that must carry schema `id`.
fn payload(msg: &[u8], limit: usize, id: u32) -> Result<&[u8], WireError> {
    let (got, payload) = unframe(msg, limit)?;
    if got != id {
        return Err(WireError::UnknownSchema(got));
    }
    Ok(payload)
}

/// Decodes and validates a trace event in the wire format.
pub fn decode_event(msg: &[u8], limit: usize) -> Result<TraceEvent, WireError> {
    let ev = binary::decode_event(payload(msg, limit, TRACE_EVENT_V1)?)?;
    ev.validate().map_err(|e| WireError::Invalid(e.to_string()))?;
    Ok(ev)
}

/// A sealed record in the wire format, with schema id [`SEALED_RECORD_V1`].
pub fn encode_record(r: &SealedRecord) -> Vec<u8> {
    frame(SEALED_RECORD_V1, &binary::encode_record(r))
}

/// Decodes a sealed record in the wire format. Only the shape is checked
/// here; whether the record counts is the acceptance rule's call
/// (`traceledger_core::accept`).
pub fn decode_record(msg: &[u8], limit: usize) -> Result<SealedRecord, WireError> {
    Ok(binary::decode_record(payload(msg, limit, SEALED_RECORD_V1)?)?)
}

/// A checkpoint message (`ledger.checkpoints`): the signed note is
/// authoritative, the other fields repeat it for routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointMessage {
    /// Tenant.
    pub tenant_id: String,
    /// `<log name>/<tenant>`.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// When it was signed (not covered by the signature).
    pub published_at: Timestamp,
    /// The signed note text.
    pub note: String,
}

/// A checkpoint in the wire format, with schema id [`CHECKPOINT_V1`].
pub fn encode_checkpoint(c: &CheckpointMessage) -> Vec<u8> {
    frame(CHECKPOINT_V1, &binary::encode_checkpoint(&c.tenant_id, &c.origin, c.size, &c.root, c.published_at, &c.note))
}

/// Decodes a checkpoint message (its note still has to be opened with a keyring).
pub fn decode_checkpoint(msg: &[u8], limit: usize) -> Result<CheckpointMessage, WireError> {
    let (tenant_id, origin, size, root, published_at, note) =
        binary::decode_checkpoint(payload(msg, limit, CHECKPOINT_V1)?)?;
    Ok(CheckpointMessage { tenant_id, origin, size, root, published_at, note })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::avro::{event_to_value, trace_event_schema};
    use proptest::prelude::*;
    use traceledger_core::testkit::arb_event;

    fn example() -> TraceEvent {
        TraceEvent::from_json(include_bytes!("../../../tests/fixtures/trace-event.json")).expect("fixture")
    }

    #[test]
    fn the_example_round_trips_and_starts_with_the_header() {
        let msg = encode_event(&example());
        assert_eq!(&msg[..5], &[0, 0, 0, 0, 1]);
        assert_eq!(decode_event(&msg, DEFAULT_MAX_MESSAGE), Ok(example()));
    }

    #[test]
    fn ingest_refuses_what_could_not_be_sealed() {
        let mut ev = example();
        assert_eq!(unsealable(&ev, "traces.raw"), None);
        ev.output = Some(String::new());
        let fill = DEFAULT_MAX_MESSAGE - 100 - encode_event(&ev).len();
        ev.output = Some("x".repeat(fill));
        assert!(encode_event(&ev).len() < DEFAULT_MAX_MESSAGE, "under the raw limit");
        let why = unsealable(&ev, "traces.raw").expect("but not sealable");
        assert!(why.contains("sealed record up to"), "{why}");
    }

    #[test]
    fn each_kind_of_bad_message_has_its_reason() {
        let good = encode_event(&example());
        assert_eq!(decode_event(&[], 100), Err(WireError::Truncated(0)));
        assert_eq!(decode_event(&[0, 0, 1], 100), Err(WireError::Truncated(3)));
        let mut m = good.clone();
        m[0] = 7;
        assert_eq!(decode_event(&m, DEFAULT_MAX_MESSAGE), Err(WireError::BadMagic(7)));
        assert_eq!(decode_event(&frame(99, &good[5..]), DEFAULT_MAX_MESSAGE), Err(WireError::UnknownSchema(99)));
        assert!(matches!(decode_event(&good, 10), Err(WireError::Oversize { size, limit: 10 }) if size == good.len()));
        assert!(matches!(decode_event(&good[..good.len() - 3], DEFAULT_MAX_MESSAGE), Err(WireError::Avro(_))));
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(decode_event(&trailing, DEFAULT_MAX_MESSAGE), Err(WireError::Avro(_))));
        // Valid Avro, invalid event: a tenant id with a slash.
        let mut bad = example();
        bad.tenant_id = "a/b".into();
        let msg = frame(
            TRACE_EVENT_V1,
            &apache_avro::to_avro_datum(trace_event_schema(), event_to_value(&bad)).expect("avro"),
        );
        assert!(
            matches!(decode_event(&msg, DEFAULT_MAX_MESSAGE), Err(WireError::Invalid(r)) if r.contains("tenant_id"))
        );
    }

    proptest! {
        #[test]
        fn events_round_trip(ev in arb_event("t".into())) {
            prop_assert_eq!(decode_event(&encode_event(&ev), DEFAULT_MAX_MESSAGE), Ok(ev));
        }

        #[test]
        fn sealed_records_round_trip(events in traceledger_core::testkit::arb_events(6)) {
            let key = traceledger_core::testkit::test_key("k");
            for r in traceledger_core::testkit::seal_all(&key, events) {
                prop_assert_eq!(decode_record(&encode_record(&r), DEFAULT_MAX_MESSAGE), Ok(r));
            }
        }

        /// The bound ingest and the sequencer rely on: a sealed record is
        /// never more than its event's encoding plus `sealed_overhead`,
        /// whatever its header holds (largest seq, offsets, timestamps).
        #[test]
        fn a_sealed_record_is_within_its_overhead_bound(
            ev in arb_event("tenant-of-some-length".into()),
            policy in "\\PC{0,300}",
            topic in "[a-z.]{0,60}",
            seq in any::<u64>(),
            partition in any::<u32>(),
            offset in any::<u64>(),
            sealed_at in any::<i64>(),
        ) {
            use traceledger_core::seal::{ChainHead, Sealer, Source};
            let raw = encode_event(&ev).len();
            let bound = raw + sealed_overhead(&ev, policy.len(), topic.len());
            let mut head = ChainHead { next_seq: seq, ..ChainHead::genesis(&ev.tenant_id) };
            let sealer = Sealer::new(traceledger_core::testkit::test_key("k"), policy.clone());
            let src = Source { topic, partition, offset };
            let mut rng = rand::rngs::OsRng;
            let r = sealer.seal(&mut head, ev, Timestamp(sealed_at), Some(src), &mut rng);
            let sealed = encode_record(&r).len();
            prop_assert!(sealed <= bound, "sealed {} > bound {}", sealed, bound);
        }

        #[test]
        fn checkpoints_round_trip(size in any::<u32>(), root in any::<[u8; 32]>(), t in any::<i64>(), note in "\\PC{0,40}") {
            let c = CheckpointMessage {
                tenant_id: "t".into(), origin: "log/t".into(), size: size.into(), root: Hash(root),
                published_at: Timestamp(t), note,
            };
            prop_assert_eq!(decode_checkpoint(&encode_checkpoint(&c), DEFAULT_MAX_MESSAGE), Ok(c));
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_event(&b, DEFAULT_MAX_MESSAGE);
            let mut framed = vec![0, 0, 0, 0, 1];
            framed.extend_from_slice(&b);
            let _ = decode_event(&framed, DEFAULT_MAX_MESSAGE);
            framed[4] = 2;
            let _ = decode_record(&framed, DEFAULT_MAX_MESSAGE);
            framed[4] = 3;
            let _ = decode_checkpoint(&framed, DEFAULT_MAX_MESSAGE);
        }
    }
}

#[cfg(test)]
mod golden {
    use super::*;

    /// The example event's wire bytes are pinned (they also seed the
    /// `wire_event` fuzz target): a change here breaks every producer.
    #[test]
    fn example_wire_bytes_are_stable() {
        let ev = TraceEvent::from_json(include_bytes!("../../../tests/fixtures/trace-event.json")).expect("fixture");
        let got = encode_event(&ev);
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/seeds/wire_event/example.bin");
        if std::env::var_os("TRACELEDGER_WRITE_GOLDEN").is_some() {
            std::fs::write(path, &got).expect("write golden");
        }
        assert_eq!(got, std::fs::read(path).expect("golden file"));
    }
}
