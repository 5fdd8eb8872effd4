//! The Rust producer for agents.
//!
//! [`Producer::record`] validates an event and puts it on a bounded
//! in-memory queue; a background thread sends batches to `traces.raw`
//! (Confluent wire format, key = tenant id) through any [`Log`] — a
//! Kafka-API broker or the embedded log. The agent is never blocked beyond
//! its chosen [`Overflow`] policy and never sees a panic: while the broker
//! is down, events wait in the queue and the sender retries with backoff;
//! they are delivered when it returns. Retried sends reuse the event ids, so
//! the sequencer seals each event once even if a send is repeated.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # fn demo(log: Arc<dyn traceledger_log::Log>, ev: traceledger_core::TraceEvent) {
//! use traceledger_sdk::{Producer, ProducerConfig};
//! let producer = Producer::new(log, ProducerConfig::default());
//! producer.record(ev).ok(); // returns at once
//! producer.close(std::time::Duration::from_secs(5)).ok(); // flushes
//! # }
//! ```

pub mod subject;
pub use subject::subject_id;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use traceledger_core::TraceEvent;
use traceledger_log::{append_keyed, Log, Record};
use traceledger_wire as wire;

/// What `record` does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Wait up to this long for room, then refuse the new event with
    /// [`RecordError::QueueFull`]. `Duration::ZERO` (the default) never
    /// blocks: the agent learns at once and nothing is dropped silently.
    Block(Duration),
    /// Make room by dropping the oldest queued event, counted in
    /// [`Stats::dropped`].
    DropOldest,
}

/// Producer settings.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// Raw topic.
    pub topic: String,
    /// Events the queue holds at most.
    pub capacity: usize,
    /// Events per send at most.
    pub batch_size: usize,
    /// Overflow policy.
    pub overflow: Overflow,
    /// Longest pause between retries while the log is unavailable.
    pub max_backoff: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            topic: "traces.raw".into(),
            capacity: 100_000,
            batch_size: 1000,
            overflow: Overflow::Block(Duration::ZERO),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// Why `record` refused an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The event is invalid (it would be dead-lettered); names the field.
    #[error(transparent)]
    Invalid(#[from] InvalidEvent),
    /// The queue stayed full for the configured wait.
    #[error("queue full ({0} events): the log is unreachable or slower than the agent")]
    QueueFull(usize),
    /// The producer was closed.
    #[error("producer closed")]
    Closed,
}

/// An invalid event, with the core's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEvent(pub String);

/// `flush`/`close` did not finish in time; events are still queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pending} events not yet delivered after the timeout")]
pub struct FlushTimeout {
    /// Events queued or in flight.
    pub pending: usize,
}

/// Counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Events accepted by `record`.
    pub recorded: u64,
    /// Events the log acknowledged (durable).
    pub delivered: u64,
    /// Events dropped by [`Overflow::DropOldest`].
    pub dropped: u64,
    /// Sends that failed and were retried.
    pub retries: u64,
}

struct Queue {
    events: VecDeque<TraceEvent>,
    /// Taken by the sender, not yet acknowledged.
    in_flight: usize,
}

struct Shared {
    cfg: ProducerConfig,
    queue: Mutex<Queue>,
    /// Signalled when events arrive, room frees up, a send completes, or on close.
    changed: Condvar,
    closed: AtomicBool,
    recorded: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
    retries: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A non-blocking producer of trace events; see the crate docs.
pub struct Producer {
    shared: Arc<Shared>,
    sender: Option<std::thread::JoinHandle<()>>,
}

impl Producer {
    /// Starts a producer sending to `log` in the background.
    pub fn new(log: Arc<dyn Log>, cfg: ProducerConfig) -> Producer {
        let shared = Arc::new(Shared {
            cfg,
            queue: Mutex::new(Queue { events: VecDeque::new(), in_flight: 0 }),
            changed: Condvar::new(),
            closed: AtomicBool::new(false),
            recorded: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        });
        let s = shared.clone();
        let sender =
            std::thread::Builder::new().name("traceledger-sdk".into()).spawn(move || send_loop(&s, log.as_ref()));
        Producer { shared, sender: sender.ok() }
    }

