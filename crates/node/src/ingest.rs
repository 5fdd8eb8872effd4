//! Ingest over HTTP: `POST /v1/events` (JSON trace events) and
//! `POST /v1/traces` (OTLP/HTTP), appended to the raw topic. They share the
//! query API's authentication, access log and rate limits (the node's
//! router puts them behind the same layers); the mapping of OTLP spans is
//! `traceledger_otlp`'s.

use crate::runtime::produce;
use crate::shared::App;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::atomic::Ordering;
use traceledger_api::api_keys::Permission;
use traceledger_api::{AppError, Principal};
use traceledger_core::TraceEvent;
use traceledger_wire as wire;

/// Largest `POST /v1/events` body.
pub const MAX_BODY: usize = 16 << 20;

/// Most events one `POST /v1/events` may carry (docs/security.md).
pub const MAX_EVENTS: usize = 10_000;

/// Most errors a refused batch lists (`error_count` has them all).
pub const MAX_ERRORS: usize = 100;

/// A `POST /v1/events` body: the items of a JSON array as raw text, at most
/// [`MAX_EVENTS`] of them kept; past that the rest are only counted, so a
/// body of a million tiny items costs no memory.
struct Batch<'a> {
    items: Vec<&'a serde_json::value::RawValue>,
    count: usize,
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Batch<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Batch<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON array of trace events")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Batch<'a>, A::Error> {
                let mut items = Vec::new();
                let mut count = 0;
                while count < MAX_EVENTS {
                    match seq.next_element::<&'a serde_json::value::RawValue>()? {
                        Some(v) => items.push(v),
                        None => return Ok(Batch { items, count }),
                    }
                    count += 1;
                }
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    count += 1;
                }
                Ok(Batch { items, count })
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

/// `POST /v1/events`: a JSON array of events. All or nothing: if any event
/// is invalid, none is accepted and every bad one is listed by index and
/// field. A 202 means the events are durable in the log.
pub(crate) async fn ingest(State(app): State<App>, who: Principal, req: Request) -> Result<Response, AppError> {
    who.require(Permission::Ingest)?;
    let body: Bytes = axum::body::to_bytes(req.into_body(), MAX_BODY).await.map_err(|_| too_large())?;
    let items = match serde_json::from_slice::<Batch<'_>>(&body) {
        Ok(Batch { items, count }) if count > MAX_EVENTS => {
            drop(items);
            return Err(AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too many events",
                format!("the batch has {count} events; send at most {MAX_EVENTS} per request"),
            )
            .with("count", count)
            .with("limit", MAX_EVENTS));
        }
        Ok(Batch { items, .. }) => items,
        Err(e) => return Err(malformed(format!("the body must be a JSON array of trace events: {e}"))),
    };
    let mut events = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    let mut foreign = Vec::new();
    for (i, raw) in items.iter().enumerate() {
        use traceledger_core::event::IngestRefusal;
        match TraceEvent::from_ingest_json(raw.get().as_bytes(), who.tenant()) {
            Err(IngestRefusal::Foreign(reason)) => {
                foreign.push(json!({"index": i, "field": "tenant_id", "reason": reason}));
            }
            Ok(ev) => {
                if let Some(reason) = wire::unsealable(&ev, &app.node.raw_topic) {
                    errors.push(json!({"index": i, "field": "", "reason": reason}));
                }
                events.push(ev);
            }
            Err(IngestRefusal::Invalid(traceledger_core::Error::InvalidEvent { field, reason })) => {
                errors.push(json!({"index": i, "field": field, "reason": reason}))
            }
            Err(IngestRefusal::Invalid(e)) => errors.push(json!({"index": i, "field": "", "reason": e.to_string()})),
        }
    }
    if !foreign.is_empty() {
        let count = foreign.len();
        foreign.truncate(MAX_ERRORS);
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "Another tenant's events",
            format!("{count} of {} events name another tenant; none were accepted", items.len()),
        )
        .with("errors", foreign)
        .with("error_count", count));
    }
    if !errors.is_empty() {
        let count = errors.len();
        errors.truncate(MAX_ERRORS);
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "Invalid events",
            format!(
                "{count} of {} events are invalid; none were accepted (a batch is all or nothing){}",
                items.len(),
                if count > MAX_ERRORS { format!("; the first {MAX_ERRORS} are listed") } else { String::new() }
            ),
        )
        .with("errors", errors)
        .with("error_count", count));
    }
    let n = events.len();
    let shared = app.node.clone();
    tokio::task::spawn_blocking(move || produce(shared.log.as_ref(), &shared.raw_topic, &events))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| {
            log_unavailable(e, "the events were not stored, retry the same batch (event ids make retries safe)")
        })?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": n }))).into_response())
}

/// The log did not take what was sent: the caller may retry. The cause
/// (a broker's address, a disk) is the node's log's, not the caller's.
fn log_unavailable(e: impl std::fmt::Display, detail: &str) -> AppError {
    tracing::warn!(error = %e, "appending to the raw topic failed");
    AppError::unavailable("Log unavailable", detail)
}

