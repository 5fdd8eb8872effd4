//! Avro form of sealed records: the schemas in `schemas/v1/`, and the
//! mapping between [`SealedRecord`] and Avro values.
//!
//! The mapping is written out field by field rather than through serde so
//! that the JSON form (RFC 3339 timestamps) and the Avro form
//! (`timestamp-micros`, `uuid`, fixed-size hashes) can differ, and so that a
//! record that does not fit names the exact field at fault.

use apache_avro::types::Value;
use apache_avro::Schema;
use std::sync::OnceLock;
use traceledger_core::event::*;
use traceledger_core::hash::Hash;
use traceledger_core::seal::{RecordHeader, SealedRecord, Source};
use uuid::Uuid;

pub use crate::error::DecodeError;

/// `schemas/v1/trace-event.avsc`.
pub const TRACE_EVENT_AVSC: &str = include_str!("../../../schemas/v1/trace-event.avsc");
/// `schemas/v1/sealed-record.avsc` (references `TraceEvent` by name).
pub const SEALED_RECORD_AVSC: &str = include_str!("../../../schemas/v1/sealed-record.avsc");

/// `schemas/v1/checkpoint.avsc`.
pub const CHECKPOINT_AVSC: &str = include_str!("../../../schemas/v1/checkpoint.avsc");

/// The parsed `Checkpoint` schema.
pub fn checkpoint_schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| Schema::parse_str(CHECKPOINT_AVSC).unwrap_or_else(|e| panic!("checkpoint.avsc: {e}")))
}

/// The parsed `TraceEvent` schema.
pub fn trace_event_schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    // The schema is a compile-time constant covered by tests.
    S.get_or_init(|| {
        // Install the decoder's allocation bound before anything decodes.
        sealed_record_schema();
        Schema::parse_str(TRACE_EVENT_AVSC).unwrap_or_else(|e| panic!("trace-event.avsc: {e}"))
    })
}

/// The `SealedRecord` schema as one self-contained JSON document, with the
/// `TraceEvent` definition inlined (what an OCF header carries).
pub fn sealed_record_schema_json() -> &'static str {
    static S: OnceLock<String> = OnceLock::new();
    S.get_or_init(|| {
        let mut sealed: serde_json::Value =
            serde_json::from_str(SEALED_RECORD_AVSC).unwrap_or_else(|e| panic!("sealed-record.avsc: {e}"));
        let event: serde_json::Value =
            serde_json::from_str(TRACE_EVENT_AVSC).unwrap_or_else(|e| panic!("trace-event.avsc: {e}"));
        if let Some(fields) = sealed["fields"].as_array_mut() {
            for f in fields {
                if f["name"] == "event" {
                    f["type"] = event.clone();
                }
            }
        }
        sealed.to_string()
    })
}

/// The value schemas of the wire format with their bundled ids
/// (`schemas/ids.json`), as a schema registry holds them: `TraceEvent`,
/// `SealedRecord` (self-contained) and `Checkpoint`, in that order — the
/// values of the raw, sealed and checkpoint topics.
pub fn wire_schemas() -> [(u32, &'static str); 3] {
    use crate::ids::{CHECKPOINT_V1, SEALED_RECORD_V1, TRACE_EVENT_V1};
    [
        (TRACE_EVENT_V1, TRACE_EVENT_AVSC),
        (SEALED_RECORD_V1, sealed_record_schema_json()),
        (CHECKPOINT_V1, CHECKPOINT_AVSC),
    ]
}

/// An Avro schema given as JSON text, for comparing one with another: the
/// JSON value with every `doc` removed (object key order and whitespace
/// never mattered). `None` when the text is not JSON. Written here rather
/// than taken from apache-avro's Parsing Canonical Form because its schema
/// parser panics on some hostile schemas (an invalid name, a non-integer
/// `size`; found by the `registry_body` fuzz target), and the node's
/// schema registry compares schemas anyone can post.
pub fn schema_for_comparison(schema: &str) -> Option<serde_json::Value> {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("doc");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_str(schema).ok()?;
    strip(&mut v);
    Some(v)
}

/// The schema of a schema-registry request body (`{"schema": "…",
/// "schemaType": "AVRO"}`, as Confluent clients post it), ready to compare
/// ([`schema_for_comparison`]); or why there is none, in the registry's words.
pub fn registry_body_schema(body: &[u8]) -> Result<serde_json::Value, RegistryBodyError> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| RegistryBodyError::Json(e.to_string()))?;
    if let Some(t) = v.get("schemaType").and_then(serde_json::Value::as_str) {
        if t != "AVRO" {
            return Err(RegistryBodyError::Schema(format!("type {t} is not served here")));
        }
    }
    let schema = v
        .get("schema")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| RegistryBodyError::Schema("no `schema` string".into()))?;
    schema_for_comparison(schema).ok_or_else(|| RegistryBodyError::Schema("the schema is not JSON".into()))
}

