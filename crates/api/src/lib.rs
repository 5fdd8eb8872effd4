//! The query API (`/v1`, JSON): sessions and their decision chains,
//! records, inclusion and consistency proofs against signed checkpoints,
//! and API keys — behind API keys with five roles.
//!
//! A key belongs to one tenant, and no route takes a tenant: every read is
//! of the key's tenant, so another tenant's data is not found (404) rather
//! than forbidden — its existence is not disclosed. Errors are RFC 9457
//! `application/problem+json` naming the failing field. The permission
//! matrix is [`api_keys::Role::can`] (documented in docs/api.md).

pub mod access;
pub mod api_keys;
pub mod archive;
pub mod bodies;
pub mod console;
pub mod error;
pub mod limits;
pub mod openapi;
pub mod privacy_ops;
pub mod report;
pub mod responses;
mod routes;
pub mod schema_registry;

use api_keys::{KeyInfo, KeyStore, Permission};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::sync::Arc;
use traceledger_core::event::Timestamp;
use traceledger_projection::policy_file::PolicyFile;
use traceledger_projection::Store;

/// Longest page of a list.
pub const MAX_LIMIT: usize = 1000;

/// What the routes read.
pub struct ApiState {
    /// API keys.
    pub keys: Arc<KeyStore>,
    /// The ledger model's store.
    pub ledger: Arc<Store>,
    /// The sessions model's store.
    pub sessions: Arc<Store>,
    /// The pii model's store.
    pub pii: Arc<Store>,
    /// The anomaly model's store.
    pub anomaly: Arc<Store>,
    /// The availability model's store.
    pub availability: Arc<Store>,
    /// The policy in force (thresholds, budgets, limits).
    pub policy: Arc<PolicyFile>,
    /// The alert dispatcher (its delivery log).
    pub alerts: Option<Arc<traceledger_projection::alerts::Dispatcher>>,
    /// Signs exported bundles; without it, exports are not served.
    pub exporter: Option<Exporter>,
    /// Environment tag of keys created through the API (`live`, `test`).
    pub env: String,
    /// A session with no `agent_end` for this long is incomplete (µs).
    pub session_timeout_micros: i64,
    /// The provider register (empty when none is configured).
    pub providers: Arc<traceledger_report::providers::Register>,
    /// Appends signed erasures (DSAR, retention); without it, erasure is
    /// not served.
    pub privacy: Option<privacy_ops::PrivacyOps>,
    /// Keeps every report made; without it, reports are not kept.
    pub reports: Option<archive::ReportArchive>,
    /// Reads the projection streams, when this node publishes them.
    pub streams: Option<Arc<dyn routes::streams::StreamSource>>,
}

/// What exported bundles are signed with.
pub struct Exporter {
    /// Signs each bundle's manifest (and its final checkpoint).
    pub key: traceledger_core::signing::SigningKey,
    /// Log name of the checkpoints.
    pub log_name: String,
    /// Verifier keys of the ledger, for the bundle's keyring.
    pub keyring: Vec<traceledger_bundle::KeyringEntry>,
}

pub(crate) type Shared = Arc<ApiState>;

pub use error::{bad_field, problem, AppError};

/// The authenticated caller: the key's tenant and role.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key.
    pub key: KeyInfo,
}

impl Principal {
    /// The key's tenant.
    pub fn tenant(&self) -> &str {
        &self.key.tenant
    }

    /// A 403 unless the role has `p`.
    pub fn require(&self, p: Permission) -> Result<(), AppError> {
        if self.key.role.can(p) {
            Ok(())
        } else {
            let role = self.key.role.name();
            Err(AppError::forbidden(format!("role `{role}` does not have the `{p:?}` permission"))
                .with("role", role)
                .with("permission", format!("{p:?}")))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().cloned().ok_or_else(|| AppError::unauthorized("no API key"))
    }
}

/// The credentials of an `Authorization: Bearer <token>` value; the
/// scheme's name is case-insensitive (RFC 9110 §11.1).
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Middleware (outermost): an error answer that axum or a layer made as
/// plain text — a body over the route's limit (413), a path or query that
/// does not parse (400), a wrong media type (415) — becomes an RFC 9457
/// problem document like every other error, its text as the detail.
pub async fn problem_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&text).trim().to_string();
    let title = status.canonical_reason().unwrap_or("Error");
    let mut r = problem(status, title, if detail.is_empty() { title.to_string() } else { detail }, json!({}));
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            r.headers_mut().insert(name.clone(), value.clone());
        }
    }
    r
}

