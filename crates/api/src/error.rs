//! One error type for the API: [`AppError`] answers as an RFC 9457
//! `application/problem+json` document, so handlers return
//! `Result<_, AppError>` and use `?`.
//!
//! - `type` is stable and says the kind of problem, one per status:
//!   `urn:traceledger:problem:<status reason>`, e.g.
//!   `urn:traceledger:problem:bad-request` (docs/api.md lists them).
//!   A URN, not a URL: there is no page to fetch, and a client that
//!   dispatches on it never depends on a host staying up.
//! - `field` names the query, path or body field at fault, when one is.
//! - An internal error never shows its cause: the caller gets an error id,
//!   and the node's log has the cause under that id.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

/// Prefix of every problem `type`.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:traceledger:problem:";

/// The stable `type` of a problem answered with `status`.
pub fn problem_type(status: StatusCode) -> String {
    let reason = status.canonical_reason().unwrap_or("error");
    let slug: String = reason
        .chars()
        .filter_map(|c| match c {
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            'a'..='z' | '0'..='9' => Some(c),
            ' ' | '-' => Some('-'),
            _ => None,
        })
        .collect();
    format!("{PROBLEM_TYPE_PREFIX}{slug}")
}

/// A failed request, answered as a problem document.
///
/// Boxed: a handler's `Result` stays one pointer wide on the happy path.
#[derive(Debug)]
pub struct AppError(Box<Problem>);

#[derive(Debug)]
struct Problem {
    status: StatusCode,
    title: String,
    detail: String,
    extra: Map<String, Value>,
    headers: HeaderMap,
}

impl AppError {
    /// A problem with `status`, a short `title` and a precise `detail`.
    pub fn new(status: StatusCode, title: impl Into<String>, detail: impl Into<String>) -> Self {
        AppError(Box::new(Problem {
            status,
            title: title.into(),
            detail: detail.into(),
            extra: Map::new(),
            headers: HeaderMap::new(),
        }))
    }

    /// 400 naming the query, path or body field at fault.
    pub fn bad_field(field: &str, detail: impl Into<String>) -> Self {
        AppError::new(StatusCode::BAD_REQUEST, "Invalid request", detail).with("field", field)
    }

    /// 400: a required parameter is missing.
    pub fn required(field: &str) -> Self {
        AppError::bad_field(field, format!("`{field}` is required"))
    }

    /// 404 (also what another tenant's data answers: its existence is not
    /// disclosed).
    pub fn not_found(detail: impl Into<String>) -> Self {
        AppError::new(StatusCode::NOT_FOUND, "Not found", detail)
    }

    /// 401 with the `WWW-Authenticate` challenge.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        AppError::new(StatusCode::UNAUTHORIZED, "Unauthorized", detail)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"traceledger\""))
    }

    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        AppError::new(StatusCode::FORBIDDEN, "Forbidden", detail)
    }

    /// 429 with `Retry-After` (whole seconds) in the header and the body.
    pub fn too_many(title: &str, detail: impl Into<String>, retry_after: u64) -> Self {
        AppError::new(StatusCode::TOO_MANY_REQUESTS, title, detail)
            .with("retry_after", retry_after)
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after))
    }

    /// 503: this node does not serve the request (a part is not configured
    /// or not reachable).
    pub fn unavailable(title: &str, detail: impl Into<String>) -> Self {
        AppError::new(StatusCode::SERVICE_UNAVAILABLE, title, detail)
    }

    /// 500: the cause is logged under a fresh error id; the caller sees only
    /// the id, never the cause: paths, store errors and the like say more
    /// about the node than a caller should learn.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let id = format!("{:016x}", rand::random::<u64>());
        tracing::error!(error_id = %id, error = %cause, "request failed");
        AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            format!("the node could not answer; its log has the cause under error id {id}"),
        )
        .with("error_id", id)
    }

    /// Adds a member to the problem document.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.0.extra.insert(name.to_string(), value.into());
        self
    }

    /// Adds every member of a JSON object to the problem document.
    pub fn with_all(mut self, extra: Value) -> Self {
        if let Value::Object(more) = extra {
            self.0.extra.extend(more);
        }
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.0.headers.insert(name, value);
        self
    }

    /// The status answered.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The detail answered.
    pub fn detail(&self) -> &str {
        &self.0.detail
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let Problem { status, title, detail, extra, headers } = *self.0;
        let mut body = json!({
            "type": problem_type(status),
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
        });
        if let Some(b) = body.as_object_mut() {
            b.extend(extra);
        }
        let mut r = (status, Json(body)).into_response();
        r.headers_mut().extend(headers);
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        r
    }
}

/// A store that fails under a read is the node's failure, not the caller's.
impl From<traceledger_projection::Error> for AppError {
    fn from(e: traceledger_projection::Error) -> Self {
        AppError::internal(e)
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::internal(e)
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        AppError::internal(e)
    }
}

/// An RFC 9457 problem as a response: status, title, detail, and extra
/// members (a JSON object); for the layers and services that build their
/// answer in one go.
pub fn problem(status: StatusCode, title: &str, detail: impl Into<String>, extra: Value) -> Response {
    AppError::new(status, title, detail).with_all(extra).into_response()
}

/// A 400 naming the query or body field at fault, as a response.
pub fn bad_field(field: &str, detail: impl Into<String>) -> Response {
    AppError::bad_field(field, detail).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(e: AppError) -> (StatusCode, HeaderMap, Value) {
        let r = e.into_response();
        let (parts, body) = r.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
        (parts.status, parts.headers, serde_json::from_slice(&bytes).expect("json"))
    }

    #[tokio::test]
    async fn a_problem_has_a_stable_type_per_status_and_names_its_field() {
        let (status, headers, doc) = body(AppError::bad_field("limit", "`limit` must be 1..=1000, got 0")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(doc["type"], "urn:traceledger:problem:bad-request");
        assert_eq!((doc["status"].as_u64(), doc["field"].as_str()), (Some(400), Some("limit")));
        assert_eq!(problem_type(StatusCode::TOO_MANY_REQUESTS), "urn:traceledger:problem:too-many-requests");
        assert_eq!(problem_type(StatusCode::SERVICE_UNAVAILABLE), "urn:traceledger:problem:service-unavailable");
        assert_eq!(problem_type(StatusCode::PAYLOAD_TOO_LARGE), "urn:traceledger:problem:payload-too-large");
    }

    #[tokio::test]
    async fn an_internal_error_shows_an_id_never_its_cause() {
        let cause = "IO error: /var/lib/traceledger/ledger/000123.sst: checksum mismatch";
        let (status, _, doc) = body(AppError::internal(cause)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let text = doc.to_string();
        assert!(!text.contains("checksum") && !text.contains("/var/lib"), "{text}");
        let id = doc["error_id"].as_str().expect("an error id");
        assert!(id.len() == 16 && doc["detail"].as_str().is_some_and(|d| d.contains(id)), "{doc}");
    }

    #[tokio::test]
    async fn retry_after_and_the_challenge_travel_as_headers() {
        let (status, headers, doc) = body(AppError::too_many("Too many requests", "slow down", 3)).await;
        assert_eq!((status, &headers[header::RETRY_AFTER]), (StatusCode::TOO_MANY_REQUESTS, &HeaderValue::from(3)));
        assert_eq!(doc["retry_after"], 3);
        let (_, headers, _) = body(AppError::unauthorized("no key")).await;
        assert!(headers.contains_key(header::WWW_AUTHENTICATE));
    }
}
