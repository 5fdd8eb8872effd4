//! Schema ids from a schema registry, at the broker boundary. Values in the
//! Confluent wire format carry a 4-byte schema id after a zero magic byte.
//! This process writes and reads the bundled ids (`schemas/ids.json`); a
//! registry (Redpanda's, Confluent's) may have given the same schemas other
//! ids. [`SchemaIds`] wraps a log and, per topic, swaps the bundled id with
//! the registry's on every value appended and every value read, so the
//! broker and every Confluent client see the registry's ids while stores,
//! codecs and the sequencer keep the bundled ones.
//!
//! A swap, not a one-way rewrite: a value that arrives carrying the bundled
//! id (which in the registry may be another schema) reads as the registry's
//! id and is refused by the decoder as an unknown schema, and a value passed
//! on unchanged (a dead letter) goes out with exactly the bytes it came in
//! with.

use crate::{Fetched, Log, PendingAppend, Record, Result};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Swaps bundled and registry schema ids per topic; see the module docs.
pub struct SchemaIds {
    inner: Arc<dyn Log>,
    /// topic → (bundled id, registry id), only where they differ.
    swaps: HashMap<String, (u32, u32)>,
}

/// Swaps `a` and `b` in the wire-format header of `value`; other values
/// (another id, not the wire format) are left as they are.
pub fn swap_id(value: &mut [u8], a: u32, b: u32) {
    if value.len() < 5 || value[0] != 0 {
        return;
    }
    let id = u32::from_be_bytes([value[1], value[2], value[3], value[4]]);
    let to = if id == a {
        b
    } else if id == b {
        a
    } else {
        return;
    };
    value[1..5].copy_from_slice(&to.to_be_bytes());
}

impl SchemaIds {
    /// `inner` with the ids of `topics` — (topic, bundled id, registry id) —
    /// swapped.
    pub fn new(inner: Arc<dyn Log>, topics: &[(String, u32, u32)]) -> Self {
        let swaps = topics.iter().filter(|(_, a, b)| a != b).map(|(t, a, b)| (t.clone(), (*a, *b))).collect();
        SchemaIds { inner, swaps }
    }

    fn swapped(&self, topic: &str, records: &[Record]) -> Option<Vec<Record>> {
        let &(a, b) = self.swaps.get(topic)?;
        Some(
            records
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    swap_id(&mut r.value, a, b);
                    r
                })
                .collect(),
        )
    }
}

impl Log for SchemaIds {
    fn ensure_topic(&self, topic: &str, partitions: u32) -> Result<u32> {
        self.inner.ensure_topic(topic, partitions)
    }

    fn partition_count(&self, topic: &str) -> Result<u32> {
        self.inner.partition_count(topic)
    }

    fn append(&self, topic: &str, partition: u32, records: &[Record]) -> Result<Vec<u64>> {
        match self.swapped(topic, records) {
            Some(rs) => self.inner.append(topic, partition, &rs),
            None => self.inner.append(topic, partition, records),
        }
    }

