//! `/v1/reports`: the signed SOC 2 evidence report and the archive of reports made.

use super::prelude::*;

/// The report's period and format.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReportQuery {
    /// RFC 3339 period start (inclusive)
    #[param(value_type = String, format = DateTime, required = true)]
    from: Option<Time>,
    /// RFC 3339 period end (exclusive)
    #[param(value_type = String, format = DateTime, required = true)]
    to: Option<Time>,
    /// json (default) or html
    format: Option<String>,
}

#[utoipa::path(get, path = "/v1/reports/soc2", tag = "reports", security(("api_key" = [])),
    params(ReportQuery),
    responses((status = 200, description = "The SOC 2 evidence report of the key's tenant; its signed note (base64) in X-Traceledger-Report-Signature",
        body = traceledger_report::Soc2Report, content_type = "application/json"),
        (status = 503, description = "The node has no signing key for reports", body = crate::responses::Problem, content_type = "application/problem+json"),
        BadRequest, Errors))]
pub(crate) async fn soc2_report(
    State(s): State<Shared>,
    p: Principal,
    Q(q): Q<ReportQuery>,
) -> Result<Response, AppError> {
    p.require(Permission::Reports)?;
    let from = q.from.ok_or_else(|| AppError::bad_field("from", "`from` (RFC 3339) is required"))?.0;
    let to = q.to.ok_or_else(|| AppError::bad_field("to", "`to` (RFC 3339) is required"))?.0;
    if from >= to {
        return Err(AppError::bad_field("from", "`from` must be before `to`"));
    }
    let html = match q.format.as_deref() {
        None => false,
        Some(f) => choice("format", f, &[("json", false), ("html", true)])?,
    };
    if s.exporter.is_none() {
        return Err(AppError::unavailable("No report signer", "this node has no signing key for reports"));
    }
    let tenant = p.tenant().to_string();
    let by = p.key.id.clone();
    let (bytes, note, id) = blocking(move || {
        let ex = s.exporter.as_ref().ok_or_else(|| AppError::internal("no exporter"))?;
        let ring = traceledger_core::signing::Keyring::new(
            ex.keyring.iter().map(|k| k.to_key()).collect::<Result<Vec<_>, _>>().map_err(AppError::internal)?,
        );
        let rep = report::soc2(&s, &ring, &tenant, from, to, Timestamp::now().0).map_err(AppError::internal)?;
        let bytes = if html {
            traceledger_report::html::render(&rep).into_bytes()
        } else {
            serde_json::to_vec_pretty(&rep).map_err(AppError::internal)?
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
        let note = traceledger_report::note::sign(&bytes, &what, &ex.key).map_err(AppError::internal)?;
        let id = match &s.reports {
            None => None,
            Some(archive) => {
                let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
                let meta = archive::StoredReport {
                    id: format!("soc2-{}-{}", Timestamp::now().0, &sha[..12]),
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
                archive.store(&tenant, &meta, &bytes, &note).map_err(AppError::internal)?;
                Some(meta.id)
            }
        };
        Ok((bytes, note, id))
    })
    .await?;
    Ok(report_response(bytes, &note, html, id.as_deref()))
}

/// A report's bytes with its signed note (and archive id) in headers.
pub(crate) fn report_response(bytes: Vec<u8>, note: &str, html: bool, id: Option<&str>) -> Response {
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

#[utoipa::path(get, path = "/v1/reports", tag = "reports", security(("api_key" = [])),
    responses((status = 200, description = "Every report made for the key's tenant, newest first, with the checkpoint each rests on", body = Vec<archive::StoredReport>), Errors))]
pub(crate) async fn list_reports(
    State(s): State<Shared>,
    p: Principal,
) -> Result<Json<Vec<archive::StoredReport>>, AppError> {
    p.require(Permission::Reports)?;
    let tenant = p.tenant().to_string();
    blocking(move || match &s.reports {
        None => Ok(Json(Vec::new())),
        Some(a) => Ok(Json(a.list(&tenant).map_err(AppError::internal)?)),
    })
    .await
}

#[utoipa::path(get, path = "/v1/reports/{id}", tag = "reports", security(("api_key" = [])),
    params(("id" = String, Path, description = "A report's id from `GET /v1/reports`")),
    responses((status = 200, description = "The report's bytes as made, its signed note in X-Traceledger-Report-Signature (base64)", content_type = "application/json"),
        (status = 404, description = "No report of this tenant has this id", body = crate::responses::Problem, content_type = "application/problem+json"),
        Errors))]
pub(crate) async fn get_report(
    State(s): State<Shared>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    p.require(Permission::Reports)?;
    let tenant = p.tenant().to_string();
    let found = blocking(move || match &s.reports {
        None => Ok(None),
        Some(a) => a.get(&tenant, &id).map_err(AppError::internal),
    })
    .await?;
    let (meta, bytes, note) = found.ok_or_else(|| AppError::not_found("no report of this tenant has this id"))?;
    Ok(report_response(bytes, &note, meta.format == "html", Some(&meta.id)))
}