/// Why a schema-registry request body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryBodyError {
    /// Not JSON.
    Json(String),
    /// JSON, but no schema in it.
    Schema(String),
}

/// Largest single allocation the Avro decoder may make for a length or an
/// item count read from input. apache-avro reserves `count` items before
/// reading them, so an untrusted count is an allocation of up to
/// `count × size_of::<Value>()`: this bound keeps a hostile file's worst case
/// near 150 MiB instead of tens of GiB (found by the `records` fuzz target).
/// Events are at most 1 MiB, so 2 MiB leaves headroom for any real field.
pub const MAX_AVRO_ALLOCATION: usize = 2 << 20;

/// The parsed, self-contained `SealedRecord` schema. Also installs the
/// decoder's allocation bound before anything is decoded.
pub fn sealed_record_schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| {
        apache_avro::util::max_allocation_bytes(MAX_AVRO_ALLOCATION);
        Schema::parse_str(sealed_record_schema_json()).unwrap_or_else(|e| panic!("sealed record schema: {e}"))
    })
}

fn opt_str(v: &Option<String>) -> Value {
    match v {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(s) => Value::Union(1, Box::new(Value::String(s.clone()))),
    }
}

fn opt_long(v: Option<u64>) -> Value {
    match v {
        None => Value::Union(0, Box::new(Value::Null)),
        // Validated at ingest to fit in 63 bits.
        Some(n) => Value::Union(1, Box::new(Value::Long(n as i64))),
    }
}

fn opt_record(v: Option<Vec<(String, Value)>>) -> Value {
    match v {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(f) => Value::Union(1, Box::new(Value::Record(f))),
    }
}

