//! `/v1/proofs`, `/v1/checkpoints`: inclusion and consistency proofs against signed checkpoints.

use super::prelude::*;

/// Which record, against which checkpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct InclusionQuery {
    /// The record
    #[param(value_type = u64, required = true)]
    seq: Option<Whole>,
    /// Size of a signed checkpoint; default the first covering seq
    #[param(value_type = Option<u64>)]
    size: Option<Whole>,
}

#[utoipa::path(get, path = "/v1/proofs/inclusion", tag = "proofs", security(("api_key" = [])),
    params(InclusionQuery),
    responses((status = 200, description = "RFC 6962 audit path and the signed checkpoint it leads to", body = bodies::InclusionProof), BadRequest, NotFound, Errors))]
pub(crate) async fn inclusion(
    State(s): State<Shared>,
    p: Principal,
    Q(q): Q<InclusionQuery>,
) -> Result<Json<bodies::InclusionProof>, AppError> {
    p.require(Permission::Proofs)?;
    let seq = q.seq.ok_or_else(|| AppError::required("seq"))?.0;
    let size = q.size.map(|w| w.0);
    let tenant = p.tenant().to_string();
    blocking(move || {
        let v = LedgerView::new(&s.ledger);
        // The leaf hash is kept apart from the record: no record read.
        let leaf_hash = v.leaf(&tenant, seq).ok_or_else(|| AppError::not_found("no such record"))?;
        // Against the checkpoint of the size asked for, or an early one
        // that covers the record (see `covering`).
        let cp = covering(&v, &tenant, seq, size)?;
        let proof = v.inclusion_proof(&tenant, seq, cp.size)?;
        Ok(Json(bodies::InclusionProof {
            seq,
            leaf_hash: leaf_hash.to_hex(),
            size: cp.size,
            proof: proof.iter().map(|h| h.to_hex()).collect(),
            checkpoint: (&cp).into(),
        }))
    })
    .await
}

/// The signed checkpoint of `size`, or an early published one that covers
/// record `seq` ([`LedgerView::covering_checkpoint`]).
fn covering(
    v: &LedgerView<'_>,
    tenant: &str,
    seq: u64,
    size: Option<u64>,
) -> Result<traceledger_projection::ledger::StoredCheckpoint, AppError> {
    let cp = match size {
        Some(n) => v.checkpoint(tenant, n)?.ok_or_else(|| {
            AppError::not_found(format!("no signed checkpoint of size {n}; GET /v1/checkpoints lists them"))
        })?,
        None => v.covering_checkpoint(tenant, seq)?.ok_or_else(|| {
            AppError::not_found("no signed checkpoint covers this record yet; retry after the next checkpoint")
        })?,
    };
    if cp.size <= seq {
        return Err(AppError::bad_field("size", format!("a tree of size {} does not contain seq {seq}", cp.size)));
    }
    Ok(cp)
}

/// `GET /v1/proofs/record?seq=N[&size=M]`: one record's portable proof
/// (c2sp.org/tlog-proof): the record itself in `extra`, its audit path and
/// the signed checkpoint; `traceledger verify-proof FILE --key VKEY`
/// checks it offline.
#[utoipa::path(get, path = "/v1/proofs/record", tag = "proofs", security(("api_key" = [])),
    params(InclusionQuery),
    responses((status = 200, description = "The record's c2sp.org/tlog-proof (text; save as .tlog-proof)", content_type = "text/plain", body = String), BadRequest, NotFound, Errors))]
pub(crate) async fn record_proof(
    State(s): State<Shared>,
    p: Principal,
    Q(q): Q<InclusionQuery>,
) -> Result<Response, AppError> {
    p.require(Permission::Proofs)?;
    let seq = q.seq.ok_or_else(|| AppError::required("seq"))?.0;
    let size = q.size.map(|w| w.0);
    let tenant = p.tenant().to_string();
    let text = blocking(move || {
        let v = LedgerView::new(&s.ledger);
        let record = v.sealed(&tenant, seq)?.ok_or_else(|| AppError::not_found("no such record"))?;
        let cp = covering(&v, &tenant, seq, size)?;
        let path = v.inclusion_proof(&tenant, seq, cp.size)?;
        Ok(traceledger_bundle::record_proof(&record, path, cp.note.as_bytes()).encode())
    })
    .await?;
    let mut r = (StatusCode::OK, text).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}-{seq}.tlog-proof\"", p.tenant())) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// Two signed checkpoints' sizes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ConsistencyQuery {
    /// Size of the older signed checkpoint
    #[param(value_type = u64, required = true)]
    from: Option<Whole>,
    /// Size of the newer signed checkpoint
    #[param(value_type = u64, required = true)]
    to: Option<Whole>,
}

