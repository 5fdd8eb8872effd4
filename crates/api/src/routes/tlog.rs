//! `/v1/tlog/{tenant}/…`: a tenant's log as c2sp.org/tlog-tiles, for
//! clients that are not ours: `checkpoint` (the latest signed checkpoint
//! the tiles here reach), `tile/<L>/<N>[.p/<W>]` (hashes) and
//! `tile/entries/<N>[.p/<W>]` (the records' canonical bytes, the leaves'
//! preimages). A tile never changes once served, so it is cacheable for a
//! year; the checkpoint is not. Readable by a key with the Proofs
//! permission (Auditor, Member, Admin, Owner), of its own tenant only:
//! another tenant's log is "not found", as if it did not exist.

use super::prelude::*;
use traceledger_core::merkle;

/// The tenant in the path is the key's, or nothing is there.
fn own(p: &Principal, tenant: &str) -> Result<(), AppError> {
    if p.tenant() == tenant {
        Ok(())
    } else {
        Err(AppError::not_found(format!("no log `{tenant}` for this key")))
    }
}

fn with_headers(body: Vec<u8>, content_type: &'static str, cache: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

#[utoipa::path(get, path = "/v1/tlog/{tenant}/checkpoint", tag = "proofs", security(("api_key" = [])),
    params(("tenant" = String, Path, description = "The key's tenant")),
    responses((status = 200, description = "The latest signed checkpoint (a C2SP signed note) that the tiles here reach", content_type = "text/plain", body = String), NotFound, Errors))]
pub(crate) async fn tlog_checkpoint(
    State(s): State<Shared>,
    p: Principal,
    Path(tenant): Path<String>,
) -> Result<Response, AppError> {
    p.require(Permission::Proofs)?;
    own(&p, &tenant)?;
    let note = blocking(move || {
        let v = LedgerView::new(&s.ledger);
        // The newest checkpoint whose tree is held here (the checkpoint
        // consumer may run ahead of the records), so every tile it implies is.
        let cp = v.latest_checkpoint(&tenant)?.ok_or_else(|| AppError::not_found("no signed checkpoint yet"))?;
        if v.root(&tenant, cp.size)? != cp.root {
            return Err(AppError::internal(format!(
                "{tenant}: the checkpoint of size {} disagrees with the tree",
                cp.size
            )));
        }
        Ok(cp.note)
    })
    .await?;
    Ok(with_headers(note.into_bytes(), "text/plain; charset=utf-8", "no-cache"))
}

#[utoipa::path(get, path = "/v1/tlog/{tenant}/tile/{path}", tag = "proofs", security(("api_key" = [])),
    params(
        ("tenant" = String, Path, description = "The key's tenant"),
        ("path" = String, Path, description = "`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]` (c2sp.org/tlog-tiles; N in x-prefixed groups of three digits)"),
    ),
    responses((status = 200, description = "The tile: 32-byte hashes, or an entry bundle (u16 length, canonical bytes)", content_type = "application/octet-stream", body = Vec<u8>), NotFound, Errors))]
pub(crate) async fn tlog_tile(
    State(s): State<Shared>,
    p: Principal,
    Path((tenant, path)): Path<(String, String)>,
) -> Result<Response, AppError> {
    p.require(Permission::Proofs)?;
    own(&p, &tenant)?;
    let t = merkle::parse_tile(&path)
        .ok_or_else(|| AppError::not_found(format!("`tile/{path}` is not a c2sp.org/tlog-tiles tile path")))?;
    let data = blocking(move || {
        LedgerView::new(&s.ledger).tile(&tenant, &t)?.ok_or_else(|| {
            AppError::not_found(format!("the tree does not reach tile/{path} yet; fetch the checkpoint first"))
        })
    })
    .await?;
    Ok(with_headers(data, "application/octet-stream", "private, max-age=31536000, immutable"))
}
