//! Portable proofs of one record (c2sp.org/tlog-proof): the sealed record
//! (in the proof's `extra`, in the sealed topic's wire format), its RFC 6962
//! audit path and the signed checkpoint it leads to. Anyone holding the
//! log's verifier key checks one offline, with nothing else: no bundle, no
//! node, no network.
//!
//! What a check establishes, in order:
//! 1. the checkpoint is signed by a trusted key, and is a tenant's log
//!    (`<log>/<tenant>`);
//! 2. the record decodes and its leaf hash is the hash of its canonical
//!    bytes, re-derived from its fields (so the fields shown are the ones
//!    sealed; erased content shows as its commitment);
//! 3. the record is the tenant's, at the proof's index (its seq);
//! 4. every content value it shows opens its salted commitment (the leaf
//!    covers the commitments, so this ties the values to what was sealed);
//!    erased values are absent and counted;
//! 5. its signature is a trusted key's, valid when it was sealed;
//! 6. the audit path leads from its leaf to the checkpoint's root.

use serde::Serialize;
use traceledger_core::accept::leaf_matches;
use traceledger_core::checkpoint::{split_origin, Checkpoint};
use traceledger_core::hash::Hash;
use traceledger_core::merkle::verify_inclusion;
use traceledger_core::signing::Keyring;
use traceledger_core::tlog_policy::Policy;
use traceledger_core::tlog_proof::TlogProof;
use traceledger_core::verify::{content_opens, signed_when_sealed};
use traceledger_core::{SealedRecord, TraceEvent};
use traceledger_wire as wire;

/// The largest record a proof may carry: far above any sealed record (raw
/// events are at most `wire::DEFAULT_MAX_MESSAGE`, 1 MiB, and sealing adds
/// a header and commitments), a bound on what a file from outside may make
/// the decoder allocate.
const MAX_RECORD: usize = 16 << 20;

/// A record's proof, ready to write: its text is [`TlogProof::encode`].
pub fn record_proof(record: &SealedRecord, audit_path: Vec<Hash>, checkpoint_note: &[u8]) -> TlogProof {
    TlogProof {
        extra: Some(wire::encode_record(record)),
        index: record.header.seq,
        hashes: audit_path,
        checkpoint: checkpoint_note.to_vec(),
    }
}

/// A proof that checked.
#[derive(Debug, Clone, Serialize)]
pub struct ProvenRecord {
    /// The checkpoint's origin (`<log>/<tenant>`).
    pub origin: String,
    /// The tenant.
    pub tenant: String,
    /// The record's seq (its index in the tenant's tree).
    pub seq: u64,
    /// The checkpointed tree's size.
    pub tree_size: u64,
    /// Its root, hex.
    pub root: String,
    /// The record's leaf hash, hex.
    pub leaf_hash: String,
    /// Keys that signed the checkpoint (`name+id`).
    pub checkpoint_signers: Vec<String>,
    /// When it was sealed (RFC 3339).
    pub sealed_at: String,
    /// Content values erased (their commitments stay in the leaf).
    pub erased_values: u64,
    /// The sealed event (erased content is absent; its commitment stays in
    /// the leaf).
    pub event: TraceEvent,
    /// With a witness policy: the witnesses that cosigned the checkpoint
    /// (policy name, Unix seconds).
    pub witnessed: Vec<(String, u64)>,
    /// With TSA certificates: (TSA subject, the TSA's time in Unix seconds).
    pub timestamped: Vec<(String, u64)>,
}

/// Why a proof does not prove its record; [`ProofError::exit_code`] for
/// the CLI.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The file is not a c2sp.org/tlog-proof.
    #[error("not a c2sp.org/tlog-proof: {0}")]
    Format(#[from] traceledger_core::tlog_proof::ParseError),
    /// The checkpoint is not signed by a trusted key, or is not a checkpoint.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The proof carries no record, or one that does not decode.
    #[error("record: {0}")]
    Record(String),
    /// The record and the proof do not fit (tenant, index, leaf, signature).
    #[error("{0}")]
    Mismatch(String),
    /// The audit path does not lead to the checkpoint's root.
    #[error("inclusion: {0}")]
    Inclusion(String),
    /// The checkpoint does not satisfy the auditor's witness policy.
    #[error("the checkpoint {0}")]
    Witnesses(String),
    /// A timestamp the auditor asked for is missing or does not verify.
    #[error("timestamp: {0}")]
    Timestamp(String),
}

