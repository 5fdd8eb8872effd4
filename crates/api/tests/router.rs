//! The query API's router in process (`tower::ServiceExt::oneshot`, no
//! socket): the role × route matrix, tenant isolation and the shape of
//! errors. The real-socket suites (`crates/cli/tests/api.rs`, TLS, and
//! schemathesis in `scripts/api-fuzz.sh`) keep what a socket adds.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;
use traceledger_api::api_keys::{KeySpec, KeyStore, Permission, Role};
use traceledger_api::{authenticate, problem_errors, router, ApiState};
use traceledger_projection::anomaly::Anomalies;
use traceledger_projection::availability::Availability;
use traceledger_projection::ledger::Ledger;
use traceledger_projection::pii::Pii;
use traceledger_projection::policy_file::PolicyFile;
use traceledger_projection::sessions::Sessions;
use traceledger_projection::{Projection, Store};

const ROLES: [Role; 5] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer, Role::Auditor];

struct Api {
    app: Router,
    keys: Arc<KeyStore>,
    _dir: tempfile::TempDir,
}

fn api() -> Api {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = PolicyFile::builtin();
    let store = |name: &str, p: &dyn Projection| Arc::new(Store::open(&dir.path().join(name), p).expect("store"));
    let keys = Arc::new(KeyStore::open(&dir.path().join("keys")).expect("keys"));
    let state = Arc::new(ApiState {
        keys: keys.clone(),
        ledger: store("ledger", &Ledger::default()),
        sessions: store("sessions", &Sessions),
        pii: store("pii", &Pii),
        anomaly: store("anomaly", &Anomalies::new(policy.clone())),
        availability: store("availability", &Availability),
        policy,
        alerts: None,
        exporter: None,
        env: "test".into(),
        session_timeout_micros: 600_000_000,
        providers: Arc::default(),
        privacy: None,
        reports: None,
        streams: None,
    });
    let app = router(state)
        .route_layer(axum::middleware::from_fn_with_state(keys.clone(), authenticate))
        .layer(axum::middleware::from_fn(problem_errors));
    Api { app, keys, _dir: dir }
}

impl Api {
    fn key(&self, tenant: &str, role: Role) -> String {
        self.keys.create(tenant, &KeySpec::new(role, "test"), 1).expect("create key").0
    }

