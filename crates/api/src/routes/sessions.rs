//! `/v1/sessions`: sessions and their decision chains.

use super::prelude::*;

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
pub(crate) async fn list_sessions(State(s): State<Shared>, p: Principal, q: Params) -> Response {
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
pub(crate) async fn get_session(State(s): State<Shared>, p: Principal, Path(id): Path<String>) -> Response {
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
