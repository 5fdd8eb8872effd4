//! OTLP/HTTP trace ingest (`POST /v1/traces`).
//!
//! [`inflate`] undoes `Content-Encoding: gzip` under a size limit,
//! [`decode`] reads an `ExportTraceServiceRequest` in either OTLP encoding
//! (binary protobuf or OTLP/JSON, chosen by `Content-Type`), [`map::map_request`]
//! turns its GenAI spans into trace events (the mapping table is in
//! docs/otlp.md), [`steps::StepClock`] numbers their steps across exports,
//! and [`response`] encodes the answer, with a partial success naming the
//! spans that were not taken.
//!
//! The message types are the OpenTelemetry project's own
//! (`opentelemetry-proto`, generated from the .proto files), so the wire
//! formats are theirs rather than a copy of them.

pub mod map;
pub mod steps;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use std::borrow::Cow;
use std::io::Read;

pub use opentelemetry_proto::tonic as proto;

/// The two OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Binary protobuf, `application/x-protobuf`.
    Protobuf,
    /// OTLP/JSON, `application/json`.
    Json,
}

impl Encoding {
    /// The encoding a `Content-Type` names (parameters such as `charset`
    /// are ignored).
    pub fn from_content_type(content_type: Option<&str>) -> Result<Self, Error> {
        let mime = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match mime.as_str() {
            "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
            "application/json" => Ok(Encoding::Json),
            _ => Err(Error::ContentType(content_type.unwrap_or("").to_string())),
        }
    }

    /// The `Content-Type` of an answer in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// Why a request body was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Neither OTLP encoding.
    #[error("Content-Type `{0}` is not an OTLP encoding: send application/x-protobuf or application/json")]
    ContentType(String),
    /// A compression other than gzip.
    #[error("Content-Encoding `{0}` is not supported: send gzip or no encoding")]
    ContentEncoding(String),
    /// The gzip stream is corrupt or truncated.
    #[error("the gzip body is corrupt after {inflated} inflated bytes: {reason}")]
    Gzip {
        /// Bytes inflated before the error.
        inflated: usize,
        /// What the decompressor said.
        reason: String,
    },
    /// The body, inflated, is larger than the limit.
    #[error("the body inflates to more than {limit} bytes; export fewer spans per request")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// Not a protobuf `ExportTraceServiceRequest`.
    #[error("the body is not a protobuf ExportTraceServiceRequest: {0}")]
    Protobuf(String),
    /// More resources, scopes, spans or span items (attributes, events,
    /// links) than one request may carry.
    #[error("the request has {count} {what}; at most {limit} are taken per request: export in smaller batches")]
    TooMany {
        /// What there are too many of.
        what: &'static str,
        /// How many the request has.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// Not an OTLP/JSON `ExportTraceServiceRequest`.
    #[error("the body is not an OTLP/JSON ExportTraceServiceRequest: at `{path}`: {reason}")]
    Json {
        /// Where in the document (e.g. `resourceSpans[0].scopeSpans[0].spans[2].traceId`).
        path: String,
        /// What is wrong there.
        reason: String,
    },
}

/// Undoes the body's `Content-Encoding` (gzip or none), refusing to inflate
/// past `limit` bytes (a small gzip body can inflate to gigabytes).
pub fn inflate<'a>(body: &'a [u8], content_encoding: Option<&str>, limit: usize) -> Result<Cow<'a, [u8]>, Error> {
    match content_encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("identity") => {
            if body.len() > limit {
                return Err(Error::TooLarge { limit });
            }
            Ok(Cow::Borrowed(body))
        }
        Some("gzip") | Some("x-gzip") => {
            let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
            // One byte past the limit tells "exactly the limit" from "more".
            let mut reader = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
            reader.read_to_end(&mut out).map_err(|e| Error::Gzip { inflated: out.len(), reason: e.to_string() })?;
            if out.len() > limit {
                return Err(Error::TooLarge { limit });
            }
            Ok(Cow::Owned(out))
        }
        Some(other) => Err(Error::ContentEncoding(other.to_string())),
    }
}