fn rec(fields: Vec<(&str, Value)>) -> Vec<(String, Value)> {
    fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn enum_v(code: u8, sym: &str) -> Value {
    Value::Enum(code.into(), sym.to_string())
}

fn fixed(b: &[u8]) -> Value {
    Value::Fixed(b.len(), b.to_vec())
}

/// The Avro value of a trace event.
pub fn event_to_value(e: &TraceEvent) -> Value {
    Value::Record(event_fields(e))
}

fn event_fields(e: &TraceEvent) -> Vec<(String, Value)> {
    rec(vec![
        ("event_id", Value::Uuid(e.event_id)),
        ("tenant_id", Value::String(e.tenant_id.clone())),
        ("agent_id", Value::String(e.agent_id.clone())),
        ("session_id", Value::String(e.session_id.clone())),
        ("step_index", Value::Long(e.step_index.into())),
        (
            "parent_event_id",
            match e.parent_event_id {
                None => Value::Union(0, Box::new(Value::Null)),
                Some(p) => Value::Union(1, Box::new(Value::Uuid(p))),
            },
        ),
        ("kind", enum_v(e.kind.code(), e.kind.symbol())),
        ("timestamp", Value::TimestampMicros(e.timestamp.0)),
        (
            "model",
            opt_record(e.model.as_ref().map(|m| {
                rec(vec![
                    ("provider", Value::String(m.provider.clone())),
                    ("name", Value::String(m.name.clone())),
                    ("version", opt_str(&m.version)),
                ])
            })),
        ),
        ("input", opt_str(&e.input)),
        ("output", opt_str(&e.output)),
        ("reasoning", opt_str(&e.reasoning)),
        (
            "tools",
            Value::Array(
                e.tools
                    .iter()
                    .map(|t| {
                        Value::Record(rec(vec![
                            ("name", Value::String(t.name.clone())),
                            ("call_id", Value::String(t.call_id.clone())),
                            ("arguments", opt_str(&t.arguments)),
                            ("result", opt_str(&t.result)),
                            ("status", enum_v(t.status.code(), t.status.symbol())),
                        ]))
                    })
                    .collect(),
            ),
        ),
        (
            "tokens",
            opt_record(e.tokens.map(|t| {
                rec(vec![
                    ("input", Value::Long(t.input as i64)),
                    ("output", Value::Long(t.output as i64)),
                    ("cached", Value::Long(t.cached as i64)),
                ])
            })),
        ),
        ("cost_micros", opt_long(e.cost_micros)),
        ("latency_ms", opt_long(e.latency_ms)),
        (
            "status",
            Value::Record(rec(vec![
                ("code", enum_v(e.status.code.code(), e.status.code.symbol())),
                ("message", opt_str(&e.status.message)),
            ])),
        ),
        ("subject_ids", Value::Array(e.subject_ids.iter().map(|s| Value::String(s.clone())).collect())),
        (
            "data_classification",
            match e.data_classification {
                None => Value::Union(0, Box::new(Value::Null)),
                Some(c) => Value::Union(1, Box::new(enum_v(c.code(), c.symbol()))),
            },
        ),
        ("expected_steps", opt_long(e.expected_steps.map(u64::from))),
        (
            "attributes",
            Value::Array(
                e.attributes
                    .iter()
                    .map(|a| {
                        Value::Record(rec(vec![
                            ("key", Value::String(a.key.clone())),
                            ("value", Value::String(a.value.clone())),
                        ]))
                    })
                    .collect(),
            ),
        ),
    ])
}

/// The Avro value of a sealed record.
pub fn record_to_value(r: &SealedRecord) -> Value {
    let h = &r.header;
    let opt_fixed = |v: Option<&[u8]>| match v {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(b) => Value::Union(1, Box::new(fixed(b))),
    };
    Value::Record(rec(vec![
        ("tenant_id", Value::String(h.tenant_id.clone())),
        ("seq", Value::Long(h.seq as i64)),
        ("prev_hash", fixed(&h.prev_hash.0)),
        ("leaf_hash", fixed(&r.leaf_hash.0)),
        ("sealed_at", Value::TimestampMicros(h.sealed_at.0)),
        ("key_id", Value::Long(h.key_id.into())),
        (
            "source",
            opt_record(h.source.as_ref().map(|s| {
                rec(vec![
                    ("topic", Value::String(s.topic.clone())),
                    ("partition", Value::Long(s.partition.into())),
                    ("offset", Value::Long(s.offset as i64)),
                ])
            })),
        ),
        ("policy", Value::String(h.policy.clone())),
        ("event", event_to_value(&r.event)),
        ("commitments", Value::Array(r.commitments.iter().map(|c| opt_fixed(c.as_ref().map(|h| &h.0[..]))).collect())),
        ("salts", Value::Array(r.salts.iter().map(|s| opt_fixed(s.as_ref().map(|s| &s[..]))).collect())),
        ("signature", fixed(&r.signature)),
    ]))
}

type D<T> = Result<T, DecodeError>;

struct Fields<'a> {
    path: String,
    fields: &'a [(String, Value)],
}

