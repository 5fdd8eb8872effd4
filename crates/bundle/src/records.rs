//! Reading sealed records from an Avro Object Container File.

use std::io::Read;
use traceledger_wire::avro::{record_from_value, sealed_record_schema};

use traceledger_core::SealedRecord;

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record #{index}: {reason}")]
pub struct RecordError {
    /// 0-based index of the record that failed (0 for a bad file header).
    pub index: u64,
    /// What failed.
    pub reason: String,
}

/// Streams the sealed records of an Avro container. Never panics on any input.
///
/// The container header is checked here before apache-avro sees it: the
/// writer schema must be the `SealedRecord` schema this build writes and the
/// codec must be `null`. apache-avro 0.21 panics on some malformed schema
/// names in a header (found by the `records` fuzz target), and a compressed
/// codec would let a small file expand without bound; neither can reach it.
pub struct RecordReader<R: Read> {
    inner: apache_avro::Reader<'static, std::io::Chain<std::io::Cursor<Vec<u8>>, R>>,
    index: u64,
}

/// Largest container header accepted (magic, metadata, sync marker).
const MAX_HEADER: usize = 1 << 20;

fn header_err(reason: impl Into<String>) -> RecordError {
    RecordError { index: 0, reason: format!("not an Avro container of SealedRecord: {}", reason.into()) }
}

/// Reads an Avro long (zig-zag varint) and appends its bytes to `out`.
fn read_long(r: &mut impl Read, out: &mut Vec<u8>) -> Result<i64, RecordError> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let mut b = [0u8];
        r.read_exact(&mut b).map_err(|e| header_err(e.to_string()))?;
        out.push(b[0]);
        v |= u64::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            return Ok((v >> 1) as i64 ^ -((v & 1) as i64));
        }
    }
    Err(header_err("varint too long"))
}

fn read_bytes(r: &mut impl Read, out: &mut Vec<u8>) -> Result<Vec<u8>, RecordError> {
    let len = read_long(r, out)?;
    let len = usize::try_from(len).map_err(|_| header_err("negative length"))?;
    if out.len().saturating_add(len) > MAX_HEADER {
        return Err(header_err("header larger than 1 MiB"));
    }
    let mut b = vec![0u8; len];
    r.read_exact(&mut b).map_err(|e| header_err(e.to_string()))?;
    out.extend_from_slice(&b);
    Ok(b)
}

/// Container metadata entries (key, value), in file order.
type Metadata = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads an OCF header; returns its raw bytes and its metadata entries.
fn read_header(r: &mut impl Read) -> Result<(Vec<u8>, Metadata), RecordError> {
    let mut raw = vec![0u8; 4];
    r.read_exact(&mut raw).map_err(|e| header_err(e.to_string()))?;
    if raw != b"Obj\x01" {
        return Err(header_err("bad magic"));
    }
    let mut meta: Metadata = Vec::new();
    loop {
        let count = read_long(r, &mut raw)?;
        if count == 0 {
            break;
        }
        if count < 0 {
            read_long(r, &mut raw)?; // block size in bytes; not needed
        }
        for _ in 0..count.unsigned_abs() {
            if meta.len() >= 64 {
                return Err(header_err("more than 64 metadata entries"));
            }
            let k = read_bytes(r, &mut raw)?;
            let v = read_bytes(r, &mut raw)?;
            // apache-avro keeps the last of repeated keys; refuse them so
            // that what we check is what it uses.
            if meta.iter().any(|(old, _)| *old == k) {
                return Err(header_err(format!("metadata key `{}` repeated", String::from_utf8_lossy(&k))));
            }
            meta.push((k, v));
        }
    }
    let mut sync = [0u8; 16];
    r.read_exact(&mut sync).map_err(|e| header_err(e.to_string()))?;
    raw.extend_from_slice(&sync);
    Ok((raw, meta))
}

