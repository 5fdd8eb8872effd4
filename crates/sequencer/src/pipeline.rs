//! A partition's pipeline (see the crate's documentation): the reader
//! decodes raw batches, the sealer deduplicates, chains and signs them, the
//! writer commits each batch in one synced write and publishes it to
//! `ledger.sealed`.

use super::*;

impl Sequencer {
    /// Runs partition `part` as three threads until `done(raw_next)` says so
    /// (asked before each batch): a reader thread reads and decodes batch
    /// n+2, this thread deduplicates and seals batch n+1, and a writer
    /// thread commits batch n to the store and publishes it, so signing
    /// overlaps the synced writes and the broker's acknowledgements.
    /// Batches reach the store and the sealed topic in order, exactly as
    /// when one thread did everything.
    pub(crate) fn pipeline(&self, part: Part, mut done: impl FnMut(u64) -> bool) -> Result<Part> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<SealedBatch>(2);
        let (ack_tx, ack_rx) = std::sync::mpsc::channel::<u64>();
        let mut sp = SealPart {
            p: part.p,
            raw_next: part.raw_next,
            heads: part.tenants.iter().map(|(t, st)| (t.clone(), st.local.clone())).collect(),
            ids: HashSet::new(),
            inflight: VecDeque::new(),
            next_no: 0,
        };
        let (raw_tx, raw_rx) = std::sync::mpsc::sync_channel::<Result<Decoded>>(2);
        std::thread::scope(|s| {
            let spawn_err = |e: std::io::Error| Error::Config(format!("cannot start a sequencer thread: {e}"));
            let (p, from) = (part.p, part.raw_next);
            std::thread::Builder::new()
                .name(format!("sequencer-{p}-reader"))
                .spawn_scoped(s, move || self.read_loop(p, from, raw_tx))
                .map_err(spawn_err)?;
            let writer = std::thread::Builder::new()
                .name(format!("sequencer-{p}-writer"))
                .spawn_scoped(s, move || self.write_loop(part, rx, ack_tx))
                .map_err(spawn_err)?;
            let sealed = loop {
                if done(sp.raw_next) {
                    break Ok(());
                }
                let decoded = match raw_rx.recv() {
                    Ok(Ok(d)) => d,
                    Ok(Err(e)) => break Err(e),
                    Err(_) => break Err(Error::Config("the reader thread stopped".into())),
                };
                match self.seal_step(&mut sp, decoded, &ack_rx) {
                    Err(e) => break Err(e),
                    Ok(None) => {}
                    // A closed channel: the writer stopped; its error says why.
                    Ok(Some(b)) => {
                        if tx.send(b).is_err() {
                            break Ok(());
                        }
                    }
                }
            };
            // Closing the channels stops the reader (at its next batch)
            // and, once it has written what it holds, the writer.
            drop(raw_rx);
            drop(tx);
            let written = writer.join().map_err(|_| Error::Config("the writer thread panicked".into()))?;
            // The writer's error first: a sealing error may only echo it.
            let part = written?;
            sealed.map(|()| part)
        })
    }

    /// The reader thread: reads raw batches from `next` on and decodes
    /// them, until the sealing thread hangs up or a read fails (the error
    /// is passed on). Empty reads are passed on too, so a hang-up is seen
    /// within one poll.
    pub(crate) fn read_loop(&self, p: u32, mut next: u64, tx: SyncSender<Result<Decoded>>) {
        loop {
            let r = self
                .log
                .read(&self.cfg.topics.raw, p, next, self.cfg.batch_size, self.cfg.poll)
                .map_err(Error::from)
                .map(|fetched| self.decode_batch(p, fetched));
            let failed = r.is_err();
            if let Ok(d) = &r {
                next = d.raw_next.unwrap_or(next);
            }
            if tx.send(r).is_err() || failed {
                return;
            }
        }
    }

    /// Decodes a raw batch: events that belong here, and dead letters.
    pub(crate) fn decode_batch(&self, p: u32, fetched: Vec<Fetched>) -> Decoded {
        let raw = &self.cfg.topics.raw;
        let mut d = Decoded {
            raw_next: fetched.last().map(|f| f.offset + 1),
            consumed: fetched.len() as u64,
            good: Vec::with_capacity(fetched.len()),
            dead: Vec::new(),
        };
        for f in fetched {
            match wire::decode_event(&f.record.value, self.cfg.max_message) {
                Err(e) => d.dead.push(dead_letter(raw, f, &e.to_string())),
                Ok(ev) => {
                    let home = partition_for(partition_key(&ev.tenant_id).as_bytes(), self.partitions);
                    if let Some(why) = self.refuse_system_event(&ev) {
                        d.dead.push(dead_letter(raw, f, &why));
                    } else if home != p {
                        let why = format!(
                            "wrong partition: tenant `{}` belongs on partition {home}, not {p} (the record key must be the tenant id)",
                            partition_key(&ev.tenant_id)
                        );
                        d.dead.push(dead_letter(raw, f, &why));
                    } else {
                        d.good.push((f.offset, ev, f.record));
                    }
                }
            }
        }
        d
    }

    /// Why an event of a system chain (`_…`) may not be sealed: an erasure
    /// that is not well-formed or not signed by a key this sequencer
    /// trusts; any other system event without the node's signature (a
    /// writer with access to the raw topic cannot forge an access record).
    pub(crate) fn refuse_system_event(&self, ev: &TraceEvent) -> Option<String> {
        if !is_system_tenant_id(&ev.tenant_id) {
            return None;
        }
        if privacy_chain_tenant(&ev.tenant_id).is_none() {
            return (!traceledger_core::system::system_event_signed_by(ev, &self.keys)).then(|| {
                format!(
                    "system chain `{}`: the event is not signed by a trusted node key (tenant ids starting with '_' \
                     are the system's own)",
                    ev.tenant_id
                )
            });
        }
        match Erasure::from_event(ev) {
            Err(e) => Some(format!("privacy chain `{}`: not an erasure: {e}", ev.tenant_id)),
            Ok(er) if !er.signed_by(&self.keys) => {
                Some(format!("privacy chain `{}`: the erasure is not signed by a trusted key", ev.tenant_id))
            }
            Ok(_) => None,
        }
    }

    /// The writer thread: commits and publishes sealed batches in order,
    /// acknowledges each commit to the sealing thread, emits checkpoints.
    ///
    /// A batch's publication overlaps the next batches' commits: batch n is
    /// sent to the log, n+1 committed and sent behind it, and n's
    /// acknowledgement is awaited only when a third batch is in flight (or
    /// no batch came within a poll), so a broker always has an append
    /// queued while the writer makes its synced ledger writes. Batches are
    /// acknowledged in order, and checkpoints cover only acknowledged
    /// records. A batch that stores an erasure waits for all before it, so
    /// erasures are carried out only when every committed record is on
    /// the log. A failed append stops the partition; the restart reconciles
    /// the store with the sealed topic, as after a crash.
    pub(crate) fn write_loop(&self, mut part: Part, rx: Receiver<SealedBatch>, ack: Sender<u64>) -> Result<Part> {
        let mut inflight: VecDeque<Publishing<'_>> = VecDeque::new();
        let finish_all = |part: &mut Part, inflight: &mut VecDeque<Publishing<'_>>| -> Result<()> {
            while let Some(f) = inflight.pop_front() {
                self.finish_publish(part, f)?;
            }
            Ok(())
        };
        loop {
            match rx.recv_timeout(self.cfg.poll) {
                Ok(b) => {
                    let committed = self.commit_batch(&mut part, b, &ack)?;
                    inflight.push_back(self.start_publish(&part, committed)?);
                    if part.erasures {
                        finish_all(&mut part, &mut inflight)?;
                        self.carry_out_erasures(&mut part)?;
                    }
                    while inflight.len() > PUBLISH_DEPTH {
                        let Some(f) = inflight.pop_front() else { break };
                        self.finish_publish(&mut part, f)?;
                    }
                    self.tick(&mut part)?;
                }
                Err(RecvTimeoutError::Timeout) => {
                    finish_all(&mut part, &mut inflight)?;
                    self.tick(&mut part)?;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    finish_all(&mut part, &mut inflight)?;
                    return Ok(part);
                }
            }
        }
    }

    /// Takes one decoded raw batch, drops repeated event ids, dead-letters
    /// what is bad and seals the rest on the local chain heads; `None` when
    /// nothing was read.
    pub(crate) fn seal_step(
        &self,
        sp: &mut SealPart,
        decoded: Decoded,
        acks: &Receiver<u64>,
    ) -> Result<Option<SealedBatch>> {
        // Batches the writer committed are in the store now.
        while let Ok(no) = acks.try_recv() {
            sp.committed(no);
        }
        let t = &self.cfg.topics;
        let Decoded { raw_next: Some(raw_next), consumed, good, dead } = decoded else { return Ok(None) };
        Stats::add(&self.stats.consumed, consumed);
        // Producer retries: ids sealed before (in flight to the store, then
        // in it: asked in that order, so a commit in between is not missed),
        // or twice in this batch.
        let fresh_ids: Vec<bool> =
            good.iter().map(|(_, e, _)| !sp.ids.contains(&(e.tenant_id.clone(), e.event_id))).collect();
        let ids: Vec<(&str, uuid::Uuid)> = good.iter().map(|(_, e, _)| (e.tenant_id.as_str(), e.event_id)).collect();
        let known = self.store.find_events(&ids)?;
        let mut seen = HashSet::new();
        let mut fresh = Vec::with_capacity(good.len());
        let mut dups = 0u64;
        for (((off, ev, raw), k), unseen) in good.into_iter().zip(known).zip(fresh_ids) {
            if !unseen || k.is_some() || !seen.insert((ev.tenant_id.clone(), ev.event_id)) {
                dups += 1;
            } else {
                fresh.push((off, ev, raw));
            }
        }
        Stats::add(&self.stats.duplicates, dups);
        let mut dead = dead;
        let mut rng = rand::thread_rng();
        let sealed_at = Timestamp(Timestamp::now().0);
        let mut unsigned = Vec::with_capacity(fresh.len());
        let mut ids_of_batch = Vec::with_capacity(fresh.len());
        let mut redacted = Vec::new();
        for (offset, mut ev, raw) in fresh {
            let red = match &self.cfg.redactor {
                Some(r) if !is_system_tenant_id(&ev.tenant_id) => (r.0)(&mut ev),
                _ => None,
            };
            let policy = red.as_ref().map_or(self.cfg.policy.as_str(), |r| r.label.as_str());
            if let Some(why) =
                self.too_large_to_seal(&ev, raw.value.len(), red.as_ref().is_some_and(|r| r.changed), policy)
            {
                // A record over the broker's limit could never be published
                // and would jam the partition's outbox: a dead letter. Its
                // content as redacted, when a rule changed it.
                let mut letter = raw;
                if red.as_ref().is_some_and(|r| r.changed) {
                    letter.value = wire::encode_event(&ev);
                    redacted.push(offset);
                }
                let f = traceledger_log::Fetched { partition: sp.p, offset, record: letter };
                dead.push(dead_letter(&t.raw, f, &why));
                continue;
            }
            let head = match sp.heads.get_mut(&ev.tenant_id) {
                Some(h) => h,
                None => sp.heads.entry(ev.tenant_id.clone()).or_insert_with(|| ChainHead::genesis(&ev.tenant_id)),
            };
            let src = Source { topic: t.raw.clone(), partition: sp.p, offset };
            let mut r = self.sealer.seal_unsigned(policy, head, ev, sealed_at, Some(src), &mut rng);
            if let Some(red) = red.filter(|r| r.changed) {
                for slot in red.erase_slots {
                    r.erase_slot(slot);
                }
                redacted.push(offset);
            }
            let id = (r.header().tenant_id.clone(), r.event().event_id);
            sp.ids.insert(id.clone());
            ids_of_batch.push(id);
            unsigned.push(r);
        }
        if !dead.is_empty() {
            let n = dead.len() as u64;
            self.log.append(&t.dlq, sp.p % self.dlq_partitions, &dead)?;
            Stats::add(&self.stats.dead_lettered, n);
        }
        // The chain is fixed; the signatures (~80% of the work) need only
        // their own record, so they are made on every signing thread.
        let records: Vec<SealedRecord> = self
            .signers
            .install(|| unsigned.into_par_iter().with_min_len(SIGN_CHUNK).map(|u| u.sign(&self.sealer)).collect());
        sp.raw_next = raw_next;
        let no = sp.next_no;
        sp.next_no += 1;
        sp.inflight.push_back((no, ids_of_batch));
        Ok(Some(SealedBatch { no, records, raw_next: sp.raw_next, redacted }))
    }

    /// Why `ev` (read as `raw_len` bytes; `changed` by redaction) cannot be
    /// sealed under `policy`: its sealed form could be over the message
    /// limit. The bound is taken from the raw length first (our encoding of
    /// a datum is the shortest), and from the event's own encoding only
    /// when that is not clearly enough.
    pub(crate) fn too_large_to_seal(
        &self,
        ev: &TraceEvent,
        raw_len: usize,
        changed: bool,
        policy: &str,
    ) -> Option<String> {
        let check =
            |len| wire::too_large_to_seal(ev, len, policy.len(), self.cfg.topics.raw.len(), self.cfg.max_message);
        if !changed && check(raw_len).is_none() {
            return None;
        }
        check(wire::encode_event(ev).len())
    }

    /// Commits a sealed batch — records, Merkle nodes, event ids, chain
    /// heads (the local head moving puts the records in the outbox) and the
    /// next raw offset in one synced write — and acknowledges it to the
    /// sealing thread; returns what to publish.
    pub(crate) fn commit_batch(&self, part: &mut Part, sb: SealedBatch, ack: &Sender<u64>) -> Result<Committed> {
        let SealedBatch { no, records, raw_next, redacted } = sb;
        let mut b = self.store.batch();
        let mut pending: HashMap<String, HashMap<u64, Hash>> = HashMap::new();
        let mut msgs = Vec::with_capacity(records.len());
        let mut latencies = Vec::with_capacity(records.len());
        for r in records {
            latencies.push(r.header.sealed_at.0.saturating_sub(r.event.timestamp.0).max(0));
            let tenant = &r.header.tenant_id;
            let pend = match pending.get_mut(tenant) {
                Some(p) => p,
                None => pending.entry(tenant.clone()).or_default(),
            };
            let nodes = merkle::append_leaf(r.header.seq, r.leaf_hash, &self.store.nodes(tenant, Some(pend)))?;
            pend.extend(nodes.iter().copied());
            let bytes = wire::encode_record(&r);
            b.record(tenant, r.header.seq, r.event.event_id, &self.store.at_rest(&r, &bytes)?, &nodes)?;
            // An erasure that names no record is sealed (the ledger shows
            // it was asked for) but carries nothing out: no rewrite, and no
            // purge, which compacts three stores (a repeated DSAR or
            // retention run names nothing new).
            if let Some(er) = erasure_of(&r).filter(|er| !er.seqs.is_empty()) {
                b.erasure(part.p, er.id, &er.tenant, &er.seqs)?;
                part.erasures = true;
            }
            let st = match part.tenants.get_mut(tenant) {
                Some(st) => st,
                None => part.tenants.entry(tenant.clone()).or_insert_with(|| TenantState::new(tenant)),
            };
            st.local.advance(&r);
            msgs.push((r.header.seq, st.local.head, r.header.tenant_id, bytes));
        }
        // Each touched tenant's state once, as it stands after the batch.
        for t in pending.keys() {
            if let Some(st) = part.tenants.get(t) {
                b.tenant(part.p, t, st)?;
            }
        }
        part.raw_next = raw_next;
        b.raw_next(part.p, raw_next)?;
        b.commit(true)?;
        // The sealing thread may now forget what it kept of this batch.
        let _ = ack.send(no);
        Stats::add(&self.stats.sealed, msgs.len() as u64);
        // Counted with `sealed`, once durable: the raw copies are dropped
        // later, after publication, and a reader of the counters must not
        // see a redacted record sealed but not yet counted.
        Stats::add(&self.stats.redacted, redacted.len() as u64);
        for us in latencies {
            self.stats.seal_latency.0.observe(us as f64 / 1e6);
        }
        Ok(Committed { msgs, redacted })
    }

    /// Sends a committed batch to the sealed topic.
    pub(crate) fn start_publish(&self, part: &Part, c: Committed) -> Result<Publishing<'_>> {
        if c.msgs.is_empty() {
            return Ok(Publishing { pending: traceledger_log::PendingAppend::done(Ok(Vec::new())), committed: c });
        }
        let records: Vec<Record> =
            c.msgs.iter().map(|(_, _, t, bytes)| Record::keyed(t.as_bytes(), bytes.as_slice())).collect();
        let pending = self.log.start_append(&self.cfg.topics.sealed, part.p, &records)?;
        Ok(Publishing { pending, committed: c })
    }

    /// Waits for a batch's publication and records it (see
    /// [`Sequencer::published`]); then drops the raw copies of what it
    /// redacted.
    pub(crate) fn finish_publish(&self, part: &mut Part, f: Publishing<'_>) -> Result<()> {
        let Publishing { pending, committed: Committed { msgs, redacted } } = f;
        let offsets = pending.wait()?;
        if !self.published(part, &msgs, &offsets)? {
            // Sealed batches in flight were built on chain heads that the
            // reconciliation may have moved: start the partition afresh.
            return Err(Error::Interleaved(format!("partition {}", part.p)));
        }
        if !redacted.is_empty() {
            self.drop_raw_copies(part.p, &redacted)?;
        }
        Ok(())
    }

    /// Tombstones the raw copies of redacted events (sealed and committed):
    /// the log then holds only what the ledger holds. Their bytes leave the
    /// files as the log compacts (an erasure's purge forces it). A broker
    /// keeps its copies until the topic's retention deletes them.
    pub(crate) fn drop_raw_copies(&self, p: u32, offsets: &[u64]) -> Result<()> {
        let tombs: Vec<(u64, Record)> = offsets
            .iter()
            .map(|&o| {
                (o, Record { key: None, value: Vec::new(), headers: vec![("traceledger-redacted".into(), Vec::new())] })
            })
            .collect();
        match self.log.rewrite(&self.cfg.topics.raw, p, &tombs) {
            Ok(()) | Err(traceledger_log::Error::Unsupported(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Appends sealed records (tenant order within each tenant) to the
    /// sealed partition and moves the accepted heads. Non-contiguous offsets
    /// mean another writer: reconcile instead of assuming acceptance.
    /// Returns false when it had to reconcile.
    pub(crate) fn publish(&self, part: &mut Part, msgs: Vec<(u64, Hash, String, Vec<u8>)>) -> Result<bool> {
        if msgs.is_empty() {
            return Ok(true);
        }
        let Publishing { pending, committed } = self.start_publish(part, Committed { msgs, redacted: Vec::new() })?;
        let offsets = pending.wait()?;
        self.published(part, &committed.msgs, &offsets)
    }

    /// Records that `msgs` are on the sealed topic at `offsets`: accepted
    /// heads advance and the outbox empties. `false` when the offsets show
    /// another writer's records in between (reconciled at once).
    pub(crate) fn published(
        &self,
        part: &mut Part,
        msgs: &[(u64, Hash, String, Vec<u8>)],
        offsets: &[u64],
    ) -> Result<bool> {
        if msgs.is_empty() {
            return Ok(true);
        }
        Stats::add(&self.stats.published, offsets.len() as u64);
        let contiguous = offsets.iter().enumerate().all(|(i, &o)| o == part.sealed_next + i as u64);
        if !contiguous {
            tracing::warn!(partition = part.p, "another writer appended to the sealed partition; reconciling");
            return self.reconcile(part, false).map(|()| false);
        }
        let mut b = self.store.batch();
        for ((seq, chain, tenant, _), off) in msgs.iter().zip(offsets) {
            if let Some(st) = part.tenants.get_mut(tenant) {
                st.accepted.next_seq = seq + 1;
                st.accepted.head = *chain;
            }
            b.located(tenant, *seq, part.p, *off)?;
        }
        // Each touched tenant's state once, as it stands after the batch.
        let touched: HashSet<&String> = msgs.iter().map(|(_, _, t, _)| t).collect();
        for t in touched {
            if let Some(st) = part.tenants.get(t) {
                b.tenant(part.p, t, st)?;
                part.dirty.insert(t.clone());
            }
        }
        part.sealed_next += offsets.len() as u64;
        b.sealed_next(part.p, part.sealed_next)?;
        // Not synced: if lost, the restart reconciles these records from
        // the sealed topic, which says the same.
        b.commit(false)?;
        Ok(true)
    }
}
