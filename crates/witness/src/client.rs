//! Submitting checkpoints to witnesses (the log's side of `add-checkpoint`).
//!
//! For each witness with a URL in the policy, the submitter remembers the
//! size it last had cosigned per origin (starting from 0, as the spec
//! allows, and learning the witness's size from a 409), sends the
//! consistency proof from that size, and keeps only the lines that verify
//! under the witness's key. Transport failures and 5xx are retried with
//! backoff a few times; a checkpoint a witness will not cosign is left as it
//! is and the next one tries again. Witnesses are asked in parallel.

use crate::{ADD_CHECKPOINT, SIZE_CONTENT_TYPE};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use traceledger_core::cosignature::{split_note, LineCheck};
use traceledger_core::tlog_policy::{Policy, PolicyWitness};
use traceledger_core::tlog_witness::{parse_conflict, AddCheckpoint};
use traceledger_core::Hash;

/// Attempts per witness per checkpoint (409s and transient failures).
const ATTEMPTS: u32 = 4;

/// What happened to one witness for one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It cosigned; the verified line.
    Cosigned(String),
    /// It did not, and why.
    Failed(String),
}

/// The log's client of its policy's witnesses.
pub struct Submitter {
    agent: ureq::Agent,
    witnesses: Vec<PolicyWitness>,
    /// (witness index, origin) → the size that witness last cosigned.
    known: Mutex<HashMap<(usize, String), u64>>,
}

impl std::fmt::Debug for Submitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Submitter({} witnesses)", self.witnesses.len())
    }
}

impl Submitter {
    /// The witnesses of `policy` that have a URL; an error when none has.
    pub fn new(policy: &Policy) -> Result<Self, String> {
        let witnesses: Vec<PolicyWitness> = policy.witnesses().iter().filter(|w| w.url.is_some()).cloned().collect();
        if witnesses.is_empty() {
            return Err("the witness policy gives no witness a URL to submit checkpoints to".into());
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .user_agent("traceledger-witness-client/1")
            .build()
            .into();
        Ok(Submitter { agent, witnesses, known: Mutex::new(HashMap::new()) })
    }

    /// The witnesses' policy names, in order.
    pub fn names(&self) -> Vec<String> {
        self.witnesses.iter().map(|w| w.name.clone()).collect()
    }

    /// Submits the checkpoint `note` (of `origin`, `size` leaves) to every
    /// witness at once; `prove(old)` is the consistency proof from `old`
    /// leaves to `size`. One outcome per witness, in policy order.
    pub fn submit(
        &self,
        origin: &str,
        size: u64,
        note: &str,
        prove: &(dyn Fn(u64) -> Option<Vec<Hash>> + Sync),
    ) -> Vec<Outcome> {
        std::thread::scope(|s| {
            let handles: Vec<_> =
                (0..self.witnesses.len()).map(|i| s.spawn(move || self.one(i, origin, size, note, prove))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Outcome::Failed("panicked".into()))).collect()
        })
    }

    fn known(&self, i: usize, origin: &str) -> u64 {
        self.known.lock().unwrap_or_else(|p| p.into_inner()).get(&(i, origin.to_string())).copied().unwrap_or(0)
    }

    fn learn(&self, i: usize, origin: &str, size: u64) {
        self.known.lock().unwrap_or_else(|p| p.into_inner()).insert((i, origin.to_string()), size);
    }

