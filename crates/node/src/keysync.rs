//! API keys shared by every instance of a deployment: key creation,
//! rotation and revocation are events on one topic (`api.keys`, one
//! partition, so one order; keyed by key id, so a compacted topic keeps
//! each key's latest event), and every instance — sequencers, read
//! services, `up` — applies them to its own key store. An event carries
//! the SHA-256 of the secret and the key's metadata, never the secret:
//! stores stay hashed at rest and lookups stay constant-time, as before.
//!
//! A change is appended (durably) before it is made locally, and refused
//! when the log cannot take it; the other instances apply it within one
//! poll of their sync thread ([`POLL`]). At start an instance applies the
//! whole journal before it answers (and before it decides whether to make
//! a bootstrap key), then journals the keys it holds that were made while
//! no journal was attached (`traceledger keys create` on a stopped node,
//! or keys from before journals existed).

use anyhow::Context;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use traceledger_api::api_keys::{KeyEvent, KeyStore};
use traceledger_log::{Log, Record, Topics};

/// How long a sync thread waits for new events per read: the bound on how
/// late a key made elsewhere works here, beside the log's own latency.
pub const POLL: Duration = Duration::from_millis(100);

/// The key journal's topic under `topics`' prefix.
pub fn topic(topics: &Topics) -> String {
    topics.named("api.keys")
}

