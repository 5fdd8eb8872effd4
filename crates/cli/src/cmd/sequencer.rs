//! `traceledger sequencer`: the sequencer alone, against a Kafka-API broker.
//! Scale-out: `--instances N --instance-index I` runs the partitions
//! `p % N == I`, so N instances (a StatefulSet's pods) share the work.
//! `--http` serves the ingest (`POST /v1/events`, `POST /v1/traces`),
//! `GET /v1/health` and `/metrics`; on its first start it makes an Owner
//! API key of `--tenant` for the ingest (the query API of a split
//! deployment is `project --http`, with its own keys).

use clap::Args;
use std::net::SocketAddr;
use traceledger_node::http::{router, serve, shutdown_signal};
use traceledger_node::{Node, NodeArgs};

#[derive(Debug, Args)]
pub struct SequencerArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// Serve health (and ingest) on this address.
    #[arg(long)]
    http: Option<SocketAddr>,
    /// Policy file whose `[[redact]]` rules apply before sealing (reloaded
    /// when it changes); without it, content is sealed as sent.
    #[arg(long, env = "TRACELEDGER_POLICY")]
    policy: Option<std::path::PathBuf>,
    /// Sequencer instances sharing the partitions (scale-out; docs/deploy.md).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    instances: u32,
    /// This instance: it runs the partitions p with p % instances == index
    /// (in Kubernetes, the StatefulSet pod index).
    #[arg(long, env = "TRACELEDGER_INSTANCE_INDEX", default_value_t = 0)]
    instance_index: u32,
    /// With --http: tenant of the Owner API key created on the first start.
    #[arg(long, default_value = "default")]
    tenant: String,
}

pub fn run(a: SequencerArgs) -> anyhow::Result<u8> {
    super::init_tracing();
    anyhow::ensure!(
        a.node.kafka.is_some(),
        "`traceledger sequencer` runs against a Kafka-API broker: pass --kafka HOST:PORT (or use `traceledger up` for the embedded log)"
    );
    let policy = a.policy.as_deref().map(|p| traceledger_node::readside::open_policy(Some(p))).transpose()?;
    let shard = traceledger_node::Shard { index: a.instance_index, count: a.instances };
    let node = Node::start(&a.node, policy, shard)?;
    super::notice(&format!(
        "sequencer instance {} of {} running partitions {:?} of {}; SIGTERM or Ctrl-C to stop",
        shard.index,
        shard.count,
        &*node.owned,
        node.seq.partitions()
    ));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match a.http {
        Some(addr) => {
            let tls = a.node.tls();
            traceledger_node::bootstrap::bootstrap_owner(&node.keys, &a.node.data, &a.tenant)?;
            let (listener, _) = traceledger_node::http::bind(
                addr,
                tls.as_ref(),
                "POST /v1/events, POST /v1/traces, GET /v1/health, /metrics, schemas under /registry; see docs/api.md",
            )?;
            let guards = traceledger_node::http::Guards::for_node(&node, &a.node)?;
            rt.block_on(serve(router(&node, None, None, &guards), listener, tls, shutdown_signal()))?;
            guards.close();
        }
        None => rt.block_on(shutdown_signal()),
    }
    node.stop()?;
    Ok(0)
}
