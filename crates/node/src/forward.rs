//! Forwarding between the instances of a sharded read side
//! (`traceledger project --instances N --instance-index I --peers …`).
//!
//! Each instance serves the tenants of its partitions
//! ([`traceledger_projection::shard`]); a client or load balancer may call
//! any of them. An authenticated request for a tenant served elsewhere is
//! passed on to that instance as it came (method, path, query, headers
//! with the caller's key, body streamed) and its answer passed back as it
//! comes. So:
//! - the owner authenticates the key again, applies its rate limit and
//!   records the call in the tenant's access chain: one record per call,
//!   as on one instance; the forwarding instance records nothing (but a
//!   call it answers itself — a 401, a 502 when the owner is down — it
//!   records, as the instance that answered);
//! - the forwarded request carries [`FORWARDED_BY`]. An instance that
//!   receives it for a tenant it does not serve answers 421 instead of
//!   forwarding again: the instances disagree on `--instances` or
//!   `--peers`, and a loop is refused at its first hop. The header grants
//!   nothing — the instance that serves always authenticates and records —
//!   so a client that sends it gains nothing.
//!
//! Peers are reached over plain HTTP (the deployment's internal network or
//! its mesh); answers are streamed, with a bound on the wait for the
//! owner's first byte.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;
use traceledger_api::access::AnsweredElsewhere;
use traceledger_api::{AppError, Principal};
use traceledger_projection::shard::TenantShard;

/// The request header of a forwarded call: the index of the instance
/// that forwarded it.
pub const FORWARDED_BY: &str = "traceledger-forwarded-by";

/// How long an instance waits for the owner's answer to begin (a report
/// over a long period takes a while; an export streams after its start).
const FIRST_BYTE: Duration = Duration::from_secs(120);

/// The other instances of a sharded read side, and how to reach them.
pub struct Peers {
    shard: TenantShard,
    urls: Vec<Uri>,
    client: Client<HttpConnector, Body>,
}

impl Peers {
    /// `urls[i]` is instance `i`'s base URL (`http://host:port`), this
    /// instance's own among them.
    pub fn new(shard: TenantShard, urls: &[String]) -> anyhow::Result<Self> {
        anyhow::ensure!(
            urls.len() == shard.count as usize,
            "--peers lists {} URLs for --instances {}: give every instance's URL, in index order (this one's too)",
            urls.len(),
            shard.count
        );
        let urls = urls
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let uri: Uri = u.trim_end_matches('/').parse().map_err(|e| anyhow::anyhow!("--peers `{u}`: {e}"))?;
                anyhow::ensure!(
                    uri.scheme_str() == Some("http") && uri.authority().is_some() && uri.path() == "/",
                    "--peers `{u}` (instance {i}): an http://host:port URL with no path"
                );
                Ok(uri)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Peers { shard, urls, client })
    }

    /// The tenants this instance serves.
    pub fn shard(&self) -> TenantShard {
        self.shard
    }
}

/// Headers that belong to one connection, not to the request or answer
/// (RFC 9110 §7.6.1), and `host`, which the client sets for the peer.
fn drop_hop_by_hop(h: &mut HeaderMap) {
    for name in [
        header::CONNECTION,
        header::HOST,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        h.remove(name);
    }
    h.remove("keep-alive");
}