/// A running key sync; stops when dropped.
pub struct KeySync {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for KeySync {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Applies what the journal holds past the store's position; the number
/// of events applied.
fn catch_up(log: &dyn Log, topic: &str, keys: &KeyStore, wait: Duration) -> anyhow::Result<usize> {
    let mut applied = 0;
    loop {
        let from = keys.journal_position()?;
        let got = log.read(topic, 0, from, 1000, wait)?;
        let Some(last) = got.last() else { return Ok(applied) };
        let next = last.offset + 1;
        let values: Vec<Vec<u8>> = got.into_iter().map(|f| f.record.value).collect();
        applied += keys.apply_journal(&values, next)?;
        if values.len() < 1000 {
            return Ok(applied);
        }
    }
}

/// Applies the journal up to its end as of now (a broker's read may come
/// back empty before its first fetch: the end offset says when it is done).
fn catch_up_to_end(log: &dyn Log, topic: &str, keys: &KeyStore) -> anyhow::Result<()> {
    let end = log.end_offset(topic, 0)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while keys.journal_position()? < end {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "read {} of {end} events in 60 s",
            keys.journal_position()?
        );
        catch_up(log, topic, keys, Duration::from_secs(1))?;
    }
    Ok(())
}

/// Attaches the journal on `log` to `keys`, applies it to the end, journals
/// the keys made without one, and keeps applying it in a thread.
pub fn start(log: Arc<dyn Log>, topics: &Topics, keys: Arc<KeyStore>) -> anyhow::Result<KeySync> {
    let topic = topic(topics);
    log.ensure_topic(&topic, 1).with_context(|| format!("key journal {topic}"))?;
    catch_up_to_end(log.as_ref(), &topic, &keys).with_context(|| format!("key journal {topic}"))?;
    let (journal_log, journal_topic) = (log.clone(), topic.clone());
    let pending = keys.attach_journal(Box::new(move |e: &KeyEvent| {
        let value = serde_json::to_vec(e).map_err(|e| e.to_string())?;
        let record = Record::keyed(e.info.id.as_bytes(), value);
        journal_log.append(&journal_topic, 0, &[record]).map(drop).map_err(|e| e.to_string())
    }))?;
    if !pending.is_empty() {
        let records: Vec<Record> = pending
            .iter()
            .map(|e| Ok(Record::keyed(e.info.id.as_bytes(), serde_json::to_vec(e)?)))
            .collect::<anyhow::Result<_>>()?;
        log.append(&topic, 0, &records).with_context(|| format!("key journal {topic}"))?;
        keys.journaled(&pending)?;
        tracing::info!(keys = pending.len(), topic, "journaled keys made while no journal was attached");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("key-sync".into())
        .spawn(move || {
            let mut backoff = Duration::from_millis(50);
            while !flag.load(Ordering::Relaxed) {
                match catch_up(log.as_ref(), &topic, &keys, POLL) {
                    Ok(_) => backoff = Duration::from_millis(50),
                    Err(e) => {
                        tracing::warn!(error = %e, topic, "key journal: retrying");
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
        })
        .context("starting the key sync thread")?;
    Ok(KeySync { stop, thread: Some(thread) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use traceledger_api::api_keys::{KeySpec, Role};
    use traceledger_log::embedded::EmbeddedLog;

    fn eventually(what: &str, ok: impl Fn() -> bool) {
        let start = Instant::now();
        while !ok() {
            assert!(start.elapsed() < Duration::from_secs(30), "{what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_key_made_revoked_or_rotated_on_one_instance_holds_on_the_others() {
        let dir = tempfile::tempdir().expect("tmp");
        let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(&dir.path().join("log")).expect("log"));
        let topics = Topics::default();
        let open = |name: &str| Arc::new(KeyStore::open(&dir.path().join(name)).expect("store"));
        let (a, b) = (open("a"), open("b"));
        // A key made on a before any journal (offline, `traceledger keys`).
        let (offline, _) = a.create("acme", &KeySpec::new(Role::Viewer, "live"), 1).expect("create");
        let _sa = start(log.clone(), &topics, a.clone()).expect("sync a");
        let _sb = start(log.clone(), &topics, b.clone()).expect("sync b");
        assert!(b.authenticate(&offline, 2).expect("auth").is_some(), "journaled at a's start, applied at b's");

        let (secret, info) = a.create("acme", &KeySpec::new(Role::Admin, "live"), 10).expect("create");
        eventually("a key made on a works on b", || b.authenticate(&secret, 11).ok().flatten().is_some());
        assert_eq!(b.get("acme", &info.id).expect("get"), info);

        b.revoke("acme", &info.id, 20, Role::Owner).expect("revoke");
        eventually("a revocation on b holds on a", || a.authenticate(&secret, 21).ok().flatten().is_none());
        // a's own, older event (not revoked) applied again changes nothing.
        let stale = KeyEvent {
            hash: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(secret.as_bytes())),
            info: info.clone(),
        };
        let at = a.journal_position().expect("position");
        a.apply_journal(&[serde_json::to_vec(&stale).expect("json")], at).expect("apply");
        assert!(a.authenticate(&secret, 21).expect("auth").is_none(), "a revocation is never undone");

        let (_, viewer) = a.create("acme", &KeySpec::new(Role::Viewer, "live"), 30).expect("create");
        let (new_secret, new) = a.rotate("acme", &viewer.id, "live", 40, 5, Role::Owner).expect("rotate");
        eventually("a rotation on a holds on b", || {
            b.authenticate(&new_secret, 41)
                .ok()
                .flatten()
                .is_some_and(|k| k.rotated_from.as_deref() == Some(&viewer.id))
                && b.get("acme", &viewer.id).is_ok_and(|k| k.revoked_at == Some(45))
        });
        assert_eq!(a.list("acme").expect("list"), b.list("acme").expect("list"), "one key set");
        assert!(b.list("acme").expect("list").iter().any(|k| k.id == new.id));

        // A third instance started later catches up before it answers.
        let c = open("c");
        let _sc = start(log.clone(), &topics, c.clone()).expect("sync c");
        assert_eq!(c.list("acme").expect("list"), a.list("acme").expect("list"));
        // No event holds a secret.
        let all = log.read(&topic(&topics), 0, 0, 1000, Duration::ZERO).expect("read");
        for f in &all {
            for s in [&offline, &secret, &new_secret] {
                assert!(!String::from_utf8_lossy(&f.record.value).contains(s.as_str()), "a secret in the journal");
            }
        }
    }

    #[test]
    fn a_journal_that_refuses_leaves_no_change() {
        let dir = tempfile::tempdir().expect("tmp");
        let keys = KeyStore::open(&dir.path().join("k")).expect("store");
        let _ = keys.attach_journal(Box::new(|_| Err("broker down".into()))).expect("attach");
        let e = keys.create("acme", &KeySpec::new(Role::Viewer, "live"), 1).expect_err("refused");
        assert!(e.to_string().contains("broker down"), "{e}");
        assert!(keys.list("acme").expect("list").is_empty());
    }
}
