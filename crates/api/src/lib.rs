//! The query API (`/v1`, JSON): sessions and their decision chains,
//! records, inclusion and consistency proofs against signed checkpoints,
//! and API keys — behind API keys with five roles.
//!
//! A key belongs to one tenant, and no route takes a tenant: every read is
//! of the key's tenant, so another tenant's data is not found (404) rather
//! than forbidden — its existence is not disclosed. Errors are RFC 9457
//! `application/problem+json` naming the failing field. The permission
//! matrix is [`keys::Role::can`] (documented in docs/api.md).

// Handlers' helpers return the error response itself (`Result<_, Response>`):
// built once, on the failing path only, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod access;
pub mod archive;
pub mod bodies;
pub mod console;
pub mod keys;
pub mod limits;
pub mod openapi;
pub mod privacy;
pub mod registry;
pub mod report;

use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use keys::{KeyInfo, KeyStore, Permission, Role};
use openapi::{BadRequest, Errors, NotFound};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use traceledger_bundle::wire;
use traceledger_core::event::Timestamp;
use traceledger_core::SealedRecord;
use traceledger_projection::ledger::LedgerView;
use traceledger_projection::policy_file::PolicyFile;
use traceledger_projection::sessions::{Completeness, Filter, SessionSummary, SessionsView};
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
    pub providers: Arc<traceledger_report::register::Register>,
    /// Appends signed erasures (DSAR, retention); without it, erasure is
    /// not served.
    pub privacy: Option<privacy::PrivacyOps>,
    /// Keeps every report made; without it, reports are not kept.
    pub reports: Option<archive::ReportArchive>,
}

/// What exported bundles are signed with.
pub struct Exporter {
    /// Signs each bundle's manifest (and its final checkpoint).
    pub key: traceledger_core::keys::SigningKey,
    /// Log name of the checkpoints.
    pub log_name: String,
    /// Verifier keys of the ledger, for the bundle's keyring.
    pub keyring: Vec<traceledger_bundle::KeyringEntry>,
}

type Shared = Arc<ApiState>;

/// An RFC 9457 problem: status, title, detail, and extra members.
pub fn problem(status: StatusCode, title: &str, detail: impl Into<String>, extra: Value) -> Response {
    let mut body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail.into(),
    });
    if let (Some(b), Value::Object(more)) = (body.as_object_mut(), extra) {
        b.extend(more);
    }
    let mut r = (status, Json(body)).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    r
}

/// A 400 naming the query or body field at fault.
pub fn bad_field(field: &str, detail: impl Into<String>) -> Response {
    problem(StatusCode::BAD_REQUEST, "Invalid request", detail, json!({ "field": field }))
}

fn not_found(what: impl Into<String>) -> Response {
    problem(StatusCode::NOT_FOUND, "Not found", what, json!({}))
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "query failed");
    problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", e.to_string(), json!({}))
}

fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

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
    pub fn require(&self, p: Permission) -> Result<(), Response> {
        if self.key.role.can(p) {
            Ok(())
        } else {
            Err(problem(
                StatusCode::FORBIDDEN,
                "Forbidden",
                format!("role `{}` does not have the `{p:?}` permission", self.key.role.name()),
                json!({ "role": self.key.role.name(), "permission": format!("{p:?}") }),
            ))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().cloned().ok_or_else(|| unauthorized("no API key"))
    }
}

fn unauthorized(detail: &str) -> Response {
    let mut r = problem(StatusCode::UNAUTHORIZED, "Unauthorized", detail, json!({}));
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"traceledger\""));
    r
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
        return unauthorized("send an API key as `Authorization: Bearer tlk_…`");
    };
    let found = tokio::task::spawn_blocking(move || keys.authenticate(&presented, now_micros())).await;
    match found {
        Ok(Ok(Some(key))) => {
            let who = Principal { key };
            req.extensions_mut().insert(who.clone());
            let mut resp = next.run(req).await;
            // For the access log, which wraps this layer.
            resp.extensions_mut().insert(who);
            resp
        }
        Ok(Ok(None)) => unauthorized("the API key is unknown, revoked or expired"),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
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
        .route("/v1/openapi.json", get(openapi::document))
        .with_state(state)
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, Response> + Send + 'static) -> Result<T, Response> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}

#[utoipa::path(get, path = "/v1/whoami", tag = "keys", security(("api_key" = [])),
    responses((status = 200, description = "The key's tenant, role and id", body = bodies::WhoAmI), Errors))]
async fn whoami(p: Principal) -> Response {
    Json(bodies::WhoAmI { tenant: p.tenant().into(), role: p.key.role.name().into(), key: p.key.id.clone() })
        .into_response()
}

/// Query parameters, all as text, so that a bad value is reported by name.
type Params = Query<std::collections::HashMap<String, String>>;

fn param<T: std::str::FromStr>(q: &Params, name: &str, what: &str) -> Result<Option<T>, Response> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| bad_field(name, format!("`{name}` must be {what}, got `{v}`"))),
    }
}

fn time_param(q: &Params, name: &str) -> Result<Option<i64>, Response> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => Timestamp::parse_rfc3339(v)
            .map(|t| Some(t.0))
            .ok_or_else(|| bad_field(name, format!("`{name}` must be an RFC 3339 time, got `{v}`"))),
    }
}

fn limit(q: &Params) -> Result<usize, Response> {
    let n = param::<usize>(q, "limit", "a whole number")?.unwrap_or(100);
    if n == 0 || n > MAX_LIMIT {
        return Err(bad_field("limit", format!("`limit` must be 1..={MAX_LIMIT}, got {n}")));
    }
    Ok(n)
}

/// Opaque cursors: base64url of the position.
fn encode_cursor(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

fn decode_cursor(q: &Params) -> Result<Option<String>, Response> {
    match q.get("cursor") {
        None => Ok(None),
        Some(c) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| bad_field("cursor", "`cursor` is not a cursor this API returned")),
    }
}

#[utoipa::path(get, path = "/v1/sessions", tag = "sessions", security(("api_key" = [])),
    params(
        ("agent" = Option<String>, Query, description = "Only sessions this agent recorded steps in"),
        ("status" = Option<String>, Query, description = "complete, open or incomplete"),
        ("from" = Option<String>, Query, description = "RFC 3339: only sessions with a step at or after"),
        ("to" = Option<String>, Query, description = "RFC 3339: only sessions with a step before"),
        ("has_pii" = Option<bool>, Query, description = "Only sessions with (true) or without (false) records carrying personal data or secrets"),
        ("has_anomaly" = Option<bool>, Query, description = "Only sessions with (true) or without (false) anomalies"),
        ("limit" = Option<usize>, Query, description = "1..=1000, default 100"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, description = "A page of sessions with their completeness, PII record and anomaly counts", body = bodies::SessionPage), BadRequest, Errors))]
