//! `/v1/whoami`, `/v1/keys`, `/v1/access-log`: API keys and the record of their use.

use super::prelude::*;

#[utoipa::path(get, path = "/v1/whoami", tag = "keys", security(("api_key" = [])),
    responses((status = 200, description = "The key's tenant, role and id", body = bodies::WhoAmI), Errors))]
pub(crate) async fn whoami(p: Principal) -> Json<bodies::WhoAmI> {
    Json(bodies::WhoAmI { tenant: p.tenant().into(), role: p.key.role.name().into(), key: p.key.id.clone() })
}

/// A page of access records.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AccessQuery {
    /// 1..=1000, default 100
    #[param(value_type = Option<usize>, minimum = 1, maximum = 1000)]
    limit: Option<Limit>,
    /// Only records below this seq
    #[param(value_type = Option<u64>)]
    before: Option<Whole>,
}

/// `GET /v1/access-log?limit=&before=`: the tenant's access records,
/// newest first, from its sealed `_access.<tenant>` chain.
#[utoipa::path(get, path = "/v1/access-log", tag = "keys", security(("api_key" = [])),
    params(AccessQuery),
    responses((status = 200, description = "Access records, newest first", body = bodies::AccessPage), BadRequest, Errors))]
pub(crate) async fn access_log(
    State(s): State<Shared>,
    p: Principal,
    Q(q): Q<AccessQuery>,
) -> Result<Json<bodies::AccessPage>, AppError> {
    p.require(Permission::AccessLog)?;
    let (limit, before) = (page(q.limit), q.before.map(|w| w.0));
    let chain = traceledger_core::event::access_chain(p.tenant());
    blocking(move || {
        let v = LedgerView::new(&s.ledger);
        let size = v.size(&chain)?;
        let top = before.unwrap_or(size).min(size);
        let mut items = Vec::new();
        for seq in (0..top).rev().take(limit) {
            let Some(r) = v.sealed(&chain, seq)? else { continue };
            let mut item = serde_json::Map::new();
            item.insert("seq".into(), json!(seq));
            item.insert("at".into(), json!(r.event.timestamp.to_rfc3339()));
            item.insert("latency_ms".into(), json!(r.event.latency_ms));
            for a in &r.event.attributes {
                if let Some(k) = a.key.strip_prefix("access.") {
                    item.insert(k.to_string(), json!(a.value));
                }
            }
            items.push(Value::Object(item));
        }
        let next = (top > limit as u64).then(|| top - limit as u64);
        Ok(Json(bodies::AccessPage { chain, size, items, next_before: next }))
    })
    .await
}

impl From<api_keys::KeyError> for AppError {
    fn from(e: api_keys::KeyError) -> Self {
        match e {
            api_keys::KeyError::NotFound(id) => AppError::not_found(format!("no key `{id}`")),
            api_keys::KeyError::Forbidden(why) => AppError::forbidden(why).with("field", "id"),
            api_keys::KeyError::Inactive(id) => AppError::new(
                StatusCode::CONFLICT,
                "Key not active",
                format!("key `{id}` is revoked or expired and cannot be rotated; create a new key"),
            )
            .with("field", "id"),
            api_keys::KeyError::Journal(why) => {
                tracing::warn!(error = %why, "key journal unavailable");
                AppError::unavailable("Key journal unavailable", "the key change was not made; retry shortly")
            }
            e => AppError::internal(e),
        }
    }
}

#[utoipa::path(get, path = "/v1/keys", tag = "keys", security(("api_key" = [])),
    responses((status = 200, description = "The tenant's keys (ids, never secrets)", body = bodies::KeyList), Errors))]
pub(crate) async fn list_keys(State(s): State<Shared>, p: Principal) -> Result<Json<bodies::KeyList>, AppError> {
    p.require(Permission::ManageKeys)?;
    let tenant = p.tenant().to_string();
    blocking(move || Ok(Json(bodies::KeyList { items: s.keys.list(&tenant)? }))).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKey {
    role: String,
    #[serde(default)]
    name: String,
    expires_in_days: Option<u32>,
    tier: Option<String>,
}

#[utoipa::path(post, path = "/v1/keys", tag = "keys", security(("api_key" = [])),
    request_body(content = Object, description = "{\"role\", \"name\", \"expires_in_days\", \"tier\"}", content_type = "application/json"),
    responses((status = 201, description = "The new key; its secret is shown once", body = bodies::NewKey), BadRequest, Errors))]
