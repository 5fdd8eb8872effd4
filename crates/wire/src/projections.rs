//! The projection streams' messages: what each read model publishes for
//! analytics (`projections.sessions`, `.pii`, `.anomalies`,
//! `.availability`), with their Avro schemas (`schemas/v1/projections/`)
//! and bundled ids. Values go out in the Confluent wire format like every
//! other topic, so a Confluent or Redpanda deserializer reads them with the
//! node's `/registry` (docs/streams.md).
//!
//! The messages are their own structs, not the read models' rows, so that
//! a row can change without changing what consumers see. They go through
//! apache-avro's serde mapping (these are cold paths next to the sealed
//! record's hand-written codec), checked against the schema on every encode.

use apache_avro::Schema;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::sync::OnceLock;

/// A projection stream: its topic suffix, schema and bundled schema id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Session summaries and completeness.
    Sessions,
    /// PII findings (never the values).
    Pii,
    /// Anomalies.
    Anomalies,
    /// Per-minute availability rows.
    Availability,
}

/// Every stream, in id order.
pub const STREAMS: [Stream; 4] = [Stream::Sessions, Stream::Pii, Stream::Anomalies, Stream::Availability];

impl Stream {
    /// The topic name without a deployment prefix (`projections.pii`).
    pub fn topic(self) -> &'static str {
        match self {
            Stream::Sessions => "projections.sessions",
            Stream::Pii => "projections.pii",
            Stream::Anomalies => "projections.anomalies",
            Stream::Availability => "projections.availability",
        }
    }

    /// The read model that publishes it.
    pub fn model(self) -> &'static str {
        match self {
            Stream::Sessions => "sessions",
            Stream::Pii => "pii",
            Stream::Anomalies => "anomaly",
            Stream::Availability => "availability",
        }
    }

    /// The stream a read model publishes, if any.
    pub fn of_model(model: &str) -> Option<Stream> {
        STREAMS.into_iter().find(|s| s.model() == model)
    }

    /// Its bundled schema id (`schemas/ids.json`).
    pub fn schema_id(self) -> u32 {
        match self {
            Stream::Sessions => crate::ids::SESSION_SUMMARY_V1,
            Stream::Pii => crate::ids::PII_FINDINGS_V1,
            Stream::Anomalies => crate::ids::ANOMALY_V1,
            Stream::Availability => crate::ids::AVAILABILITY_MINUTE_V1,
        }
    }

    /// Its Avro schema as JSON text.
    pub fn avsc(self) -> &'static str {
        match self {
            Stream::Sessions => include_str!("../../../schemas/v1/projections/session-summary.avsc"),
            Stream::Pii => include_str!("../../../schemas/v1/projections/pii-findings.avsc"),
            Stream::Anomalies => include_str!("../../../schemas/v1/projections/anomaly.avsc"),
            Stream::Availability => include_str!("../../../schemas/v1/projections/availability-minute.avsc"),
        }
    }

    /// Its parsed schema.
    pub fn schema(self) -> &'static Schema {
        static S: OnceLock<Vec<Schema>> = OnceLock::new();
        let all = S.get_or_init(|| {
            // Compile-time constants, parsed by this module's tests.
            STREAMS
                .iter()
                .map(|s| Schema::parse_str(s.avsc()).unwrap_or_else(|e| panic!("{}: {e}", s.topic())))
                .collect()
        });
        &all[self as usize]
    }
}

/// Why a message could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("{stream}: {message}")]
pub struct StreamError {
    stream: &'static str,
    message: String,
}

fn fail(stream: Stream, e: impl std::fmt::Display) -> StreamError {
    StreamError { stream: stream.topic(), message: e.to_string() }
}

/// The Avro binary encoding of `message` (no framing), checked against the
/// stream's schema.
pub fn encode<T: Serialize>(stream: Stream, message: &T) -> Result<Vec<u8>, StreamError> {
    let schema = stream.schema();
    let value = apache_avro::to_value(message).map_err(|e| fail(stream, e))?;
    let value = value.resolve(schema).map_err(|e| fail(stream, e))?;
    apache_avro::to_avro_datum(schema, value).map_err(|e| fail(stream, e))
}

/// A message from its Avro binary encoding (no framing).
pub fn decode<T: DeserializeOwned>(stream: Stream, mut datum: &[u8]) -> Result<T, StreamError> {
    crate::avro::sealed_record_schema(); // installs the decoder's allocation bound
    let value = apache_avro::from_avro_datum(stream.schema(), &mut datum, None).map_err(|e| fail(stream, e))?;
    if !datum.is_empty() {
        return Err(fail(stream, format!("{} bytes after the message", datum.len())));
    }
    apache_avro::from_value(&value).map_err(|e| fail(stream, e))
}