async fn list_sessions(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    let completeness = match q.get("status").map(String::as_str) {
        None => None,
        Some("complete") => Some(Completeness::Complete),
        Some("open") => Some(Completeness::Open),
        Some("incomplete") => Some(Completeness::Incomplete),
        Some(v) => return bad_field("status", format!("`status` must be complete, open or incomplete, got `{v}`")),
    };
    let parsed =
        (|| Ok::<_, Response>((time_param(&q, "from")?, time_param(&q, "to")?, limit(&q)?, decode_cursor(&q)?)))();
    let (from, to, limit, cursor) = match parsed {
        Ok(v) => v,
        Err(r) => return r,
    };
    let flags = (|| {
        Ok::<_, Response>((
            param::<bool>(&q, "has_pii", "true or false")?,
            param::<bool>(&q, "has_anomaly", "true or false")?,
        ))
    })();
    let (has_pii, has_anomaly) = match flags {
        Ok(v) => v,
        Err(r) => return r,
    };
    let filter = Filter { agent: q.get("agent").cloned(), completeness, from, to };
    let tenant = p.tenant().to_string();
    let r = blocking(move || {
        let pii = traceledger_projection::pii::PiiView::new(&s.pii);
        let anomalies = traceledger_projection::anomaly::AnomalyView::new(&s.anomaly);
        let counts = |x: &SessionSummary| -> traceledger_projection::Result<(u64, u64)> {
            Ok((pii.session_records(&tenant, &x.session_id)?, anomalies.session_count(&tenant, &x.session_id)?))
        };
        let mut keep = |x: &SessionSummary| -> traceledger_projection::Result<bool> {
            if has_pii.is_none() && has_anomaly.is_none() {
                return Ok(true);
            }
            let (p, a) = counts(x)?;
            Ok(has_pii.is_none_or(|want| want == (p > 0)) && has_anomaly.is_none_or(|want| want == (a > 0)))
        };
        let at = (now_micros(), s.session_timeout_micros);
        let v = SessionsView::new(&s.sessions);
        let (items, next) =
            v.list_where(&tenant, &filter, cursor.as_deref(), limit, at, &mut keep).map_err(internal)?;
        let items = items
            .into_iter()
            .map(|(session, completeness)| {
                let (pii_records, anomalies) = counts(&session)?;
                Ok(bodies::SessionItem { session, completeness, pii_records, anomalies })
            })
            .collect::<traceledger_projection::Result<Vec<_>>>()
            .map_err(internal)?;
        Ok(bodies::SessionPage { items, next_cursor: next.map(|n| encode_cursor(&n)) })
    })
    .await;
    match r {
        Ok(page) => Json(page).into_response(),
        Err(r) => r,
    }
}

#[utoipa::path(get, path = "/v1/sessions/{session_id}", tag = "sessions", security(("api_key" = [])),
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, description = "The decision chain, with its records' PII findings", body = bodies::SessionChain), NotFound, Errors))]
async fn get_session(State(s): State<Shared>, p: Principal, Path(id): Path<String>) -> Response {
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    let tenant = p.tenant().to_string();
    let r = blocking(move || {
        let Some(chain) = SessionsView::new(&s.sessions)
            .get(&tenant, &id, now_micros(), s.session_timeout_micros)
            .map_err(internal)?
        else {
            return Ok(None);
        };
        let seqs: Vec<u64> = chain.steps.iter().map(|st| st.seq).collect();
        let pii = traceledger_projection::pii::PiiView::new(&s.pii).of_records(&tenant, &seqs).map_err(internal)?;
        Ok(Some(bodies::SessionChain { chain, pii }))
    })
    .await;
    match r {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => not_found("no such session"),
        Err(r) => r,
    }
}

/// A record as JSON: header, event (content removed unless the role may
/// read it), commitments, signature, and the canonical bytes and leaf hash
/// a client needs to check it itself (SHA-256(0x00 ‖ canonical) = leaf;
/// Ed25519 over the leaf by key `key_id`).
pub fn record_json(r: &SealedRecord, with_content: bool) -> Value {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let erased: Vec<String> = r.erased_slots().into_iter().map(traceledger_core::seal::slot_name).collect();
    let mut r = r.clone();
    if !with_content {
        r.erase_all_content();
    }
    let h = &r.header;
    let event: Value = serde_json::from_str(&r.event.to_json()).unwrap_or(Value::Null);
    json!({
        "tenant_id": h.tenant_id,
        "seq": h.seq,
        "prev_hash": h.prev_hash.to_hex(),
        "leaf_hash": r.leaf_hash.to_hex(),
        "chain_hash": r.chain_hash().to_hex(),
        "sealed_at": h.sealed_at.to_rfc3339(),
        "key_id": format!("{:08x}", h.key_id),
        "source": h.source.as_ref().map(|s| json!({"topic": s.topic, "partition": s.partition, "offset": s.offset})),
        "policy": h.policy,
        "event": event,
        "content_redacted": !with_content,
        "content_erased": erased,
        "commitments": r.commitments.iter().map(|c| c.map(|c| c.to_hex())).collect::<Vec<_>>(),
        "salts": if with_content { json!(r.salts.iter().map(|s| s.map(hex::encode)).collect::<Vec<_>>()) } else { Value::Null },
        "signature": b64(&r.signature),
        "canonical": r.canonical_bytes().map(|b| b64(&b)),
    })
}

fn record_response(p: &Principal, bytes: Option<Vec<u8>>) -> Response {
    let Some(bytes) = bytes else { return not_found("no such record") };
    match wire::decode_record(&bytes, usize::MAX) {
        Ok(r) => Json(record_json(&r, p.key.role.can(Permission::ReadContent))).into_response(),
        Err(e) => internal(format!("a stored record does not decode: {e}")),
    }
}

#[utoipa::path(get, path = "/v1/records/{seq}", tag = "records", security(("api_key" = [])),
    params(("seq" = u64, Path, description = "Position in the tenant's chain")),
    responses((status = 200, description = "The sealed record (content removed for roles without ReadContent)", body = Object), BadRequest, NotFound, Errors))]
async fn record_by_seq(State(s): State<Shared>, p: Principal, Path(seq): Path<String>) -> Response {
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    let Ok(seq) = seq.parse::<u64>() else {
        return bad_field("seq", format!("`seq` must be a whole number, got `{seq}`"));
    };
    let tenant = p.tenant().to_string();
    match blocking(move || LedgerView::new(&s.ledger).record(&tenant, seq).map_err(internal)).await {
        Ok(b) => record_response(&p, b),
        Err(r) => r,
    }
}

#[utoipa::path(get, path = "/v1/records/by-event/{event_id}", tag = "records", security(("api_key" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)")),
    responses((status = 200, description = "The sealed record", body = Object), BadRequest, NotFound, Errors))]
async fn record_by_event(State(s): State<Shared>, p: Principal, Path(id): Path<String>) -> Response {
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return bad_field("event_id", format!("`event_id` must be a UUID, got `{id}`"));
    };
    let tenant = p.tenant().to_string();
    let r = blocking(move || {
        let v = LedgerView::new(&s.ledger);
        match v.seq_of(&tenant, id).map_err(internal)? {
            None => Ok(None),
            Some(seq) => v.record(&tenant, seq).map_err(internal),
        }
    })
    .await;
    match r {
        Ok(b) => record_response(&p, b),
        Err(r) => r,
    }
}

#[utoipa::path(get, path = "/v1/proofs/inclusion", tag = "proofs", security(("api_key" = [])),
    params(
        ("seq" = u64, Query, description = "The record"),
        ("size" = Option<u64>, Query, description = "Size of a signed checkpoint; default the first covering seq"),
    ),
    responses((status = 200, description = "RFC 6962 audit path and the signed checkpoint it leads to", body = bodies::InclusionProof), BadRequest, NotFound, Errors))]