/// What one request may carry, counted before it is decoded: a body of
/// empty messages decodes to structures a hundred times its size, so the
/// byte limit alone does not bound memory (docs/security.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `ResourceSpans` per request.
    pub resources: usize,
    /// `ScopeSpans` per request.
    pub scopes: usize,
    /// Spans per request.
    pub spans: usize,
    /// Attributes, span events and links per request, all levels together.
    pub items: usize,
}

impl Limits {
    /// The node's limits: far above what an SDK's batch processor sends
    /// (512 spans by default) or a collector's batch (8,192).
    pub const DEFAULT: Limits = Limits { resources: 10_000, scopes: 20_000, spans: 50_000, items: 1_000_000 };
}

/// How many of each kind a request holds (what [`Limits`] bounds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// `ResourceSpans`.
    pub resources: usize,
    /// `ScopeSpans`.
    pub scopes: usize,
    /// Spans.
    pub spans: usize,
    /// Attributes, span events and links.
    pub items: usize,
    /// OTLP/JSON arrays where a message belongs (serde would read a message
    /// from the array of its fields in order: a second spelling that
    /// OTLP/JSON does not have).
    pub arrays_for_messages: usize,
}

impl Counts {
    /// The first count over its limit, as an error.
    pub fn check(&self, l: &Limits) -> Result<(), Error> {
        if self.arrays_for_messages > 0 {
            return Err(Error::Json {
                path: String::new(),
                reason: format!(
                    "{} arrays stand where OTLP/JSON has an object: messages are written as objects",
                    self.arrays_for_messages
                ),
            });
        }
        for (what, count, limit) in [
            ("resources", self.resources, l.resources),
            ("scopes", self.scopes, l.scopes),
            ("spans", self.spans, l.spans),
            ("attributes, span events and links", self.items, l.items),
        ] {
            if count > limit {
                return Err(Error::TooMany { what, count, limit });
            }
        }
        Ok(())
    }
}

/// Counts what a request body holds without decoding it (no allocation
/// per message). A malformed body is counted as far as it reads; the
/// decoder then says what is wrong with it.
pub fn count(body: &[u8], encoding: Encoding) -> Counts {
    let mut c = Counts::default();
    match encoding {
        Encoding::Protobuf => count::protobuf(body, &mut c),
        Encoding::Json => count::json(body, &mut c),
    }
    c
}

/// Reads an `ExportTraceServiceRequest` in `encoding`, refusing one that
/// holds more than `limits` before decoding it.
pub fn decode_within(body: &[u8], encoding: Encoding, limits: &Limits) -> Result<ExportTraceServiceRequest, Error> {
    count(body, encoding).check(limits)?;
    decode(body, encoding)
}

/// Reads an `ExportTraceServiceRequest` in `encoding`.
pub fn decode(body: &[u8], encoding: Encoding) -> Result<ExportTraceServiceRequest, Error> {
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body).map_err(|e| Error::Protobuf(e.to_string())),
        Encoding::Json => {
            let de = &mut serde_json::Deserializer::from_slice(body);
            let req: ExportTraceServiceRequest = serde_path_to_error::deserialize(de).map_err(|e| {
                let path = e.path().to_string();
                Error::Json { path, reason: e.into_inner().to_string() }
            })?;
            Ok(req)
        }
    }
}

mod count {
    //! The counting passes of [`super::count`].

    use super::Counts;