/// `projections.sessions`: a session's summary after a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSummaryMessage {
    /// `<tenant>/sessions/<session_id>`.
    pub dedup_key: String,
    /// Seq of the latest record folded in.
    pub version: i64,
    /// Tenant.
    pub tenant_id: String,
    /// Session.
    pub session_id: String,
    /// Agents in order of appearance.
    pub agents: Vec<String>,
    /// Earliest step, µs.
    pub first_at: i64,
    /// Latest step, µs.
    pub last_at: i64,
    /// Records.
    pub recorded: i64,
    /// Highest step index.
    pub max_step_index: i64,
    /// Declared step count.
    pub expected_steps: Option<i64>,
    /// agent_end recorded.
    pub ended: bool,
    /// `complete`, `incomplete` or `open`.
    pub completeness: String,
    /// Step indexes with no record (when ended).
    pub missing_steps: i64,
    /// Steps with status error.
    pub errors: i64,
    /// Tool calls.
    pub tool_calls: i64,
    /// Prompt tokens.
    pub input_tokens: i64,
    /// Completion tokens.
    pub output_tokens: i64,
    /// Micro-USD.
    pub cost_micros: i64,
    /// `provider/name` in order of first use.
    pub models: Vec<String>,
    /// First seq.
    pub first_seq: i64,
    /// Last seq.
    pub last_seq: i64,
}

/// One finding, without the value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingMessage {
    /// Content field.
    pub field: String,
    /// Kind.
    pub kind: String,
    /// Byte offset.
    pub start: i64,
    /// End (exclusive).
    pub end: i64,
    /// 0..1.
    pub confidence: f32,
    /// Detector.
    pub detector: String,
}

/// `projections.pii`: the findings of one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PiiFindingsMessage {
    /// `<tenant>/pii/<seq>`.
    pub dedup_key: String,
    /// Tenant.
    pub tenant_id: String,
    /// Seq.
    pub seq: i64,
    /// Event id.
    pub event_id: String,
    /// Agent.
    pub agent_id: String,
    /// Session.
    pub session_id: String,
    /// Event time, µs.
    pub timestamp: i64,
    /// Model provider.
    pub provider: Option<String>,
    /// Declared classification.
    pub declared: Option<String>,
    /// Resulting classification.
    pub classification: String,
    /// Findings.
    pub findings: Vec<FindingMessage>,
    /// Findings past the caps.
    pub omitted: i64,
}

/// `projections.anomalies`: one anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyMessage {
    /// `<tenant>/anomalies/<seq>/<index>`.
    pub dedup_key: String,
    /// Query API id.
    pub id: String,
    /// Tenant.
    pub tenant_id: String,
    /// Seq of its record.
    pub seq: i64,
    /// Event id.
    pub event_id: String,
    /// Agent.
    pub agent_id: String,
    /// Session.
    pub session_id: String,
    /// Event time, µs.
    pub timestamp: i64,
    /// Kind.
    pub kind: String,
    /// Severity.
    pub severity: String,
    /// Rule or detector.
    pub rule: String,
    /// What was wrong.
    pub detail: String,
    /// Score.
    pub score: Option<f64>,
    /// Policy version.
    pub policy: String,
}