async fn inclusion(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    if let Err(r) = p.require(Permission::Proofs) {
        return r;
    }
    let seq = match param::<u64>(&q, "seq", "a whole number") {
        Ok(Some(n)) => n,
        Ok(None) => return bad_field("seq", "`seq` is required"),
        Err(r) => return r,
    };
    let size = match param::<u64>(&q, "size", "a whole number") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let tenant = p.tenant().to_string();
    blocking(move || {
        let v = LedgerView::new(&s.ledger);
        // The leaf hash is kept apart from the record: no record read.
        let Some(leaf_hash) = v.leaf(&tenant, seq) else { return Err(not_found("no such record")) };
        // Against the checkpoint of the size asked for, or the first
        // published checkpoint that covers the record.
        let cp = match size {
            Some(n) => v.checkpoint(&tenant, n).map_err(internal)?.ok_or_else(|| {
                not_found(format!("no signed checkpoint of size {n}; GET /v1/checkpoints lists them"))
            })?,
            None => v.checkpoints(&tenant, seq + 1, 1).map_err(internal)?.into_iter().next().ok_or_else(|| {
                not_found("no signed checkpoint covers this record yet; retry after the next checkpoint")
            })?,
        };
        if cp.size <= seq {
            return Err(bad_field("size", format!("a tree of size {} does not contain seq {seq}", cp.size)));
        }
        let proof = v.inclusion_proof(&tenant, seq, cp.size).map_err(internal)?;
        Ok(Json(bodies::InclusionProof {
            seq,
            leaf_hash: leaf_hash.to_hex(),
            size: cp.size,
            proof: proof.iter().map(|h| h.to_hex()).collect(),
            checkpoint: (&cp).into(),
        })
        .into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/proofs/consistency", tag = "proofs", security(("api_key" = [])),
    params(
        ("from" = u64, Query, description = "Size of the older signed checkpoint"),
        ("to" = u64, Query, description = "Size of the newer signed checkpoint"),
    ),
    responses((status = 200, description = "RFC 6962 consistency proof with both signed checkpoints", body = bodies::ConsistencyProof), BadRequest, NotFound, Errors))]
async fn consistency(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    if let Err(r) = p.require(Permission::Proofs) {
        return r;
    }
    let sizes =
        (|| Ok::<_, Response>((param::<u64>(&q, "from", "a tree size")?, param::<u64>(&q, "to", "a tree size")?)))();
    let (from, to) = match sizes {
        Ok((Some(a), Some(b))) => (a, b),
        Ok((None, _)) => return bad_field("from", "`from` is required"),
        Ok((_, None)) => return bad_field("to", "`to` is required"),
        Err(r) => return r,
    };
    if from == 0 || from > to {
        return bad_field("from", format!("`from` must be 1..=`to`, got from={from} to={to}"));
    }
    let tenant = p.tenant().to_string();
    blocking(move || {
        let v = LedgerView::new(&s.ledger);
        let old = v.checkpoint(&tenant, from).map_err(internal)?;
        let new = v.checkpoint(&tenant, to).map_err(internal)?;
        let (Some(old), Some(new)) = (old, new) else {
            return Err(not_found("both sizes must be those of signed checkpoints; GET /v1/checkpoints lists them"));
        };
        let proof = v.consistency_proof(&tenant, from, to).map_err(internal)?;
        Ok(Json(bodies::ConsistencyProof {
            from: (&old).into(),
            to: (&new).into(),
            proof: proof.iter().map(|h| h.to_hex()).collect(),
        })
        .into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/checkpoints", tag = "proofs", security(("api_key" = [])),
    params(
        ("min_size" = Option<u64>, Query, description = "Smallest size listed"),
        ("limit" = Option<usize>, Query, description = "1..=1000, default 100"),
    ),
    responses((status = 200, description = "Signed checkpoints, smallest first", body = bodies::CheckpointPage), BadRequest, Errors))]
async fn checkpoints(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    let parsed = (|| Ok::<_, Response>((param::<u64>(&q, "min_size", "a tree size")?.unwrap_or(0), limit(&q)?)))();
    let (min_size, limit) = match parsed {
        Ok(v) => v,
        Err(r) => return r,
    };
    let tenant = p.tenant().to_string();
    blocking(move || {
        let list = LedgerView::new(&s.ledger).checkpoints(&tenant, min_size, limit + 1).map_err(internal)?;
        let next = (list.len() > limit).then(|| list[limit].size);
        Ok(Json(bodies::CheckpointPage {
            items: list.iter().take(limit).map(Into::into).collect(),
            next_min_size: next,
        })
        .into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/checkpoints/latest", tag = "proofs", security(("api_key" = [])),
    responses((status = 200, description = "The latest signed checkpoint", body = bodies::CheckpointBody), NotFound, Errors))]
async fn latest_checkpoint(State(s): State<Shared>, p: Principal) -> Response {
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    let tenant = p.tenant().to_string();
    blocking(move || match LedgerView::new(&s.ledger).latest_checkpoint(&tenant).map_err(internal)? {
        Some(c) => Ok(Json(bodies::CheckpointBody::from(&c)).into_response()),
        None => Err(not_found("no signed checkpoint yet")),
    })
    .await
    .unwrap_or_else(|r| r)
}

/// `GET /v1/access-log?limit=&before=`: the tenant's access records,
/// newest first, from its sealed `_access.<tenant>` chain.
#[utoipa::path(get, path = "/v1/access-log", tag = "keys", security(("api_key" = [])),
    params(
        ("limit" = Option<usize>, Query, description = "1..=1000, default 100"),
        ("before" = Option<u64>, Query, description = "Only records below this seq"),
    ),
    responses((status = 200, description = "Access records, newest first", body = bodies::AccessPage), BadRequest, Errors))]
async fn access_log(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    if let Err(r) = p.require(Permission::AccessLog) {
        return r;
    }
    let parsed = (|| Ok::<_, Response>((limit(&q)?, param::<u64>(&q, "before", "a seq")?)))();
    let (limit, before) = match parsed {
        Ok(v) => v,
        Err(r) => return r,
    };
    let chain = traceledger_core::event::access_chain(p.tenant());
    blocking(move || {
        let v = LedgerView::new(&s.ledger);
        let size = v.size(&chain).map_err(internal)?;
        let top = before.unwrap_or(size).min(size);
        let mut items = Vec::new();
        for seq in (0..top).rev().take(limit) {
            let Some(r) = v.sealed(&chain, seq).map_err(internal)? else { continue };
            let mut item = serde_json::Map::new();
            item.insert("seq".into(), json!(seq));
            item.insert("at".into(), json!(r.event.timestamp.to_rfc3339()));
            item.insert("latency_ms".into(), json!(r.event.latency_ms));
            for a in &r.event.attributes {
                if let Some(k) = a.key.strip_prefix("access.") {
                    item.insert(k.to_string(), json!(a.value));
                }
            }
            items.push(Value::Object(item));
        }
        let next = (top > limit as u64).then(|| top - limit as u64);
        Ok(Json(bodies::AccessPage { chain, size, items, next_before: next }).into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/pii/findings", tag = "pii", security(("api_key" = [])),
    params(
        ("kind" = Option<String>, Query, description = "email, phone, ssn, credit_card, iban, ipv4, ipv6, secret, date_of_birth, person_name"),
        ("agent" = Option<String>, Query, description = "Only records of this agent"),
        ("limit" = Option<usize>, Query, description = "1..=1000, default 100"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, description = "Records with findings (spans, never values)", body = bodies::FindingsPage),
        BadRequest, Errors))]
async fn pii_findings(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    if let Some(k) = q.get("kind") {
        if !traceledger_pii::Kind::ALL.iter().any(|x| x.name() == k) {
            return bad_field("kind", format!("`kind` must be one of the detector kinds, got `{k}`"));
        }
    }
    let parsed = (|| Ok::<_, Response>((limit(&q)?, decode_cursor(&q)?)))();
    let (limit, cursor) = match parsed {
        Ok(v) => v,
        Err(r) => return r,
    };
    let from = match cursor.map(|c| c.parse::<u64>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return bad_field("cursor", "`cursor` is not a cursor this API returned"),
    };
    let tenant = p.tenant().to_string();
    let (kind, agent) = (q.get("kind").cloned(), q.get("agent").cloned());
    blocking(move || {
        let v = traceledger_projection::pii::PiiView::new(&s.pii);
        let (items, next) = v.findings(&tenant, kind.as_deref(), agent.as_deref(), from, limit).map_err(internal)?;
        Ok(Json(bodies::FindingsPage { items, next_cursor: next.map(|n| encode_cursor(&n.to_string())) })
            .into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/pii/inventory", tag = "pii", security(("api_key" = [])),
    responses((status = 200, description = "Kinds of personal data per agent and model provider, and records per classification", body = bodies::PiiInventory),
        Errors))]
async fn pii_inventory(State(s): State<Shared>, p: Principal) -> Response {
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    let tenant = p.tenant().to_string();
    blocking(move || {
        let v = traceledger_projection::pii::PiiView::new(&s.pii);
        let inventory = v.inventory(&tenant).map_err(internal)?;
        let classes = v.classes(&tenant).map_err(internal)?;
        Ok(Json(bodies::PiiInventory { inventory, classification: classes }).into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/anomalies", tag = "anomalies", security(("api_key" = [])),
    params(
        ("kind" = Option<String>, Query, description = "output_validation, tool_out_of_policy, prompt_injection, rate_spike, failover, budget_exceeded, rate_limit_warning, incomplete_session or fork"),
        ("agent" = Option<String>, Query, description = "Only this agent"),
        ("session" = Option<String>, Query, description = "Only this session"),
        ("min_severity" = Option<String>, Query, description = "low, medium or high"),
        ("from" = Option<String>, Query, description = "RFC 3339: events at or after"),
        ("to" = Option<String>, Query, description = "RFC 3339: events before"),
        ("limit" = Option<usize>, Query, description = "1..=1000, default 100"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, description = "A page of anomalies in chain order, and counts per kind", body = bodies::AnomalyPage),
        BadRequest, Errors))]
async fn anomalies(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    use traceledger_policy::{AnomalyKind, Severity};
    use traceledger_projection::anomaly::{AnomalyView, Filter};
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    let parsed = (|| {
        let kind = match q.get("kind") {
            None => None,
            Some(k) => Some(AnomalyKind::ALL.iter().copied().find(|x| x.as_str() == k).ok_or_else(|| {
                let all: Vec<_> = AnomalyKind::ALL.iter().map(|k| k.as_str()).collect();
                bad_field("kind", format!("`kind` must be one of {}, got `{k}`", all.join(", ")))
            })?),
        };
        let min_severity = match q.get("min_severity").map(String::as_str) {
            None => None,
            Some("low") => Some(Severity::Low),
            Some("medium") => Some(Severity::Medium),
            Some("high") => Some(Severity::High),
            Some(v) => {
                return Err(bad_field("min_severity", format!("`min_severity` must be low, medium or high, got `{v}`")))
            }
        };
        let from = match decode_cursor(&q)? {
            None => (0, 0),
            Some(c) => c
                .split_once('/')
                .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u16>().ok()?)))
                .ok_or_else(|| bad_field("cursor", "`cursor` is not a cursor this API returned"))?,
        };
        let filter = Filter {
            kind,
            agent: q.get("agent").cloned(),
            session: q.get("session").cloned(),
            min_severity,
            from: time_param(&q, "from")?,
            to: time_param(&q, "to")?,
        };
        Ok::<_, Response>((filter, from, limit(&q)?))
    })();
    let (filter, from, limit) = match parsed {
        Ok(v) => v,
        Err(r) => return r,
    };
    let tenant = p.tenant().to_string();
    blocking(move || {
        let v = AnomalyView::new(&s.anomaly);
        let (items, next) = v.list(&tenant, &filter, from, limit).map_err(internal)?;
        let counts = v.counts(&tenant).map_err(internal)?;
        Ok(Json(bodies::AnomalyPage {
            items,
            counts,
            next_cursor: next.map(|(seq, i)| encode_cursor(&format!("{seq}/{i}"))),
        })
        .into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

/// The window of a read-out: `from`/`to` (RFC 3339), by default the last 24 hours.
fn window(q: &Params) -> Result<(i64, i64), Response> {
    let to = time_param(q, "to")?.unwrap_or_else(now_micros);
    let from = time_param(q, "from")?.unwrap_or(to - 86_400_000_000);
    if from >= to {
        return Err(bad_field("from", "`from` must be before `to`"));
    }
    Ok((from, to))
}

#[utoipa::path(get, path = "/v1/availability", tag = "availability", security(("api_key" = [])),
    params(
        ("from" = Option<String>, Query, description = "RFC 3339 window start (default: 24 hours before `to`)"),
        ("to" = Option<String>, Query, description = "RFC 3339 window end (default: now)"),
    ),
    responses((status = 200, description = "Per agent and provider: success ratio, errors, uptime, heartbeat gaps, latency percentiles, tokens, spend; usage against rate limits; breakers",
        body = bodies::Availability), BadRequest, Errors))]
async fn availability(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    use traceledger_projection::availability::AvailabilityView;
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    let (from, to) = match window(&q) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let tenant = p.tenant().to_string();
    blocking(move || {
        let policy = s.policy.current();
        let v = AvailabilityView::new(&s.availability);
        let report = v.report(&tenant, from, to, &policy).map_err(internal)?;
        let now = now_micros();
        let mut breakers = std::collections::BTreeMap::new();
        for a in &report.agents {
            breakers.insert(a.name.clone(), v.breaker(&tenant, &a.name, now, &policy).map_err(internal)?);
        }
        Ok(Json(bodies::Availability { report, breakers }).into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/availability/series", tag = "availability", security(("api_key" = [])),
    params(
        ("from" = Option<String>, Query, description = "RFC 3339 window start (default: 24 hours before `to`)"),
        ("to" = Option<String>, Query, description = "RFC 3339 window end (default: now)"),
        ("bucket_seconds" = Option<u64>, Query, description = "Bucket width, a multiple of 60 (default: the first of 1, 5, 15, 30 min, 1, 3, 6, 12 h, 1 day, 1 week that makes at most about 120 buckets)"),
    ),
    responses((status = 200, description = "Per agent and provider over time: events, errors, latency percentiles and spend per bucket",
        body = traceledger_projection::availability::AvailabilitySeries), BadRequest, Errors))]
async fn availability_series(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    use traceledger_projection::availability::AvailabilityView;
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    let (from, to) = match window(&q) {
        Ok(w) => w,
        Err(r) => return r,
    };
    // Whole minutes (the model's grain); at most 10,000 buckets per series.
    // `window` guarantees from < to.
    let minutes = ((to - from + 59_999_999) / 60_000_000).max(1);
    let bucket = match param::<u64>(&q, "bucket_seconds", "a whole number of seconds") {
        Err(r) => return r,
        // The first round width that makes at most ~120 buckets.
        Ok(None) => [1, 5, 15, 30, 60, 180, 360, 720, 1440, 10_080]
            .into_iter()
            .find(|b| minutes / b <= 120)
            .unwrap_or(((minutes + 119) / 120).max(1)),
        Ok(Some(b)) if b == 0 || b % 60 != 0 => {
            return bad_field("bucket_seconds", format!("`bucket_seconds` must be a positive multiple of 60, got {b}"))
        }
        Ok(Some(b)) => {
            let b = i64::try_from(b / 60).unwrap_or(i64::MAX);
            if minutes / b > 10_000 {
                return bad_field(
                    "bucket_seconds",
                    format!("`bucket_seconds` {} makes more than 10,000 buckets in this window", b * 60),
                );
            }
            b
        }
    };
    let tenant = p.tenant().to_string();
    blocking(move || {
        let series = AvailabilityView::new(&s.availability).series(&tenant, from, to, bucket).map_err(internal)?;
        Ok(Json(series).into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/budget/check", tag = "availability", security(("api_key" = [])),
    params(
        ("agent" = String, Query, description = "The agent about to take a costly step"),
        ("session" = Option<String>, Query, description = "Its session, to check the session budget"),
        ("estimate_usd" = Option<f64>, Query, description = "What the step will cost, if known"),
    ),
    responses((status = 200, description = "allow true/false with reasons, spend against budgets, and the agent's breaker",
        body = traceledger_projection::availability::BudgetCheck), BadRequest, Errors))]
async fn budget_check(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    use traceledger_projection::availability::AvailabilityView;
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    let Some(agent) = q.get("agent").filter(|a| !a.is_empty()).cloned() else {
        return bad_field("agent", "`agent` is required");
    };
    let estimate = match param::<f64>(&q, "estimate_usd", "a non-negative amount") {
        Ok(None) => 0,
        Ok(Some(x)) if (0.0..1e12).contains(&x) => (x * 1e6).round() as u64,
        Ok(Some(_)) => return bad_field("estimate_usd", "`estimate_usd` must be a non-negative amount"),
        Err(r) => return r,
    };
    let tenant = p.tenant().to_string();
    let session = q.get("session").cloned();
    blocking(move || {
        let policy = s.policy.current();
        let v = AvailabilityView::new(&s.availability);
        let check =
            v.budget_check(&tenant, &agent, session.as_deref(), estimate, now_micros(), &policy).map_err(internal)?;
        Ok(Json(check).into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/reports/soc2", tag = "reports", security(("api_key" = [])),
    params(
        ("from" = String, Query, description = "RFC 3339 period start (inclusive)"),
        ("to" = String, Query, description = "RFC 3339 period end (exclusive)"),
        ("format" = Option<String>, Query, description = "json (default) or html"),
    ),
    responses((status = 200, description = "The SOC 2 evidence report of the key's tenant; its signed note (base64) in X-Traceledger-Report-Signature",
        body = traceledger_report::Soc2Report, content_type = "application/json"),
        (status = 503, description = "The node has no signing key for reports", body = crate::openapi::Problem, content_type = "application/problem+json"),
        BadRequest, Errors))]
async fn soc2_report(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    if let Err(r) = p.require(Permission::Reports) {
        return r;
    }
    let window = (|| {
        let from = time_param(&q, "from")?.ok_or_else(|| bad_field("from", "`from` (RFC 3339) is required"))?;
        let to = time_param(&q, "to")?.ok_or_else(|| bad_field("to", "`to` (RFC 3339) is required"))?;
        if from >= to {
            return Err(bad_field("from", "`from` must be before `to`"));
        }
        Ok((from, to))
    })();
    let (from, to) = match window {
        Ok(w) => w,
        Err(r) => return r,
    };
    let html = match q.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("html") => true,
        Some(f) => return bad_field("format", format!("`format` must be json or html, got `{f}`")),
    };
    if s.exporter.is_none() {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "No report signer",
            "this node has no signing key for reports",
            json!({}),
        );
    }
    let tenant = p.tenant().to_string();
    let by = p.key.id.clone();
    let made = blocking(move || {
        let Some(ex) = &s.exporter else { return Err(internal("no exporter")) };
        let ring = traceledger_core::keys::Keyring::new(
            ex.keyring.iter().map(|k| k.to_key()).collect::<Result<Vec<_>, _>>().map_err(internal)?,
        );
        let rep = report::soc2(&s, &ring, &tenant, from, to, now_micros()).map_err(internal)?;
        let bytes = if html {
            traceledger_report::html::render(&rep).into_bytes()
        } else {
            serde_json::to_vec_pretty(&rep).map_err(internal)?
        };
        let what = traceledger_report::note::Signed {
            kind: "soc2".into(),
            format: if html { "html" } else { "json" }.into(),
            tenant_id: tenant.clone(),
            from: rep.from.clone(),
            to: rep.to.clone(),
            sha256: String::new(),
            anchor: rep.anchor.as_ref().map(|a| (a.origin.clone(), a.size, a.root.clone())),
        };
        let note = traceledger_report::note::sign(&bytes, &what, &ex.key).map_err(internal)?;
        let id = match &s.reports {
            None => None,
            Some(archive) => {
                let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
                let meta = archive::StoredReport {
                    id: format!("soc2-{}-{}", now_micros(), &sha[..12]),
                    kind: "soc2".into(),
                    format: what.format.clone(),
                    from: rep.from.clone(),
                    to: rep.to.clone(),
                    generated_at: rep.generated_at.clone(),
                    sha256: sha,
                    anchor: what.anchor.as_ref().map(|(o, n, r)| format!("{o} {n} {r}")),
                    bytes: bytes.len() as u64,
                    requested_by: by,
                };
                archive.store(&tenant, &meta, &bytes, &note).map_err(internal)?;
                Some(meta.id)
            }
        };
        Ok((bytes, note, id))
    })
    .await;
    let (bytes, note, id) = match made {
        Ok(v) => v,
        Err(r) => return r,
    };
    report_response(bytes, &note, html, id.as_deref())
}

/// A report's bytes with its signed note (and archive id) in headers.
fn report_response(bytes: Vec<u8>, note: &str, html: bool, id: Option<&str>) -> Response {
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    let ctype = if html { "text/html; charset=utf-8" } else { "application/json" };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    let b64 = base64::engine::general_purpose::STANDARD.encode(note.as_bytes());
    if let Ok(v) = HeaderValue::from_str(&b64) {
        h.insert("x-traceledger-report-signature", v);
    }
    if let Some(v) = id.and_then(|id| HeaderValue::from_str(id).ok()) {
        h.insert("x-traceledger-report-id", v);
    }
    if html {
        // The report page has no script; nothing it shows is executable.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src data:"),
        );
    }
    resp
}

#[utoipa::path(post, path = "/v1/policy/check", tag = "policy", security(("api_key" = [])),
    request_body(content = String, content_type = "text/plain", description = "A policy file (TOML), as `traceledger policy check` reads it"),
    responses((status = 200, description = "Whether this node would load the policy: its summary, or the first problem with its line, column and key path",
        body = bodies::PolicyCheck), BadRequest, Errors))]
async fn policy_check(p: Principal, body: axum::body::Bytes) -> Response {
    if let Err(r) = p.require(Permission::Policy) {
        return r;
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return bad_field("body", "the policy must be UTF-8 text");
    };
    // The parser is fuzzed (fuzz/fuzz_targets/policy_toml.rs) and never panics.
    let r = traceledger_projection::policy_file::check(text);
    Json(match r {
        Ok(pol) => bodies::PolicyCheck { valid: true, summary: Some(pol.summary()), error: None },
        Err(e) => bodies::PolicyCheck { valid: false, summary: None, error: Some(e) },
    })
    .into_response()
}

#[utoipa::path(get, path = "/v1/policy", tag = "policy", security(("api_key" = [])),
    responses((status = 200, description = "The policy in force for the key's tenant: version, rules, boundaries, budgets, limits, sinks (secrets by variable name only), and the last refused reload", body = Object),
        Errors))]
async fn policy(State(s): State<Shared>, p: Principal) -> Response {
    if let Err(r) = p.require(Permission::Policy) {
        return r;
    }
    let pol = s.policy.current();
    let t = p.tenant();
    let mine = |scope: &Option<String>| scope.as_deref().is_none_or(|x| x == t);
    let rules: Vec<Value> = pol
        .rules
        .iter()
        .filter(|r| mine(&r.tenant))
        .map(|r| {
            json!({ "id": r.id, "agent": r.agent, "kind": r.kind.map(|k| k.symbol()), "field": r.field.to_string(),
                    "required": r.required, "severity": r.severity })
        })
        .collect();
    let families: Vec<Value> =
        pol.detector().families().iter().map(|f| json!({ "name": f.name, "weight": f.weight })).collect();
    Json(json!({
        "version": pol.version(),
        "digest": pol.digest,
        "file": s.policy.path().map(|p| p.display().to_string()),
        "last_error": s.policy.last_error(),
        "validate": rules,
        "tools": pol.tools.iter().filter(|b| mine(&b.tenant)).collect::<Vec<_>>(),
        "injection": { "threshold": pol.injection.threshold, "fields": pol.injection.fields, "families": families },
        "rate": pol.rate,
        "failover": pol.failover,
        "availability": pol.availability,
        "budgets": pol.budgets.iter().filter(|b| mine(&b.tenant)).collect::<Vec<_>>(),
        "limits": pol.limits.iter().filter(|l| mine(&l.tenant)).collect::<Vec<_>>(),
        "redact": pol.redactions.iter().filter(|r| mine(&r.tenant)).collect::<Vec<_>>(),
        "retention": pol.retention_for(t),
        "alerts": pol.alerts.iter().filter(|a| mine(&a.tenant)).map(|a| json!({
            "name": a.name, "url": a.url, "secret_env": a.secret_env, "on": a.on, "min_severity": a.min_severity,
        })).collect::<Vec<_>>(),
    }))
    .into_response()
}

#[utoipa::path(get, path = "/v1/alerts/deliveries", tag = "policy", security(("api_key" = [])),
    params(("limit" = Option<usize>, Query, description = "1..=1000, default 100")),
    responses((status = 200, description = "Webhook delivery attempts of the key's tenant, newest first",
        body = bodies::Deliveries), BadRequest, Errors))]
async fn alert_deliveries(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    if let Err(r) = p.require(Permission::Policy) {
        return r;
    }
    let limit = match limit(&q) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let tenant = p.tenant().to_string();
    blocking(move || {
        let items = match &s.alerts {
            Some(d) => d.log(&tenant, limit).map_err(internal)?,
            None => Vec::new(),
        };
        Ok(Json(bodies::Deliveries { items }).into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/export", tag = "records", security(("api_key" = [])),
    params(
        ("session" = Option<String>, Query, description = "Export this session: the tenant's chain up to the session's last record, content kept only in the session's records (commitments elsewhere)"),
        ("without_content" = Option<bool>, Query, description = "Erase every content field (commitments stay); default false"),
    ),
    responses((status = 200, description = "A tar of a verifiable bundle directory (records.avro, checkpoints, keyring, signed MANIFEST); check it with `traceledger verify DIR --key VKEY`",
        content_type = "application/x-tar", body = Vec<u8>), BadRequest, NotFound, Errors))]
async fn export_bundle(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    let without_content = match param::<bool>(&q, "without_content", "true or false") {
        Ok(v) => v.unwrap_or(false),
        Err(r) => return r,
    };
    export(s, p, q.get("session").cloned(), None, without_content).await
}

#[utoipa::path(get, path = "/v1/dsar/{subject}", tag = "export", security(("api_key" = [])),
    params(("subject" = String, Path, description = "A data subject's id as the agents record it in `subject_ids` (e.g. `hmac:…`, HMAC-SHA256 of the customer id under the tenant's secret)")),
    responses((status = 200, description = "A tar of a verifiable bundle of the tenant's chain with content kept only in the records about the subject; X-Traceledger-Subject-Records counts them",
        content_type = "application/x-tar"), NotFound, Errors))]
async fn dsar_export(State(s): State<Shared>, p: Principal, Path(subject): Path<String>) -> Response {
    export(s, p, None, Some(subject), false).await
}

/// A bundle of the tenant's chain as a tar: up to a session's last record
/// with content only in that session's records; or whole with content only
/// in the records about a subject; or whole.
async fn export(
    s: Shared,
    p: Principal,
    session: Option<String>,
    subject: Option<String>,
    without_content: bool,
) -> Response {
    use std::sync::atomic::{AtomicU64, Ordering};
    use traceledger_projection::ledger::BundlePlan;
    if let Err(r) = p.require(Permission::Export) {
        return r;
    }
    let tenant = p.tenant().to_string();
    let about = Arc::new(AtomicU64::new(0));
    let counted = about.clone();
    let made = blocking(move || {
        let Some(ex) = &s.exporter else {
            return Err(problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Export unavailable",
                "this node has no export key",
                json!({}),
            ));
        };
        let view = LedgerView::new(&s.ledger);
        let size = match &session {
            None => view.size(&tenant).map_err(internal)?,
            Some(id) => {
                let summary = SessionsView::new(&s.sessions)
                    .summary(&tenant, id)
                    .map_err(internal)?
                    .ok_or_else(|| not_found(format!("no session `{id}`")))?;
                (summary.last_seq + 1).min(view.size(&tenant).map_err(internal)?)
            }
        };
        if size == 0 {
            return Err(not_found("no records to export"));
        }
        let dir = tempfile::tempdir().map_err(internal)?;
        let name = match (&session, &subject) {
            (Some(_), _) => format!("{tenant}-session-{size}"),
            (None, Some(_)) => format!("{tenant}-subject-{size}"),
            (None, None) => format!("{tenant}-{size}"),
        };
        let out = dir.path().join(&name);
        let plan = BundlePlan {
            out: &out,
            log_name: &ex.log_name,
            key: &ex.key,
            keyring: ex.keyring.clone(),
            now: Timestamp(now_micros()),
        };
        let keep = |r: &SealedRecord| {
            let mine = subject.as_ref().is_none_or(|x| r.event.subject_ids.contains(x));
            counted.fetch_add(u64::from(subject.is_some() && mine), Ordering::Relaxed);
            !without_content && mine && session.as_ref().is_none_or(|id| &r.event.session_id == id)
        };
        let records = view.export(&tenant, size, &plan, keep).map_err(internal)?;
        if subject.is_some() && counted.load(Ordering::Relaxed) == 0 {
            return Err(not_found("no record of this tenant names this subject"));
        }
        let tar_path = dir.path().join("bundle.tar");
        let f = std::fs::File::create(&tar_path).map_err(internal)?;
        let mut b = tar::Builder::new(f);
        b.append_dir_all(&name, &out).map_err(internal)?;
        b.into_inner().map_err(internal)?;
        // Opened before the temporary directory goes: the open file stays
        // readable after it is unlinked.
        let file = std::fs::File::open(&tar_path).map_err(internal)?;
        let len = file.metadata().map_err(internal)?.len();
        Ok((file, len, name, records))
    })
    .await;
    let (file, len, name, records) = match made {
        Ok(v) => v,
        Err(r) => return r,
    };
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file)));
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.tar\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert("x-traceledger-records", HeaderValue::from(records));
    let about = about.load(std::sync::atomic::Ordering::Relaxed);
    if about > 0 {
        h.insert("x-traceledger-subject-records", HeaderValue::from(about));
    }
    r
}

#[utoipa::path(get, path = "/v1/reports", tag = "reports", security(("api_key" = [])),
    responses((status = 200, description = "Every report made for the key's tenant, newest first, with the checkpoint each rests on", body = Vec<archive::StoredReport>), Errors))]