    /// A base-128 varint. By hand: prost's wire helpers are internals of
    /// its generated code (`#[doc(hidden)]`), and this is ten lines.
    fn varint(b: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first()?;
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// The fields of one protobuf message: (field number, the payload of a
    /// length-delimited field); other wire types are skipped. Stops at the
    /// first malformed byte.
    fn fields(mut b: &[u8]) -> impl Iterator<Item = (u64, Option<&[u8]>)> {
        std::iter::from_fn(move || {
            let key = varint(&mut b)?;
            let payload = match key & 7 {
                0 => varint(&mut b).map(|_| None)?,
                1 => b.split_off(..8).map(|_| None)?,
                5 => b.split_off(..4).map(|_| None)?,
                2 => {
                    let len = usize::try_from(varint(&mut b)?).ok()?;
                    Some(b.split_off(..len)?)
                }
                _ => return None,
            };
            Some((key >> 3, payload))
        })
    }

    /// Children of `msg` in field `n` that are messages.
    fn children(msg: &[u8], n: u64) -> impl Iterator<Item = &[u8]> {
        fields(msg).filter_map(move |(f, p)| if f == n { p } else { None })
    }

    /// ExportTraceServiceRequest: resource_spans = 1. ResourceSpans:
    /// resource = 1 (attributes = 1), scope_spans = 2. ScopeSpans: scope =
    /// 1 (attributes = 3), spans = 2. Span: attributes = 9, events = 11
    /// (attributes = 3), links = 13 (attributes = 4).
    pub(super) fn protobuf(body: &[u8], c: &mut Counts) {
        for rs in children(body, 1) {
            c.resources += 1;
            for r in children(rs, 1) {
                c.items += children(r, 1).count();
            }
            for ss in children(rs, 2) {
                c.scopes += 1;
                for sc in children(ss, 1) {
                    c.items += children(sc, 3).count();
                }
                for span in children(ss, 2) {
                    c.spans += 1;
                    for (f, p) in fields(span) {
                        match (f, p) {
                            (9, _) => c.items += 1,
                            (11, Some(ev)) => c.items += 1 + children(ev, 3).count(),
                            (13, Some(link)) => c.items += 1 + children(link, 4).count(),
                            _ => {}
                        }
                    }
                }
            }
        }
    }

    /// OTLP/JSON: every element of an array counts by the member that holds
    /// it (`resourceSpans`, `scopeSpans`, `spans`; `attributes`, `events`,
    /// `links` at any depth), in one streaming pass that keeps nothing.
    pub(super) fn json(body: &[u8], c: &mut Counts) {
        use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
        use std::fmt;

        #[derive(Clone, Copy)]
        enum Kind {
            Resources,
            Scopes,
            Spans,
            Items,
            /// Other repeated fields: `values` (ArrayValue, KeyValueList),
            /// `entityRefs`, `idKeys`, `descriptionKeys`.
            List,
            Other,
        }

        struct Walk<'c> {
            c: &'c mut Counts,
            kind: Kind,
        }

        impl<'de> DeserializeSeed<'de> for Walk<'_> {
            type Value = ();
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.deserialize_any(self)
            }
        }

        impl<'de> Visitor<'de> for Walk<'_> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<(), E> {
                Ok(())
            }
            fn visit_i64<E>(self, _: i64) -> Result<(), E> {
                Ok(())
            }
            fn visit_u64<E>(self, _: u64) -> Result<(), E> {
                Ok(())
            }
            fn visit_f64<E>(self, _: f64) -> Result<(), E> {
                Ok(())
            }
            fn visit_str<E>(self, _: &str) -> Result<(), E> {
                Ok(())
            }
            fn visit_unit<E>(self) -> Result<(), E> {
                Ok(())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
                let kind = self.kind;
                if matches!(kind, Kind::Other) {
                    self.c.arrays_for_messages += 1;
                }
                loop {
                    let more = s.next_element_seed(Walk { c: &mut *self.c, kind: Kind::Other })?;
                    if more.is_none() {
                        return Ok(());
                    }
                    match kind {
                        Kind::Resources => self.c.resources += 1,
                        Kind::Scopes => self.c.scopes += 1,
                        Kind::Spans => self.c.spans += 1,
                        Kind::Items => self.c.items += 1,
                        Kind::List | Kind::Other => {}
                    }
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
                while let Some(key) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                    let kind = match &*key {
                        "resourceSpans" => Kind::Resources,
                        "scopeSpans" => Kind::Scopes,
                        "spans" => Kind::Spans,
                        "attributes" | "events" | "links" => Kind::Items,
                        "values" | "entityRefs" | "idKeys" | "descriptionKeys" => Kind::List,
                        _ => Kind::Other,
                    };
                    m.next_value_seed(Walk { c: &mut *self.c, kind })?;
                }
                Ok(())
            }
        }

        let de = &mut serde_json::Deserializer::from_slice(body);
        // A body that is not JSON is counted as far as it reads.
        let _ = Walk { c, kind: Kind::Other }.deserialize(de);
    }
}