    fn start_append(&self, topic: &str, partition: u32, records: &[Record]) -> Result<PendingAppend<'_>> {
        match self.swapped(topic, records) {
            Some(rs) => self.inner.start_append(topic, partition, &rs),
            None => self.inner.start_append(topic, partition, records),
        }
    }

    fn read(&self, topic: &str, partition: u32, offset: u64, max: usize, wait: Duration) -> Result<Vec<Fetched>> {
        let mut out = self.inner.read(topic, partition, offset, max, wait)?;
        if let Some(&(a, b)) = self.swaps.get(topic) {
            for f in &mut out {
                swap_id(&mut f.record.value, a, b);
            }
        }
        Ok(out)
    }

    fn end_offset(&self, topic: &str, partition: u32) -> Result<u64> {
        self.inner.end_offset(topic, partition)
    }

    fn commit(&self, group: &str, topic: &str, partition: u32, next: u64) -> Result<()> {
        self.inner.commit(group, topic, partition, next)
    }

    fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<Option<u64>> {
        self.inner.committed(group, topic, partition)
    }

    fn rewrite(&self, topic: &str, partition: u32, records: &[(u64, Record)]) -> Result<()> {
        let Some(&(a, b)) = self.swaps.get(topic) else { return self.inner.rewrite(topic, partition, records) };
        let rs: Vec<(u64, Record)> = records
            .iter()
            .map(|(o, r)| {
                let mut r = r.clone();
                swap_id(&mut r.value, a, b);
                (*o, r)
            })
            .collect();
        self.inner.rewrite(topic, partition, &rs)
    }

    fn purge_rewritten(&self) -> Result<()> {
        self.inner.purge_rewritten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::EmbeddedLog;
    use proptest::prelude::*;

    fn framed(id: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0];
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn the_broker_sees_registry_ids_and_this_process_the_bundled_ones() {
        let dir = tempfile::tempdir().expect("tmp");
        let inner: Arc<dyn Log> = Arc::new(EmbeddedLog::open(dir.path()).expect("log"));
        for t in ["raw", "sealed", "other"] {
            inner.ensure_topic(t, 1).expect("topic");
        }
        let log = SchemaIds::new(inner.clone(), &[("raw".into(), 1, 101), ("sealed".into(), 2, 102)]);
        let recs = [framed(1, b"event"), framed(101, b"foreign"), framed(7, b"unknown"), b"not wire".to_vec()]
            .map(|v| Record::keyed(b"t", v));
        log.append("raw", 0, &recs).expect("append");
        log.append("sealed", 0, &[Record::keyed(b"t", framed(2, b"record"))]).expect("append");
        log.append("other", 0, &[Record::keyed(b"t", framed(1, b"as is"))]).expect("append");
        let on = |l: &dyn Log, t: &str| -> Vec<Vec<u8>> {
            l.read(t, 0, 0, 10, Duration::ZERO).expect("read").into_iter().map(|f| f.record.value).collect()
        };
        // What the broker holds.
        assert_eq!(
            on(inner.as_ref(), "raw"),
            [framed(101, b"event"), framed(1, b"foreign"), framed(7, b"unknown"), b"not wire".to_vec()]
        );
        assert_eq!(on(inner.as_ref(), "sealed"), [framed(102, b"record")]);
        assert_eq!(on(inner.as_ref(), "other"), [framed(1, b"as is")]);
        // What this process reads: exactly what it wrote.
        assert_eq!(on(&log, "raw"), recs.iter().map(|r| r.value.clone()).collect::<Vec<_>>());
        assert_eq!(on(&log, "sealed"), [framed(2, b"record")]);
        // Rewrites go out swapped too.
        log.rewrite("sealed", 0, &[(0, Record::keyed(b"t", framed(2, b"erased")))]).expect("rewrite");
        assert_eq!(on(inner.as_ref(), "sealed"), [framed(102, b"erased")]);
    }

    #[test]
    fn equal_ids_wrap_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let inner: Arc<dyn Log> = Arc::new(EmbeddedLog::open(dir.path()).expect("log"));
        assert!(SchemaIds::new(inner, &[("raw".into(), 1, 1)]).swaps.is_empty());
    }

    proptest! {
        #[test]
        fn a_swap_is_its_own_inverse(
            magic in 0u8..2,
            id in 0u32..4,
            payload in prop::collection::vec(any::<u8>(), 0..8),
            cut in 0usize..13,
            a in 0u32..4,
            b in 0u32..4,
        ) {
            let mut v = vec![magic];
            v.extend_from_slice(&id.to_be_bytes());
            v.extend_from_slice(&payload);
            v.truncate(cut);
            let mut w = v.clone();
            swap_id(&mut w, a, b);
            prop_assert_eq!(w.len(), v.len());
            swap_id(&mut w, a, b);
            prop_assert_eq!(w, v);
        }
    }
}