async fn list_reports(State(s): State<Shared>, p: Principal) -> Response {
    if let Err(r) = p.require(Permission::Reports) {
        return r;
    }
    let tenant = p.tenant().to_string();
    blocking(move || match &s.reports {
        None => Ok(Vec::new()),
        Some(a) => a.list(&tenant).map_err(internal),
    })
    .await
    .map_or_else(|r| r, |v| Json(v).into_response())
}

#[utoipa::path(get, path = "/v1/reports/{id}", tag = "reports", security(("api_key" = [])),
    params(("id" = String, Path, description = "A report's id from `GET /v1/reports`")),
    responses((status = 200, description = "The report's bytes as made, its signed note in X-Traceledger-Report-Signature (base64)", content_type = "application/json"),
        (status = 404, description = "No report of this tenant has this id", body = openapi::Problem, content_type = "application/problem+json"),
        Errors))]
async fn get_report(State(s): State<Shared>, p: Principal, Path(id): Path<String>) -> Response {
    if let Err(r) = p.require(Permission::Reports) {
        return r;
    }
    let tenant = p.tenant().to_string();
    let found = blocking(move || match &s.reports {
        None => Ok(None),
        Some(a) => a.get(&tenant, &id).map_err(internal),
    })
    .await;
    match found {
        Err(r) => r,
        Ok(None) => not_found("no report of this tenant has this id"),
        Ok(Some((meta, bytes, note))) => report_response(bytes, &note, meta.format == "html", Some(&meta.id)),
    }
}

