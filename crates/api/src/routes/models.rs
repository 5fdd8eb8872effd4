//! `/v1/pii`, `/v1/anomalies`, `/v1/availability`, `/v1/budget`: the read models' answers.

use super::prelude::*;

#[utoipa::path(get, path = "/v1/pii/findings", tag = "pii", security(("api_key" = [])),
    params(
        ("kind" = Option<String>, Query, description = "email, phone, ssn, credit_card, iban, ipv4, ipv6, secret, date_of_birth, person_name"),
        ("agent" = Option<String>, Query, description = "Only records of this agent"),
        ("limit" = Option<usize>, Query, description = "1..=1000, default 100"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, description = "Records with findings (spans, never values)", body = bodies::FindingsPage),
        BadRequest, Errors))]
pub(crate) async fn pii_findings(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    if let Some(k) = q.get("kind") {
        if !traceledger_pii::Kind::ALL.iter().any(|x| x.name() == k) {
            return bad_field("kind", format!("`kind` must be one of the detector kinds, got `{k}`"));
        }
    }
    let parsed = (|| Ok::<_, Response>((limit(&q)?, decode_cursor(&q)?)))();
    let (limit, cursor) = match parsed {
        Ok(v) => v,
        Err(r) => return r,
    };
    let from = match cursor.map(|c| c.parse::<u64>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return bad_field("cursor", "`cursor` is not a cursor this API returned"),
    };
    let tenant = p.tenant().to_string();
    let (kind, agent) = (q.get("kind").cloned(), q.get("agent").cloned());
    blocking(move || {
        let v = traceledger_projection::pii::PiiView::new(&s.pii);
        let (items, next) = v.findings(&tenant, kind.as_deref(), agent.as_deref(), from, limit).map_err(internal)?;
        Ok(Json(bodies::FindingsPage { items, next_cursor: next.map(|n| encode_cursor(&n.to_string())) })
            .into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/pii/inventory", tag = "pii", security(("api_key" = [])),
    responses((status = 200, description = "Kinds of personal data per agent and model provider, and records per classification", body = bodies::PiiInventory),
        Errors))]
pub(crate) async fn pii_inventory(State(s): State<Shared>, p: Principal) -> Response {
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    let tenant = p.tenant().to_string();
    blocking(move || {
        let v = traceledger_projection::pii::PiiView::new(&s.pii);
        let inventory = v.inventory(&tenant).map_err(internal)?;
        let classes = v.classes(&tenant).map_err(internal)?;
        Ok(Json(bodies::PiiInventory { inventory, classification: classes }).into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/anomalies", tag = "anomalies", security(("api_key" = [])),
    params(
        ("kind" = Option<String>, Query, description = "output_validation, tool_out_of_policy, prompt_injection, rate_spike, failover, budget_exceeded, rate_limit_warning, incomplete_session or fork"),
        ("agent" = Option<String>, Query, description = "Only this agent"),
        ("session" = Option<String>, Query, description = "Only this session"),
        ("min_severity" = Option<String>, Query, description = "low, medium or high"),
        ("from" = Option<String>, Query, description = "RFC 3339: events at or after"),
        ("to" = Option<String>, Query, description = "RFC 3339: events before"),
        ("limit" = Option<usize>, Query, description = "1..=1000, default 100"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, description = "A page of anomalies in chain order, and counts per kind", body = bodies::AnomalyPage),
        BadRequest, Errors))]
pub(crate) async fn anomalies(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    use traceledger_policy::{AnomalyKind, Severity};
    use traceledger_projection::anomaly::{AnomalyView, Filter};
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    let parsed = (|| {
        let kind = match q.get("kind") {
            None => None,
            Some(k) => Some(AnomalyKind::ALL.iter().copied().find(|x| x.as_str() == k).ok_or_else(|| {
                let all: Vec<_> = AnomalyKind::ALL.iter().map(|k| k.as_str()).collect();
                bad_field("kind", format!("`kind` must be one of {}, got `{k}`", all.join(", ")))
            })?),
        };
        let min_severity = match q.get("min_severity").map(String::as_str) {
            None => None,
            Some("low") => Some(Severity::Low),
            Some("medium") => Some(Severity::Medium),
            Some("high") => Some(Severity::High),
            Some(v) => {
                return Err(bad_field("min_severity", format!("`min_severity` must be low, medium or high, got `{v}`")))
            }
        };
        let from = match decode_cursor(&q)? {
            None => (0, 0),
            Some(c) => c
                .split_once('/')
                .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u16>().ok()?)))
                .ok_or_else(|| bad_field("cursor", "`cursor` is not a cursor this API returned"))?,
        };
        let filter = Filter {
            kind,
            agent: q.get("agent").cloned(),
            session: q.get("session").cloned(),
            min_severity,
            from: time_param(&q, "from")?,
            to: time_param(&q, "to")?,
        };
        Ok::<_, Response>((filter, from, limit(&q)?))
    })();
    let (filter, from, limit) = match parsed {
        Ok(v) => v,
        Err(r) => return r,
    };
    let tenant = p.tenant().to_string();
    blocking(move || {
        let v = AnomalyView::new(&s.anomaly);
        let (items, next) = v.list(&tenant, &filter, from, limit).map_err(internal)?;
        let counts = v.counts(&tenant).map_err(internal)?;
        Ok(Json(bodies::AnomalyPage {
            items,
            counts,
            next_cursor: next.map(|(seq, i)| encode_cursor(&format!("{seq}/{i}"))),
        })
        .into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/availability", tag = "availability", security(("api_key" = [])),
    params(
        ("from" = Option<String>, Query, description = "RFC 3339 window start (default: 24 hours before `to`)"),
        ("to" = Option<String>, Query, description = "RFC 3339 window end (default: now)"),
    ),
    responses((status = 200, description = "Per agent and provider: success ratio, errors, uptime, heartbeat gaps, latency percentiles, tokens, spend; usage against rate limits; breakers",
        body = bodies::Availability), BadRequest, Errors))]
pub(crate) async fn availability(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    use traceledger_projection::availability::AvailabilityView;
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    let (from, to) = match window(&q) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let tenant = p.tenant().to_string();
    blocking(move || {
        let policy = s.policy.current();
        let v = AvailabilityView::new(&s.availability);
        let report = v.report(&tenant, from, to, &policy).map_err(internal)?;
        let now = now_micros();
        let mut breakers = std::collections::BTreeMap::new();
        for a in &report.agents {
            breakers.insert(a.name.clone(), v.breaker(&tenant, &a.name, now, &policy).map_err(internal)?);
        }
        Ok(Json(bodies::Availability { report, breakers }).into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/availability/series", tag = "availability", security(("api_key" = [])),
    params(
        ("from" = Option<String>, Query, description = "RFC 3339 window start (default: 24 hours before `to`)"),
        ("to" = Option<String>, Query, description = "RFC 3339 window end (default: now)"),
        ("bucket_seconds" = Option<u64>, Query, description = "Bucket width, a multiple of 60 (default: the first of 1, 5, 15, 30 min, 1, 3, 6, 12 h, 1 day, 1 week that makes at most about 120 buckets)"),
    ),
    responses((status = 200, description = "Per agent and provider over time: events, errors, latency percentiles and spend per bucket",
        body = traceledger_projection::availability::AvailabilitySeries), BadRequest, Errors))]
pub(crate) async fn availability_series(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    use traceledger_projection::availability::AvailabilityView;
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    let (from, to) = match window(&q) {
        Ok(w) => w,
        Err(r) => return r,
    };
    // Whole minutes (the model's grain); at most 10,000 buckets per series.
    // `window` guarantees from < to.
    let minutes = ((to - from + 59_999_999) / 60_000_000).max(1);
    let bucket = match param::<u64>(&q, "bucket_seconds", "a whole number of seconds") {
        Err(r) => return r,
        // The first round width that makes at most ~120 buckets.
        Ok(None) => [1, 5, 15, 30, 60, 180, 360, 720, 1440, 10_080]
            .into_iter()
            .find(|b| minutes / b <= 120)
            .unwrap_or(((minutes + 119) / 120).max(1)),
        Ok(Some(b)) if b == 0 || b % 60 != 0 => {
            return bad_field("bucket_seconds", format!("`bucket_seconds` must be a positive multiple of 60, got {b}"))
        }
        Ok(Some(b)) => {
            let b = i64::try_from(b / 60).unwrap_or(i64::MAX);
            if minutes / b > 10_000 {
                return bad_field(
                    "bucket_seconds",
                    format!("`bucket_seconds` {} makes more than 10,000 buckets in this window", b * 60),
                );
            }
            b
        }
    };
    let tenant = p.tenant().to_string();
    blocking(move || {
        let series = AvailabilityView::new(&s.availability).series(&tenant, from, to, bucket).map_err(internal)?;
        Ok(Json(series).into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/budget/check", tag = "availability", security(("api_key" = [])),
    params(
        ("agent" = String, Query, description = "The agent about to take a costly step"),
        ("session" = Option<String>, Query, description = "Its session, to check the session budget"),
        ("estimate_usd" = Option<f64>, Query, description = "What the step will cost, if known"),
    ),
    responses((status = 200, description = "allow true/false with reasons, spend against budgets, and the agent's breaker",
        body = traceledger_projection::availability::BudgetCheck), BadRequest, Errors))]
pub(crate) async fn budget_check(State(s): State<Shared>, p: Principal, q: Params) -> Response {
    use traceledger_projection::availability::AvailabilityView;
    if let Err(r) = p.require(Permission::Read) {
        return r;
    }
    let Some(agent) = q.get("agent").filter(|a| !a.is_empty()).cloned() else {
        return bad_field("agent", "`agent` is required");
    };
    let estimate = match param::<f64>(&q, "estimate_usd", "a non-negative amount") {
        Ok(None) => 0,
        Ok(Some(x)) if (0.0..1e12).contains(&x) => (x * 1e6).round() as u64,
        Ok(Some(_)) => return bad_field("estimate_usd", "`estimate_usd` must be a non-negative amount"),
        Err(r) => return r,
    };
    let tenant = p.tenant().to_string();
    let session = q.get("session").cloned();
    blocking(move || {
        let policy = s.policy.current();
        let v = AvailabilityView::new(&s.availability);
        let check =
            v.budget_check(&tenant, &agent, session.as_deref(), estimate, now_micros(), &policy).map_err(internal)?;
        Ok(Json(check).into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}