/// `projections.availability`: one minute of one scope, cumulative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityMinuteMessage {
    /// `<tenant>/availability/<scope>/<name>/<minute>`.
    pub dedup_key: String,
    /// Seq of the latest record folded in.
    pub version: i64,
    /// Tenant.
    pub tenant_id: String,
    /// `agent`, `provider` or `agent_provider`.
    pub scope: String,
    /// Agent (agent and agent_provider scopes).
    pub agent_id: Option<String>,
    /// Provider (provider and agent_provider scopes).
    pub provider: Option<String>,
    /// Start of the minute, µs.
    pub minute: i64,
    /// Events.
    pub events: i64,
    /// Errors.
    pub errors: i64,
    /// Model calls.
    pub calls: i64,
    /// Prompt tokens.
    pub input_tokens: i64,
    /// Completion tokens.
    pub output_tokens: i64,
    /// Micro-USD.
    pub cost_micros: i64,
    /// Latency p50, ms.
    pub latency_p50_ms: Option<f64>,
    /// Latency p99, ms.
    pub latency_p99_ms: Option<f64>,
    /// Latency max, ms.
    pub latency_max_ms: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_bundled_id_table_names_each_stream_with_its_schema_file() {
        let table: serde_json::Value =
            serde_json::from_str(include_str!("../../../schemas/ids.json")).expect("ids.json");
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/");
        let rows = table["schemas"].as_array().expect("schemas");
        for s in STREAMS {
            let row = rows.iter().find(|r| r["id"] == s.schema_id()).unwrap_or_else(|| panic!("{s:?} not in ids.json"));
            assert_eq!(row["subject"], format!("{}-value", s.topic()));
            let file = std::fs::read_to_string(format!("{dir}{}", row["file"].as_str().expect("file"))).expect("avsc");
            assert_eq!(file, s.avsc());
            assert_eq!(Stream::of_model(s.model()), Some(s));
        }
        let ids: std::collections::BTreeSet<_> = rows.iter().map(|r| r["id"].as_u64()).collect();
        assert_eq!(ids.len(), rows.len(), "ids are unique");
    }

    fn text() -> impl Strategy<Value = String> {
        "\\PC{0,12}"
    }

    fn opt_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(text())
    }

    prop_compose! {
        fn session()(dedup_key in text(), version in any::<i64>(), tenant_id in text(), session_id in text(),
            agents in proptest::collection::vec(text(), 0..3), first_at in any::<i64>(), last_at in any::<i64>(),
            recorded in any::<i64>(), max_step_index in any::<i64>(), expected_steps in proptest::option::of(any::<i64>()),
            ended in any::<bool>(), completeness in text(), missing_steps in any::<i64>(),
            n in proptest::array::uniform6(any::<i64>()), models in proptest::collection::vec(text(), 0..3),
            last_seq in any::<i64>()) -> SessionSummaryMessage {
            SessionSummaryMessage { dedup_key, version, tenant_id, session_id, agents, first_at, last_at, recorded,
                max_step_index, expected_steps, ended, completeness, missing_steps, errors: n[0], tool_calls: n[1],
                input_tokens: n[2], output_tokens: n[3], cost_micros: n[4], models, first_seq: n[5], last_seq }
        }
    }

    prop_compose! {
        fn finding()(field in text(), kind in text(), start in any::<i64>(), end in any::<i64>(),
            confidence in -1e6f32..1e6, detector in text()) -> FindingMessage {
            FindingMessage { field, kind, start, end, confidence, detector }
        }
    }

    prop_compose! {
        fn pii()(dedup_key in text(), tenant_id in text(), seq in any::<i64>(), event_id in text(), agent_id in text(),
            session_id in text(), timestamp in any::<i64>(), provider in opt_text(), declared in opt_text(),
            classification in text(), findings in proptest::collection::vec(finding(), 0..4), omitted in any::<i64>())
            -> PiiFindingsMessage {
            PiiFindingsMessage { dedup_key, tenant_id, seq, event_id, agent_id, session_id, timestamp, provider,
                declared, classification, findings, omitted }
        }
    }

    prop_compose! {
        fn anomaly()(t in proptest::array::uniform10(text()), seq in any::<i64>(), timestamp in any::<i64>(),
            score in proptest::option::of(-1e9f64..1e9)) -> AnomalyMessage {
            let [dedup_key, id, tenant_id, event_id, agent_id, session_id, kind, severity, rule, detail] = t;
            AnomalyMessage { dedup_key, id, tenant_id, seq, event_id, agent_id, session_id, timestamp, kind,
                severity, rule, detail, score, policy: "p1".into() }
        }
    }

    prop_compose! {
        fn minute()(dedup_key in text(), version in any::<i64>(), tenant_id in text(), scope in text(),
            agent_id in opt_text(), provider in opt_text(), minute in any::<i64>(),
            n in proptest::array::uniform6(any::<i64>()),
            l in proptest::array::uniform3(proptest::option::of(0f64..1e9))) -> AvailabilityMinuteMessage {
            AvailabilityMinuteMessage { dedup_key, version, tenant_id, scope, agent_id, provider, minute,
                events: n[0], errors: n[1], calls: n[2], input_tokens: n[3], output_tokens: n[4], cost_micros: n[5],
                latency_p50_ms: l[0], latency_p99_ms: l[1], latency_max_ms: l[2] }
        }
    }

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(s: Stream, m: &T) {
        let bytes = encode(s, m).expect("encodes");
        assert_eq!(&decode::<T>(s, &bytes).expect("decodes"), m);
        // Bytes past the message are refused.
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode::<T>(s, &longer).is_err());
    }

    proptest! {
        #[test]
        fn sessions_round_trip(m in session()) { round_trip(Stream::Sessions, &m) }

        #[test]
        fn pii_round_trips(m in pii()) { round_trip(Stream::Pii, &m) }

        #[test]
        fn anomalies_round_trip(m in anomaly()) { round_trip(Stream::Anomalies, &m) }

        #[test]
        fn availability_rounds_trip(m in minute()) { round_trip(Stream::Availability, &m) }

        #[test]
        fn any_bytes_decode_or_fail_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            for s in STREAMS {
                let _ = decode::<serde_json::Value>(s, &bytes);
            }
        }
    }

    #[test]
    fn a_message_of_another_stream_is_refused() {
        let m = AnomalyMessage {
            dedup_key: "t/anomalies/1/0".into(),
            id: "t/1/0".into(),
            tenant_id: "t".into(),
            seq: 1,
            event_id: "e".into(),
            agent_id: "a".into(),
            session_id: "s".into(),
            timestamp: 0,
            kind: "cost_spike".into(),
            severity: "high".into(),
            rule: "r".into(),
            detail: "d".into(),
            score: None,
            policy: "p".into(),
        };
        let e = encode(Stream::Sessions, &m).expect_err("not a session summary");
        assert!(e.to_string().starts_with("projections.sessions: "), "{e}");
    }
}
