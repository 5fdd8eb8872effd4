//! The OpenAPI 3 document of the API, generated from the handlers'
//! `#[utoipa::path]` attributes, served at `GET /v1/openapi.json`.

use crate::responses::Problem;
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// `POST /v1/events` and `GET /v1/health` are served by the node (they need
/// the log), so they are described here rather than next to a handler.
#[utoipa::path(post, path = "/v1/events", tag = "ingest", security(("api_key" = [])),
    request_body(content = Vec<Object>, description = "A JSON array of TraceEvent (schemas/v1/trace-event.avsc); tenant_id may be omitted", content_type = "application/json"),
    responses(
        (status = 202, description = "Durable in the log", body = Object),
        (status = 400, description = "Invalid events, each by index and field; none accepted", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Events of another tenant, by index; or no ingest permission", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The log is unavailable; retry the same batch", body = Problem, content_type = "application/problem+json"),
    ))]
#[allow(dead_code)]
fn ingest_doc() {}

/// OTLP/HTTP traces (docs/otlp.md). The document lists the JSON encoding;
/// `application/x-protobuf` is accepted the same way, and either may be
/// sent with `Content-Encoding: gzip`.
#[utoipa::path(post, path = "/v1/traces", tag = "ingest", security(("api_key" = [])),
    request_body(content = Object, description = "An OTLP ExportTraceServiceRequest in OTLP/JSON (or binary protobuf as application/x-protobuf); GenAI spans become trace events of the key's tenant", content_type = "application/json"),
    responses(
        (status = 200, description = "Durable in the log; an ExportTraceServiceResponse whose partialSuccess counts the spans not taken (not GenAI spans, bad ids) and says why", body = Object),
        (status = 400, description = "Not an ExportTraceServiceRequest, or corrupt gzip; the detail names the path or byte", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No ingest permission", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body (or body inflated) over 16 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither OTLP content type, or a compression other than gzip", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's rate limit", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The log is unavailable; retry the same export", body = Problem, content_type = "application/problem+json"),
    ))]
#[allow(dead_code)]
fn otlp_doc() {}

#[utoipa::path(get, path = "/v1/health", tag = "ingest",
    responses(
        (status = 200, description = "Status, lag and counters", body = Object),
        (status = 503, description = "A stage stopped", body = Object),
    ))]
#[allow(dead_code)]
fn health_doc() {}

struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("tlk_<env>_<43 chars>").build();
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", SecurityScheme::Http(scheme));
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "traceledger", description = "Tamper-evident audit trail for AI agents: ingest, decision chains, records and proofs. Errors are RFC 9457 problem+json."),
    paths(
        ingest_doc, otlp_doc, health_doc,
        crate::routes::api_keys::whoami, crate::routes::sessions::list_sessions, crate::routes::sessions::get_session, crate::routes::records::record_by_seq, crate::routes::records::record_by_event,
        crate::routes::proofs::inclusion, crate::routes::proofs::consistency, crate::routes::proofs::record_proof, crate::routes::tlog::tlog_checkpoint, crate::routes::tlog::tlog_tile, crate::routes::proofs::checkpoints, crate::routes::proofs::latest_checkpoint, crate::routes::api_keys::access_log,
        crate::routes::api_keys::list_keys, crate::routes::api_keys::create_key, crate::routes::api_keys::revoke_key, crate::routes::api_keys::rotate_key,
        crate::routes::models::pii_findings, crate::routes::models::pii_inventory, crate::routes::models::anomalies, crate::routes::models::availability, crate::routes::models::availability_series, crate::routes::models::budget_check,
        crate::routes::policy::policy, crate::routes::policy::policy_check, crate::routes::reports::soc2_report, crate::routes::policy::alert_deliveries, crate::routes::records::export_bundle, crate::routes::records::dsar_export,
        crate::routes::erasure::dsar_erase, crate::routes::erasure::retention_run, crate::routes::erasure::retention, crate::routes::erasure::privacy_actions,
        crate::routes::reports::list_reports, crate::routes::reports::get_report, crate::routes::streams::read_stream,
    ),
    components(schemas(Problem, crate::api_keys::KeyInfo, crate::api_keys::Role)),
    modifiers(&ApiKeyAuth),
)]
pub struct ApiDoc;

/// `GET /v1/openapi.json`.
pub async fn document() -> Response {
    Json(ApiDoc::openapi()).into_response()
}
