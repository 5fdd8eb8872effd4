//! Witness cosignatures and trusted timestamps of the checkpoints the
//! sequencer publishes.
//!
//! After a checkpoint is published and stored, it is queued to one worker
//! thread that submits it to the configured witnesses (the node wires the
//! HTTP client in as a [`Witnesses`]), with a consistency proof read from
//! the ledger's tree, and, at most once per tenant per interval, asks a
//! time-stamping authority for an RFC 3161 token over the note as the log
//! signed it (a [`Timestamps`]). The lines it gets back are appended to the
//! note, and the note is published again on `ledger.checkpoints` (same
//! tenant, same size: readers keep the union of the lines) and stored in
//! place of the plain one, so exports carry it.
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

/// Gets trusted timestamps: an RFC 3161 TSA.
pub trait Timestamps: Send + Sync {
    /// The timestamp line for `note` (the checkpoint as the log signed it),
    /// verified against the TSA's certificate; `None` when none was had.
    fn timestamp(&self, note: &str) -> Option<String>;
}

/// The TSA a sequencer asks, and how often per tenant (see
/// [`Config::timestamps`]).
#[derive(Clone)]
pub struct Timestamping {
    /// The TSA.
    pub tsa: Arc<dyn Timestamps>,
    /// At most one timestamp per tenant per this interval (the first
    /// checkpoint after it passes gets one).
    pub every: Duration,
}

impl std::fmt::Debug for Timestamping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Timestamping(every {:?})", self.every)
    }
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

/// What the worker asks for each checkpoint.
pub(crate) struct Attestors {
    pub(crate) witnesses: Option<Witnessing>,
    pub(crate) timestamps: Option<Timestamping>,
}

/// Starts the worker; the returned sender queues jobs, and the worker ends
/// when every sender is dropped.
pub(crate) fn start(
    attestors: Attestors,
    log: Arc<dyn Log>,
    store: Arc<Store>,
    topic: String,
    stats: Arc<Stats>,
) -> Result<Sender<Job>> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("sequencer-attest".into())
        .spawn(move || {
            // When each tenant last got a timestamp.
            let mut stamped: HashMap<String, Instant> = HashMap::new();
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
                    let tenant = job.msg.tenant_id.clone();
                    let stamp = attestors
                        .timestamps
                        .as_ref()
                        .filter(|t| stamped.get(&tenant).is_none_or(|at| at.elapsed() >= t.every));
                    match attest_one(&attestors, stamp, log.as_ref(), &store, &topic, &stats, job) {
                        Ok(true) => {
                            stamped.insert(tenant, Instant::now());
                        }
                        Ok(false) => {}
                        Err(e) => tracing::warn!(
                            error = %e,
                            "publishing an attested checkpoint failed; the next one will carry its attestations"
                        ),
                    }
                }
            }
        })
        .map_err(|e| Error::Config(format!("cannot start the attestation thread: {e}")))?;
    Ok(tx)
}

/// Witnesses and (when `stamp`) timestamps one checkpoint; whether it got
/// a timestamp.
fn attest_one(
    a: &Attestors,
    stamp: Option<&Timestamping>,
    log: &dyn Log,
    store: &Store,
    topic: &str,
    stats: &Stats,
    job: Job,
) -> Result<bool> {
    let Job { partition, mut msg } = job;
    let (tenant, size) = (msg.tenant_id.clone(), msg.size);
    let mut lines = Vec::new();
    if let Some(w) = &a.witnesses {
        let prove = |old: u64| merkle::consistency_proof_of(old, size, &store.nodes(&tenant, None)).ok();
        let cosigned = w.0.cosign(&msg.origin, size, &msg.note, &prove);
        Stats::add(if cosigned.is_empty() { &stats.unwitnessed } else { &stats.witnessed }, 1);
        lines.extend(cosigned);
    }
    // Over the note as the log signed it, before any other line.
    let token = stamp.and_then(|t| t.tsa.timestamp(&msg.note));
    if stamp.is_some() {
        Stats::add(if token.is_some() { &stats.timestamped } else { &stats.untimestamped }, 1);
    }
    let stamped = token.is_some();
    lines.extend(token);
    if lines.is_empty() {
        return Ok(false);
    }
    msg.note = add_lines(msg.note.as_bytes(), &lines)?;
    log.append(topic, partition, &[Record::keyed(tenant.as_bytes(), wire::encode_checkpoint(&msg))])?;
    let mut b = store.batch();
    b.checkpoint(&tenant, size, &msg.note)?;
    b.commit(true)?;
    Ok(stamped)
}