fn no_privacy_ops() -> Response {
    problem(StatusCode::SERVICE_UNAVAILABLE, "Erasure unavailable", "this node cannot record erasures", json!({}))
}

#[utoipa::path(post, path = "/v1/dsar/{subject}/erase", tag = "privacy", security(("api_key" = [])),
    params(("subject" = String, Path, description = "A data subject's id as the agents record it in `subject_ids`")),
    responses((status = 202, description = "Recorded in `_privacy.<tenant>` and under way: the content of `erasing` records goes (commitments stay, the chain still verifies); `held` records are inside the retention minimum and kept until `held_until`", body = privacy::ErasureOutcome),
        (status = 404, description = "No record of this tenant names the subject", body = openapi::Problem, content_type = "application/problem+json"),
        (status = 503, description = "This node cannot record erasures", body = openapi::Problem, content_type = "application/problem+json"),
        Errors))]
async fn dsar_erase(State(s): State<Shared>, p: Principal, Path(subject): Path<String>) -> Response {
    if let Err(r) = p.require(Permission::Erase) {
        return r;
    }
    if subject.is_empty() || subject.len() > 256 {
        return bad_field("subject", "a subject id is 1-256 characters");
    }
    if let Some(Err(r)) = s.privacy.as_ref().map(|ops| ops.pace.check(p.tenant())) {
        return r;
    }
    let tenant = p.tenant().to_string();
    let by = p.key.id.clone();
    blocking(move || {
        let ops = s.privacy.as_ref().ok_or_else(no_privacy_ops)?;
        let pol = s.policy.current();
        let view = LedgerView::new(&s.ledger);
        let (plan, already) = privacy::plan_dsar(&view, &tenant, &subject, pol.retention_for(&tenant), now_micros())
            .map_err(internal)?
            .ok_or_else(|| not_found("no record of this tenant names this subject"))?;
        let e = privacy::record(ops, plan, &by, pol.version()).map_err(|e| {
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Log unavailable",
                format!("recording the erasure: {e}"),
                json!({}),
            )
        })?;
        tracing::info!(%tenant, erasure = %e.id, erasing = e.seqs.len(), "DSAR erasure recorded");
        Ok((StatusCode::ACCEPTED, Json(privacy::ErasureOutcome::of(&e, already))).into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(post, path = "/v1/retention/run", tag = "privacy", security(("api_key" = [])),
    responses((status = 202, description = "A retention run for the key's tenant, recorded in `_privacy.<tenant>`: content sealed before `cutoff` (now minus the policy's max_days) that no earlier run covered is erased", body = privacy::ErasureOutcome),
        (status = 409, description = "The policy sets no maximum retention for this tenant", body = openapi::Problem, content_type = "application/problem+json"),
        (status = 503, description = "This node cannot record erasures", body = openapi::Problem, content_type = "application/problem+json"),
        Errors))]
async fn retention_run(State(s): State<Shared>, p: Principal) -> Response {
    if let Err(r) = p.require(Permission::Erase) {
        return r;
    }
    if let Some(Err(r)) = s.privacy.as_ref().map(|ops| ops.pace.check(p.tenant())) {
        return r;
    }
    let tenant = p.tenant().to_string();
    let by = p.key.id.clone();
    blocking(move || {
        let ops = s.privacy.as_ref().ok_or_else(no_privacy_ops)?;
        let pol = s.policy.current();
        let view = LedgerView::new(&s.ledger);
        let plan = privacy::plan_retention(&view, &tenant, pol.retention_for(&tenant), now_micros())
            .map_err(internal)?
            .ok_or_else(|| {
                problem(
                    StatusCode::CONFLICT,
                    "No retention maximum",
                    "the policy sets no [[retention]] max_days for this tenant: content is kept",
                    json!({}),
                )
            })?;
        let e = privacy::record(ops, plan, &by, pol.version()).map_err(|e| {
            problem(StatusCode::SERVICE_UNAVAILABLE, "Log unavailable", format!("recording the run: {e}"), json!({}))
        })?;
        Ok((StatusCode::ACCEPTED, Json(privacy::ErasureOutcome::of(&e, 0))).into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/retention", tag = "privacy", security(("api_key" = [])),
    responses((status = 200, description = "The retention rule in force for the key's tenant (null when none) and the policy version", body = Object), Errors))]
async fn retention(State(s): State<Shared>, p: Principal) -> Response {
    if let Err(r) = p.require(Permission::Policy) {
        return r;
    }
    let pol = s.policy.current();
    let rule = pol.retention_for(p.tenant());
    let now = now_micros();
    Json(json!({
        "tenant": p.tenant(),
        "policy_version": pol.version(),
        "rule": rule,
        "erasable_before": rule.map(|r| Timestamp(r.hold_after(now)).to_rfc3339()),
        "retention_cutoff": rule.and_then(|r| r.cutoff(now)).map(|c| Timestamp(c).to_rfc3339()),
    }))
    .into_response()
}

#[utoipa::path(get, path = "/v1/privacy/actions", tag = "privacy", security(("api_key" = [])),
    responses((status = 200, description = "Every erasure sealed in `_privacy.<tenant>` (DSAR erasures and retention runs), oldest first", body = Vec<privacy::PrivacyAction>), Errors))]
async fn privacy_actions(State(s): State<Shared>, p: Principal) -> Response {
    if let Err(r) = p.require(Permission::Reports) {
        return r;
    }
    let tenant = p.tenant().to_string();
    blocking(move || privacy::actions(&LedgerView::new(&s.ledger), &tenant).map_err(internal))
        .await
        .map_or_else(|r| r, |v| Json(v).into_response())
}

fn key_error(e: keys::KeyError) -> Response {
    match e {
        keys::KeyError::NotFound(id) => not_found(format!("no key `{id}`")),
        keys::KeyError::Forbidden(why) => problem(StatusCode::FORBIDDEN, "Forbidden", why, json!({"field": "id"})),
        keys::KeyError::Inactive(id) => problem(
            StatusCode::CONFLICT,
            "Key not active",
            format!("key `{id}` is revoked or expired and cannot be rotated; create a new key"),
            json!({"field": "id"}),
        ),
        e => internal(e),
    }
}

#[utoipa::path(get, path = "/v1/keys", tag = "keys", security(("api_key" = [])),
    responses((status = 200, description = "The tenant's keys (ids, never secrets)", body = bodies::KeyList), Errors))]
