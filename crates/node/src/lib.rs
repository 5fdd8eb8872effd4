//! The node runtime: what `traceledger up`, `sequencer` and `project` run.
//!
//! - [`config`]: the node's options (flags, environment, config file).
//! - [`bootstrap`]: the signing key, API key store and first Owner key.
//! - [`runtime`]: the log, the ledger store and the sequencer threads.
//! - [`readside`] and [`retention`]: the read models' API state and the
//!   retention job (the supervisor itself is `traceledger_projection`'s).
//! - [`forward`]: a sharded read side's forwarding to the instance that
//!   serves a tenant.
//! - [`http`]: the routes (ingest, query API, registry, console, health,
//!   metrics) behind one stack of layers; bind, TLS and shutdown.
//! - [`grpc`]: OTLP over gRPC, on its own port, with the same keys and
//!   limits as the HTTP routes.
//!
//! Data flows one way: ingest appends to the raw topic, the sequencer
//! seals it onto the sealed topic, the read models project that.

pub mod bootstrap;
pub mod config;
pub mod forward;
pub mod grpc;
pub mod http;
mod ingest;
pub mod keysync;
pub mod metrics;
pub mod output;
pub mod readside;
pub mod registry_client;
pub mod retention;
pub mod runtime;
mod shared;
pub mod witnesses;

pub use config::{NodeArgs, RateArgs, Tls, VaultArgs};
pub use ingest::{MAX_BODY, MAX_ERRORS, MAX_EVENTS};
pub use runtime::{produce, Node, Shard};
pub use shared::{StatusFn, StepSeed};

/// Current time as a ledger timestamp.
pub fn now() -> traceledger_core::event::Timestamp {
    traceledger_core::event::Timestamp::now()
}
