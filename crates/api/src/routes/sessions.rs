//! `/v1/sessions`: sessions and their decision chains.

use super::prelude::*;

/// `GET /v1/sessions` filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SessionsQuery {
    /// Only sessions this agent recorded steps in
    agent: Option<String>,
    /// complete, open or incomplete
    status: Option<String>,
    /// RFC 3339: only sessions with a step at or after
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<Time>,
    /// RFC 3339: only sessions with a step before
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<Time>,
    /// Only sessions with (true) or without (false) records carrying personal data or secrets
    #[param(value_type = Option<bool>)]
    has_pii: Option<Flag>,
    /// Only sessions with (true) or without (false) anomalies
    #[param(value_type = Option<bool>)]
    has_anomaly: Option<Flag>,
    /// 1..=1000, default 100
    #[param(value_type = Option<usize>, minimum = 1, maximum = 1000)]
    limit: Option<Limit>,
    /// next_cursor of the previous page
    #[param(value_type = Option<String>)]
    cursor: Option<Cursor>,
}

#[utoipa::path(get, path = "/v1/sessions", tag = "sessions", security(("api_key" = [])),
    params(SessionsQuery),
    responses((status = 200, description = "A page of sessions with their completeness, PII record and anomaly counts", body = bodies::SessionPage), BadRequest, Errors))]
pub(crate) async fn list_sessions(
    State(s): State<Shared>,
    p: Principal,
    Q(q): Q<SessionsQuery>,
) -> Result<Json<bodies::SessionPage>, AppError> {
    p.require(Permission::Read)?;
    let completeness = match &q.status {
        None => None,
        Some(v) => Some(choice(
            "status",
            v,
            &[
                ("complete", Completeness::Complete),
                ("open", Completeness::Open),
                ("incomplete", Completeness::Incomplete),
            ],
        )?),
    };
    let (limit, cursor) = (page(q.limit), q.cursor.map(|c| c.0));
    let (has_pii, has_anomaly) = (q.has_pii.map(|f| f.0), q.has_anomaly.map(|f| f.0));
    let filter = Filter { agent: q.agent, completeness, from: q.from.map(|t| t.0), to: q.to.map(|t| t.0) };
    let tenant = p.tenant().to_string();
    blocking(move || {
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
        let at = (Timestamp::now().0, s.session_timeout_micros);
        let v = SessionsView::new(&s.sessions);
        let (items, next) = v.list_where(&tenant, &filter, cursor.as_deref(), limit, at, &mut keep)?;
        let items = items
            .into_iter()
            .map(|(session, completeness)| {
                let (pii_records, anomalies) = counts(&session)?;
                Ok(bodies::SessionItem { session, completeness, pii_records, anomalies })
            })
            .collect::<traceledger_projection::Result<Vec<_>>>()?;
        Ok(Json(bodies::SessionPage { items, next_cursor: next.map(|n| encode_cursor(&n)) }))
    })
    .await
}

#[utoipa::path(get, path = "/v1/sessions/{session_id}", tag = "sessions", security(("api_key" = [])),
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, description = "The decision chain, with its records' PII findings", body = bodies::SessionChain), NotFound, Errors))]
pub(crate) async fn get_session(
    State(s): State<Shared>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<bodies::SessionChain>, AppError> {
    p.require(Permission::Read)?;
    let tenant = p.tenant().to_string();
    blocking(move || {
        let chain = SessionsView::new(&s.sessions)
            .get(&tenant, &id, Timestamp::now().0, s.session_timeout_micros)?
            .ok_or_else(|| AppError::not_found("no such session"))?;
        let seqs: Vec<u64> = chain.steps.iter().map(|st| st.seq).collect();
        let pii = traceledger_projection::pii::PiiView::new(&s.pii).of_records(&tenant, &seqs)?;
        Ok(Json(bodies::SessionChain { chain, pii }))
    })
    .await
}
