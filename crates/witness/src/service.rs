//! The witness service: `POST /add-checkpoint` (c2sp.org/tlog-witness).
//!
//! State is one small JSON file, `latest.json` (origin → size and root),
//! replaced atomically (written aside, synced, renamed, directory synced)
//! under one lock together with the check, as the spec requires: a slower
//! request for a smaller size can never roll the state back. A witness sees
//! few requests (one per checkpoint per log), so a file is enough, and it
//! keeps this crate free of a database. `cosigned.log` and `refused.log`
//! (JSON lines, synced) record what it signed and what it refused after
//! the log's signature verified: a refused fork is proof of misbehaviour.

use crate::{ADD_CHECKPOINT, SIZE_CONTENT_TYPE};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use traceledger_core::cosignature::Cosigner;
use traceledger_core::signing::{Keyring, VerifierKey};
use traceledger_core::tlog_witness::{judge, origin_of, AddCheckpoint, Latest, Refusal, MAX_BODY};
use traceledger_core::Hash;

/// Errors opening or persisting the witness's state.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file of the data directory.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// `latest.json` does not parse.
    #[error("{path}: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    size: u64,
    root: String,
}

/// A witness: its key, the logs it trusts, and its state.
pub struct Witness {
    cosigner: Cosigner,
    logs: Vec<VerifierKey>,
    dir: PathBuf,
    latest: Mutex<BTreeMap<String, Entry>>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Witness({:?}, {} logs, {})", self.cosigner, self.logs.len(), self.dir.display())
    }
}

/// What one `add-checkpoint` call came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200: the cosignature line.
    Cosigned(String),
    /// Not cosigned.
    Refused(Refusal),
}

impl Witness {
    /// Opens (or creates) the witness state in `dir`. `logs` are trusted for
    /// the origins their key name prefixes (`<name>` and `<name>/…`): a
    /// traceledger node's key signs one log per tenant.
    pub fn open(dir: &Path, cosigner: Cosigner, logs: Vec<VerifierKey>) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join("latest.json");
        let latest = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt { path: path.clone(), why: e.to_string() })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(Error::Io { path, source: e }),
        };
        Ok(Witness { cosigner, logs, dir: dir.to_path_buf(), latest: Mutex::new(latest) })
    }

    /// The witness's verifier key (type 0x04), for policies.
    pub fn verifier_key(&self) -> String {
        self.cosigner.verifier_key_string()
    }

    /// The latest cosigned size of `origin`.
    pub fn latest_size(&self, origin: &str) -> Option<u64> {
        self.latest.lock().unwrap_or_else(|p| p.into_inner()).get(origin).map(|e| e.size)
    }

    fn keys_for(&self, origin: &str) -> Option<Keyring> {
        let keys: Vec<VerifierKey> = self
            .logs
            .iter()
            .filter(|k| origin == k.name() || origin.strip_prefix(k.name()).is_some_and(|r| r.starts_with('/')))
            .cloned()
            .collect();
        (!keys.is_empty()).then(|| Keyring::new(keys))
    }

    /// Handles one request body at `now` (seconds since the epoch).
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Result<Answer, Error> {
        let req = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(why) => return Ok(Answer::Refused(Refusal::BadRequest(why))),
        };
        // One lock over check, persist and sign: no two requests interleave.
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        let origin = origin_of(&req.checkpoint).unwrap_or_default().to_string();
        let known = latest.get(&origin).and_then(|e| Some(Latest { size: e.size, root: Hash::from_hex(&e.root)? }));
        match judge(&req, |o| self.keys_for(o), known) {
            Ok(a) => {
                let line = match self.cosigner.cosign(&a.body, now.max(1)) {
                    Ok(l) => l,
                    Err(e) => return Ok(Answer::Refused(Refusal::BadRequest(e.to_string()))),
                };
                let mut next = latest.clone();
                next.insert(a.origin.clone(), Entry { size: a.latest.size, root: a.latest.root.to_hex() });
                self.persist(&next)?;
                *latest = next;
                self.append(
                    "cosigned.log",
                    &serde_json::json!({
                        "time": now, "origin": a.origin, "old": req.old, "size": a.latest.size,
                        "root": a.latest.root.to_hex(),
                    }),
                )?;
                tracing::info!(origin = %a.origin, old = req.old, size = a.latest.size, "cosigned");
                Ok(Answer::Cosigned(line))
            }
            Err(r) => {
                // After the log's signature verified (not 403/404, nor a
                // malformed body), a refusal is evidence worth keeping.
                if matches!(r, Refusal::Conflict(_) | Refusal::Unprocessable(_))
                    || matches!(&r, Refusal::BadRequest(_) if self.keys_for(&origin).is_some())
                {
                    self.append(
                        "refused.log",
                        &serde_json::json!({
                            "time": now, "origin": origin, "status": r.status(), "reason": r.reason(),
                            "old": req.old, "request": String::from_utf8_lossy(body),
                        }),
                    )?;
                }
                tracing::warn!(origin = %origin, status = r.status(), reason = %r.reason(), "refused a checkpoint");
                Ok(Answer::Refused(r))
            }
        }
    }

    fn persist(&self, state: &BTreeMap<String, Entry>) -> Result<(), Error> {
        let path = self.dir.join("latest.json");
        let tmp = self.dir.join("latest.json.tmp");
        let bytes = serde_json::to_vec_pretty(state).unwrap_or_default();
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        std::fs::File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io(&self.dir))
    }

    fn append(&self, file: &str, v: &serde_json::Value) -> Result<(), Error> {
        let path = self.dir.join(file);
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
        f.write_all(format!("{v}\n").as_bytes()).map_err(io(&path))?;
        f.sync_data().map_err(io(&path))
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs())
}

