//! `/v1/records`, `/v1/export`, `/v1/dsar/{subject}`: sealed records and bundles of them.

use super::prelude::*;

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

pub(crate) fn record_response(p: &Principal, bytes: Option<Vec<u8>>) -> Response {
    let Some(bytes) = bytes else { return not_found("no such record") };
    match wire::decode_record(&bytes, usize::MAX) {
        Ok(r) => Json(record_json(&r, p.key.role.can(Permission::ReadContent))).into_response(),
        Err(e) => internal(format!("a stored record does not decode: {e}")),
    }
}

#[utoipa::path(get, path = "/v1/records/{seq}", tag = "records", security(("api_key" = [])),
    params(("seq" = u64, Path, description = "Position in the tenant's chain")),
    responses((status = 200, description = "The sealed record (content removed for roles without ReadContent)", body = Object), BadRequest, NotFound, Errors))]
pub(crate) async fn record_by_seq(State(s): State<Shared>, p: Principal, Path(seq): Path<String>) -> Response {
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
pub(crate) async fn record_by_event(State(s): State<Shared>, p: Principal, Path(id): Path<String>) -> Response {
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

#[utoipa::path(get, path = "/v1/export", tag = "records", security(("api_key" = [])),
    params(
        ("session" = Option<String>, Query, description = "Export this session: the tenant's chain up to the session's last record, content kept only in the session's records (commitments elsewhere)"),
        ("without_content" = Option<bool>, Query, description = "Erase every content field (commitments stay); default false"),
    ),
    responses((status = 200, description = "A tar of a verifiable bundle directory (records.avro, checkpoints, keyring, signed MANIFEST); check it with `traceledger verify DIR --key VKEY`",
        content_type = "application/x-tar", body = Vec<u8>), BadRequest, NotFound, Errors))]
pub(crate) async fn export_bundle(State(s): State<Shared>, p: Principal, q: Params) -> Response {
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
pub(crate) async fn dsar_export(State(s): State<Shared>, p: Principal, Path(subject): Path<String>) -> Response {
    export(s, p, None, Some(subject), false).await
}

/// A bundle of the tenant's chain as a tar: up to a session's last record
/// with content only in that session's records; or whole with content only
/// in the records about a subject; or whole.
pub(crate) async fn export(
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