#[utoipa::path(get, path = "/v1/proofs/consistency", tag = "proofs", security(("api_key" = [])),
    params(ConsistencyQuery),
    responses((status = 200, description = "RFC 6962 consistency proof with both signed checkpoints", body = bodies::ConsistencyProof), BadRequest, NotFound, Errors))]
pub(crate) async fn consistency(
    State(s): State<Shared>,
    p: Principal,
    Q(q): Q<ConsistencyQuery>,
) -> Result<Json<bodies::ConsistencyProof>, AppError> {
    p.require(Permission::Proofs)?;
    let from = q.from.ok_or_else(|| AppError::required("from"))?.0;
    let to = q.to.ok_or_else(|| AppError::required("to"))?.0;
    if from == 0 || from > to {
        return Err(AppError::bad_field("from", format!("`from` must be 1..=`to`, got from={from} to={to}")));
    }
    let tenant = p.tenant().to_string();
    blocking(move || {
        let v = LedgerView::new(&s.ledger);
        let (Some(old), Some(new)) = (v.checkpoint(&tenant, from)?, v.checkpoint(&tenant, to)?) else {
            return Err(AppError::not_found(
                "both sizes must be those of signed checkpoints; GET /v1/checkpoints lists them",
            ));
        };
        let proof = v.consistency_proof(&tenant, from, to)?;
        Ok(Json(bodies::ConsistencyProof {
            from: (&old).into(),
            to: (&new).into(),
            proof: proof.iter().map(|h| h.to_hex()).collect(),
        }))
    })
    .await
}

/// A page of checkpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CheckpointsQuery {
    /// Smallest size listed
    #[param(value_type = Option<u64>)]
    min_size: Option<Whole>,
    /// 1..=1000, default 100
    #[param(value_type = Option<usize>, minimum = 1, maximum = 1000)]
    limit: Option<Limit>,
}

#[utoipa::path(get, path = "/v1/checkpoints", tag = "proofs", security(("api_key" = [])),
    params(CheckpointsQuery),
    responses((status = 200, description = "Signed checkpoints, smallest first", body = bodies::CheckpointPage), BadRequest, Errors))]
pub(crate) async fn checkpoints(
    State(s): State<Shared>,
    p: Principal,
    Q(q): Q<CheckpointsQuery>,
) -> Result<Json<bodies::CheckpointPage>, AppError> {
    p.require(Permission::Read)?;
    let (min_size, limit) = (q.min_size.map_or(0, |w| w.0), page(q.limit));
    let tenant = p.tenant().to_string();
    blocking(move || {
        let list = LedgerView::new(&s.ledger).checkpoints(&tenant, min_size, limit + 1)?;
        let next = (list.len() > limit).then(|| list[limit].size);
        Ok(Json(bodies::CheckpointPage {
            items: list.iter().take(limit).map(Into::into).collect(),
            next_min_size: next,
        }))
    })
    .await
}

#[utoipa::path(get, path = "/v1/checkpoints/latest", tag = "proofs", security(("api_key" = [])),
    responses((status = 200, description = "The latest signed checkpoint", body = bodies::CheckpointBody), NotFound, Errors))]
pub(crate) async fn latest_checkpoint(
    State(s): State<Shared>,
    p: Principal,
) -> Result<Json<bodies::CheckpointBody>, AppError> {
    p.require(Permission::Read)?;
    let tenant = p.tenant().to_string();
    blocking(move || match LedgerView::new(&s.ledger).latest_checkpoint(&tenant)? {
        Some(c) => Ok(Json(bodies::CheckpointBody::from(&c))),
        None => Err(AppError::not_found("no signed checkpoint yet")),
    })
    .await
}