pub(crate) async fn create_key(
    State(s): State<Shared>,
    p: Principal,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<bodies::NewKey>), AppError> {
    p.require(Permission::ManageKeys)?;
    let req: NewKey = serde_json::from_slice(&body).map_err(|e| {
        AppError::bad_field("body", format!("expected {{\"role\", \"name\", \"expires_in_days\"}}: {e}"))
    })?;
    let role = Role::parse(&req.role).ok_or_else(|| {
        AppError::bad_field(
            "role",
            format!("`role` must be one of owner, admin, member, viewer, auditor; got `{}`", req.role),
        )
    })?;
    if req.expires_in_days.is_some_and(|d| d == 0 || d > api_keys::MAX_EXPIRES_IN_DAYS) {
        return Err(AppError::bad_field(
            "expires_in_days",
            format!("`expires_in_days` must be 1 to {} (ten years)", api_keys::MAX_EXPIRES_IN_DAYS),
        ));
    }
    let tier = req.tier.clone().unwrap_or_else(|| api_keys::STANDARD_TIER.to_string());
    if !api_keys::is_tier_name(&tier) {
        return Err(AppError::bad_field("tier", format!("`tier` must match [a-z0-9_-]{{1,32}}, got `{tier}`")));
    }
    // Nobody hands out more than they have: only an Owner makes Owners.
    if !api_keys::may_manage(p.key.role, role) {
        return Err(AppError::forbidden("only an owner key can create owner keys").with("field", "role"));
    }
    let tenant = p.tenant().to_string();
    blocking(move || {
        let now = Timestamp::now().0;
        let expires = req.expires_in_days.map(|d| now.saturating_add(i64::from(d) * 86_400_000_000));
        let spec = api_keys::KeySpec { role, env: &s.env, name: &req.name, expires_at: expires, tier: &tier };
        let (secret, info) = s.keys.create(&tenant, &spec, now)?;
        Ok((StatusCode::CREATED, Json(bodies::NewKey { secret, key: info, note: "the secret is shown once".into() })))
    })
    .await
}

#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys", security(("api_key" = [])),
    params(("id" = String, Path, description = "Key id, e.g. tlk_live_…Qx3w")),
    responses((status = 200, description = "The revoked key", body = KeyInfo), NotFound, Errors))]
pub(crate) async fn revoke_key(
    State(s): State<Shared>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<KeyInfo>, AppError> {
    p.require(Permission::ManageKeys)?;
    let (tenant, role) = (p.tenant().to_string(), p.key.role);
    blocking(move || Ok(Json(s.keys.revoke(&tenant, &id, Timestamp::now().0, role)?))).await
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rotate {
    overlap_seconds: Option<u32>,
}

#[utoipa::path(post, path = "/v1/keys/{id}/rotate", tag = "keys", security(("api_key" = [])),
    params(("id" = String, Path, description = "Key id")),
    request_body(content = Object, description = "{\"overlap_seconds\"} (default 3600)", content_type = "application/json"),
    responses((status = 201, description = "The new key; the old one works for the overlap", body = bodies::NewKey), BadRequest, NotFound, Errors))]
pub(crate) async fn rotate_key(
    State(s): State<Shared>,
    p: Principal,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<bodies::NewKey>), AppError> {
    p.require(Permission::ManageKeys)?;
    let req: Rotate = if body.is_empty() {
        Rotate::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::bad_field("body", format!("expected {{\"overlap_seconds\"}}: {e}")))?
    };
    let overlap = i64::from(req.overlap_seconds.unwrap_or(3600)) * 1_000_000;
    let (tenant, role) = (p.tenant().to_string(), p.key.role);
    blocking(move || {
        let (secret, info) = s.keys.rotate(&tenant, &id, &s.env, Timestamp::now().0, overlap, role)?;
        Ok((StatusCode::CREATED, Json(bodies::NewKey { secret, key: info, note: "the secret is shown once".into() })))
    })
    .await
}