async fn list_keys(State(s): State<Shared>, p: Principal) -> Response {
    if let Err(r) = p.require(Permission::ManageKeys) {
        return r;
    }
    let tenant = p.tenant().to_string();
    blocking(move || Ok(Json(bodies::KeyList { items: s.keys.list(&tenant).map_err(key_error)? }).into_response()))
        .await
        .unwrap_or_else(|r| r)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    role: String,
    #[serde(default)]
    name: String,
    expires_in_days: Option<u32>,
    tier: Option<String>,
}

#[utoipa::path(post, path = "/v1/keys", tag = "keys", security(("api_key" = [])),
    request_body(content = Object, description = "{\"role\", \"name\", \"expires_in_days\", \"tier\"}", content_type = "application/json"),
    responses((status = 201, description = "The new key; its secret is shown once", body = bodies::NewKey), BadRequest, Errors))]
async fn create_key(State(s): State<Shared>, p: Principal, body: axum::body::Bytes) -> Response {
    if let Err(r) = p.require(Permission::ManageKeys) {
        return r;
    }
    let req: NewKey = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_field("body", format!("expected {{\"role\", \"name\", \"expires_in_days\"}}: {e}")),
    };
    let Some(role) = Role::parse(&req.role) else {
        return bad_field(
            "role",
            format!("`role` must be one of owner, admin, member, viewer, auditor; got `{}`", req.role),
        );
    };
    if req.expires_in_days.is_some_and(|d| d == 0 || d > keys::MAX_EXPIRES_IN_DAYS) {
        return bad_field(
            "expires_in_days",
            format!("`expires_in_days` must be 1 to {} (ten years)", keys::MAX_EXPIRES_IN_DAYS),
        );
    }
    let tier = req.tier.clone().unwrap_or_else(|| keys::STANDARD_TIER.to_string());
    if !keys::is_tier_name(&tier) {
        return bad_field("tier", format!("`tier` must match [a-z0-9_-]{{1,32}}, got `{tier}`"));
    }
    // Nobody hands out more than they have: only an Owner makes Owners.
    if !keys::may_manage(p.key.role, role) {
        return problem(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "only an owner key can create owner keys",
            json!({"field": "role"}),
        );
    }
    let tenant = p.tenant().to_string();
    blocking(move || {
        let now = now_micros();
        let expires = req.expires_in_days.map(|d| now.saturating_add(i64::from(d) * 86_400_000_000));
        let (secret, info) = s
            .keys
            .create(
                &tenant,
                &keys::KeySpec { role, env: &s.env, name: &req.name, expires_at: expires, tier: &tier },
                now,
            )
            .map_err(key_error)?;
        Ok((StatusCode::CREATED, Json(bodies::NewKey { secret, key: info, note: "the secret is shown once".into() }))
            .into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys", security(("api_key" = [])),
    params(("id" = String, Path, description = "Key id, e.g. tlk_live_…Qx3w")),
    responses((status = 200, description = "The revoked key", body = KeyInfo), NotFound, Errors))]
async fn revoke_key(State(s): State<Shared>, p: Principal, Path(id): Path<String>) -> Response {
    if let Err(r) = p.require(Permission::ManageKeys) {
        return r;
    }
    let (tenant, role) = (p.tenant().to_string(), p.key.role);
    blocking(move || Ok(Json(s.keys.revoke(&tenant, &id, now_micros(), role).map_err(key_error)?).into_response()))
        .await
        .unwrap_or_else(|r| r)
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Rotate {
    overlap_seconds: Option<u32>,
}

#[utoipa::path(post, path = "/v1/keys/{id}/rotate", tag = "keys", security(("api_key" = [])),
    params(("id" = String, Path, description = "Key id")),
    request_body(content = Object, description = "{\"overlap_seconds\"} (default 3600)", content_type = "application/json"),
    responses((status = 201, description = "The new key; the old one works for the overlap", body = bodies::NewKey), BadRequest, NotFound, Errors))]
async fn rotate_key(
    State(s): State<Shared>,
    p: Principal,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = p.require(Permission::ManageKeys) {
        return r;
    }
    let req: Rotate = if body.is_empty() {
        Rotate::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return bad_field("body", format!("expected {{\"overlap_seconds\"}}: {e}")),
        }
    };
    let overlap = i64::from(req.overlap_seconds.unwrap_or(3600)) * 1_000_000;
    let (tenant, role) = (p.tenant().to_string(), p.key.role);
    blocking(move || {
        let (secret, info) = s.keys.rotate(&tenant, &id, &s.env, now_micros(), overlap, role).map_err(key_error)?;
        Ok((StatusCode::CREATED, Json(bodies::NewKey { secret, key: info, note: "the secret is shown once".into() }))
            .into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}