/// Encodes a request (tests and tools that send OTLP).
pub fn encode(req: &ExportTraceServiceRequest, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => req.encode_to_vec(),
        // Generated plain data with string keys: serialising cannot fail.
        Encoding::Json => serde_json::to_vec(req).unwrap_or_default(),
    }
}

/// The `ExportTraceServiceResponse` for a request of which `rejected` spans
/// were not taken (`message` says why); a full success when `rejected` is 0.
pub fn response(rejected: u64, message: &str, encoding: Encoding) -> Vec<u8> {
    let partial_success = (rejected > 0 || !message.is_empty()).then(|| ExportTracePartialSuccess {
        rejected_spans: i64::try_from(rejected).unwrap_or(i64::MAX),
        error_message: message.to_string(),
    });
    match (encoding, partial_success) {
        (Encoding::Protobuf, partial_success) => ExportTraceServiceResponse { partial_success }.encode_to_vec(),
        // By hand: OTLP/JSON writes 64-bit integers as decimal strings.
        (Encoding::Json, None) => b"{}".to_vec(),
        (Encoding::Json, Some(p)) => serde_json::json!({
            "partialSuccess": { "rejectedSpans": p.rejected_spans.to_string(), "errorMessage": p.error_message }
        })
        .to_string()
        .into_bytes(),
    }
}