impl ProofError {
    /// 2: the input is not a proof; 1: it is one, and it fails.
    pub fn exit_code(&self) -> i32 {
        match self {
            ProofError::Format(_) => 2,
            _ => 1,
        }
    }
}

/// Checks a proof's text against the verifier keys an auditor trusts.
pub fn verify_record_proof(bytes: &[u8], keys: &Keyring) -> Result<ProvenRecord, ProofError> {
    verify_record_proof_attested(bytes, keys, None, &[])
}

/// [`verify_record_proof`], and with a policy, its checkpoint must carry
/// the policy's witness quorum (c2sp.org/tlog-policy); with TSA
/// certificates, a valid RFC 3161 timestamp of each.
pub fn verify_record_proof_attested(
    bytes: &[u8],
    keys: &Keyring,
    policy: Option<&Policy>,
    tsa_certs: &[traceledger_tsa::Certificate],
) -> Result<ProvenRecord, ProofError> {
    let proof = TlogProof::parse(bytes)?;
    let (cp, signers) = Checkpoint::open(&proof.checkpoint, keys).map_err(|e| ProofError::Checkpoint(e.to_string()))?;
    let (_, tenant) = split_origin(&cp.origin)
        .ok_or_else(|| ProofError::Checkpoint(format!("origin `{}` is not `<log>/<tenant>`", cp.origin)))?;
    let extra =
        proof.extra.as_deref().ok_or_else(|| ProofError::Record("the proof carries no `extra` record".into()))?;
    let r = wire::decode_record(extra, MAX_RECORD).map_err(|e| ProofError::Record(e.to_string()))?;
    if !leaf_matches(&r) {
        return Err(ProofError::Mismatch(
            "the record's leaf hash is not the hash of its canonical bytes: its fields were altered".into(),
        ));
    }
    if r.header.tenant_id != tenant {
        return Err(ProofError::Mismatch(format!(
            "the record is tenant `{}`'s, the checkpoint is `{tenant}`'s log",
            r.header.tenant_id
        )));
    }
    if r.header.seq != proof.index {
        return Err(ProofError::Mismatch(format!(
            "the record is seq {}, the proof is for index {}",
            r.header.seq, proof.index
        )));
    }
    let (_, erased) = content_opens(&r).map_err(ProofError::Mismatch)?;
    if !signed_when_sealed(&r, keys) {
        return Err(ProofError::Mismatch(format!(
            "the record's signature (key id {:08x}) is not a trusted key's, valid when it was sealed",
            r.header.key_id
        )));
    }
    verify_inclusion(&proof.hashes, proof.index, cp.size, r.leaf_hash, cp.root)
        .map_err(|e| ProofError::Inclusion(e.to_string()))?;
    let witnessed = match policy {
        Some(p) => p.check(&proof.checkpoint).map_err(|e| ProofError::Witnesses(e.why))?.by,
        None => Vec::new(),
    };
    let timestamped = tsa_certs
        .iter()
        .map(|cert| {
            let t =
                traceledger_tsa::required_timestamp(&proof.checkpoint, keys, cert).map_err(ProofError::Timestamp)?;
            Ok((traceledger_tsa::subject(cert), t))
        })
        .collect::<Result<Vec<_>, ProofError>>()?;
    Ok(ProvenRecord {
        witnessed,
        timestamped,
        origin: cp.origin.clone(),
        tenant: tenant.to_string(),
        seq: r.header.seq,
        tree_size: cp.size,
        root: cp.root.to_hex(),
        leaf_hash: r.leaf_hash.to_hex(),
        checkpoint_signers: signers,
        sealed_at: r.header.sealed_at.to_rfc3339(),
        erased_values: erased,
        event: r.event,
    })
}