fn err<T>(path: &str, reason: impl Into<String>) -> D<T> {
    Err(DecodeError { path: path.to_string(), reason: reason.into() })
}

impl<'a> Fields<'a> {
    fn of(path: &str, v: &'a Value) -> D<Self> {
        match v {
            Value::Record(fields) => Ok(Fields { path: path.to_string(), fields }),
            other => err(path, format!("expected a record, found {other:?}")),
        }
    }
    fn sub(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }
    fn get(&self, name: &str) -> D<(String, &'a Value)> {
        let path = self.sub(name);
        match self.fields.iter().find(|(k, _)| k == name) {
            Some((_, v)) => Ok((path, v)),
            None => err(&path, "missing"),
        }
    }
    fn string(&self, name: &str) -> D<String> {
        let (p, v) = self.get(name)?;
        as_string(&p, v)
    }
    fn long(&self, name: &str) -> D<i64> {
        let (p, v) = self.get(name)?;
        as_long(&p, v)
    }
    fn opt(&self, name: &str) -> D<(String, Option<&'a Value>)> {
        let (p, v) = self.get(name)?;
        Ok((p, unwrap_union(v)))
    }
    /// A nullable field, decoded by `g` (given its path) when present.
    fn opt_map<T>(&self, name: &str, g: impl FnOnce(&str, &'a Value) -> D<T>) -> D<Option<T>> {
        match self.opt(name)? {
            (_, None) => Ok(None),
            (p, Some(v)) => g(&p, v).map(Some),
        }
    }
    fn opt_string(&self, name: &str) -> D<Option<String>> {
        self.opt_map(name, as_string)
    }
    fn opt_u64(&self, name: &str) -> D<Option<u64>> {
        self.opt_map(name, as_u64)
    }
    fn u64(&self, name: &str) -> D<u64> {
        let (p, v) = self.get(name)?;
        as_u64(&p, v)
    }
    fn u32(&self, name: &str) -> D<u32> {
        let (p, v) = self.get(name)?;
        as_u32(&p, v)
    }
    fn array(&self, name: &str) -> D<(String, &'a [Value])> {
        let (p, v) = self.get(name)?;
        match v {
            Value::Array(a) => Ok((p, a)),
            other => err(&p, format!("expected an array, found {other:?}")),
        }
    }
    fn record(&self, name: &str) -> D<Fields<'a>> {
        let (p, v) = self.get(name)?;
        Fields::of(&p, v)
    }
}

fn unwrap_union(v: &Value) -> Option<&Value> {
    match v {
        Value::Union(_, inner) => unwrap_union(inner),
        Value::Null => None,
        other => Some(other),
    }
}

fn as_string(p: &str, v: &Value) -> D<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => err(p, format!("expected a string, found {other:?}")),
    }
}

fn as_long(p: &str, v: &Value) -> D<i64> {
    match v {
        Value::Long(n) | Value::TimestampMicros(n) => Ok(*n),
        Value::Int(n) => Ok((*n).into()),
        other => err(p, format!("expected a long, found {other:?}")),
    }
}

fn as_u64(p: &str, v: &Value) -> D<u64> {
    let n = as_long(p, v)?;
    u64::try_from(n).or_else(|_| err(p, format!("{n} is negative")))
}

fn as_u32(p: &str, v: &Value) -> D<u32> {
    let n = as_long(p, v)?;
    u32::try_from(n).or_else(|_| err(p, format!("{n} is not in 0..2^32")))
}

fn as_uuid(p: &str, v: &Value) -> D<Uuid> {
    match v {
        Value::Uuid(u) => Ok(*u),
        Value::String(s) => Uuid::parse_str(s).or_else(|_| err(p, format!("`{s}` is not a UUID"))),
        other => err(p, format!("expected a UUID, found {other:?}")),
    }
}