/// Middleware: `Authorization: Bearer <key>` → a [`Principal`] in the
/// request, or 401. The key is never logged.
pub async fn authenticate(State(keys): State<Arc<KeyStore>>, mut req: Request, next: Next) -> Response {
    let presented =
        req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer).map(str::to_string);
    let Some(presented) = presented else {
        return AppError::unauthorized("send an API key as `Authorization: Bearer tlk_…`").into_response();
    };
    let found = tokio::task::spawn_blocking(move || keys.authenticate(&presented, Timestamp::now().0)).await;
    match found {
        Ok(Ok(Some(key))) => {
            let who = Principal { key };
            req.extensions_mut().insert(who.clone());
            let mut resp = next.run(req).await;
            // For the access log, which wraps this layer.
            resp.extensions_mut().insert(who);
            resp
        }
        Ok(Ok(None)) => AppError::unauthorized("the API key is unknown, revoked or expired").into_response(),
        Ok(Err(e)) => AppError::internal(e).into_response(),
        Err(e) => AppError::internal(e).into_response(),
    }
}

/// The query routes (all need a key; mount [`authenticate`] around them).
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/v1/whoami", get(whoami))
        .route("/v1/sessions", get(list_sessions))
        .route("/v1/sessions/{session_id}", get(get_session))
        .route("/v1/records/{seq}", get(record_by_seq))
        .route("/v1/records/by-event/{event_id}", get(record_by_event))
        .route("/v1/proofs/inclusion", get(inclusion))
        .route("/v1/proofs/consistency", get(consistency))
        .route("/v1/proofs/record", get(record_proof))
        .route("/v1/tlog/{tenant}/checkpoint", get(tlog_checkpoint))
        .route("/v1/tlog/{tenant}/tile/{*path}", get(tlog_tile))
        .route("/v1/checkpoints", get(checkpoints))
        .route("/v1/checkpoints/latest", get(latest_checkpoint))
        .route("/v1/keys", get(list_keys).post(create_key))
        .route("/v1/keys/{id}", axum::routing::delete(revoke_key))
        .route("/v1/keys/{id}/rotate", post(rotate_key))
        .route("/v1/access-log", get(access_log))
        .route("/v1/pii/findings", get(pii_findings))
        .route("/v1/pii/inventory", get(pii_inventory))
        .route("/v1/anomalies", get(anomalies))
        .route("/v1/availability", get(availability))
        .route("/v1/availability/series", get(availability_series))
        .route("/v1/budget/check", get(budget_check))
        .route("/v1/policy", get(policy))
        .route("/v1/policy/check", post(policy_check))
        .route("/v1/reports", get(list_reports))
        .route("/v1/reports/soc2", get(soc2_report))
        .route("/v1/reports/{id}", get(get_report))
        .route("/v1/alerts/deliveries", get(alert_deliveries))
        .route("/v1/export", get(export_bundle))
        .route("/v1/dsar/{subject}", get(dsar_export))
        .route("/v1/dsar/{subject}/erase", post(dsar_erase))
        .route("/v1/retention", get(retention))
        .route("/v1/retention/run", post(retention_run))
        .route("/v1/privacy/actions", get(privacy_actions))
        .route("/v1/streams/{stream}", get(read_stream))
        .route("/v1/openapi.json", get(openapi::document))
        .with_state(state)
}

pub use routes::records::record_json;
pub use routes::streams::{StreamRead, StreamSource};
use routes::{
    api_keys::*, erasure::*, models::*, policy::*, proofs::*, records::*, reports::*, sessions::*, streams::*, tlog::*,
};