fn malformed(detail: impl Into<String>) -> AppError {
    AppError::new(StatusCode::BAD_REQUEST, "Malformed body", detail)
}

/// `POST /v1/traces`: OTLP/HTTP (protobuf or JSON, gzip or not). GenAI
/// spans become trace events (docs/otlp.md); other spans are named in the
/// partial success. A 200 means the events are durable in the log, as for
/// `/v1/events`; a retried export creates no duplicates (event ids derive
/// from span ids).
pub(crate) async fn otlp_traces(State(app): State<App>, who: Principal, req: Request) -> Result<Response, AppError> {
    who.require(Permission::Ingest)?;
    // (A block, so no borrow of the request, whose body is not Sync, lives
    // across the awaits below.)
    let (content_type, content_encoding) = {
        let text = |h: header::HeaderName| req.headers().get(h).and_then(|v| v.to_str().ok()).map(str::to_string);
        (text(header::CONTENT_TYPE), text(header::CONTENT_ENCODING))
    };
    let encoding = traceledger_otlp::Encoding::from_content_type(content_type.as_deref())
        .map_err(|e| AppError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type", e.to_string()))?;
    let body: Bytes = axum::body::to_bytes(req.into_body(), MAX_BODY).await.map_err(|_| too_large())?;
    let tenant = who.tenant().to_string();
    let shared = app.node.clone();
    let done = tokio::task::spawn_blocking(move || {
        take_export(&shared, &tenant, &body, encoding, content_encoding.as_deref())
    })
    .await
    .map_err(AppError::internal)?;
    let (_, rejected, message) = done?;
    let body = traceledger_otlp::response(rejected, &message, encoding);
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, encoding.content_type())], body).into_response())
}

/// An OTLP export of `tenant`, as received (`encoding`, compressed as
/// `content_encoding` says): decoded within the limits, its spans mapped to
/// trace events, numbered, and appended to the raw topic. Returns the spans
/// taken, those rejected and why. Shared by OTLP/HTTP and OTLP/gRPC
/// ([`crate::grpc`]); blocking.
pub(crate) fn take_export(
    shared: &crate::shared::NodeShared,
    tenant: &str,
    body: &[u8],
    encoding: traceledger_otlp::Encoding,
    content_encoding: Option<&str>,
) -> Result<(u64, u64, String), AppError> {
    use traceledger_otlp::Error as E;
    let plain = traceledger_otlp::inflate(body, content_encoding, MAX_BODY).map_err(|e| match e {
        E::TooLarge { .. } => too_large(),
        E::ContentEncoding(_) => {
            AppError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported encoding", e.to_string())
        }
        _ => malformed(e.to_string()),
    })?;
    let request =
        traceledger_otlp::decode_within(&plain, encoding, &traceledger_otlp::Limits::DEFAULT).map_err(|e| match e {
            E::TooMany { what, count, limit } => {
                AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "Too many spans", e.to_string())
                    .with("what", what)
                    .with("count", count)
                    .with("limit", limit)
            }
            _ => malformed(e.to_string()),
        })?;
    let mapped = traceledger_otlp::map::map_request(&request, tenant);
    let mut rejected = mapped.rejected;
    let mut events = Vec::with_capacity(mapped.events.len());
    for ev in mapped.events {
        if let Some(reason) = wire::unsealable(&ev, &shared.raw_topic) {
            let span =
                ev.attributes.iter().find(|a| a.key == "otel.span_id").map_or(String::new(), |a| a.value.clone());
            rejected.push(traceledger_otlp::map::Rejection { span, reason });
        } else {
            events.push(ev);
        }
    }
    {
        let mut clock = shared.steps.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let seed = shared.step_seed.clone();
        clock.number(&mut events, |t, s| seed.as_ref().and_then(|f| f(t, s)));
    }
    produce(shared.log.as_ref(), &shared.raw_topic, &events).map_err(|e| {
        log_unavailable(e, "the spans were not stored, retry the same export (span ids make retries safe)")
    })?;
    let message = if rejected.is_empty() {
        String::new()
    } else {
        let first: Vec<String> = rejected.iter().take(5).map(|r| format!("{}: {}", r.span, r.reason)).collect();
        format!("{} spans not taken; first: {}", rejected.len(), first.join("; "))
    };
    let (taken, rejected) = (events.len() as u64, rejected.len() as u64);
    shared.otlp.taken.fetch_add(taken, Ordering::Relaxed);
    shared.otlp.rejected.fetch_add(rejected, Ordering::Relaxed);
    if rejected > 0 {
        tracing::info!(rejected, "OTLP export partly taken");
    }
    Ok((taken, rejected, message))
}

fn too_large() -> AppError {
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Body too large",
        format!("the body exceeds {MAX_BODY} bytes; send fewer events per request"),
    )
}
