//! Signed checkpoints of the accepted chains: due by count or by time,
//! published before they are recorded.

use super::*;

impl Sequencer {
    /// Emits the checkpoints that are due.
    pub(crate) fn tick(&self, part: &mut Part) -> Result<()> {
        let now = Instant::now();
        let timed = now.duration_since(part.last_tick) >= self.cfg.checkpoint_interval;
        let due: Vec<String> = part
            .dirty
            .iter()
            .filter(|t| {
                part.tenants
                    .get(*t)
                    .is_some_and(|st| timed || st.accepted.next_seq - st.checkpoint_size >= self.cfg.checkpoint_every)
            })
            .cloned()
            .collect();
        if timed {
            part.last_tick = now;
        }
        self.checkpoint(part, &due)
    }

    pub(crate) fn checkpoint_all(&self, part: &mut Part) -> Result<()> {
        let all: Vec<String> = part.dirty.iter().cloned().collect();
        self.checkpoint(part, &all)
    }

    /// Signs and publishes a checkpoint of the accepted tree of each tenant,
    /// a bounded number of tenants per append and write: with 100k tenants
    /// due at once, one batch of them all took ~100 MiB of memtable and
    /// buffers (`traceledger bench --only memory`).
    pub(crate) fn checkpoint(&self, part: &mut Part, tenants: &[String]) -> Result<()> {
        for chunk in tenants.chunks(CHECKPOINT_CHUNK) {
            self.checkpoint_some(part, chunk)?;
        }
        Ok(())
    }

    pub(crate) fn checkpoint_some(&self, part: &mut Part, tenants: &[String]) -> Result<()> {
        let mut notes = Vec::new();
        let mut records = Vec::new();
        let mut published = Vec::new();
        let at = Timestamp::now().0;
        for t in tenants {
            let Some(st) = part.tenants.get(t) else { continue };
            let size = st.accepted.next_seq;
            if size <= st.checkpoint_size {
                continue;
            }
            let root = merkle::root_of(size, &self.store.nodes(t, None))?;
            let origin = origin(&self.cfg.log_name, t);
            let note = Checkpoint { origin: origin.clone(), size, root }.sign(self.sealer.key())?;
            let msg = CheckpointMessage {
                tenant_id: t.clone(),
                origin,
                size,
                root,
                published_at: Timestamp(at),
                note: note.clone(),
            };
            records.push(Record::keyed(t.as_bytes(), wire::encode_checkpoint(&msg)));
            notes.push((t.clone(), size, note));
            if self.witness_queue.is_some() {
                published.push(msg);
            }
        }
        if !records.is_empty() {
            self.log.append(&self.cfg.topics.checkpoints, part.p, &records)?;
        }
        let mut b = self.store.batch();
        for (t, size, note) in &notes {
            b.checkpoint(t, *size, note)?;
            if let Some(st) = part.tenants.get_mut(t) {
                st.checkpoint_size = *size;
                st.checkpoint_at = at;
                b.tenant(part.p, t, st)?;
            }
            part.dirty.remove(t);
        }
        b.commit(true)?;
        if let Some(q) = &self.witness_queue {
            for msg in published {
                // The worker ends only with the sequencer: a send cannot fail
                // while `self` lives, and a lost job only delays cosignatures.
                let _ = q.send(witnessing::Job { partition: part.p, msg });
            }
        }
        Stats::add(&self.stats.checkpoints, notes.len() as u64);
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        self.stats.last_checkpoint_micros.store(now, Ordering::Relaxed);
        Ok(())
    }
}
