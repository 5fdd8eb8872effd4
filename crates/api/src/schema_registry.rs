//! A read-only Confluent Schema Registry API over the schemas this node
//! writes, mounted at `/registry`: Confluent's and Redpanda's serdes and
//! tools (kcat `-r`, `kafka-avro-console-consumer`, the Python and Java
//! clients) decode `traces.raw`, `ledger.sealed`, `ledger.checkpoints` and
//! the projection streams (`projections.*`, docs/streams.md) with
//! `schema.registry.url = http://NODE/registry` and nothing else.
//!
//! The ids are the bundled ones (`schemas/ids.json`), one version per
//! subject (`<topic>-value`). Registering a schema is accepted when it is
//! the one already there (the same JSON but for `doc`s, key order and
//! whitespace: clients register before they produce) and refused
//! otherwise, as a registry in `READONLY` mode does. Errors use the registry's own body (`error_code`, `message`),
//! which its clients parse, not problem+json.
//!
//! No key is needed: schemas are public, and they hold no data.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;
use traceledger_wire::avro::{registry_body_schema, schema_for_comparison, wire_schemas, RegistryBodyError};
use traceledger_wire::projections::STREAMS;

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// One schema under one subject.
struct Entry {
    id: u32,
    subject: String,
    /// Self-contained schema JSON (no references).
    schema: String,
    /// What registrations are compared with (docs stripped).
    canonical: Value,
}

/// The registry's contents.
pub struct Registry {
    entries: Vec<Entry>,
}

/// Topic names whose value schemas the registry serves.
pub struct RegistryTopics<'a> {
    /// Raw trace events.
    pub raw: &'a str,
    /// Sealed records.
    pub sealed: &'a str,
    /// Checkpoints.
    pub checkpoints: &'a str,
    /// The prefix of the projection streams' topics (`projections.*`).
    pub prefix: &'a str,
}

impl Registry {
    /// The schemas of `topics`' values.
    pub fn new(topics: &RegistryTopics<'_>) -> Self {
        let streams = STREAMS.map(|s| ((s.schema_id(), s.avsc()), format!("{}{}", topics.prefix, s.topic())));
        let entries = wire_schemas()
            .into_iter()
            .zip([topics.raw, topics.sealed, topics.checkpoints].map(str::to_string))
            .chain(streams)
            .map(|((id, schema), topic)| {
                // The bundled schemas parse: the codecs' tests hold them to it.
                let canonical = schema_for_comparison(schema).unwrap_or_default();
                Entry { id, subject: format!("{topic}-value"), schema: schema.to_string(), canonical }
            })
            .collect();
        Registry { entries }
    }

    fn by_id(&self, id: &str) -> Option<&Entry> {
        let id: u32 = id.parse().ok()?;
        self.entries.iter().find(|e| e.id == id)
    }

    fn by_subject(&self, subject: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.subject == subject)
    }
}

type Shared = State<Arc<Registry>>;

fn reply(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, CONTENT_TYPE)], body.to_string()).into_response()
}

/// An error in the Confluent registry's own shape (`error_code`, `message`),
/// which its clients parse: not problem+json.
struct RegistryError {
    status: StatusCode,
    code: u32,
    message: String,
}

impl RegistryError {
    fn new(status: StatusCode, code: u32, message: String) -> Self {
        RegistryError { status, code, message }
    }

    fn subject_not_found(subject: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, 40401, format!("Subject '{subject}' not found."))
    }

    fn schema_not_found(id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, 40403, format!("Schema {id} not found"))
    }
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        reply(self.status, json!({ "error_code": self.code, "message": self.message }))
    }
}

type Answer = Result<Response, RegistryError>;

fn version_of(e: &Entry) -> Value {
    json!({ "subject": e.subject, "version": 1, "id": e.id, "schema": e.schema })
}

/// The subject's entry at `version` (`1`, `latest` or `-1`).
fn at_version<'a>(r: &'a Registry, subject: &str, version: &str) -> Result<&'a Entry, RegistryError> {
    let e = r.by_subject(subject).ok_or_else(|| RegistryError::subject_not_found(subject))?;
    match version {
        "1" | "latest" | "-1" => Ok(e),
        v if v.parse::<i64>().is_ok() => {
            Err(RegistryError::new(StatusCode::NOT_FOUND, 40402, format!("Version {v} not found.")))
        }
        v => Err(RegistryError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            42202,
            format!("The specified version '{v}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""),
        )),
    }
}

/// The schema string of a registration or lookup body, in canonical form.
fn posted_schema(body: &[u8]) -> Result<Value, RegistryError> {
    registry_body_schema(body).map_err(|e| match e {
        RegistryBodyError::Json(why) => {
            RegistryError::new(StatusCode::BAD_REQUEST, 400, format!("Unrecognized body: {why}"))
        }
        RegistryBodyError::Schema(why) => {
            RegistryError::new(StatusCode::UNPROCESSABLE_ENTITY, 42201, format!("Invalid schema: {why}"))
        }
    })
}

fn schema<'a>(r: &'a Registry, id: &str) -> Result<&'a Entry, RegistryError> {
    r.by_id(id).ok_or_else(|| RegistryError::schema_not_found(id))
}

