//! `/v1/dsar/{subject}/erase`, `/v1/retention`, `/v1/privacy/actions`: erasure and retention.

use super::prelude::*;

pub(crate) fn no_privacy_ops() -> Response {
    problem(StatusCode::SERVICE_UNAVAILABLE, "Erasure unavailable", "this node cannot record erasures", json!({}))
}

#[utoipa::path(post, path = "/v1/dsar/{subject}/erase", tag = "privacy", security(("api_key" = [])),
    params(("subject" = String, Path, description = "A data subject's id as the agents record it in `subject_ids`")),
    responses((status = 202, description = "Recorded in `_privacy.<tenant>` and under way: the content of `erasing` records goes (commitments stay, the chain still verifies); `held` records are inside the retention minimum and kept until `held_until`", body = privacy::ErasureOutcome),
        (status = 404, description = "No record of this tenant names the subject", body = crate::responses::Problem, content_type = "application/problem+json"),
        (status = 503, description = "This node cannot record erasures", body = crate::responses::Problem, content_type = "application/problem+json"),
        Errors))]
pub(crate) async fn dsar_erase(State(s): State<Shared>, p: Principal, Path(subject): Path<String>) -> Response {
    if let Err(r) = p.require(Permission::Erase) {
        return r;
    }
    if subject.is_empty() || subject.len() > 256 {
        return bad_field("subject", "a subject id is 1-256 characters");
    }
    if let Some(Err(r)) = s.privacy.as_ref().map(|ops| ops.pace.check(p.tenant())) {
        return r;
    }
    let tenant = p.tenant().to_string();
    let by = p.key.id.clone();
    blocking(move || {
        let ops = s.privacy.as_ref().ok_or_else(no_privacy_ops)?;
        let pol = s.policy.current();
        let view = LedgerView::new(&s.ledger);
        let (plan, already) = privacy::plan_dsar(&view, &tenant, &subject, pol.retention_for(&tenant), now_micros())
            .map_err(internal)?
            .ok_or_else(|| not_found("no record of this tenant names this subject"))?;
        let e = privacy::record(ops, plan, &by, pol.version()).map_err(|e| {
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Log unavailable",
                format!("recording the erasure: {e}"),
                json!({}),
            )
        })?;
        tracing::info!(%tenant, erasure = %e.id, erasing = e.seqs.len(), "DSAR erasure recorded");
        Ok((StatusCode::ACCEPTED, Json(privacy::ErasureOutcome::of(&e, already))).into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(post, path = "/v1/retention/run", tag = "privacy", security(("api_key" = [])),
    responses((status = 202, description = "A retention run for the key's tenant, recorded in `_privacy.<tenant>`: content sealed before `cutoff` (now minus the policy's max_days) that no earlier run covered is erased", body = privacy::ErasureOutcome),
        (status = 409, description = "The policy sets no maximum retention for this tenant", body = crate::responses::Problem, content_type = "application/problem+json"),
        (status = 503, description = "This node cannot record erasures", body = crate::responses::Problem, content_type = "application/problem+json"),
        Errors))]
pub(crate) async fn retention_run(State(s): State<Shared>, p: Principal) -> Response {
    if let Err(r) = p.require(Permission::Erase) {
        return r;
    }
    if let Some(Err(r)) = s.privacy.as_ref().map(|ops| ops.pace.check(p.tenant())) {
        return r;
    }
    let tenant = p.tenant().to_string();
    let by = p.key.id.clone();
    blocking(move || {
        let ops = s.privacy.as_ref().ok_or_else(no_privacy_ops)?;
        let pol = s.policy.current();
        let view = LedgerView::new(&s.ledger);
        let plan = privacy::plan_retention(&view, &tenant, pol.retention_for(&tenant), now_micros())
            .map_err(internal)?
            .ok_or_else(|| {
                problem(
                    StatusCode::CONFLICT,
                    "No retention maximum",
                    "the policy sets no [[retention]] max_days for this tenant: content is kept",
                    json!({}),
                )
            })?;
        let e = privacy::record(ops, plan, &by, pol.version()).map_err(|e| {
            problem(StatusCode::SERVICE_UNAVAILABLE, "Log unavailable", format!("recording the run: {e}"), json!({}))
        })?;
        Ok((StatusCode::ACCEPTED, Json(privacy::ErasureOutcome::of(&e, 0))).into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

#[utoipa::path(get, path = "/v1/retention", tag = "privacy", security(("api_key" = [])),
    responses((status = 200, description = "The retention rule in force for the key's tenant (null when none) and the policy version", body = Object), Errors))]
pub(crate) async fn retention(State(s): State<Shared>, p: Principal) -> Response {
    if let Err(r) = p.require(Permission::Policy) {
        return r;
    }
    let pol = s.policy.current();
    let rule = pol.retention_for(p.tenant());
    let now = now_micros();
    Json(json!({
        "tenant": p.tenant(),
        "policy_version": pol.version(),
        "rule": rule,
        "erasable_before": rule.map(|r| Timestamp(r.hold_after(now)).to_rfc3339()),
        "retention_cutoff": rule.and_then(|r| r.cutoff(now)).map(|c| Timestamp(c).to_rfc3339()),
    }))
    .into_response()
}

#[utoipa::path(get, path = "/v1/privacy/actions", tag = "privacy", security(("api_key" = [])),
    responses((status = 200, description = "Every erasure sealed in `_privacy.<tenant>` (DSAR erasures and retention runs), oldest first", body = Vec<privacy::PrivacyAction>), Errors))]
pub(crate) async fn privacy_actions(State(s): State<Shared>, p: Principal) -> Response {
    if let Err(r) = p.require(Permission::Reports) {
        return r;
    }
    let tenant = p.tenant().to_string();
    blocking(move || privacy::actions(&LedgerView::new(&s.ledger), &tenant).map_err(internal))
        .await
        .map_or_else(|r| r, |v| Json(v).into_response())
}
