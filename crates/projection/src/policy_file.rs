//! The policy file a node runs with, reloaded when it changes.
//!
//! Reloading polls the file's length, mtime and digest once a second rather
//! than using inotify (`notify`): editors replace files by rename, configs
//! are mounted from ConfigMaps through symlink swaps, and a poll of one
//! small file sees all of them the same way. A file that does not validate
//! is refused with its line and key; the last good policy stays in force
//! and the error is kept for the health and policy routes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};
use traceledger_policy::{Policy, PolicyError};

/// A policy and where it came from.
#[derive(Debug)]
pub struct PolicyFile {
    path: Option<PathBuf>,
    current: RwLock<Arc<Policy>>,
    stamp: Mutex<Option<(u64, SystemTime)>>,
    last_error: Mutex<Option<String>>,
}

/// Loads `path` and checks what the file cannot say about itself: that
/// the environment holds every alert sink's secret.
pub fn load(path: &Path) -> Result<Policy, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    check(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses policy text as this node would load it: the policy's own rules,
/// and every alert secret's environment variable set here.
pub fn check(text: &str) -> Result<Policy, PolicyError> {
    let p = Policy::parse(text)?;
    for (i, a) in p.alerts.iter().enumerate() {
        if std::env::var_os(&a.secret_env).is_none_or(|v| v.is_empty()) {
            return Err(PolicyError {
                line: None,
                column: None,
                path: format!("alert[{i}].secret_env"),
                message: format!("environment variable {} is not set", a.secret_env),
            });
        }
    }
    Ok(p)
}

impl PolicyFile {
    /// The built-in default policy, with no file.
    pub fn builtin() -> Arc<Self> {
        Self::fixed(Policy::default())
    }

    /// A policy given in code, with no file (embedding, tests).
    pub fn fixed(policy: Policy) -> Arc<Self> {
        Arc::new(PolicyFile {
            path: None,
            current: RwLock::new(Arc::new(policy)),
            stamp: Mutex::new(None),
            last_error: Mutex::new(None),
        })
    }

    /// Loads `path`; a file that does not load is an error here (at start a
    /// node refuses to run with a broken policy).
    pub fn open(path: &Path) -> Result<Arc<Self>, String> {
        let stamp = stamp_of(path);
        let p = load(path)?;
        Ok(Arc::new(PolicyFile {
            path: Some(path.to_path_buf()),
            current: RwLock::new(Arc::new(p)),
            stamp: Mutex::new(stamp),
            last_error: Mutex::new(None),
        }))
    }

    /// The policy in force.
    pub fn current(&self) -> Arc<Policy> {
        self.current.read().map(|p| p.clone()).unwrap_or_else(|e| e.into_inner().clone())
    }

    /// The file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Why the last reload was refused, if it was.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Reloads when the file changed; `Ok(true)` when a new policy is in
    /// force, `Err` (kept for [`last_error`](Self::last_error)) when the
    /// changed file was refused.
    pub fn reload_if_changed(&self) -> Result<bool, String> {
        let Some(path) = &self.path else { return Ok(false) };
        let now = stamp_of(path);
        {
            let Ok(mut s) = self.stamp.lock() else { return Ok(false) };
            if *s == now {
                return Ok(false);
            }
            *s = now;
        }
        match load(path) {
            Ok(p) => {
                let changed = p.digest != self.current().digest;
                if changed {
                    tracing::info!(policy = %path.display(), version = p.version(), "policy reloaded");
                    if let Ok(mut c) = self.current.write() {
                        *c = Arc::new(p);
                    }
                }
                if let Ok(mut e) = self.last_error.lock() {
                    *e = None;
                }
                Ok(changed)
            }
            Err(e) => {
                tracing::error!(error = %e, "policy change refused; the previous policy stays in force");
                if let Ok(mut le) = self.last_error.lock() {
                    *le = Some(e.clone());
                }
                Err(e)
            }
        }
    }

    /// Polls the file every `every` until `stop` is set.
    pub fn watch(self: &Arc<Self>, stop: Arc<AtomicBool>, every: Duration) -> Option<std::thread::JoinHandle<()>> {
        self.path.as_ref()?;
        let me = self.clone();
        std::thread::Builder::new()
            .name("policy-watch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::park_timeout(every);
                    let _ = me.reload_if_changed();
                }
            })
            .ok()
    }
}

fn stamp_of(path: &Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}
