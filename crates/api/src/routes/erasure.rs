//! `/v1/dsar/{subject}/erase`, `/v1/retention`, `/v1/privacy/actions`: erasure and retention.

use super::prelude::*;

pub(crate) fn no_privacy_ops() -> AppError {
    AppError::unavailable("Erasure unavailable", "this node cannot record erasures")
}

#[utoipa::path(post, path = "/v1/dsar/{subject}/erase", tag = "privacy", security(("api_key" = [])),
    params(("subject" = String, Path, description = "A data subject's id as the agents record it in `subject_ids`")),
    responses((status = 202, description = "Recorded in `_privacy.<tenant>` and under way: the content of `erasing` records goes (commitments stay, the chain still verifies); `held` records are inside the retention minimum and kept until `held_until`", body = privacy_ops::ErasureOutcome),
        (status = 404, description = "No record of this tenant names the subject", body = crate::responses::Problem, content_type = "application/problem+json"),
        (status = 503, description = "This node cannot record erasures", body = crate::responses::Problem, content_type = "application/problem+json"),
        Errors))]
pub(crate) async fn dsar_erase(
    State(s): State<Shared>,
    p: Principal,
    Path(subject): Path<String>,
) -> Result<(StatusCode, Json<privacy_ops::ErasureOutcome>), AppError> {
    p.require(Permission::Erase)?;
    if subject.is_empty() || subject.len() > 256 {
        return Err(AppError::bad_field("subject", "a subject id is 1-256 characters"));
    }
    if let Some(ops) = &s.privacy {
        ops.pace.check(p.tenant())?;
    }
    let tenant = p.tenant().to_string();
    let by = p.key.id.clone();
    blocking(move || {
        let ops = s.privacy.as_ref().ok_or_else(no_privacy_ops)?;
        let pol = s.policy.current();
        let view = LedgerView::new(&s.ledger);
        let (plan, already) =
            privacy_ops::plan_dsar(&view, &tenant, &subject, pol.retention_for(&tenant), Timestamp::now().0)?
                .ok_or_else(|| AppError::not_found("no record of this tenant names this subject"))?;
        let e = privacy_ops::record(ops, plan, &by, pol.version()).map_err(log_unavailable)?;
        tracing::info!(%tenant, erasure = %e.id, erasing = e.seqs.len(), "DSAR erasure recorded");
        Ok((StatusCode::ACCEPTED, Json(privacy_ops::ErasureOutcome::of(&e, already))))
    })
    .await
}

/// The log refused or did not take the erasure record: the cause is the
/// node's to log, the caller may retry.
fn log_unavailable(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "recording an erasure");
    AppError::unavailable("Log unavailable", "the erasure could not be recorded in the log; retry later")
}

#[utoipa::path(post, path = "/v1/retention/run", tag = "privacy", security(("api_key" = [])),
    responses((status = 202, description = "A retention run for the key's tenant, recorded in `_privacy.<tenant>`: content sealed before `cutoff` (now minus the policy's max_days) that no earlier run covered is erased", body = privacy_ops::ErasureOutcome),
        (status = 409, description = "The policy sets no maximum retention for this tenant", body = crate::responses::Problem, content_type = "application/problem+json"),
        (status = 503, description = "This node cannot record erasures", body = crate::responses::Problem, content_type = "application/problem+json"),
        Errors))]
pub(crate) async fn retention_run(
    State(s): State<Shared>,
    p: Principal,
) -> Result<(StatusCode, Json<privacy_ops::ErasureOutcome>), AppError> {
    p.require(Permission::Erase)?;
    if let Some(ops) = &s.privacy {
        ops.pace.check(p.tenant())?;
    }
    let tenant = p.tenant().to_string();
    let by = p.key.id.clone();
    blocking(move || {
        let ops = s.privacy.as_ref().ok_or_else(no_privacy_ops)?;
        let pol = s.policy.current();
        let view = LedgerView::new(&s.ledger);
        let plan = privacy_ops::plan_retention(&view, &tenant, pol.retention_for(&tenant), Timestamp::now().0)?
            .ok_or_else(|| {
                AppError::new(
                    StatusCode::CONFLICT,
                    "No retention maximum",
                    "the policy sets no [[retention]] max_days for this tenant: content is kept",
                )
            })?;
        let e = privacy_ops::record(ops, plan, &by, pol.version()).map_err(log_unavailable)?;
        Ok((StatusCode::ACCEPTED, Json(privacy_ops::ErasureOutcome::of(&e, 0))))
    })
    .await
}

#[utoipa::path(get, path = "/v1/retention", tag = "privacy", security(("api_key" = [])),
    responses((status = 200, description = "The retention rule in force for the key's tenant (null when none) and the policy version", body = Object), Errors))]
pub(crate) async fn retention(State(s): State<Shared>, p: Principal) -> Result<Json<Value>, AppError> {
    p.require(Permission::Policy)?;
    let pol = s.policy.current();
    let rule = pol.retention_for(p.tenant());
    let now = Timestamp::now().0;
    Ok(Json(json!({
        "tenant": p.tenant(),
        "policy_version": pol.version(),
        "rule": rule,
        "erasable_before": rule.map(|r| Timestamp(r.hold_after(now)).to_rfc3339()),
        "retention_cutoff": rule.and_then(|r| r.cutoff(now)).map(|c| Timestamp(c).to_rfc3339()),
    })))
}

#[utoipa::path(get, path = "/v1/privacy/actions", tag = "privacy", security(("api_key" = [])),
    responses((status = 200, description = "Every erasure sealed in `_privacy.<tenant>` (DSAR erasures and retention runs), oldest first", body = Vec<privacy_ops::PrivacyAction>), Errors))]
pub(crate) async fn privacy_actions(
    State(s): State<Shared>,
    p: Principal,
) -> Result<Json<Vec<privacy_ops::PrivacyAction>>, AppError> {
    p.require(Permission::Reports)?;
    let tenant = p.tenant().to_string();
    blocking(move || Ok(Json(privacy_ops::actions(&LedgerView::new(&s.ledger), &tenant)?))).await
}
