//! `/v1/policy`, `/v1/alerts`: the policy in force and alert deliveries.

use super::prelude::*;

#[utoipa::path(post, path = "/v1/policy/check", tag = "policy", security(("api_key" = [])),
    request_body(content = String, content_type = "text/plain", description = "A policy file (TOML), as `traceledger policy check` reads it"),
    responses((status = 200, description = "Whether this node would load the policy: its summary, or the first problem with its line, column and key path",
        body = bodies::PolicyCheck), BadRequest, Errors))]
pub(crate) async fn policy_check(p: Principal, body: axum::body::Bytes) -> Result<Json<bodies::PolicyCheck>, AppError> {
    p.require(Permission::Policy)?;
    let text = std::str::from_utf8(&body).map_err(|_| AppError::bad_field("body", "the policy must be UTF-8 text"))?;
    // The parser is fuzzed (fuzz/fuzz_targets/policy_toml.rs) and never panics.
    let r = traceledger_projection::policy_file::check(text);
    Ok(Json(match r {
        Ok(pol) => bodies::PolicyCheck { valid: true, summary: Some(pol.summary()), error: None },
        Err(e) => bodies::PolicyCheck { valid: false, summary: None, error: Some(e) },
    }))
}

#[utoipa::path(get, path = "/v1/policy", tag = "policy", security(("api_key" = [])),
    responses((status = 200, description = "The policy in force for the key's tenant: version, rules, boundaries, budgets, limits, sinks (secrets by variable name only), and the last refused reload", body = Object),
        Errors))]
pub(crate) async fn policy(State(s): State<Shared>, p: Principal) -> Result<Json<Value>, AppError> {
    p.require(Permission::Policy)?;
    let pol = s.policy.current();
    let t = p.tenant();
    let mine = |scope: &Option<String>| scope.as_deref().is_none_or(|x| x == t);
    let rules: Vec<Value> = pol
        .rules
        .iter()
        .filter(|r| mine(&r.tenant))
        .map(|r| {
            json!({ "id": r.id, "agent": r.agent, "kind": r.kind.map(|k| k.symbol()), "field": r.field.to_string(),
                    "required": r.required, "severity": r.severity })
        })
        .collect();
    let families: Vec<Value> =
        pol.detector().families().iter().map(|f| json!({ "name": f.name, "weight": f.weight })).collect();
    Ok(Json(json!({
        "version": pol.version(),
        "digest": pol.digest,
        "file": s.policy.path().map(|p| p.display().to_string()),
        "last_error": s.policy.last_error(),
        "validate": rules,
        "tools": pol.tools.iter().filter(|b| mine(&b.tenant)).collect::<Vec<_>>(),
        "injection": { "threshold": pol.injection.threshold, "fields": pol.injection.fields, "families": families },
        "rate": pol.rate,
        "failover": pol.failover,
        "availability": pol.availability,
        "budgets": pol.budgets.iter().filter(|b| mine(&b.tenant)).collect::<Vec<_>>(),
        "limits": pol.limits.iter().filter(|l| mine(&l.tenant)).collect::<Vec<_>>(),
        "redact": pol.redactions.iter().filter(|r| mine(&r.tenant)).collect::<Vec<_>>(),
        "retention": pol.retention_for(t),
        "alerts": pol.alerts.iter().filter(|a| mine(&a.tenant)).map(|a| json!({
            "name": a.name, "url": a.url, "secret_env": a.secret_env, "on": a.on, "min_severity": a.min_severity,
        })).collect::<Vec<_>>(),
    })))
}

/// A page of deliveries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveriesQuery {
    /// 1..=1000, default 100
    #[param(value_type = Option<usize>, minimum = 1, maximum = 1000)]
    limit: Option<Limit>,
}

#[utoipa::path(get, path = "/v1/alerts/deliveries", tag = "policy", security(("api_key" = [])),
    params(DeliveriesQuery),
    responses((status = 200, description = "Webhook delivery attempts of the key's tenant, newest first",
        body = bodies::Deliveries), BadRequest, Errors))]
pub(crate) async fn alert_deliveries(
    State(s): State<Shared>,
    p: Principal,
    Q(q): Q<DeliveriesQuery>,
) -> Result<Json<bodies::Deliveries>, AppError> {
    p.require(Permission::Policy)?;
    let limit = page(q.limit);
    let tenant = p.tenant().to_string();
    blocking(move || {
        let items = match &s.alerts {
            Some(d) => d.log(&tenant, limit)?,
            None => Vec::new(),
        };
        Ok(Json(bodies::Deliveries { items }))
    })
    .await
}