fn subject<'a>(r: &'a Registry, subject: &str) -> Result<&'a Entry, RegistryError> {
    r.by_subject(subject).ok_or_else(|| RegistryError::subject_not_found(subject))
}

async fn schema_by_id(State(r): Shared, Path(id): Path<String>) -> Answer {
    let e = schema(&r, &id)?;
    Ok(reply(StatusCode::OK, json!({ "schema": e.schema })))
}

async fn schema_subjects(State(r): Shared, Path(id): Path<String>) -> Answer {
    let e = schema(&r, &id)?;
    Ok(reply(StatusCode::OK, json!([e.subject])))
}

async fn schema_versions(State(r): Shared, Path(id): Path<String>) -> Answer {
    let e = schema(&r, &id)?;
    Ok(reply(StatusCode::OK, json!([{ "subject": e.subject, "version": 1 }])))
}

async fn types() -> Response {
    reply(StatusCode::OK, json!(["AVRO"]))
}

async fn subjects(State(r): Shared) -> Response {
    reply(StatusCode::OK, json!(r.entries.iter().map(|e| &e.subject).collect::<Vec<_>>()))
}

async fn versions(State(r): Shared, Path(s): Path<String>) -> Answer {
    subject(&r, &s)?;
    Ok(reply(StatusCode::OK, json!([1])))
}

async fn version(State(r): Shared, Path((subject, v)): Path<(String, String)>) -> Answer {
    let e = at_version(&r, &subject, &v)?;
    Ok(reply(StatusCode::OK, version_of(e)))
}

async fn version_schema(State(r): Shared, Path((subject, v)): Path<(String, String)>) -> Answer {
    let e = at_version(&r, &subject, &v)?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], e.schema.clone()).into_response())
}

/// `POST /subjects/{subject}`: is this schema registered under the subject?
async fn lookup(State(r): Shared, Path(s): Path<String>, body: Bytes) -> Answer {
    let e = subject(&r, &s)?;
    if posted_schema(&body)? != e.canonical {
        return Err(RegistryError::new(StatusCode::NOT_FOUND, 40403, "Schema not found".into()));
    }
    Ok(reply(StatusCode::OK, version_of(e)))
}

/// `POST /subjects/{subject}/versions`: the id of the schema already there;
/// anything else is refused (read-only).
async fn register(State(r): Shared, Path(subject): Path<String>, body: Bytes) -> Answer {
    let posted = posted_schema(&body)?;
    match r.by_subject(&subject) {
        Some(e) if posted == e.canonical => Ok(reply(StatusCode::OK, json!({ "id": e.id }))),
        _ => Err(RegistryError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            42205,
            format!(
                "Subject {subject} is in read-only mode: this registry serves the schemas traceledger writes \
                 (GET /registry/subjects) and registers nothing else"
            ),
        )),
    }
}

async fn config() -> Response {
    reply(StatusCode::OK, json!({ "compatibilityLevel": "FULL_TRANSITIVE" }))
}

async fn mode() -> Response {
    reply(StatusCode::OK, json!({ "mode": "READONLY" }))
}

/// The registry's routes, under `/registry`.
pub fn router(topics: &RegistryTopics<'_>) -> Router {
    let r = Router::new()
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/subjects", get(schema_subjects))
        .route("/schemas/ids/{id}/versions", get(schema_versions))
        .route("/schemas/types", get(types))
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup))
        .route("/subjects/{subject}/versions", get(versions).post(register))
        .route("/subjects/{subject}/versions/{version}", get(version))
        .route("/subjects/{subject}/versions/{version}/schema", get(version_schema))
        .route("/config", get(config))
        .route("/mode", get(mode))
        .with_state(Arc::new(Registry::new(topics)));
    Router::new().nest("/registry", r)
}

/// `/registry` of a node whose topics carry another registry's ids: every
/// call is answered 404 naming that registry, so no client decodes with
/// the bundled ids by mistake.
pub fn elsewhere(url: &str) -> Router {
    let message = format!("this node's topics use the schema ids of the registry at {url}: ask it");
    let answer = move || {
        let message = message.clone();
        async move { RegistryError::new(StatusCode::NOT_FOUND, 40401, message) }
    };
    Router::new().route("/registry", get(answer.clone())).route("/registry/{*rest}", axum::routing::any(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_schema_parses_and_has_its_subject() {
        let r = Registry::new(&RegistryTopics {
            raw: "traces.raw",
            sealed: "ledger.sealed",
            checkpoints: "ledger.checkpoints",
            prefix: "",
        });
        for (id, subject) in [
            (1, "traces.raw-value"),
            (2, "ledger.sealed-value"),
            (3, "ledger.checkpoints-value"),
            (4, "projections.sessions-value"),
            (5, "projections.pii-value"),
            (6, "projections.anomalies-value"),
            (7, "projections.availability-value"),
        ] {
            let e = r.by_subject(subject).expect(subject);
            assert_eq!(e.id, id);
            assert!(e.canonical.is_object(), "{subject} parses");
            assert!(!e.canonical.to_string().contains("\"doc\""), "{subject}: docs stripped");
        }
    }
}
