//! The retention job: on a timer, the policy's `[[retention]] max_days`
//! rules turned into erasures (each run sealed in `_privacy.<tenant>`).

use std::time::Duration;
use traceledger_projection::supervisor::Projections;

/// The retention job's thread: a run every interval until stopped.
pub struct RetentionJob {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RetentionJob {
    /// Runs the retention job every `every_seconds` (0: never) on the
    /// ledger model of `projections`, erasing through `ops`.
    pub fn start(
        projections: &Projections,
        ops: traceledger_api::privacy_ops::PrivacyOps,
        every_seconds: u64,
    ) -> anyhow::Result<Self> {
        let (Some(ledger), true) = (projections.store("ledger"), every_seconds > 0) else {
            return Ok(RetentionJob { stop: None, thread: None });
        };
        let policy = projections.policy().clone();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let every = Duration::from_secs(every_seconds);
        let thread = std::thread::Builder::new().name("retention".into()).spawn(move || {
            // The first run comes one interval after the start, like every
            // later one: a restart loop does not run it more often.
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                let (done, failed) =
                    traceledger_api::privacy_ops::retention_job(&ledger, &policy.current(), &ops, crate::now().0);
                for e in &done {
                    tracing::info!(tenant = %e.tenant, erasing = e.seqs.len(), "retention run recorded");
                }
                for f in &failed {
                    tracing::error!(failure = %f, "retention run");
                }
            }
        })?;
        Ok(RetentionJob { stop: Some(tx), thread: Some(thread) })
    }

    /// Stops the job, waiting for a run in progress.
    pub fn stop(mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
