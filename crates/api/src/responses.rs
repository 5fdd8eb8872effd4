//! The error answers of the API as the OpenAPI document describes them
//! (documentation types: the answers themselves are built by
//! `crate::AppError`). Apart from the document so that the handlers, which
//! name them in their attributes, and the document, which lists the
//! handlers, do not import each other.

use utoipa::ToSchema;

/// An RFC 9457 problem, as every error of this API.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only: problems are built by `crate::AppError`
pub struct Problem {
    /// `urn:traceledger:problem:<status reason>`, e.g. `urn:traceledger:problem:not-found`: stable, one per status.
    r#type: String,
    /// Short title.
    title: String,
    /// HTTP status.
    status: u16,
    /// What went wrong, precisely.
    detail: String,
    /// The query or body field at fault, when one is.
    field: Option<String>,
    /// Internal errors only: the id under which the node logged the cause.
    error_id: Option<String>,
}

/// The errors every authenticated route may answer.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // documentation only
pub enum Errors {
    /// No valid API key.
    #[response(status = 401, description = "No valid API key", content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The role lacks the permission.
    #[response(status = 403, description = "The role lacks the permission", content_type = "application/problem+json")]
    Forbidden(Problem),
    /// Over the key's rate limit.
    #[response(
        status = 429,
        description = "Over the key's rate limit; see Retry-After",
        content_type = "application/problem+json"
    )]
    TooManyRequests(Problem),
}

/// A parameter is invalid; `field` names it.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 400,
    description = "A parameter is invalid; `field` names it",
    content_type = "application/problem+json"
)]
#[allow(dead_code)] // documentation only
pub struct BadRequest(Problem);

/// Not found, or another tenant's.
#[derive(utoipa::IntoResponses)]
#[response(status = 404, description = "Not found (or another tenant's)", content_type = "application/problem+json")]
#[allow(dead_code)] // documentation only
pub struct NotFound(Problem);
