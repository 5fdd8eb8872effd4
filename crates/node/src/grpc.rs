//! OTLP over gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`
//! on its own port (4317 by convention), the same export as `POST
//! /v1/traces` with the same API keys, permission, rate limits, refusal of
//! peers that keep failing authentication, and access records.
//!
//! The request's bytes are taken as they arrive (a codec of raw bytes, not
//! prost's), so that they are counted against the OTLP limits before they
//! are decoded, exactly as over HTTP (`traceledger_otlp::decode_within`): a
//! message of empty spans decodes to structures a hundred times its size.
//! tonic handles the HTTP/2 framing, gzip, and the message size bound.

use crate::ingest::{take_export, MAX_BODY};
use crate::shared::NodeShared;
use axum::http::StatusCode;
use bytes::{Buf, BufMut, Bytes};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings, EncodeBuf, Encoder};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};
use traceledger_api::access::{access_event, AccessLog};
use traceledger_api::api_keys::{KeyStore, Permission};
use traceledger_api::limits::{PeerGuard, RateLimits};
use traceledger_api::{bearer, AppError, Principal};
use traceledger_core::event::Timestamp;

/// The one method served.
pub const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The OTLP trace service over gRPC.
#[derive(Clone)]
pub struct OtlpGrpc {
    inner: Arc<Inner>,
}

struct Inner {
    node: Arc<NodeShared>,
    keys: Arc<KeyStore>,
    limits: Arc<RateLimits>,
    peers: Arc<PeerGuard>,
    access: Arc<AccessLog>,
}

impl OtlpGrpc {
    pub(crate) fn new(
        node: Arc<NodeShared>,
        keys: Arc<KeyStore>,
        limits: Arc<RateLimits>,
        peers: Arc<PeerGuard>,
        access: Arc<AccessLog>,
    ) -> Self {
        OtlpGrpc { inner: Arc::new(Inner { node, keys, limits, peers, access }) }
    }

    /// Serves on `listener` until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        tonic::transport::Server::builder().add_service(self).serve_with_incoming_shutdown(incoming, shutdown).await?;
        Ok(())
    }
}

impl Inner {
    /// One export: who sent it, may they, then the same path as OTLP/HTTP.
    async fn export(&self, req: Request<Bytes>) -> Result<Response<Vec<u8>>, Status> {
        let peer = req.remote_addr().map(|a: SocketAddr| a.ip());
        if let Some(secs) = peer.and_then(|ip| self.peers.refused(ip)) {
            return Err(Status::unavailable(format!(
                "this address sent too many requests without a valid API key; retry in {secs} s"
            )));
        }
        let presented = req.metadata().get("authorization").and_then(|v| v.to_str().ok()).and_then(bearer);
        let Some(presented) = presented.map(str::to_string) else {
            return Err(self.unauthenticated(peer, "send an API key as `authorization: Bearer tlk_…` metadata"));
        };
        let keys = self.keys.clone();
        let found = tokio::task::spawn_blocking(move || keys.authenticate(&presented, Timestamp::now().0))
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        let who = match found {
            Ok(Some(key)) => Principal { key },
            Ok(None) => return Err(self.unauthenticated(peer, "the API key is unknown, revoked or expired")),
            Err(e) => return Err(Status::internal(e.to_string())),
        };
        let started = Instant::now();
        let at = Timestamp::now().0;
        let answer = self.authorised(&who, req.into_inner()).await;
        let status = match &answer {
            Ok(_) => 200,
            Err(s) => http_status(s.code()),
        };
        let ms = started.elapsed().as_millis() as u64;
        self.access.push(access_event(Some(&who), "POST", EXPORT, EXPORT, status, ms, at));
        answer
    }

    async fn authorised(&self, who: &Principal, body: Bytes) -> Result<Response<Vec<u8>>, Status> {
        who.require(Permission::Ingest).map_err(status_of)?;
        if let Err((secs, rate)) = self.limits.check(&who.key.tier, &who.key.id) {
            return Err(Status::unavailable(format!(
                "this key (tier `{}`) is limited to {rate} requests per second; retry in {secs} s",
                who.key.tier
            )));
        }
        let (node, tenant) = (self.node.clone(), who.tenant().to_string());
        let (_, rejected, message) = tokio::task::spawn_blocking(move || {
            take_export(&node, &tenant, &body, traceledger_otlp::Encoding::Protobuf, None)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(status_of)?;
        Ok(Response::new(traceledger_otlp::response(rejected, &message, traceledger_otlp::Encoding::Protobuf)))
    }

    fn unauthenticated(&self, peer: Option<std::net::IpAddr>, why: &str) -> Status {
        if let Some(ip) = peer {
            self.peers.failed(ip);
        }
        self.access.refuse(401, EXPORT, Timestamp::now().0);
        Status::unauthenticated(why)
    }
}

/// An HTTP problem as the gRPC status an OTLP exporter acts on: it retries
/// UNAVAILABLE (and nothing it cannot fix by waiting).
fn status_of(e: AppError) -> Status {
    let detail = e.detail().to_string();
    match e.status() {
        StatusCode::UNAUTHORIZED => Status::unauthenticated(detail),
        StatusCode::FORBIDDEN => Status::permission_denied(detail),
        StatusCode::PAYLOAD_TOO_LARGE => Status::resource_exhausted(detail),
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => Status::unavailable(detail),
        s if s.is_client_error() => Status::invalid_argument(detail),
        _ => Status::internal(detail),
    }
}

/// The HTTP status an access record gives a gRPC answer.
fn http_status(code: tonic::Code) -> u16 {
    use tonic::Code as C;
    match code {
        C::Ok => 200,
        C::Unauthenticated => 401,
        C::PermissionDenied => 403,
        C::ResourceExhausted => 413,
        C::InvalidArgument => 400,
        C::Unavailable => 503,
        _ => 500,
    }
}

impl NamedService for OtlpGrpc {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl<B> tower::Service<axum::http::Request<B>> for OtlpGrpc
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = axum::http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        if req.uri().path() != EXPORT {
            return Box::pin(
                async move { Ok(Status::unimplemented("only TraceService/Export is served").into_http()) },
            );
        }
        Box::pin(async move {
            let mut gzip = EnabledCompressionEncodings::default();
            gzip.enable(CompressionEncoding::Gzip);
            let mut grpc = Grpc::new(RawCodec)
                .apply_compression_config(gzip, gzip)
                .apply_max_message_size_config(Some(MAX_BODY), Some(MAX_BODY));
            Ok(grpc.unary(Export(inner), req).await)
        })
    }
}

struct Export(Arc<Inner>);

impl UnaryService<Bytes> for Export {
    type Response = Vec<u8>;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response<Vec<u8>>, Status>> + Send>>;

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move { inner.export(req).await })
    }
}

/// Messages as their bytes: decoded by the OTLP crate, within its limits.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
