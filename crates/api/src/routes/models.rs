//! `/v1/pii`, `/v1/anomalies`, `/v1/availability`, `/v1/budget`: the read models' answers.

use super::prelude::*;

/// Which findings.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FindingsQuery {
    /// email, phone, ssn, credit_card, iban, ipv4, ipv6, secret, date_of_birth, person_name
    kind: Option<String>,
    /// Only records of this agent
    agent: Option<String>,
    /// 1..=1000, default 100
    #[param(value_type = Option<usize>, minimum = 1, maximum = 1000)]
    limit: Option<Limit>,
    /// next_cursor of the previous page
    #[param(value_type = Option<String>)]
    cursor: Option<Cursor>,
}

#[utoipa::path(get, path = "/v1/pii/findings", tag = "pii", security(("api_key" = [])),
    params(FindingsQuery),
    responses((status = 200, description = "Records with findings (spans, never values)", body = bodies::FindingsPage),
        BadRequest, Errors))]
pub(crate) async fn pii_findings(
    State(s): State<Shared>,
    p: Principal,
    Q(q): Q<FindingsQuery>,
) -> Result<Json<bodies::FindingsPage>, AppError> {
    p.require(Permission::Read)?;
    if let Some(k) = &q.kind {
        if !traceledger_pii::Kind::ALL.iter().any(|x| x.name() == k) {
            return Err(AppError::bad_field("kind", format!("`kind` must be one of the detector kinds, got `{k}`")));
        }
    }
    let limit = page(q.limit);
    let from = match &q.cursor {
        None => 0,
        Some(c) => c.position(|c| c.parse::<u64>().ok())?,
    };
    let tenant = p.tenant().to_string();
    let (kind, agent) = (q.kind, q.agent);
    blocking(move || {
        let v = traceledger_projection::pii::PiiView::new(&s.pii);
        let (items, next) = v.findings(&tenant, kind.as_deref(), agent.as_deref(), from, limit)?;
        Ok(Json(bodies::FindingsPage { items, next_cursor: next.map(|n| encode_cursor(&n.to_string())) }))
    })
    .await
}

#[utoipa::path(get, path = "/v1/pii/inventory", tag = "pii", security(("api_key" = [])),
    responses((status = 200, description = "Kinds of personal data per agent and model provider, and records per classification", body = bodies::PiiInventory),
        Errors))]
pub(crate) async fn pii_inventory(
    State(s): State<Shared>,
    p: Principal,
) -> Result<Json<bodies::PiiInventory>, AppError> {
    p.require(Permission::Read)?;
    let tenant = p.tenant().to_string();
    blocking(move || {
        let v = traceledger_projection::pii::PiiView::new(&s.pii);
        Ok(Json(bodies::PiiInventory { inventory: v.inventory(&tenant)?, classification: v.classes(&tenant)? }))
    })
    .await
}

/// Which anomalies.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AnomaliesQuery {
    /// output_validation, tool_out_of_policy, prompt_injection, rate_spike, failover, budget_exceeded, rate_limit_warning, incomplete_session or fork
    kind: Option<String>,
    /// Only this agent
    agent: Option<String>,
    /// Only this session
    session: Option<String>,
    /// low, medium or high
    min_severity: Option<String>,
    /// RFC 3339: events at or after
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<Time>,
    /// RFC 3339: events before
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<Time>,
    /// 1..=1000, default 100
    #[param(value_type = Option<usize>, minimum = 1, maximum = 1000)]
    limit: Option<Limit>,
    /// next_cursor of the previous page
    #[param(value_type = Option<String>)]
    cursor: Option<Cursor>,
}

#[utoipa::path(get, path = "/v1/anomalies", tag = "anomalies", security(("api_key" = [])),
    params(AnomaliesQuery),
    responses((status = 200, description = "A page of anomalies in chain order, and counts per kind", body = bodies::AnomalyPage),
        BadRequest, Errors))]
pub(crate) async fn anomalies(
    State(s): State<Shared>,
    p: Principal,
    Q(q): Q<AnomaliesQuery>,
) -> Result<Json<bodies::AnomalyPage>, AppError> {
    use traceledger_policy::{AnomalyKind, Severity};
    use traceledger_projection::anomaly::{AnomalyView, Filter};
    p.require(Permission::Read)?;
    let kinds: Vec<(&str, AnomalyKind)> = AnomalyKind::ALL.iter().map(|k| (k.as_str(), *k)).collect();
    let kind = q.kind.as_deref().map(|k| choice("kind", k, &kinds)).transpose()?;
    let severities = [("low", Severity::Low), ("medium", Severity::Medium), ("high", Severity::High)];
    let min_severity = q.min_severity.as_deref().map(|v| choice("min_severity", v, &severities)).transpose()?;
    let from = match &q.cursor {
        None => (0, 0),
        Some(c) => c.position(|c| {
            let (a, b) = c.split_once('/')?;
            Some((a.parse::<u64>().ok()?, b.parse::<u16>().ok()?))
        })?,
    };
    let filter = Filter {
        kind,
        agent: q.agent,
        session: q.session,
        min_severity,
        from: q.from.map(|t| t.0),
        to: q.to.map(|t| t.0),
    };
    let limit = page(q.limit);
    let tenant = p.tenant().to_string();
    blocking(move || {
        let v = AnomalyView::new(&s.anomaly);
        let (items, next) = v.list(&tenant, &filter, from, limit)?;
        Ok(Json(bodies::AnomalyPage {
            items,
            counts: v.counts(&tenant)?,
            next_cursor: next.map(|(seq, i)| encode_cursor(&format!("{seq}/{i}"))),
        }))
    })
    .await
}