    /// Queues an event for sending. Returns at once, except under
    /// [`Overflow::Block`] with a non-zero wait when the queue is full.
    pub fn record(&self, event: TraceEvent) -> Result<(), RecordError> {
        if self.shared.closed.load(Ordering::Relaxed) {
            return Err(RecordError::Closed);
        }
        event.validate().map_err(|e| InvalidEvent(e.to_string()))?;
        let cap = self.shared.cfg.capacity.max(1);
        let mut q = self.shared.lock();
        if q.events.len() >= cap {
            match self.shared.cfg.overflow {
                Overflow::DropOldest => {
                    q.events.pop_front();
                    self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Overflow::Block(wait) => {
                    let deadline = Instant::now() + wait;
                    while q.events.len() >= cap {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Err(RecordError::QueueFull(cap));
                        }
                        q = self.shared.changed.wait_timeout(q, left).unwrap_or_else(|p| p.into_inner()).0;
                    }
                }
            }
        }
        q.events.push_back(event);
        self.shared.recorded.fetch_add(1, Ordering::Relaxed);
        drop(q);
        self.shared.changed.notify_all();
        Ok(())
    }

    /// Waits until every recorded event is delivered, up to `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<(), FlushTimeout> {
        let deadline = Instant::now() + timeout;
        let mut q = self.shared.lock();
        loop {
            let pending = q.events.len() + q.in_flight;
            if pending == 0 {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(FlushTimeout { pending });
            }
            q = self.shared.changed.wait_timeout(q, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Flushes (up to `timeout`) and stops the sender. Events still queued
    /// after the timeout are reported, not silently lost.
    pub fn close(mut self, timeout: Duration) -> Result<(), FlushTimeout> {
        let r = self.flush(timeout);
        self.stop();
        r
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            recorded: g(&self.shared.recorded),
            delivered: g(&self.shared.delivered),
            dropped: g(&self.shared.dropped),
            retries: g(&self.shared.retries),
        }
    }

    fn stop(&mut self) {
        self.shared.closed.store(true, Ordering::Relaxed);
        self.shared.changed.notify_all();
        if let Some(t) = self.sender.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        // Dropped without `close`: give queued events a short chance.
        if !self.shared.closed.load(Ordering::Relaxed) {
            let _ = self.flush(Duration::from_secs(1));
        }
        self.stop();
    }
}

fn send_loop(s: &Shared, log: &dyn Log) {
    let mut backoff = Duration::from_millis(10);
    loop {
        let batch: Vec<TraceEvent> = {
            let mut q = s.lock();
            while q.events.is_empty() && !s.closed.load(Ordering::Relaxed) {
                q = s.changed.wait(q).unwrap_or_else(|p| p.into_inner());
            }
            if q.events.is_empty() {
                return;
            }
            let n = q.events.len().min(s.cfg.batch_size.max(1));
            let batch: Vec<TraceEvent> = q.events.drain(..n).collect();
            q.in_flight = batch.len();
            batch
        };
        let recs: Vec<Record> =
            batch.iter().map(|e| Record::keyed(e.tenant_id.as_bytes(), wire::encode_event(e))).collect();
        loop {
            match append_keyed(log, &s.cfg.topic, &recs) {
                Ok(_) => {
                    s.delivered.fetch_add(recs.len() as u64, Ordering::Relaxed);
                    backoff = Duration::from_millis(10);
                    break;
                }
                Err(e) => {
                    s.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, events = recs.len(), "send failed; retrying");
                    if s.closed.load(Ordering::Relaxed) {
                        // Closing after the flush timeout: put the batch back
                        // so the count of undelivered events stays honest.
                        let mut q = s.lock();
                        for ev in batch.into_iter().rev() {
                            q.events.push_front(ev);
                        }
                        q.in_flight = 0;
                        return;
                    }
                    // Backoff pause between retries of an unavailable log.
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(s.cfg.max_backoff);
                }
            }
        }
        s.lock().in_flight = 0;
        s.changed.notify_all();
    }
}