fn as_fixed<const N: usize>(p: &str, v: &Value) -> D<[u8; N]> {
    match v {
        Value::Fixed(_, b) | Value::Bytes(b) => {
            <[u8; N]>::try_from(b.as_slice()).or_else(|_| err(p, format!("expected {N} bytes, found {}", b.len())))
        }
        other => err(p, format!("expected {N} fixed bytes, found {other:?}")),
    }
}

fn as_enum<T>(p: &str, v: &Value, from: fn(&str) -> Option<T>) -> D<T> {
    match v {
        Value::Enum(_, s) | Value::String(s) => {
            from(s).ok_or_else(|| DecodeError { path: p.to_string(), reason: format!("unknown symbol `{s}`") })
        }
        other => err(p, format!("expected an enum symbol, found {other:?}")),
    }
}

/// Decodes a trace event from its Avro value; `path` prefixes error paths.
pub fn event_from_value(path: &str, v: &Value) -> D<TraceEvent> {
    let f = Fields::of(path, v)?;
    let (p, id) = f.get("event_id")?;
    let event_id = as_uuid(&p, id)?;
    let parent_event_id = f.opt_map("parent_event_id", as_uuid)?;
    let (p, k) = f.get("kind")?;
    let kind = as_enum(&p, k, EventKind::from_symbol)?;
    let model = f.opt_map("model", |p, v| {
        let m = Fields::of(p, v)?;
        Ok(Model { provider: m.string("provider")?, name: m.string("name")?, version: m.opt_string("version")? })
    })?;
    let (tp, tools_v) = f.array("tools")?;
    let mut tools = Vec::with_capacity(tools_v.len());
    for (i, t) in tools_v.iter().enumerate() {
        let t = Fields::of(&format!("{tp}[{i}]"), t)?;
        let (p, s) = t.get("status")?;
        tools.push(ToolCall {
            name: t.string("name")?,
            call_id: t.string("call_id")?,
            arguments: t.opt_string("arguments")?,
            result: t.opt_string("result")?,
            status: as_enum(&p, s, ToolStatus::from_symbol)?,
        });
    }
    let tokens = f.opt_map("tokens", |p, v| {
        let t = Fields::of(p, v)?;
        Ok(Tokens { input: t.u64("input")?, output: t.u64("output")?, cached: t.u64("cached")? })
    })?;
    let st = f.record("status")?;
    let (p, c) = st.get("code")?;
    let status = Status { code: as_enum(&p, c, StatusCode::from_symbol)?, message: st.opt_string("message")? };
    let (sp, subj) = f.array("subject_ids")?;
    let subject_ids = subj.iter().enumerate().map(|(i, v)| as_string(&format!("{sp}[{i}]"), v)).collect::<D<_>>()?;
    let data_classification = f.opt_map("data_classification", |p, v| as_enum(p, v, Classification::from_symbol))?;
    let expected_steps = f.opt_map("expected_steps", as_u32)?;
    let (ap, attrs) = f.array("attributes")?;
    let mut attributes = Vec::with_capacity(attrs.len());
    for (i, a) in attrs.iter().enumerate() {
        let a = Fields::of(&format!("{ap}[{i}]"), a)?;
        attributes.push(Attribute { key: a.string("key")?, value: a.string("value")? });
    }
    let (p, ts) = f.get("timestamp")?;
    Ok(TraceEvent {
        event_id,
        tenant_id: f.string("tenant_id")?,
        agent_id: f.string("agent_id")?,
        session_id: f.string("session_id")?,
        step_index: f.u32("step_index")?,
        parent_event_id,
        kind,
        timestamp: Timestamp(as_long(&p, ts)?),
        model,
        input: f.opt_string("input")?,
        output: f.opt_string("output")?,
        reasoning: f.opt_string("reasoning")?,
        tools,
        tokens,
        cost_micros: f.opt_u64("cost_micros")?,
        latency_ms: f.opt_u64("latency_ms")?,
        status,
        subject_ids,
        data_classification,
        expected_steps,
        attributes,
    })
}

