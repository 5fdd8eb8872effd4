//! `/v1/proofs`, `/v1/checkpoints`: inclusion and consistency proofs against signed checkpoints.

use super::prelude::*;

#[utoipa::path(get, path = "/v1/proofs/inclusion", tag = "proofs", security(("api_key" = [])),
    params(
        ("seq" = u64, Query, description = "The record"),
        ("size" = Option<u64>, Query, description = "Size of a signed checkpoint; default the first covering seq"),
    ),
    responses((status = 200, description = "RFC 6962 audit path and the signed checkpoint it leads to", body = bodies::InclusionProof), BadRequest, NotFound, Errors))]
pub(crate) async fn inclusion(State(s): State<Shared>, p: Principal, q: Params) -> Response {
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
pub(crate) async fn consistency(State(s): State<Shared>, p: Principal, q: Params) -> Response {
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
pub(crate) async fn checkpoints(State(s): State<Shared>, p: Principal, q: Params) -> Response {
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
pub(crate) async fn latest_checkpoint(State(s): State<Shared>, p: Principal) -> Response {
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
