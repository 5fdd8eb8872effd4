//! Witness cosignatures of the checkpoints the sequencer publishes.
//!
//! After a checkpoint is published and stored, it is queued to one worker
//! thread that submits it to the configured witnesses (the node wires the
//! HTTP client in as a [`Witnesses`]), with a consistency proof read from
//! the ledger's tree. The cosignatures it gets back are appended to the
//! note, and the cosigned note is published again on `ledger.checkpoints`
//! (same tenant, same size: readers keep the union of the lines) and
//! stored in place of the plain one, so exports carry it.
//!
//! Sealing never waits for a witness: a witness that is down or slow only
//! delays cosignatures, and a tenant whose checkpoints queue up while one
//! is in flight is submitted once, at its newest size.

use super::*;
use std::collections::BTreeMap;
use traceledger_core::cosignature::add_lines;

/// Cosigns checkpoints: the witnesses of the node's policy.
pub trait Witnesses: Send + Sync {
    /// The verified cosignature lines the witnesses gave for `note` (the
    /// checkpoint of `origin` at `size`); `prove(old)` is the consistency
    /// proof from `old` leaves. Empty when none cosigned.
    fn cosign(
        &self,
        origin: &str,
        size: u64,
        note: &str,
        prove: &(dyn Fn(u64) -> Option<Vec<Hash>> + Sync),
    ) -> Vec<String>;
}

/// The witnesses a sequencer submits to (see [`Config::witnesses`]).
#[derive(Clone)]
pub struct Witnessing(pub Arc<dyn Witnesses>);

impl std::fmt::Debug for Witnessing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Witnessing")
    }
}

/// A published checkpoint waiting for cosignatures.
pub(crate) struct Job {
    pub(crate) partition: u32,
    pub(crate) msg: CheckpointMessage,
}

/// Starts the worker; the returned sender queues jobs, and the worker ends
/// when every sender is dropped.
pub(crate) fn start(
    witnesses: Witnessing,
    log: Arc<dyn Log>,
    store: Arc<Store>,
    topic: String,
    stats: Arc<Stats>,
) -> Result<Sender<Job>> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("sequencer-witness".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                // Coalesce what queued meanwhile: each tenant at its newest size.
                let mut due: BTreeMap<String, Job> = BTreeMap::new();
                for job in std::iter::once(first).chain(rx.try_iter()) {
                    match due.get(&job.msg.tenant_id) {
                        Some(j) if j.msg.size >= job.msg.size => {}
                        _ => {
                            due.insert(job.msg.tenant_id.clone(), job);
                        }
                    }
                }
                for job in due.into_values() {
                    if let Err(e) = witness_one(&*witnesses.0, log.as_ref(), &store, &topic, &stats, job) {
                        tracing::warn!(error = %e, "publishing a cosigned checkpoint failed; the next one will carry cosignatures");
                    }
                }
            }
        })
        .map_err(|e| Error::Config(format!("cannot start the witness thread: {e}")))?;
    Ok(tx)
}

fn witness_one(w: &dyn Witnesses, log: &dyn Log, store: &Store, topic: &str, stats: &Stats, job: Job) -> Result<()> {
    let Job { partition, mut msg } = job;
    let (tenant, size) = (msg.tenant_id.clone(), msg.size);
    let prove = |old: u64| merkle::consistency_proof_of(old, size, &store.nodes(&tenant, None)).ok();
    let lines = w.cosign(&msg.origin, size, &msg.note, &prove);
    if lines.is_empty() {
        Stats::add(&stats.unwitnessed, 1);
        return Ok(());
    }
    msg.note = add_lines(msg.note.as_bytes(), &lines)?;
    log.append(topic, partition, &[Record::keyed(tenant.as_bytes(), wire::encode_checkpoint(&msg))])?;
    let mut b = store.batch();
    b.checkpoint(&tenant, size, &msg.note)?;
    b.commit(true)?;
    Stats::add(&stats.witnessed, 1);
    Ok(())
}
