//! The query API's handlers, one module per resource; [`crate::router`]
//! mounts them.

pub(crate) mod api_keys;
pub(crate) mod erasure;
pub(crate) mod models;
pub(crate) mod params;
pub(crate) mod policy;
pub(crate) mod proofs;
pub(crate) mod records;
pub(crate) mod reports;
pub(crate) mod sessions;
pub mod streams;
pub(crate) mod tlog;

/// What every handler module uses.
mod prelude {
    pub(crate) use axum::extract::{Path, State};

    pub(crate) use axum::http::{header, HeaderValue, StatusCode};

    pub(crate) use axum::response::{IntoResponse, Response};

    pub(crate) use axum::Json;
    pub(crate) use base64::Engine;
    pub(crate) use serde::Deserialize;
    pub(crate) use serde_json::{json, Value};
    pub(crate) use std::sync::Arc;
    pub(crate) use traceledger_core::event::Timestamp;
    pub(crate) use traceledger_core::SealedRecord;
    pub(crate) use traceledger_projection::ledger::LedgerView;
    pub(crate) use utoipa::IntoParams;

    pub(crate) use traceledger_projection::sessions::{Completeness, Filter, SessionSummary, SessionsView};

    pub(crate) use super::params::*;
    pub(crate) use crate::api_keys::{KeyInfo, Permission, Role};
    pub(crate) use crate::responses::{BadRequest, Errors, NotFound};
    pub(crate) use crate::{api_keys, archive, bodies, privacy_ops, report};
    pub(crate) use crate::{AppError, Principal, Shared, MAX_LIMIT};
    pub(crate) use traceledger_wire as wire;
}