/// The writer schema this build puts in container headers, as JSON.
fn own_writer_schema() -> &'static serde_json::Value {
    static S: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        // Our own writer's header, read back with the same parser: the two
        // cannot drift apart.
        let mut w = apache_avro::Writer::new(sealed_record_schema(), Vec::new());
        let _ = w.flush();
        let bytes = w.into_inner().unwrap_or_default();
        read_header(&mut &bytes[..])
            .ok()
            .and_then(|(_, meta)| meta.into_iter().find(|(k, _)| k == b"avro.schema"))
            .and_then(|(_, v)| serde_json::from_slice(&v).ok())
            .unwrap_or_default()
    })
}

impl<R: Read> RecordReader<R> {
    /// Opens a container; fails if the header is not an Avro container of
    /// `SealedRecord` with the null codec.
    pub fn new(mut r: R) -> Result<Self, RecordError> {
        let (raw, meta) = read_header(&mut r)?;
        let get = |key: &[u8]| meta.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_slice());
        match get(b"avro.codec") {
            None | Some(b"null") => {}
            Some(c) => {
                return Err(header_err(format!("codec `{}` (only null is accepted)", String::from_utf8_lossy(c))))
            }
        }
        let schema: serde_json::Value = get(b"avro.schema")
            .and_then(|s| serde_json::from_slice(s).ok())
            .ok_or_else(|| header_err("no readable avro.schema"))?;
        if schema.is_null() || &schema != own_writer_schema() {
            return Err(header_err("the writer schema is not SealedRecord v1"));
        }
        let inner = apache_avro::Reader::with_schema(sealed_record_schema(), std::io::Cursor::new(raw).chain(r))
            .map_err(|e| header_err(e.to_string()))?;
        Ok(RecordReader { inner, index: 0 })
    }
}

impl<R: Read> Iterator for RecordReader<R> {
    type Item = Result<SealedRecord, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.inner.next()?;
        let index = self.index;
        self.index += 1;
        Some(
            item.map_err(|e| e.to_string())
                .and_then(|v| record_from_value(&v).map_err(|e| e.to_string()))
                .map_err(|reason| RecordError { index, reason }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use traceledger_core::testkit::*;
    use traceledger_wire::avro::{record_to_value, trace_event_schema};

    fn container(
        schema: &apache_avro::Schema,
        codec: apache_avro::Codec,
        values: Vec<apache_avro::types::Value>,
    ) -> Vec<u8> {
        let mut w = apache_avro::Writer::with_codec(schema, Vec::new(), codec);
        for v in values {
            w.append(v).expect("append");
        }
        w.into_inner().expect("container")
    }

    #[test]
    fn reads_back_what_the_writer_wrote() {
        let recs = seal_all(&test_key("k"), vec![TraceEventFixture::get()]);
        let bytes = container(sealed_record_schema(), apache_avro::Codec::Null, vec![record_to_value(&recs[0])]);
        let back: Vec<_> = RecordReader::new(&bytes[..]).expect("header").collect::<Result<_, _>>().expect("records");
        assert_eq!(back, recs);
    }

    #[test]
    fn other_schemas_codecs_and_garbage_are_refused_with_a_reason() {
        let recs = seal_all(&test_key("k"), vec![TraceEventFixture::get()]);
        let deflate = container(
            sealed_record_schema(),
            apache_avro::Codec::Deflate(Default::default()),
            vec![record_to_value(&recs[0])],
        );
        let e = RecordReader::new(&deflate[..]).err().expect("deflate refused");
        assert!(e.reason.contains("codec"), "{e}");
        let other = container(trace_event_schema(), apache_avro::Codec::Null, vec![]);
        let e = RecordReader::new(&other[..]).err().expect("other schema refused");
        assert!(e.reason.contains("not SealedRecord"), "{e}");
        assert!(RecordReader::new(&b"Obj\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"[..]).is_err());
        assert!(RecordReader::new(&b"PK\x03\x04"[..]).is_err());
    }

    struct TraceEventFixture;
    impl TraceEventFixture {
        fn get() -> traceledger_core::TraceEvent {
            traceledger_core::TraceEvent::from_json(include_bytes!("../../../tests/fixtures/trace-event.json"))
                .expect("fixture")
        }
    }
}