    async fn call(&self, method: Method, path: &str, key: Option<&str>, body: &str) -> (StatusCode, String, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            req = req.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        let req = req.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string()));
        let resp = self.app.clone().oneshot(req.expect("request")).await.expect("infallible");
        let status = resp.status();
        let ctype = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
        (status, ctype, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

/// Every authenticated route with the permission it needs (`None`: any key).
fn routes() -> Vec<(Method, &'static str, &'static str, Option<Permission>)> {
    use Permission::*;
    let get = Method::GET;
    let post = Method::POST;
    vec![
        (get.clone(), "/v1/whoami", "", None),
        (get.clone(), "/v1/openapi.json", "", None),
        (get.clone(), "/v1/sessions", "", Some(Read)),
        (get.clone(), "/v1/sessions/s-1", "", Some(Read)),
        (get.clone(), "/v1/records/0", "", Some(Read)),
        (get.clone(), "/v1/records/by-event/7f1f8f0e-5b4c-4a55-9c4e-0d3f6e2b9a11", "", Some(Read)),
        (get.clone(), "/v1/proofs/inclusion?seq=0", "", Some(Proofs)),
        (get.clone(), "/v1/proofs/consistency?from=1&to=2", "", Some(Proofs)),
        (get.clone(), "/v1/proofs/record?seq=0", "", Some(Proofs)),
        (get.clone(), "/v1/tlog/acme/checkpoint", "", Some(Proofs)),
        (get.clone(), "/v1/tlog/acme/tile/0/000.p/1", "", Some(Proofs)),
        (get.clone(), "/v1/tlog/acme/tile/entries/000.p/1", "", Some(Proofs)),
        (get.clone(), "/v1/checkpoints", "", Some(Read)),
        (get.clone(), "/v1/checkpoints/latest", "", Some(Read)),
        (get.clone(), "/v1/access-log", "", Some(AccessLog)),
        (get.clone(), "/v1/pii/findings", "", Some(Read)),
        (get.clone(), "/v1/pii/inventory", "", Some(Read)),
        (get.clone(), "/v1/anomalies", "", Some(Read)),
        (get.clone(), "/v1/streams/pii", "", Some(Read)),
        (get.clone(), "/v1/availability", "", Some(Read)),
        (get.clone(), "/v1/availability/series", "", Some(Read)),
        (get.clone(), "/v1/budget/check?agent=a", "", Some(Read)),
        (get.clone(), "/v1/policy", "", Some(Policy)),
        (post.clone(), "/v1/policy/check", "version = 1", Some(Policy)),
        (get.clone(), "/v1/reports", "", Some(Reports)),
        (get.clone(), "/v1/reports/soc2?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z", "", Some(Reports)),
        (get.clone(), "/v1/reports/r-1", "", Some(Reports)),
        (get.clone(), "/v1/alerts/deliveries", "", Some(Policy)),
        (get.clone(), "/v1/export", "", Some(Export)),
        (get.clone(), "/v1/dsar/hmac:ab", "", Some(Export)),
        (post.clone(), "/v1/dsar/hmac:ab/erase", "", Some(Erase)),
        (post.clone(), "/v1/retention/run", "", Some(Erase)),
        (get.clone(), "/v1/retention", "", Some(Policy)),
        (get.clone(), "/v1/privacy/actions", "", Some(Reports)),
        (get.clone(), "/v1/keys", "", Some(ManageKeys)),
        (post, "/v1/keys", r#"{"role":"viewer"}"#, Some(ManageKeys)),
        (Method::DELETE, "/v1/keys/tlk_test_nope", "", Some(ManageKeys)),
        (Method::POST, "/v1/keys/tlk_test_nope/rotate", "", Some(ManageKeys)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_gets_exactly_its_permissions_on_every_route() {
    let api = api();
    let keys: Vec<(Role, String)> = ROLES.iter().map(|&r| (r, api.key("acme", r))).collect();
    for (method, path, body, needs) in routes() {
        let (status, ctype, _) = api.call(method.clone(), path, None, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} without a key");
        assert_eq!(ctype, "application/problem+json", "{method} {path} without a key");
        for (role, key) in &keys {
            let (status, ctype, doc) = api.call(method.clone(), path, Some(key), body).await;
            let allowed = needs.is_none_or(|p| role.can(p));
            if allowed {
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED && !status.is_server_error()
                        || status == StatusCode::SERVICE_UNAVAILABLE,
                    "{method} {path} as {role:?}: {status} {doc}"
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as {role:?}: {doc}");
                assert_eq!(ctype, "application/problem+json");
                assert_eq!(doc["role"], role.name(), "{doc}");
                assert_eq!(doc["permission"], format!("{:?}", needs.expect("a permission")), "{doc}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_sees_and_touches_only_its_own_keys() {
    let api = api();
    let acme = api.key("acme", Role::Owner);
    let other = api.key("other", Role::Owner);
    let (_, _, mine) = api.call(Method::GET, "/v1/keys", Some(&acme), "").await;
    let id = mine["items"][0]["id"].as_str().expect("a key id").to_string();
    let (_, _, theirs) = api.call(Method::GET, "/v1/keys", Some(&other), "").await;
    let listed: Vec<&str> =
        theirs["items"].as_array().expect("items").iter().filter_map(|k| k["id"].as_str()).collect();
    assert!(!listed.contains(&id.as_str()), "another tenant's key is listed: {theirs}");
    // Another tenant's key is not found (404), not forbidden: its
    // existence is not disclosed.
    for (method, path) in [(Method::DELETE, format!("/v1/keys/{id}")), (Method::POST, format!("/v1/keys/{id}/rotate"))]
    {
        let (status, ctype, doc) = api.call(method.clone(), &path, Some(&other), "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {doc}");
        assert_eq!(ctype, "application/problem+json");
    }
    let (status, _, who) = api.call(Method::GET, "/v1/whoami", Some(&acme), "").await;
    assert_eq!((status, who["tenant"].as_str()), (StatusCode::OK, Some("acme")));
    // The key still works: the other tenant's calls changed nothing.
    let (status, _, _) = api.call(Method::GET, "/v1/keys", Some(&acme), "").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_problem_documents_naming_the_field() {
    let api = api();
    let key = api.key("acme", Role::Owner);
    for (path, field) in [
        ("/v1/sessions?limit=0", "limit"),
        ("/v1/sessions?limit=many", "limit"),
        ("/v1/sessions?status=done", "status"),
        ("/v1/sessions?from=yesterday", "from"),
        ("/v1/sessions?cursor=%%%", "cursor"),
        ("/v1/records/minus-one", "seq"),
        ("/v1/records/by-event/not-a-uuid", "event_id"),
        ("/v1/proofs/inclusion", "seq"),
        ("/v1/proofs/consistency?from=3&to=2", "from"),
        ("/v1/anomalies?min_severity=huge", "min_severity"),
        ("/v1/availability/series?bucket_seconds=61", "bucket_seconds"),
        ("/v1/budget/check", "agent"),
    ] {
        let (status, ctype, doc) = api.call(Method::GET, path, Some(&key), "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {doc}");
        assert_eq!(ctype, "application/problem+json", "{path}");
        assert_eq!(doc["field"], field, "{path}: {doc}");
        assert_eq!(doc["status"], 400, "{path}: {doc}");
        assert!(doc["detail"].as_str().is_some_and(|d| d.contains(field)), "{path}: {doc}");
    }
    let (status, _, doc) = api.call(Method::POST, "/v1/keys", Some(&key), r#"{"role":"czar"}"#).await;
    assert_eq!((status, doc["field"].as_str()), (StatusCode::BAD_REQUEST, Some("role")), "{doc}");
    let (status, _, doc) = api.call(Method::GET, "/v1/sessions/nope", Some(&key), "").await;
    assert_eq!((status, doc["title"].as_str()), (StatusCode::NOT_FOUND, Some("Not found")), "{doc}");
    let (status, _, doc) = api.call(Method::GET, "/v1/whoami", Some("tlk_test_forged"), "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{doc}");
}
