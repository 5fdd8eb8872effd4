//! The trace event an agent publishes, and its JSON form.
//!
//! The JSON form uses the Avro field names of `schemas/v1/trace-event.avsc`:
//! timestamps are RFC 3339 (normalised to UTC, microsecond precision), enum
//! symbols are lowercase, optional fields may be omitted, and an unknown
//! field or a wrong type is rejected with an error naming the field.

use crate::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Longest tenant id accepted.
pub const MAX_TENANT_ID_LEN: usize = 128;
/// Longest agent, session or other identifier accepted.
pub const MAX_ID_LEN: usize = 256;

/// Microseconds since the Unix epoch, UTC (Avro `timestamp-micros`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The wall clock now. The one clock read of the core: everything that
    /// decides on time takes a `Timestamp` argument (and stays testable);
    /// callers at the edge read the clock here.
    pub fn now() -> Self {
        Timestamp(chrono::Utc::now().timestamp_micros())
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-11-27T09:14:03.512345Z`.
    pub fn to_rfc3339(self) -> String {
        match chrono::DateTime::from_timestamp_micros(self.0) {
            Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            None => format!("@{}us", self.0),
        }
    }

    /// Parses RFC 3339 with any offset, normalised to UTC.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
        Some(Timestamp(t.timestamp_micros()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not an RFC 3339 timestamp")))
    }
}

macro_rules! symbol_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $code:literal => $sym:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $var),+ }

        impl $name {
            /// Every symbol, in Avro schema order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// The stable one-byte code used in canonical bytes.
            pub fn code(self) -> u8 { match self { $($name::$var => $code),+ } }
            /// The variant with this canonical code.
            pub fn from_code(c: u8) -> Option<Self> { match c { $($code => Some($name::$var),)+ _ => None } }
            /// The lowercase Avro/JSON symbol.
            pub fn symbol(self) -> &'static str { match self { $($name::$var => $sym),+ } }
            /// The variant with this symbol.
            pub fn from_symbol(s: &str) -> Option<Self> { match s { $($sym => Some($name::$var),)+ _ => None } }
        }
    };
}

symbol_enum!(
    /// What an event records.
    EventKind {
        /// An agent run begins.
        AgentStart = 0 => "agent_start",
        /// A call to a language model.
        LlmCall = 1 => "llm_call",
        /// A tool invocation.
        ToolCall = 2 => "tool_call",
        /// A decision the agent took.
        Decision = 3 => "decision",
        /// An agent run ends.
        AgentEnd = 4 => "agent_end",
        /// An error.
        Error = 5 => "error",
        /// A liveness heartbeat.
        Heartbeat = 6 => "heartbeat",
        /// A retrieval (RAG) step.
        Retrieval = 7 => "retrieval",
        /// Control handed to another agent.
        Handoff = 8 => "handoff",
        /// A human reviewed or approved a step.
        HumanReview = 9 => "human_review",
        /// An evaluator scored a step (OpenTelemetry's
        /// `gen_ai.evaluation.result`): its name, score and label are
        /// attributes, its explanation is content.
        Evaluation = 10 => "evaluation",
        /// A guardrail checked a step: what it found (its verdict) and what
        /// was done about it (its action) are kept apart, as attributes.
        Guardrail = 11 => "guardrail",
    }
);

symbol_enum!(
    /// Outcome of one tool call.
    ToolStatus {
        /// The tool returned normally.
        Ok = 0 => "ok",
        /// The tool failed.
        Error = 1 => "error",
        /// The tool timed out.
        Timeout = 2 => "timeout",
        /// The call was refused by a policy.
        Denied = 3 => "denied",
    }
);

symbol_enum!(
    /// Outcome of the step.
    StatusCode {
        /// Success.
        Ok = 0 => "ok",
        /// Failure; see the message.
        Error = 1 => "error",
    }
);

symbol_enum!(
    /// Declared sensitivity of the data in the event.
    Classification {
        /// Public.
        Public = 0 => "public",
        /// Internal.
        Internal = 1 => "internal",
        /// Confidential.
        Confidential = 2 => "confidential",
        /// Restricted.
        Restricted = 3 => "restricted",
    }
);

/// The model that served a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Provider, e.g. `openai`.
    pub provider: String,
    /// Model name, e.g. `gpt-4o`.
    pub name: String,
    /// Model version, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// One tool call of a step. `arguments` and `result` are content fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// Tool name.
    pub name: String,
    /// Call id linking request and result.
    pub call_id: String,
    /// Arguments as sent (content; erasable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
    /// Result as returned (content; erasable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Outcome.
    pub status: ToolStatus,
}

/// Token usage of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    /// Prompt tokens.
    pub input: u64,
    /// Completion tokens.
    pub output: u64,
    /// Prompt tokens served from cache.
    #[serde(default)]
    pub cached: u64,
}

/// Outcome of the step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    /// ok or error.
    pub code: StatusCode,
    /// Error message, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Default for Status {
    fn default() -> Self {
        Status { code: StatusCode::Ok, message: None }
    }
}

/// A free-form key/value pair (an array, not a map, so order is kept and the
/// encoding is deterministic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    /// Key, e.g. `gen_ai.operation.name`.
    pub key: String,
    /// Value.
    pub value: String,
}

/// One structured trace event of an AI agent (schema `TraceEvent` v1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceEvent {
    /// Unique id; producer retries reuse it (idempotency key).
    pub event_id: Uuid,
    /// Tenant owning the event: `[A-Za-z0-9._-]{1,128}`, not starting with `.`.
    pub tenant_id: String,
    /// Agent that emitted it.
    pub agent_id: String,
    /// Session (run) the step belongs to.
    pub session_id: String,
    /// Position of the step in its session, from 0.
    pub step_index: u32,
    /// The step that caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_event_id: Option<Uuid>,
    /// What the event records.
    pub kind: EventKind,
    /// When the step happened (agent clock).
    pub timestamp: Timestamp,
    /// Model that served it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Model>,
    /// Prompt or input (content; erasable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Output (content; erasable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Reasoning / chain of thought (content; erasable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Tool calls made in the step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolCall>,
    /// Token usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Tokens>,
    /// Cost in micro-USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_micros: Option<u64>,
    /// Latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Outcome.
    #[serde(default)]
    pub status: Status,
    /// Hashed customer identifiers (HMAC), for DSAR look-ups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_ids: Vec<String>,
    /// Declared data classification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_classification: Option<Classification>,
    /// Steps the session is expected to have (completeness monitoring).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_steps: Option<u32>,
    /// Other attributes, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
}

/// Why an ingest item was not taken ([`TraceEvent::from_ingest_json`]).
#[derive(Debug)]
pub enum IngestRefusal {
    /// Not a valid event (the field and reason inside).
    Invalid(Error),
    /// A valid event of another tenant or of a system chain: the reason.
    Foreign(String),
}

/// Prefix of the system's per-tenant access-log chains (`_access.<tenant>`).
pub const ACCESS_CHAIN_PREFIX: &str = "_access.";

/// Prefix of the per-tenant privacy chains (`_privacy.<tenant>`).
pub const PRIVACY_CHAIN_PREFIX: &str = "_privacy.";

/// The access-log chain of `tenant`.
pub fn access_chain(tenant: &str) -> String {
    format!("{ACCESS_CHAIN_PREFIX}{tenant}")
}

/// The tenant whose data a chain is: `T` for `T`, `_access.T` and
/// `_privacy.T`; a sharded read service keeps the three together (the
/// tenant's SOC 2 report reads its access chain, its exports its privacy
/// chain). Any other chain is its own.
pub fn chain_tenant(chain: &str) -> &str {
    [ACCESS_CHAIN_PREFIX, PRIVACY_CHAIN_PREFIX]
        .iter()
        .find_map(|p| chain.strip_prefix(p).filter(|t| !t.is_empty()))
        .unwrap_or(chain)
}

/// Is `s` a tenant id that only the system writes (it starts with `_`)?
/// No API key is ever issued for one.
pub fn is_system_tenant_id(s: &str) -> bool {
    s.starts_with('_')
}

/// Is `s` a valid tenant id? Tenant ids name files and checkpoint origins,
/// so they are restricted to a safe alphabet. An access-log chain id
/// (`_access.` + a tenant id) or privacy chain id (`_privacy.` + a tenant
/// id) may be that prefix longer.
pub fn is_valid_tenant_id(s: &str) -> bool {
    let max = if s.starts_with(ACCESS_CHAIN_PREFIX) {
        MAX_TENANT_ID_LEN + ACCESS_CHAIN_PREFIX.len()
    } else if s.starts_with(PRIVACY_CHAIN_PREFIX) {
        MAX_TENANT_ID_LEN + PRIVACY_CHAIN_PREFIX.len()
    } else {
        MAX_TENANT_ID_LEN
    };
    !s.is_empty()
        && s.len() <= max
        && !s.starts_with('.')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl TraceEvent {
    /// A step with its identity, kind and time only: no model, content,
    /// tools, usage, subjects or attributes, status ok (for the system's own
    /// events; fill in the rest with struct update syntax).
    pub fn bare(
        event_id: Uuid,
        tenant_id: String,
        agent_id: &str,
        session_id: String,
        kind: EventKind,
        timestamp: Timestamp,
    ) -> Self {
        TraceEvent {
            event_id,
            tenant_id,
            agent_id: agent_id.to_string(),
            session_id,
            step_index: 0,
            parent_event_id: None,
            kind,
            timestamp,
            model: None,
            input: None,
            output: None,
            reasoning: None,
            tools: Vec::new(),
            tokens: None,
            cost_micros: None,
            latency_ms: None,
            status: Status::default(),
            subject_ids: Vec::new(),
            data_classification: None,
            expected_steps: None,
            attributes: Vec::new(),
        }
    }

    /// Parses one event from its JSON form and validates it. Only the
    /// object form is accepted, for the event and every record in it:
    /// serde would also take a struct written as an array of its fields in
    /// order, a second spelling of the same event that no client means and
    /// that checks looking for a field by name do not see.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(Error::event(".", "an event must be a JSON object"));
        }
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let ev: TraceEvent = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            // serde_json appends " at line L column C"; the path says more.
            let field =
                if path == "." { unknown_field_name(&inner.to_string()).unwrap_or_else(|| ".".into()) } else { path };
            Error::event(field, inner.to_string())
        })?;
        shape::objects_only(bytes)?;
        ev.validate()?;
        Ok(ev)
    }

    /// Parses one item of an ingest request made with a key of `tenant`:
    /// an event that omits its tenant is the key's; one that names another
    /// tenant, or a system chain (`_…`), is refused as foreign. The tenant
    /// is authorised on the event as parsed (only the object form is an
    /// event), never on a separate look at the bytes.
    pub fn from_ingest_json(bytes: &[u8], tenant: &str) -> std::result::Result<Self, IngestRefusal> {
        #[derive(Deserialize)]
        struct TenantOf {
            tenant_id: Option<serde::de::IgnoredAny>,
        }
        let ev = match serde_json::from_slice::<TenantOf>(bytes) {
            Ok(TenantOf { tenant_id: None }) if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') => {
                let mut v: serde_json::Value = serde_json::from_slice(bytes)
                    .map_err(|e| IngestRefusal::Invalid(Error::event(".", format!("not a JSON event: {e}"))))?;
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("tenant_id".into(), serde_json::Value::String(tenant.to_string()));
                }
                TraceEvent::from_json(v.to_string().as_bytes())
            }
            _ => TraceEvent::from_json(bytes),
        }
        .map_err(IngestRefusal::Invalid)?;
        if ev.tenant_id != tenant {
            return Err(IngestRefusal::Foreign(if is_system_tenant_id(&ev.tenant_id) {
                "tenant ids starting with '_' are the system's own chains".to_string()
            } else {
                format!("this key belongs to tenant `{tenant}`")
            }));
        }
        Ok(ev)
    }

    /// The JSON form (one line, no trailing newline).
    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks the rules serde cannot express.
    pub fn validate(&self) -> Result<()> {
        if !is_valid_tenant_id(&self.tenant_id) {
            return Err(Error::event("tenant_id", "must be 1-128 characters of [A-Za-z0-9._-], not starting with '.'"));
        }
        for (name, v) in [("agent_id", &self.agent_id), ("session_id", &self.session_id)] {
            if v.is_empty() || v.len() > MAX_ID_LEN {
                return Err(Error::event(name, "must be 1-256 bytes"));
            }
        }
        if self.parent_event_id == Some(self.event_id) {
            return Err(Error::event("parent_event_id", "an event cannot be its own parent"));
        }
        // Avro `long` is signed: counters must fit in 63 bits.
        let too_big = |v: u64| v > i64::MAX as u64;
        if let Some(t) = &self.tokens {
            for (name, v) in [("tokens.input", t.input), ("tokens.output", t.output), ("tokens.cached", t.cached)] {
                if too_big(v) {
                    return Err(Error::event(name, "must be at most 2^63-1"));
                }
            }
        }
        for (name, v) in [("cost_micros", self.cost_micros), ("latency_ms", self.latency_ms)] {
            if v.is_some_and(too_big) {
                return Err(Error::event(name, "must be at most 2^63-1"));
            }
        }
        for (i, t) in self.tools.iter().enumerate() {
            if t.name.is_empty() {
                return Err(Error::event(format!("tools[{i}].name"), "must not be empty"));
            }
        }
        for (i, a) in self.attributes.iter().enumerate() {
            if a.key.is_empty() {
                return Err(Error::event(format!("attributes[{i}].key"), "must not be empty"));
            }
        }
        Ok(())
    }
}

/// The object-form check of [`TraceEvent::from_json`]: a second pass over
/// an event that parsed, skipping every value but the records (`model`,
/// `tokens`, `status`, and the items of `tools` and `attributes`), each of
/// which must be an object (or null where the field is optional). Nothing
/// is allocated: values are skipped with [`serde::de::IgnoredAny`].
mod shape {
    use super::{Error, Result};
    use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    /// A field whose value is a record (`One`) or a list of records (`Many`).
    enum Key {
        One(&'static str),
        Many(&'static str),
        Other,
    }

    impl<'de> de::Deserialize<'de> for Key {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Key;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a field name")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Key, E> {
                    Ok(match v {
                        "model" => Key::One("model"),
                        "tokens" => Key::One("tokens"),
                        "status" => Key::One("status"),
                        "tools" => Key::Many("tools"),
                        "attributes" => Key::Many("attributes"),
                        _ => Key::Other,
                    })
                }
            }
            d.deserialize_identifier(V)
        }
    }

    /// Any value, skipped: `true` when it was of the wanted form (an
    /// object or null; with `MANY`, an array of those or null).
    struct Form<const MANY: bool>(bool);

    impl<'de, const MANY: bool> de::Deserialize<'de> for Form<MANY> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V<const MANY: bool>;
            impl<'de, const MANY: bool> Visitor<'de> for V<MANY> {
                type Value = Form<MANY>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
                    Ok(Form(true))
                }
                fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Self::Value, E> {
                    Ok(Form(false))
                }
                fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<Self::Value, E> {
                    Ok(Form(false))
                }
                fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<Self::Value, E> {
                    Ok(Form(false))
                }
                fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Self::Value, E> {
                    Ok(Form(false))
                }
                fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<Self::Value, E> {
                    Ok(Form(false))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Self::Value, A::Error> {
                    while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    Ok(Form(!MANY))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> std::result::Result<Self::Value, A::Error> {
                    let mut ok = MANY;
                    while let Some(Form::<false>(item)) = s.next_element()? {
                        ok &= item;
                    }
                    Ok(Form(ok))
                }
            }
            d.deserialize_any(V::<MANY>)
        }
    }

    /// The first record field of an event written in another form.
    struct Event(Option<&'static str>);

    impl<'de> de::Deserialize<'de> for Event {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Event;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Event, A::Error> {
                    let mut bad = None;
                    while let Some(k) = m.next_key::<Key>()? {
                        let (name, ok) = match k {
                            Key::One(name) => (name, m.next_value::<Form<false>>()?.0),
                            Key::Many(name) => (name, m.next_value::<Form<true>>()?.0),
                            Key::Other => (".", m.next_value::<IgnoredAny>().map(|_| true)?),
                        };
                        if !ok && bad.is_none() {
                            bad = Some(name);
                        }
                    }
                    Ok(Event(bad))
                }
            }
            d.deserialize_map(V)
        }
    }

    /// Ok when every record of the (already parsed) event is an object.
    pub(super) fn objects_only(bytes: &[u8]) -> Result<()> {
        match serde_json::from_slice::<Event>(bytes) {
            Ok(Event(None)) => Ok(()),
            Ok(Event(Some(field))) => Err(Error::event(field, "must be a JSON object, not an array of its fields")),
            Err(e) => Err(Error::event(".", format!("an event must be a JSON object: {e}"))),
        }
    }
}

/// Pulls the field name out of serde's "unknown field `x`" / "missing field `x`".
fn unknown_field_name(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(msg[start..start + len].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../tests/fixtures/trace-event.json");

    /// The sequence form serde also accepts for a struct: the issue-19
    /// finding (an array of an event's fields in order, naming any tenant).
    #[test]
    fn only_the_object_form_is_an_event() {
        let array = r#"["0b7e4c2a-9f1d-4e57-8c3b-2d6a1f0e9b41","victim","forged","vsess",7,null,"decision","2026-01-01T00:00:00Z",null,"injected","approved"]"#;
        let e = TraceEvent::from_json(array.as_bytes()).expect_err("an array is not an event");
        assert!(matches!(&e, Error::InvalidEvent { field, .. } if field == "."), "{e}");
        assert!(TraceEvent::from_json(b"  \n 7").is_err());
        let ev = TraceEvent::from_json(EXAMPLE.as_bytes()).expect("example");
        let mut v: serde_json::Value = serde_json::from_str(EXAMPLE).expect("json");
        let nested = [
            ("model", serde_json::json!(["openai", "gpt-4o", null])),
            ("tokens", serde_json::json!([1, 2, 3])),
            ("status", serde_json::json!(["ok", null])),
            ("tools", serde_json::json!([["t", "c", null, null, "ok"]])),
            ("attributes", serde_json::json!([["k", "v"]])),
        ];
        for (field, form) in nested {
            let mut bad = v.clone();
            bad[field] = form;
            let e = TraceEvent::from_json(bad.to_string().as_bytes()).expect_err(field);
            assert!(matches!(&e, Error::InvalidEvent { field: f, .. } if f == field), "{field}: {e}");
        }
        // Null where a record is optional, and empty lists, are fine.
        v["model"] = serde_json::Value::Null;
        v["tools"] = serde_json::json!([]);
        let back = TraceEvent::from_json(v.to_string().as_bytes()).expect("null model");
        assert_eq!(back.model, None);
        assert_eq!(back.event_id, ev.event_id);
    }

    #[test]
    fn a_tenants_system_chains_are_its_own() {
        for (chain, tenant) in [
            ("acme", "acme"),
            ("_access.acme", "acme"),
            ("_privacy.acme", "acme"),
            ("_access", "_access"),
            ("_access.", "_access."),
            ("_privacy._access.x", "_access.x"),
        ] {
            assert_eq!(chain_tenant(chain), tenant, "{chain}");
        }
    }

    /// Issue 19, finding 1: an ingest item is authorised on the event as
    /// parsed — its own tenant (or the key's when omitted), never another's
    /// or a system chain, in any spelling.
    #[test]
    fn an_ingest_item_is_the_keys_tenants_or_refused() {
        let own = TraceEvent::from_ingest_json(EXAMPLE.as_bytes(), "acme").expect("own tenant");
        assert_eq!(own.tenant_id, "acme");
        let mut v: serde_json::Value = serde_json::from_str(EXAMPLE).expect("json");
        v.as_object_mut().expect("object").remove("tenant_id");
        let filled = TraceEvent::from_ingest_json(v.to_string().as_bytes(), "globex").expect("omitted tenant");
        assert_eq!(filled.tenant_id, "globex");
        for tenant in ["victim", "_access.acme", "_privacy.acme", "_access"] {
            v["tenant_id"] = tenant.into();
            match TraceEvent::from_ingest_json(v.to_string().as_bytes(), "acme") {
                Err(IngestRefusal::Foreign(why)) => {
                    assert!(why.contains(if tenant.starts_with('_') { "system" } else { "acme" }), "{why}")
                }
                other => panic!("{tenant}: {other:?}"),
            }
        }
        let array = r#"["0b7e4c2a-9f1d-4e57-8c3b-2d6a1f0e9b41","acme","forged","vsess",7,null,"decision","2026-01-01T00:00:00Z",null,"x","y"]"#;
        assert!(matches!(TraceEvent::from_ingest_json(array.as_bytes(), "acme"), Err(IngestRefusal::Invalid(_))));
        assert!(matches!(TraceEvent::from_ingest_json(b"[]", "acme"), Err(IngestRefusal::Invalid(_))));
        assert!(matches!(TraceEvent::from_ingest_json(b"{", "acme"), Err(IngestRefusal::Invalid(_))));
    }

    #[test]
    fn shared_example_parses_as_is() {
        let ev = TraceEvent::from_json(EXAMPLE.as_bytes()).expect("example must parse");
        assert_eq!(ev.tenant_id, "acme");
        assert_eq!(ev.kind, EventKind::ToolCall);
        assert_eq!(ev.tools.len(), 1);
        assert_eq!(ev.tokens.map(|t| t.cached), Some(512));
        assert_eq!(ev.timestamp.to_rfc3339(), "2026-11-27T09:14:03.512345Z");
        let again = TraceEvent::from_json(ev.to_json().as_bytes()).expect("round trip");
        assert_eq!(again, ev);
    }

    fn err_field(json: &str) -> String {
        match TraceEvent::from_json(json.as_bytes()) {
            Err(Error::InvalidEvent { field, .. }) => field,
            other => panic!("expected InvalidEvent, got {other:?}"),
        }
    }

    fn with(key: &str, value: &str) -> String {
        let mut v: serde_json::Value = serde_json::from_str(EXAMPLE).expect("example");
        v[key] = serde_json::from_str(value).expect("value");
        v.to_string()
    }

    #[test]
    fn unknown_field_is_named() {
        assert_eq!(err_field(&with("colour", "\"red\"")), "colour");
    }

    #[test]
    fn wrong_type_is_named_with_its_path() {
        assert_eq!(err_field(&with("step_index", "\"three\"")), "step_index");
        assert_eq!(err_field(&with("tokens", r#"{"input":"x","output":1}"#)), "tokens.input");
        assert_eq!(err_field(&with("tools", r#"[{"name":"a","call_id":"c","status":"maybe"}]"#)), "tools[0].status");
    }

    #[test]
    fn missing_required_field_is_named() {
        let mut v: serde_json::Value = serde_json::from_str(EXAMPLE).expect("example");
        v.as_object_mut().expect("object").remove("session_id");
        assert_eq!(err_field(&v.to_string()), "session_id");
    }

    #[test]
    fn bad_values_are_named() {
        assert_eq!(err_field(&with("tenant_id", "\"a/b\"")), "tenant_id");
        assert_eq!(err_field(&with("timestamp", "\"yesterday\"")), "timestamp");
        assert_eq!(err_field(&with("event_id", "\"not-a-uuid\"")), "event_id");
        assert_eq!(err_field(&with("kind", "\"LLM_CALL\"")), "kind");
        assert_eq!(err_field(&with("agent_id", "\"\"")), "agent_id");
    }

    #[test]
    fn optional_fields_may_be_omitted() {
        let min = r#"{"event_id":"0b7e4c2a-9f1d-4e57-8c3b-2d6a1f0e9b41","tenant_id":"t","agent_id":"a",
            "session_id":"s","step_index":0,"kind":"heartbeat","timestamp":"2026-01-01T00:00:00+01:00"}"#;
        let ev = TraceEvent::from_json(min.as_bytes()).expect("minimal event");
        assert_eq!(ev.timestamp.to_rfc3339(), "2025-12-31T23:00:00.000000Z");
        assert_eq!(ev.status.code, StatusCode::Ok);
    }

    #[test]
    fn symbols_and_codes_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::from_code(k.code()), Some(*k));
            assert_eq!(EventKind::from_symbol(k.symbol()), Some(*k));
        }
    }
}
