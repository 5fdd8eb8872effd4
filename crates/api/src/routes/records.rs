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

pub(crate) fn record_response(p: &Principal, bytes: Option<Vec<u8>>) -> Result<Json<Value>, AppError> {
    let bytes = bytes.ok_or_else(|| AppError::not_found("no such record"))?;
    let r = wire::decode_record(&bytes, usize::MAX)
        .map_err(|e| AppError::internal(format!("a stored record does not decode: {e}")))?;
    Ok(Json(record_json(&r, p.key.role.can(Permission::ReadContent))))
}

#[utoipa::path(get, path = "/v1/records/{seq}", tag = "records", security(("api_key" = [])),
    params(("seq" = u64, Path, description = "Position in the tenant's chain")),
    responses((status = 200, description = "The sealed record (content removed for roles without ReadContent)", body = Object), BadRequest, NotFound, Errors))]
pub(crate) async fn record_by_seq(
    State(s): State<Shared>,
    p: Principal,
    Path(seq): Path<String>,
) -> Result<Json<Value>, AppError> {
    p.require(Permission::Read)?;
    let seq = Whole::parse(&seq).map_err(|e| AppError::bad_field("seq", format!("`seq` {e}")))?.0;
    let tenant = p.tenant().to_string();
    let bytes = blocking(move || Ok(LedgerView::new(&s.ledger).record(&tenant, seq)?)).await?;
    record_response(&p, bytes)
}

#[utoipa::path(get, path = "/v1/records/by-event/{event_id}", tag = "records", security(("api_key" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)")),
    responses((status = 200, description = "The sealed record", body = Object), BadRequest, NotFound, Errors))]
pub(crate) async fn record_by_event(
    State(s): State<Shared>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    p.require(Permission::Read)?;
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return Err(AppError::bad_field("event_id", format!("`event_id` must be a UUID, got `{id}`")));
    };
    let tenant = p.tenant().to_string();
    let bytes = blocking(move || {
        let v = LedgerView::new(&s.ledger);
        match v.seq_of(&tenant, id)? {
            None => Ok(None),
            Some(seq) => Ok(v.record(&tenant, seq)?),
        }
    })
    .await?;
    record_response(&p, bytes)
}

/// What `GET /v1/export` exports.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    /// Export this session: the tenant's chain up to the session's last record, content kept only in the session's records (commitments elsewhere)
    session: Option<String>,
    /// Erase every content field (commitments stay); default false
    #[param(value_type = Option<bool>)]
    without_content: Option<Flag>,
}

#[utoipa::path(get, path = "/v1/export", tag = "records", security(("api_key" = [])),
    params(ExportQuery),
    responses((status = 200, description = "A tar of a verifiable bundle directory (records.avro, checkpoints, keyring, signed MANIFEST); check it with `traceledger verify DIR --key VKEY`",
        content_type = "application/x-tar", body = Vec<u8>), BadRequest, NotFound, Errors))]
pub(crate) async fn export_bundle(
    State(s): State<Shared>,
    p: Principal,
    Q(q): Q<ExportQuery>,
) -> Result<Response, AppError> {
    export(s, p, q.session, None, q.without_content.is_some_and(|f| f.0)).await
}

#[utoipa::path(get, path = "/v1/dsar/{subject}", tag = "export", security(("api_key" = [])),
    params(("subject" = String, Path, description = "A data subject's id as the agents record it in `subject_ids` (e.g. `hmac:…`, HMAC-SHA256 of the customer id under the tenant's secret)")),
    responses((status = 200, description = "A tar of a verifiable bundle of the tenant's chain with content kept only in the records about the subject; X-Traceledger-Subject-Records counts them",
        content_type = "application/x-tar"), NotFound, Errors))]
pub(crate) async fn dsar_export(
    State(s): State<Shared>,
    p: Principal,
    Path(subject): Path<String>,
) -> Result<Response, AppError> {
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
) -> Result<Response, AppError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use traceledger_bundle::BundlePlan;
    p.require(Permission::Export)?;
    let tenant = p.tenant().to_string();
    let about = Arc::new(AtomicU64::new(0));
    let counted = about.clone();
    let made = blocking(move || {
        let ex = s
            .exporter
            .as_ref()
            .ok_or_else(|| AppError::unavailable("Export unavailable", "this node has no export key"))?;
        let view = LedgerView::new(&s.ledger);
        let size = match &session {
            None => view.size(&tenant)?,
            Some(id) => {
                let summary = SessionsView::new(&s.sessions)
                    .summary(&tenant, id)?
                    .ok_or_else(|| AppError::not_found(format!("no session `{id}`")))?;
                (summary.last_seq + 1).min(view.size(&tenant)?)
            }
        };
        if size == 0 {
            return Err(AppError::not_found("no records to export"));
        }
        let dir = tempfile::tempdir()?;
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
            now: Timestamp(Timestamp::now().0),
        };
        let keep = |r: &SealedRecord| {
            let mine = subject.as_ref().is_none_or(|x| r.event.subject_ids.contains(x));
            counted.fetch_add(u64::from(subject.is_some() && mine), Ordering::Relaxed);
            !without_content && mine && session.as_ref().is_none_or(|id| &r.event.session_id == id)
        };
        let records = view.export(&tenant, size, &plan, keep)?;
        if subject.is_some() && counted.load(Ordering::Relaxed) == 0 {
            return Err(AppError::not_found("no record of this tenant names this subject"));
        }
        let tar_path = dir.path().join("bundle.tar");
        let f = std::fs::File::create(&tar_path)?;
        let mut b = tar::Builder::new(f);
        b.append_dir_all(&name, &out)?;
        b.into_inner()?;
        // Opened before the temporary directory goes: the open file stays
        // readable after it is unlinked.
        let file = std::fs::File::open(&tar_path)?;
        let len = file.metadata()?.len();
        Ok((file, len, name, records))
    })
    .await?;
    let (file, len, name, records) = made;
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
    Ok(r)
}