#[utoipa::path(get, path = "/v1/availability", tag = "availability", security(("api_key" = [])),
    params(Window),
    responses((status = 200, description = "Per agent and provider: success ratio, errors, uptime, heartbeat gaps, latency percentiles, tokens, spend; usage against rate limits; breakers",
        body = bodies::Availability), BadRequest, Errors))]
pub(crate) async fn availability(
    State(s): State<Shared>,
    p: Principal,
    Q(w): Q<Window>,
) -> Result<Json<bodies::Availability>, AppError> {
    use traceledger_projection::availability::AvailabilityView;
    p.require(Permission::Read)?;
    let (from, to) = w.bounds()?;
    let tenant = p.tenant().to_string();
    blocking(move || {
        let policy = s.policy.current();
        let v = AvailabilityView::new(&s.availability);
        let report = v.report(&tenant, from, to, &policy)?;
        let now = Timestamp::now().0;
        let mut breakers = std::collections::BTreeMap::new();
        for a in &report.agents {
            breakers.insert(a.name.clone(), v.breaker(&tenant, &a.name, now, &policy)?);
        }
        Ok(Json(bodies::Availability { report, breakers }))
    })
    .await
}

/// The width of a series' buckets.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Buckets {
    /// Bucket width, a multiple of 60 (default: the first of 1, 5, 15, 30 min, 1, 3, 6, 12 h, 1 day, 1 week that makes at most about 120 buckets)
    #[param(value_type = Option<u64>)]
    bucket_seconds: Option<Whole>,
}

#[utoipa::path(get, path = "/v1/availability/series", tag = "availability", security(("api_key" = [])),
    params(Window, Buckets),
    responses((status = 200, description = "Per agent and provider over time: events, errors, latency percentiles and spend per bucket",
        body = traceledger_projection::availability::AvailabilitySeries), BadRequest, Errors))]
pub(crate) async fn availability_series(
    State(s): State<Shared>,
    p: Principal,
    Q(w): Q<Window>,
    Q(b): Q<Buckets>,
) -> Result<Json<traceledger_projection::availability::AvailabilitySeries>, AppError> {
    use traceledger_projection::availability::AvailabilityView;
    p.require(Permission::Read)?;
    let (from, to) = w.bounds()?;
    // Whole minutes (the model's grain); at most 10,000 buckets per series.
    // `window` guarantees from < to.
    let minutes = ((to - from + 59_999_999) / 60_000_000).max(1);
    let bucket = match b.bucket_seconds.map(|w| w.0) {
        // The first round width that makes at most ~120 buckets.
        None => [1, 5, 15, 30, 60, 180, 360, 720, 1440, 10_080]
            .into_iter()
            .find(|b| minutes / b <= 120)
            .unwrap_or(((minutes + 119) / 120).max(1)),
        Some(b) if b == 0 || b % 60 != 0 => {
            return Err(AppError::bad_field(
                "bucket_seconds",
                format!("`bucket_seconds` must be a positive multiple of 60, got {b}"),
            ))
        }
        Some(b) => {
            let b = i64::try_from(b / 60).unwrap_or(i64::MAX);
            if minutes / b > 10_000 {
                return Err(AppError::bad_field(
                    "bucket_seconds",
                    format!("`bucket_seconds` {} makes more than 10,000 buckets in this window", b * 60),
                ));
            }
            b
        }
    };
    let tenant = p.tenant().to_string();
    blocking(move || Ok(Json(AvailabilityView::new(&s.availability).series(&tenant, from, to, bucket)?))).await
}

/// A step about to be taken.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct BudgetQuery {
    /// The agent about to take a costly step
    #[param(value_type = String, required = true)]
    agent: Option<String>,
    /// Its session, to check the session budget
    session: Option<String>,
    /// What the step will cost, if known
    #[param(value_type = Option<f64>, minimum = 0)]
    estimate_usd: Option<Amount>,
}

#[utoipa::path(get, path = "/v1/budget/check", tag = "availability", security(("api_key" = [])),
    params(BudgetQuery),
    responses((status = 200, description = "allow true/false with reasons, spend against budgets, and the agent's breaker",
        body = traceledger_projection::availability::BudgetCheck), BadRequest, Errors))]
pub(crate) async fn budget_check(
    State(s): State<Shared>,
    p: Principal,
    Q(q): Q<BudgetQuery>,
) -> Result<Json<traceledger_projection::availability::BudgetCheck>, AppError> {
    use traceledger_projection::availability::AvailabilityView;
    p.require(Permission::Read)?;
    let agent = q.agent.filter(|a| !a.is_empty()).ok_or_else(|| AppError::required("agent"))?;
    let estimate = q.estimate_usd.map_or(0, |a| a.0);
    let (tenant, session) = (p.tenant().to_string(), q.session);
    blocking(move || {
        let policy = s.policy.current();
        let v = AvailabilityView::new(&s.availability);
        Ok(Json(v.budget_check(&tenant, &agent, session.as_deref(), estimate, Timestamp::now().0, &policy)?))
    })
    .await
}