/// Middleware (after authentication, before the rate limit): serves a
/// tenant's request here when this instance serves the tenant, and
/// otherwise forwards it to the instance that does.
pub async fn forward(State(peers): State<Arc<Peers>>, req: Request, next: Next) -> Response {
    let Some(tenant) = req.extensions().get::<Principal>().map(|p| p.tenant().to_string()) else {
        return next.run(req).await;
    };
    let owner = peers.shard.owner(&tenant);
    if owner == peers.shard.index {
        return next.run(req).await;
    }
    if let Some(from) = req.headers().get(FORWARDED_BY) {
        let from = String::from_utf8_lossy(from.as_bytes()).into_owned();
        return AppError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "Misdirected request",
            format!(
                "instance {} was sent tenant `{tenant}`'s request by instance {from}, but instance {owner} serves \
                 it: the instances' --instances and --peers disagree",
                peers.shard.index
            ),
        )
        .into_response();
    }
    let (mut parts, body) = req.into_parts();
    let base = &peers.urls[owner as usize];
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = format!("{}{path}", base.to_string().trim_end_matches('/')).parse::<Uri>() else {
        return AppError::internal(format!("forwarding {path} to {base}")).into_response();
    };
    parts.uri = uri;
    parts.extensions = Default::default();
    drop_hop_by_hop(&mut parts.headers);
    parts.headers.insert(HeaderName::from_static(FORWARDED_BY), HeaderValue::from(peers.shard.index));
    let sent = tokio::time::timeout(FIRST_BYTE, peers.client.request(Request::from_parts(parts, body))).await;
    let unavailable = |why: String| {
        AppError::new(
            StatusCode::BAD_GATEWAY,
            "Instance unavailable",
            format!("instance {owner} ({base}), which serves tenant `{tenant}`, {why}; retry shortly"),
        )
        .with("instance", owner)
        .into_response()
    };
    match sent {
        Ok(Ok(answer)) => {
            let (mut parts, body) = answer.into_parts();
            drop_hop_by_hop(&mut parts.headers);
            parts.extensions = Default::default();
            parts.extensions.insert(AnsweredElsewhere);
            Response::from_parts(parts, Body::new(body))
        }
        Ok(Err(e)) => {
            tracing::warn!(instance = owner, peer = %base, error = %e, "forwarding failed");
            unavailable(format!("did not answer ({e})"))
        }
        Err(_) => unavailable(format!("did not begin its answer within {} s", FIRST_BYTE.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::any;
    use axum::Router;
    use tower::ServiceExt;
    use traceledger_api::api_keys::{KeyInfo, Role};

    const SHARD: TenantShard = TenantShard { index: 0, count: 2, partitions: 4 };

    /// A tenant served by instance `i` of [`SHARD`].
    fn tenant_of(i: u32) -> String {
        (0..).map(|n| format!("t{n}")).find(|t| SHARD.owner(t) == i).expect("a tenant")
    }

    fn principal(tenant: &str) -> Principal {
        Principal {
            key: KeyInfo {
                id: "tlk_test_x".into(),
                tenant: tenant.into(),
                role: Role::Owner,
                name: String::new(),
                created_at: 0,
                expires_at: None,
                revoked_at: None,
                rotated_from: None,
                tier: "standard".into(),
            },
        }
    }

    /// Instance 1: answers with what it was sent.
    async fn peer() -> String {
        let echo = any(|req: Request| async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.expect("body");
            let h = |n: &str| parts.headers.get(n).map(|v| v.to_str().expect("ascii").to_string());
            axum::Json(serde_json::json!({
                "method": parts.method.as_str(),
                "uri": parts.uri.to_string(),
                "forwarded_by": h(FORWARDED_BY),
                "authorization": h("authorization"),
                "keep_alive": h("keep-alive"),
                "body": body.len(),
            }))
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, Router::new().fallback(echo)).await });
        format!("http://{addr}")
    }

    /// Instance 0: `/v1/x` answers "here"; the caller is `tenant`.
    fn front(peers: Peers, tenant: &str) -> Router {
        let who = principal(tenant);
        Router::new()
            .route("/v1/x", any(|| async { "here" }))
            .route_layer(axum::middleware::from_fn_with_state(Arc::new(peers), forward))
            .layer(axum::middleware::from_fn(move |mut req: Request, next: Next| {
                req.extensions_mut().insert(who.clone());
                next.run(req)
            }))
    }

    fn request(method: &str, body: Vec<u8>) -> Request {
        Request::builder()
            .method(method)
            .uri("/v1/x?limit=2&cursor=a%2Fb")
            .header("authorization", "Bearer tlk_test_secret")
            .header("keep-alive", "timeout=5")
            .body(Body::from(body))
            .expect("request")
    }

    async fn json(r: Response) -> serde_json::Value {
        serde_json::from_slice(&axum::body::to_bytes(r.into_body(), usize::MAX).await.expect("body")).expect("json")
    }

    #[tokio::test]
    async fn a_tenant_served_here_is_answered_here() {
        let peers = Peers::new(SHARD, &["http://127.0.0.1:1".into(), "http://127.0.0.1:1".into()]).expect("peers");
        let r = front(peers, &tenant_of(0)).oneshot(request("GET", Vec::new())).await.expect("answer");
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.extensions().get::<AnsweredElsewhere>().is_none());
        assert_eq!(&axum::body::to_bytes(r.into_body(), 100).await.expect("body")[..], b"here");
    }

    #[tokio::test]
    async fn another_instances_tenant_is_passed_on_as_it_came() {
        let peer = peer().await;
        let peers = Peers::new(SHARD, &["http://127.0.0.1:1".into(), peer]).expect("peers");
        let body = vec![b'x'; 300_000];
        let r = front(peers, &tenant_of(1)).oneshot(request("POST", body)).await.expect("answer");
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.extensions().get::<AnsweredElsewhere>().is_some(), "the owner recorded the call");
        let sent = json(r).await;
        assert_eq!(sent["method"], "POST");
        assert_eq!(sent["uri"], "/v1/x?limit=2&cursor=a%2Fb");
        assert_eq!(sent["forwarded_by"], "0");
        assert_eq!(sent["authorization"], "Bearer tlk_test_secret");
        assert_eq!(sent["keep_alive"], serde_json::Value::Null, "hop-by-hop headers stay behind");
        assert_eq!(sent["body"], 300_000);
    }

    #[tokio::test]
    async fn a_forwarded_request_is_not_forwarded_again() {
        let peer = peer().await;
        let peers = Peers::new(SHARD, &["http://127.0.0.1:1".into(), peer]).expect("peers");
        let mut req = request("GET", Vec::new());
        req.headers_mut().insert(FORWARDED_BY, HeaderValue::from_static("1"));
        let r = front(peers, &tenant_of(1)).oneshot(req).await.expect("answer");
        assert_eq!(r.status(), StatusCode::MISDIRECTED_REQUEST);
        let p = json(r).await;
        assert!(p["detail"].as_str().is_some_and(|d| d.contains("disagree")), "{p}");
    }

    #[tokio::test]
    async fn an_owner_that_does_not_answer_is_a_502_recorded_here() {
        // A port that was free a moment ago: nothing listens there.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
        let peers = Peers::new(SHARD, &["http://127.0.0.1:1".into(), format!("http://{closed}")]).expect("peers");
        let r = front(peers, &tenant_of(1)).oneshot(request("GET", Vec::new())).await.expect("answer");
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
        assert!(r.extensions().get::<AnsweredElsewhere>().is_none(), "recorded by the instance that answered");
        let p = json(r).await;
        assert_eq!(p["instance"], 1, "{p}");
    }

    #[test]
    fn peers_name_every_instance_by_a_plain_http_url() {
        let ok = || vec!["http://a:1".to_string(), "http://b:2/".to_string()];
        assert!(Peers::new(SHARD, &ok()).is_ok());
        for (urls, why) in [
            (vec!["http://a:1".to_string()], "lists 1 URLs for --instances 2"),
            (vec!["http://a:1".into(), "https://b:2".into()], "an http://host:port URL"),
            (vec!["http://a:1".into(), "http://b:2/api".into()], "with no path"),
            (vec!["http://a:1".into(), "b:2".into()], "an http://host:port URL"),
        ] {
            let e = Peers::new(SHARD, &urls).err().expect("refused").to_string();
            assert!(e.contains(why), "{urls:?}: {e}");
        }
    }
}