/// Reads a response (tests).
pub fn decode_response(body: &[u8], encoding: Encoding) -> Option<ExportTraceServiceResponse> {
    match encoding {
        Encoding::Protobuf => ExportTraceServiceResponse::decode(body).ok(),
        Encoding::Json => {
            let v: serde_json::Value = serde_json::from_slice(body).ok()?;
            let partial_success = match v.get("partialSuccess") {
                None | Some(serde_json::Value::Null) => None,
                Some(p) => Some(ExportTracePartialSuccess {
                    rejected_spans: match &p["rejectedSpans"] {
                        serde_json::Value::String(s) => s.parse().ok()?,
                        n => n.as_i64().unwrap_or(0),
                    },
                    error_message: p["errorMessage"].as_str().unwrap_or_default().to_string(),
                }),
            };
            Some(ExportTraceServiceResponse { partial_success })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b).expect("in memory");
        e.finish().expect("in memory")
    }

    /// Issue 19, finding 7: what a request holds is counted before it is
    /// decoded, the same in both encodings, and a request past a limit is
    /// refused by name. OTLP/JSON messages written as arrays are refused.
    #[test]
    fn requests_are_counted_before_decoding_in_both_encodings() {
        use crate::map::tests::{kv, request, s, span};
        use proto::common::v1::any_value::Value as Any;
        let mut sp = span(1, 1, None, 0, vec![s("a", "1"), s("b", "2")]);
        sp.events.push(proto::trace::v1::span::Event { attributes: vec![s("c", "3")], ..Default::default() });
        sp.links
            .push(proto::trace::v1::span::Link { attributes: vec![kv("d", Any::IntValue(4))], ..Default::default() });
        let req = request(vec![sp.clone(), sp.clone(), span(1, 2, Some(1), 5, vec![])]);
        // Resource: service.name; spans: 2 × (2 attributes + event with 1 + link with 1).
        let want = Counts { resources: 1, scopes: 1, spans: 3, items: 1 + 2 * 6, arrays_for_messages: 0 };
        for enc in [Encoding::Protobuf, Encoding::Json] {
            let body = encode(&req, enc);
            assert_eq!(count(&body, enc), want, "{enc:?}");
            assert!(decode_within(&body, enc, &Limits::DEFAULT).is_ok());
            let tight = Limits { spans: 2, ..Limits::DEFAULT };
            let e = decode_within(&body, enc, &tight).expect_err("over the span limit");
            assert_eq!(e, Error::TooMany { what: "spans", count: 3, limit: 2 });
        }
        for bad in [&br#"[]"#[..], br#"{"resourceSpans":[[]]}"#, br#"{"resourceSpans":[{"resource":[]}]}"#] {
            let e = decode_within(bad, Encoding::Json, &Limits::DEFAULT).expect_err("array for a message");
            assert!(matches!(e, Error::Json { .. }), "{e}");
        }
    }

    #[test]
    fn content_types_pick_the_encoding() {
        assert_eq!(Encoding::from_content_type(Some("application/x-protobuf")), Ok(Encoding::Protobuf));
        assert_eq!(Encoding::from_content_type(Some("Application/JSON; charset=utf-8")), Ok(Encoding::Json));
        assert_eq!(Encoding::from_content_type(Some("text/plain")), Err(Error::ContentType("text/plain".into())));
        assert!(Encoding::from_content_type(None).is_err());
    }

    #[test]
    fn gzip_bodies_inflate_within_the_limit_only() {
        let body = vec![b'a'; 10_000];
        let z = gzip(&body);
        assert_eq!(inflate(&z, Some("gzip"), 10_000).expect("fits").as_ref(), &body[..]);
        assert_eq!(inflate(&z, Some("gzip"), 9_999), Err(Error::TooLarge { limit: 9_999 }));
        assert_eq!(inflate(&body, None, 9_999), Err(Error::TooLarge { limit: 9_999 }));
        assert_eq!(inflate(&body, Some("br"), 1 << 20), Err(Error::ContentEncoding("br".into())));
        let cut = &z[..z.len() - 6];
        assert!(matches!(inflate(cut, Some("gzip"), 1 << 20), Err(Error::Gzip { .. })));
    }

    #[test]
    fn json_errors_name_the_path() {
        let body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}"#;
        match decode(body, Encoding::Json) {
            Err(Error::Json { path, .. }) => assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans[0].traceId"),
            other => panic!("expected a JSON error, got {other:?}"),
        }
    }

    #[test]
    fn a_full_success_has_no_partial_success() {
        for enc in [Encoding::Protobuf, Encoding::Json] {
            let ok = decode_response(&response(0, "", enc), enc).expect("decodes");
            assert_eq!(ok.partial_success, None);
            let partial = decode_response(&response(3, "3 spans are not GenAI spans", enc), enc).expect("decodes");
            let p = partial.partial_success.expect("partial");
            assert_eq!((p.rejected_spans, p.error_message.as_str()), (3, "3 spans are not GenAI spans"));
        }
    }

    proptest! {
        #[test]
        fn gzip_round_trips(body in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let z = gzip(&body);
            let out = inflate(&z, Some("gzip"), 4096).expect("fits");
            prop_assert_eq!(out.as_ref(), &body[..]);
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = inflate(&body, Some("gzip"), 1 << 16);
            for enc in [Encoding::Protobuf, Encoding::Json] {
                if let Ok(req) = decode(&body, enc) {
                    let _ = map::map_request(&req, "acme");
                }
            }
        }

        #[test]
        fn requests_round_trip_in_both_encodings(req in map::tests::arb_request()) {
            for enc in [Encoding::Protobuf, Encoding::Json] {
                prop_assert_eq!(&decode(&encode(&req, enc), enc).expect("own encoding"), &req);
            }
        }
    }
}
