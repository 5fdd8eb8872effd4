//! Step numbers across exports.
//!
//! An exporter sends a trace's spans in several requests (a batch span
//! processor exports spans as they end), and a conversation spans many
//! traces. [`crate::map::map_request`] numbers steps within one request;
//! the clock moves each session's numbers on past what earlier requests
//! used, and gives an event it has numbered before (a retried export) the
//! same step again, so a retry leaves no gap.
//!
//! The clock lives in memory, bounded. After a restart it starts each
//! session from what `seed` says the node already holds (the sessions read
//! model's highest step + 1), else from 0.

use std::collections::{HashMap, VecDeque};
use traceledger_core::TraceEvent;
use uuid::Uuid;

/// Per-session step counters and the steps of recent events.
pub struct StepClock {
    next: HashMap<(String, String), u32>,
    sessions: VecDeque<(String, String)>,
    seen: HashMap<Uuid, u32>,
    order: VecDeque<Uuid>,
    capacity: usize,
}

impl StepClock {
    /// A clock remembering at most `capacity` sessions and as many events.
    pub fn new(capacity: usize) -> Self {
        StepClock {
            next: HashMap::new(),
            sessions: VecDeque::new(),
            seen: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Numbers `events` (as [`crate::map::map_request`] ordered them): an
    /// event numbered before keeps its step; others take their session's
    /// next step. `seed(tenant, session)` is the first free step of a
    /// session the clock does not know.
    pub fn number(&mut self, events: &mut [TraceEvent], mut seed: impl FnMut(&str, &str) -> Option<u32>) {
        for ev in events.iter_mut() {
            if let Some(step) = self.seen.get(&ev.event_id) {
                ev.step_index = *step;
                continue;
            }
            let key = (ev.tenant_id.clone(), ev.session_id.clone());
            let next = match self.next.get_mut(&key) {
                Some(n) => n,
                None => {
                    let first = seed(&key.0, &key.1).unwrap_or(0);
                    if self.sessions.len() >= self.capacity {
                        if let Some(old) = self.sessions.pop_front() {
                            self.next.remove(&old);
                        }
                    }
                    self.sessions.push_back(key.clone());
                    self.next.entry(key).or_insert(first)
                }
            };
            ev.step_index = *next;
            *next = next.saturating_add(1);
            if self.order.len() >= self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.seen.remove(&old);
                }
            }
            self.order.push_back(ev.event_id);
            self.seen.insert(ev.event_id, ev.step_index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::{map_request, tests as m};

    fn export(trace: u8, spans: &[u8]) -> Vec<TraceEvent> {
        let spans = spans
            .iter()
            .map(|id| {
                m::span(
                    trace,
                    *id,
                    None,
                    u64::from(*id),
                    vec![m::s("gen_ai.operation.name", "chat"), m::s("gen_ai.conversation.id", "c")],
                )
            })
            .collect();
        map_request(&m::request(spans), "acme").events
    }

    #[test]
    fn later_exports_continue_and_retries_keep_their_steps() {
        let mut clock = StepClock::new(100);
        let mut first = export(1, &[1, 2]);
        clock.number(&mut first, |_, _| None);
        let mut second = export(2, &[3]);
        clock.number(&mut second, |_, _| None);
        let mut retry = export(1, &[1, 2]);
        clock.number(&mut retry, |_, _| None);
        assert_eq!(first.iter().map(|e| e.step_index).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(second[0].step_index, 2);
        assert_eq!(retry, first, "a retried export is the same events, steps included");
    }

    #[test]
    fn an_unknown_session_starts_from_its_seed() {
        let mut clock = StepClock::new(1);
        let mut evs = export(1, &[1]);
        clock.number(&mut evs, |t, s| ((t, s) == ("acme", "c")).then_some(17));
        assert_eq!(evs[0].step_index, 17);
        // Past capacity, the oldest session is forgotten and re-seeded.
        let mut other = export(2, &[2]);
        other[0].session_id = "d".into();
        clock.number(&mut other, |_, _| None);
        let mut again = export(3, &[3]);
        clock.number(&mut again, |_, _| Some(40));
        assert_eq!(again[0].step_index, 40);
    }
}
