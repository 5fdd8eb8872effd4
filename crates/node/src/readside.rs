//! The read side of a node: the policy, the provider register, the keys
//! whose records projections admit, and the query API's state over the
//! read models the supervisor (`traceledger_projection::supervisor`) runs.

use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use traceledger_core::signing::{Keyring, VerifierKey};
use traceledger_projection::policy_file::PolicyFile;
use traceledger_projection::supervisor::Projections;

/// The policy of `--policy FILE` (refused with its line and key when it
/// does not validate), or the built-in default.
pub fn open_policy(path: Option<&Path>) -> anyhow::Result<Arc<PolicyFile>> {
    match path {
        None => Ok(PolicyFile::builtin()),
        Some(p) => PolicyFile::open(p).map_err(|e| anyhow::anyhow!("policy {e}")),
    }
}

/// The provider register of `path` (empty without one).
pub fn load_providers(path: Option<&Path>) -> anyhow::Result<Arc<traceledger_report::providers::Register>> {
    Ok(Arc::new(match path {
        None => traceledger_report::providers::Register::default(),
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("provider register {}", p.display()))?;
            traceledger_report::providers::Register::parse(&text)
                .map_err(|e| anyhow::anyhow!("provider register {}: {e}", p.display()))?
        }
    }))
}

/// What signs exported bundles: `key`, whose verifier key heads the
/// bundles' keyring, followed by `earlier` (keys of a rotation).
pub fn exporter(
    key: traceledger_core::signing::SigningKey,
    log_name: &str,
    earlier: &[String],
) -> traceledger_api::Exporter {
    let ring = std::iter::once(key.verifier_key_string()).chain(earlier.iter().cloned());
    traceledger_api::Exporter {
        key,
        log_name: log_name.to_string(),
        keyring: ring
            .map(|verifier_key| traceledger_bundle::KeyringEntry { verifier_key, not_before: None, not_after: None })
            .collect(),
    }
}

/// The query API's state over the read models of `p` (`None` unless all
/// five run here). Exports need `exporter`; erasures need `privacy`.
pub fn api_state(
    p: &Projections,
    keys: Arc<traceledger_api::api_keys::KeyStore>,
    exporter: Option<traceledger_api::Exporter>,
    privacy: Option<traceledger_api::privacy_ops::PrivacyOps>,
    providers: Arc<traceledger_report::providers::Register>,
    data: &Path,
    session_timeout_seconds: u64,
) -> anyhow::Result<Option<Arc<traceledger_api::ApiState>>> {
    let store = |n: &str| p.store(n);
    let (Some(ledger), Some(sessions), Some(pii), Some(anomaly), Some(availability)) =
        (store("ledger"), store("sessions"), store("pii"), store("anomaly"), store("availability"))
    else {
        return Ok(None);
    };
    Ok(Some(Arc::new(traceledger_api::ApiState {
        keys,
        ledger,
        sessions,
        pii,
        anomaly,
        availability,
        policy: p.policy().clone(),
        alerts: p.alerts().cloned(),
        exporter,
        env: "live".into(),
        session_timeout_micros: (session_timeout_seconds as i64).saturating_mul(1_000_000),
        providers,
        privacy,
        reports: Some(traceledger_api::archive::ReportArchive::open(&data.join("reports"))?),
        streams: p
            .published_to()
            .map(|(log, topics)| Arc::new(LogStreams { log, topics }) as Arc<dyn traceledger_api::StreamSource>),
    })))
}

/// The projection streams as the log holds them, read for one tenant.
struct LogStreams {
    log: Arc<dyn traceledger_log::Log>,
    topics: traceledger_log::Topics,
}

/// Records a stream read looks at, at most, for one page (a partition holds
/// other tenants' messages too): the page ends early, with its cursor.
const STREAM_SCAN: u64 = 20_000;

impl traceledger_api::StreamSource for LogStreams {
    fn read(
        &self,
        stream: traceledger_wire::projections::Stream,
        tenant: &str,
        from: u64,
        limit: usize,
    ) -> Result<traceledger_api::StreamRead, String> {
        let topic = self.topics.named(stream.topic());
        let n = self.log.partition_count(&topic).map_err(|e| e.to_string())?;
        let p = traceledger_log::partition_for(tenant.as_bytes(), n);
        // A broker's read may come back empty before its first fetch: the
        // end offset says when there is nothing more.
        let end = self.log.end_offset(&topic, p).map_err(|e| e.to_string())?;
        let (mut at, mut out) = (from, Vec::new());
        while at < end && at < from.saturating_add(STREAM_SCAN) && out.len() < limit {
            let got =
                self.log.read(&topic, p, at, 1000, std::time::Duration::from_millis(500)).map_err(|e| e.to_string())?;
            if got.is_empty() {
                break;
            }
            for f in got {
                if out.len() == limit {
                    break;
                }
                at = f.offset + 1;
                let v = f.record.value;
                if f.record.key.as_deref() == Some(tenant.as_bytes()) && v.len() >= 5 && v[0] == 0 {
                    out.push((f.offset, v[5..].to_vec()));
                }
            }
        }
        Ok((out, at))
    }
}

/// The keys whose records projections admit: the node's own public key
/// (DATA/keys/ledger.pub, when present) and `extra`.
pub fn trusted_keys(data: &Path, extra: &[String]) -> anyhow::Result<Keyring> {
    let mut keys = Vec::new();
    let own = data.join("keys").join("ledger.pub");
    if own.exists() {
        let s = std::fs::read_to_string(&own).with_context(|| own.display().to_string())?;
        keys.push(VerifierKey::parse(s.trim()).with_context(|| own.display().to_string())?);
    }
    for k in extra {
        keys.push(VerifierKey::parse(k).with_context(|| format!("--trusted-key {k}"))?);
    }
    anyhow::ensure!(
        !keys.is_empty(),
        "no verifier key: {} is missing; pass the sequencer's key with --trusted-key",
        own.display()
    );
    Ok(Keyring::new(keys))
}
