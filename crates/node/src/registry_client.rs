//! Schema ids from a Confluent-compatible schema registry
//! (`--schema-registry-url`): the node registers the schemas it writes under
//! `<topic>-value` (a registry answers with the id it already has for the
//! same schema) and swaps those ids with the bundled ones at the broker
//! boundary (`traceledger_log::schema_ids`).

use anyhow::Context;
use std::sync::Arc;
use traceledger_log::schema_ids::SchemaIds;
use traceledger_log::{Log, Topics};
use traceledger_wire::avro::wire_schemas;
use traceledger_wire::projections::STREAMS;

/// Registers `schema` under `subject` at the registry `url`; its id.
fn register(agent: &ureq::Agent, url: &str, subject: &str, schema: &str) -> anyhow::Result<u32> {
    let endpoint = format!("{}/subjects/{subject}/versions", url.trim_end_matches('/'));
    let body = serde_json::json!({ "schema": schema, "schemaType": "AVRO" }).to_string();
    let mut res = agent
        .post(&endpoint)
        .header("Content-Type", "application/vnd.schemaregistry.v1+json")
        .send(body.as_bytes())
        .with_context(|| format!("schema registry {endpoint}"))?;
    let status = res.status().as_u16();
    let text = res.body_mut().read_to_string().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if !(200..300).contains(&status) {
        anyhow::bail!(
            "schema registry refused subject {subject} ({status}, error {}): {}",
            v["error_code"],
            v["message"].as_str().unwrap_or(&text)
        );
    }
    v["id"]
        .as_u64()
        .and_then(|id| u32::try_from(id).ok())
        .with_context(|| format!("schema registry answered no id for {subject}: {text}"))
}

/// (topic, bundled id, registry id) for every topic of `topics` whose
/// values are in the wire format; dead letters carry raw events.
pub fn registry_ids(url: &str, topics: &Topics) -> anyhow::Result<Vec<(String, u32, u32)>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .http_status_as_error(false)
        .user_agent("traceledger-registry/1")
        .build()
        .into();
    let mut ids = Vec::new();
    for ((bundled, schema), topic) in wire_schemas().into_iter().zip([&topics.raw, &topics.sealed, &topics.checkpoints])
    {
        let registry = register(&agent, url, &format!("{topic}-value"), schema)?;
        ids.push((topic.clone(), bundled, registry));
    }
    // Dead letters are raw events, under the raw topic's ids.
    let (_, bundled, registry) = ids[0].clone();
    ids.push((topics.dlq.clone(), bundled, registry));
    // The projection streams (registered whether or not this process
    // publishes them: one list of subjects per deployment).
    for s in STREAMS {
        let topic = topics.named(s.topic());
        let registry = register(&agent, url, &format!("{topic}-value"), s.avsc())?;
        ids.push((topic, s.schema_id(), registry));
    }
    Ok(ids)
}

/// `log` with the registry's ids on the broker, when `url` is given.
pub fn with_registry(log: Arc<dyn Log>, url: Option<&str>, topics: &Topics) -> anyhow::Result<Arc<dyn Log>> {
    let Some(url) = url else { return Ok(log) };
    let ids = registry_ids(url, topics)?;
    for (topic, bundled, registry) in &ids {
        tracing::info!(topic, bundled, registry, "schema id from the registry");
    }
    Ok(Arc::new(SchemaIds::new(log, &ids)))
}