    fn one(&self, i: usize, origin: &str, size: u64, note: &str, prove: &dyn Fn(u64) -> Option<Vec<Hash>>) -> Outcome {
        let w = &self.witnesses[i];
        let url = format!("{}{ADD_CHECKPOINT}", w.url.as_deref().unwrap_or_default().trim_end_matches('/'));
        let Ok((body, _)) = split_note(note.as_bytes()) else { return Outcome::Failed("not a signed note".into()) };
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            let old = self.known(i, origin);
            if old > size {
                return Outcome::Failed(format!("{} has already cosigned size {old}, beyond {size}", w.name));
            }
            let proof = if old == 0 || old == size {
                Vec::new()
            } else {
                match prove(old) {
                    Some(p) => p,
                    None => return Outcome::Failed(format!("no consistency proof from {old} to {size}")),
                }
            };
            let req = AddCheckpoint { old, proof, checkpoint: note.as_bytes().to_vec() };
            let res = self.agent.post(&url).header("Content-Type", "text/plain").send(&req.encode()[..]);
            let mut res = match res {
                Ok(r) => r,
                Err(e) => {
                    last = format!("{}: {e}", w.name);
                    std::thread::sleep(Duration::from_millis(100 << attempt));
                    continue;
                }
            };
            let status = res.status().as_u16();
            let is_size = res
                .headers()
                .get("content-type")
                .is_some_and(|v| v.as_bytes().starts_with(SIZE_CONTENT_TYPE.as_bytes()));
            let text = res.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
            match status {
                200 => {
                    let line = text.lines().find(|l| w.key.check_line(body, l) != LineCheck::NotThisKey);
                    return match line.map(|l| (l, w.key.check_line(body, l))) {
                        Some((l, LineCheck::Valid(_))) => {
                            self.learn(i, origin, size);
                            Outcome::Cosigned(format!("{l}\n"))
                        }
                        Some((_, LineCheck::Invalid(why))) => Outcome::Failed(format!("{}: {why}", w.name)),
                        _ => Outcome::Failed(format!("{} answered no line of its key", w.name)),
                    };
                }
                409 if is_size => match parse_conflict(text.as_bytes()) {
                    Some(theirs) => {
                        last = format!("{} holds size {theirs}", w.name);
                        self.learn(i, origin, theirs);
                    }
                    None => return Outcome::Failed(format!("{}: 409 without a size", w.name)),
                },
                429 | 500..=599 => {
                    last = format!("{}: {status} {}", w.name, text.trim());
                    std::thread::sleep(Duration::from_millis(100 << attempt));
                }
                _ => return Outcome::Failed(format!("{}: {status} {}", w.name, text.trim())),
            }
        }
        Outcome::Failed(format!("gave up after {ATTEMPTS} attempts: {last}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{router, Witness};
    use traceledger_core::checkpoint::Checkpoint;
    use traceledger_core::cosignature::{add_lines, Cosigner};
    use traceledger_core::merkle::MemoryTree;
    use traceledger_core::signing::{SigningKey, VerifierKey};

    fn key(name: &str) -> SigningKey {
        SigningKey::generate(name, &mut rand::rngs::OsRng).expect("key")
    }

    async fn serve(w: Witness) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(l, router(std::sync::Arc::new(w))).await });
        format!("http://{addr}")
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn two_witnesses_on_loopback_cosign_a_growing_log_and_the_policy_accepts_it() {
        let log = key("log.example");
        let (d1, d2) = (tempfile::tempdir().expect("d"), tempfile::tempdir().expect("d"));
        let c1 = Cosigner::new("w1.example", &key("a")).expect("c");
        let c2 = Cosigner::new("w2.example", &key("b")).expect("c");
        let logs = vec![VerifierKey::parse(&log.verifier_key_string()).expect("v")];
        let u1 = serve(Witness::open(d1.path(), c1.clone(), logs.clone()).expect("w1")).await;
        let u2 = serve(Witness::open(d2.path(), c2.clone(), logs).expect("w2")).await;
        let policy = Policy::parse(&format!(
            "log {}\nwitness A {} {u1}\nwitness B {} {u2}/\ngroup G all A B\nquorum G\n",
            log.verifier_key_string(),
            c1.verifier_key_string(),
            c2.verifier_key_string()
        ))
        .expect("policy");
        let sub = std::sync::Arc::new(Submitter::new(&policy).expect("submitter"));
        let mut tree = MemoryTree::new();
        for step in 1..=3u64 {
            for i in 0..(step * 5) {
                tree.push(traceledger_core::hash::sha256(&[step as u8, i as u8]));
            }
            let size = tree.size();
            let note =
                Checkpoint { origin: "log.example/acme".into(), size, root: tree.root() }.sign(&log).expect("sign");
            let (s, t, n) = (sub.clone(), tree.clone(), note.clone());
            let out = tokio::task::spawn_blocking(move || {
                s.submit("log.example/acme", size, &n, &move |old: u64| t.consistency_proof(old, size).ok())
            })
            .await
            .expect("join");
            let lines: Vec<String> = out
                .iter()
                .map(|o| match o {
                    Outcome::Cosigned(l) => l.clone(),
                    Outcome::Failed(why) => panic!("step {step}: {why}"),
                })
                .collect();
            let cosigned = add_lines(note.as_bytes(), &lines).expect("add");
            assert_eq!(policy.check(cosigned.as_bytes()).expect("quorum").by.len(), 2);
            assert!(policy.check(note.as_bytes()).is_err(), "the log's note alone lacks the quorum");
        }
        // A restarted log (a fresh submitter, knowing nothing) learns each
        // witness's size from its 409 and is cosigned again.
        let fresh = Submitter::new(&policy).expect("fresh");
        let size = tree.size();
        let note = Checkpoint { origin: "log.example/acme".into(), size, root: tree.root() }.sign(&log).expect("sign");
        let again = tokio::task::spawn_blocking(move || {
            fresh.submit("log.example/acme", size, &note, &move |old: u64| tree.consistency_proof(old, size).ok())
        })
        .await
        .expect("join");
        assert!(again.iter().all(|o| matches!(o, Outcome::Cosigned(_))), "{again:?}");
    }
}