/// Decodes a sealed record from its Avro value.
pub fn record_from_value(v: &Value) -> D<SealedRecord> {
    let f = Fields::of("", v)?;
    let (p, prev) = f.get("prev_hash")?;
    let prev_hash = Hash(as_fixed::<32>(&p, prev)?);
    let (p, leaf) = f.get("leaf_hash")?;
    let leaf_hash = Hash(as_fixed::<32>(&p, leaf)?);
    let (p, sig) = f.get("signature")?;
    let signature = as_fixed::<64>(&p, sig)?;
    let source = f.opt_map("source", |p, v| {
        let s = Fields::of(p, v)?;
        Ok(Source { topic: s.string("topic")?, partition: s.u32("partition")?, offset: s.u64("offset")? })
    })?;
    let (cp, cs) = f.array("commitments")?;
    let commitments = cs
        .iter()
        .enumerate()
        .map(|(i, v)| match unwrap_union(v) {
            None => Ok(None),
            Some(v) => as_fixed::<32>(&format!("{cp}[{i}]"), v).map(|b| Some(Hash(b))),
        })
        .collect::<D<Vec<_>>>()?;
    let (sp, ss) = f.array("salts")?;
    let salts = ss
        .iter()
        .enumerate()
        .map(|(i, v)| match unwrap_union(v) {
            None => Ok(None),
            Some(v) => as_fixed::<32>(&format!("{sp}[{i}]"), v).map(Some),
        })
        .collect::<D<Vec<_>>>()?;
    let (ep, ev) = f.get("event")?;
    Ok(SealedRecord {
        header: RecordHeader {
            tenant_id: f.string("tenant_id")?,
            seq: f.u64("seq")?,
            prev_hash,
            sealed_at: Timestamp(f.long("sealed_at")?),
            key_id: f.u32("key_id")?,
            source,
            policy: f.string("policy")?,
        },
        event: event_from_value(&ep, ev)?,
        commitments,
        salts,
        leaf_hash,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use traceledger_core::testkit::*;

    #[test]
    fn schemas_parse_and_the_example_validates() {
        let ev = TraceEvent::from_json(include_bytes!("../../../tests/fixtures/trace-event.json")).expect("example");
        assert!(event_to_value(&ev).validate(trace_event_schema()));
        assert_eq!(checkpoint_schema().name().map(|n| n.name.as_str()), Some("Checkpoint"));
        let recs = seal_all(&test_key("k"), vec![ev]);
        assert!(record_to_value(&recs[0]).validate(sealed_record_schema()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn records_round_trip_through_avro_binary(events in arb_events(6)) {
            let recs = seal_all(&test_key("k"), events);
            let schema = sealed_record_schema();
            for r in &recs {
                let bytes = apache_avro::to_avro_datum(schema, record_to_value(r)).expect("encode");
                let back = apache_avro::from_avro_datum(schema, &mut &bytes[..], None).expect("decode");
                prop_assert_eq!(&record_from_value(&back).expect("map"), r);
            }
        }
    }

    #[test]
    fn a_misfit_value_names_its_field() {
        let recs = seal_all(
            &test_key("k"),
            vec![TraceEvent::from_json(include_bytes!("../../../tests/fixtures/trace-event.json")).expect("example")],
        );
        let Value::Record(mut fields) = record_to_value(&recs[0]) else { panic!("record") };
        for (k, v) in fields.iter_mut() {
            if k == "event" {
                if let Value::Record(ef) = v {
                    for (k2, v2) in ef.iter_mut() {
                        if k2 == "tools" {
                            *v2 = Value::Array(vec![Value::Record(vec![("name".into(), Value::Long(1))])]);
                        }
                    }
                }
            }
        }
        let e = record_from_value(&Value::Record(fields)).expect_err("misfit");
        assert_eq!(e.path, "event.tools[0].status");
    }
}