async fn add(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    let answer = tokio::task::spawn_blocking(move || w.add_checkpoint(&body, now())).await;
    let text = |status: StatusCode, body: String| (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body);
    match answer {
        Ok(Ok(Answer::Cosigned(line))) => text(StatusCode::OK, line).into_response(),
        Ok(Ok(Answer::Refused(Refusal::Conflict(size)))) => {
            (StatusCode::CONFLICT, [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)], format!("{size}\n")).into_response()
        }
        Ok(Ok(Answer::Refused(r))) => {
            let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::BAD_REQUEST);
            text(status, format!("{}\n", r.reason())).into_response()
        }
        Ok(Err(e)) => {
            tracing::error!("witness state: {e}");
            text(StatusCode::SERVICE_UNAVAILABLE, "the witness could not persist its state\n".into()).into_response()
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n".into()).into_response(),
    }
}

async fn info(State(w): State<Arc<Witness>>) -> Response {
    let origins = w.latest.lock().unwrap_or_else(|p| p.into_inner()).len();
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("tlog-witness\nkey {}\nlogs {}\norigins {origins}\n", w.verifier_key(), w.logs.len()),
    )
        .into_response()
}

/// The witness's HTTP routes: `POST /add-checkpoint` and `GET /` (its key).
pub fn router(w: Arc<Witness>) -> Router {
    Router::new()
        .route(ADD_CHECKPOINT, post(add))
        .route("/", get(info))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;
    use traceledger_core::checkpoint::Checkpoint;
    use traceledger_core::merkle::MemoryTree;
    use traceledger_core::signing::SigningKey;

    fn key(name: &str) -> SigningKey {
        SigningKey::generate(name, &mut rand::rngs::OsRng).expect("key")
    }

    fn tree(n: u64, salt: &[u8]) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push(traceledger_core::hash::sha256(&[salt, &i.to_be_bytes()].concat()));
        }
        t
    }

    fn request(log: &SigningKey, t: &MemoryTree, old: u64, size: u64) -> Vec<u8> {
        let root = t.root_at(size).expect("root");
        let note = Checkpoint { origin: format!("{}/acme", log.name()), size, root }.sign(log).expect("sign");
        let proof = if old == 0 || old == size { vec![] } else { t.consistency_proof(old, size).expect("proof") };
        AddCheckpoint { old, proof, checkpoint: note.into_bytes() }.encode()
    }

    fn witness(dir: &Path, log: &SigningKey) -> Witness {
        let cosigner = Cosigner::new("witness.example/w1", &key("w")).expect("cosigner");
        Witness::open(dir, cosigner, vec![VerifierKey::parse(&log.verifier_key_string()).expect("v")]).expect("open")
    }

    #[tokio::test]
    async fn cosigns_growth_refuses_forks_and_remembers_across_restarts() {
        let dir = tempfile::tempdir().expect("dir");
        let log = key("log.example");
        let w = Arc::new(witness(dir.path(), &log));
        let app = router(w.clone());
        let post = |body: Vec<u8>| Request::post(ADD_CHECKPOINT).body(Body::from(body)).expect("request");
        let honest = tree(20, b"h");
        let res = app.clone().oneshot(post(request(&log, &honest, 0, 10))).await.expect("call");
        assert_eq!(res.status(), StatusCode::OK);
        let res = app.clone().oneshot(post(request(&log, &honest, 0, 20))).await.expect("call");
        assert_eq!(res.status(), StatusCode::CONFLICT);
        assert_eq!(res.headers()[header::CONTENT_TYPE], SIZE_CONTENT_TYPE);
        let body = axum::body::to_bytes(res.into_body(), 100).await.expect("body");
        assert_eq!(&body[..], b"10\n");
        // A fork of the same origin under the same key.
        let fork = tree(20, b"f");
        let res = app.clone().oneshot(post(request(&log, &fork, 10, 20))).await.expect("call");
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let refused = std::fs::read_to_string(dir.path().join("refused.log")).expect("refused.log");
        assert!(refused.contains("\"status\":422"), "{refused}");
        assert_eq!(w.latest_size("log.example/acme"), Some(10), "a refused fork changes nothing");
        drop(app);
        drop(w);
        // Restarted, the witness still holds size 10.
        let w = witness(dir.path(), &log);
        assert_eq!(w.latest_size("log.example/acme"), Some(10));
        let Answer::Cosigned(line) = w.add_checkpoint(&request(&log, &honest, 10, 20), 7).expect("call") else {
            panic!("growth not cosigned")
        };
        assert!(line.starts_with("\u{2014} witness.example/w1 "), "{line}");
        let cosigned = std::fs::read_to_string(dir.path().join("cosigned.log")).expect("cosigned.log");
        assert_eq!(cosigned.lines().count(), 2);
    }

    #[tokio::test]
    async fn unknown_origins_unsigned_checkpoints_and_junk_get_their_statuses() {
        let dir = tempfile::tempdir().expect("dir");
        let log = key("log.example");
        let w = witness(dir.path(), &log);
        let t = tree(3, b"x");
        let stranger = key("other.example");
        let unknown = request(&stranger, &t, 0, 3);
        assert!(matches!(w.add_checkpoint(&unknown, 1).expect("call"), Answer::Refused(r) if r.status() == 404));
        let impostor = key("log.example");
        let forged = request(&impostor, &t, 0, 3);
        assert!(matches!(w.add_checkpoint(&forged, 1).expect("call"), Answer::Refused(r) if r.status() == 403));
        assert!(matches!(w.add_checkpoint(b"junk", 1).expect("call"), Answer::Refused(r) if r.status() == 400));
        assert!(!dir.path().join("refused.log").exists(), "nothing unauthenticated is kept");
    }
}
