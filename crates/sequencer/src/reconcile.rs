//! Opening a partition: its store reconciled with what `ledger.sealed`
//! accepted (records adopted, a diverged ledger rebuilt, the next raw offset
//! derived from the accepted records' sources).

use super::*;

impl Sequencer {
    /// Loads partition `p` from the store, reconciles it with the sealed
    /// topic and publishes what is left in its outbox.
    pub(crate) fn open_partition(&self, p: u32) -> Result<Part> {
        let mut part = Part {
            p,
            raw_next: self.store.raw_next(p)?.unwrap_or(0),
            sealed_next: self.store.sealed_next(p)?,
            tenants: self.store.tenants(p)?,
            dirty: HashSet::new(),
            last_tick: Instant::now(),
            erasures: false,
        };
        let restoring = self.store.raw_next(p)?.is_none();
        if let Err(e) = self.reconcile(&mut part, restoring) {
            let Error::Diverged(why) = &e else { return Err(e) };
            tracing::warn!(partition = p, "{why}; rebuilding the partition from the sealed topic");
            Stats::add(&self.stats.rebuilds, 1);
            self.store.wipe_partition(p)?;
            part = Part { raw_next: 0, sealed_next: 0, tenants: HashMap::new(), ..part };
            self.reconcile(&mut part, true)?;
        }
        // Persist the (possibly derived) position: a restart must not
        // mistake a restored partition for a missing one.
        let mut b = self.store.batch();
        b.raw_next(p, part.raw_next)?;
        b.commit(true)?;
        let outbox = store::unpublished(&part.tenants);
        if !outbox.is_empty() {
            let mut msgs = Vec::with_capacity(outbox.len());
            for (tenant, seq) in outbox {
                let bytes = self
                    .store
                    .record(&tenant, seq)?
                    .ok_or_else(|| StoreError::Corrupt(format!("outbox names a missing record {tenant}/{seq}")))?;
                let r = wire::decode_record(&bytes, usize::MAX)
                    .map_err(|e| StoreError::Corrupt(format!("record {tenant}/{seq}: {e}")))?;
                msgs.push((r.header.seq, r.chain_hash(), tenant, bytes));
            }
            self.publish(&mut part, msgs)?;
        }
        for (t, st) in &part.tenants {
            if st.accepted.next_seq > st.checkpoint_size {
                part.dirty.insert(t.clone());
            }
        }
        // Erasures a crash interrupted, or adopted above.
        self.carry_out_erasures(&mut part)?;
        Ok(part)
    }

    /// Reads `ledger.sealed` partition `p` from the reconciled offset to its
    /// end and applies the acceptance rule. A record accepted by the rule
    /// that conflicts with the store's own makes this return
    /// [`Error::Diverged`] (the caller rebuilds the partition). `restoring`:
    /// the store did not hold the partition (a first start or a rebuild).
    pub(crate) fn reconcile(&self, part: &mut Part, restoring: bool) -> Result<()> {
        let topic = &self.cfg.topics.sealed;
        // Read up to the end as of now (a broker's fetch may come back empty
        // before its data arrives, so "empty" does not mean "the end").
        let end = self.log.end_offset(topic, part.p)?;
        while part.sealed_next < end {
            let batch = self.log.read(topic, part.p, part.sealed_next, 1000, Duration::from_secs(5))?;
            if batch.is_empty() {
                continue;
            }
            let mut b = self.store.batch();
            let mut pending: HashMap<String, HashMap<u64, Hash>> = HashMap::new();
            for f in &batch {
                part.sealed_next = f.offset + 1;
                let r = match wire::decode_record(&f.record.value, usize::MAX) {
                    Ok(r) => r,
                    Err(_) => {
                        Stats::add(&self.stats.malformed, 1);
                        continue;
                    }
                };
                let tenant = r.header.tenant_id.clone();
                let st = part.tenants.entry(tenant.clone()).or_insert_with(|| TenantState::new(&tenant));
                let pend = pending.entry(tenant.clone()).or_default();
                let nodes = self.store.nodes(&tenant, Some(pend));
                // The signed form of the rule (`accept::judge_signed`), with the
                // untrusted-key case told apart from other malformed records.
                let verdict = judge(&st.accepted, &r, |seq| leaf_at(&nodes, seq));
                if verdict == Verdict::Accept && !signed_by(&r, &self.keys) {
                    let known = self.keys.by_id(r.header.key_id).next().is_some();
                    if restoring && !known {
                        // Rebuilding from the topic, the chain's next record
                        // is signed by a key we do not know: most likely a
                        // rotation without the old key configured. Sealing
                        // on would fork the chain: stop loudly.
                        return Err(Error::Config(format!(
                            "{} partition {} offset {}: {tenant}/{} is signed by key id {:08x}, which is not trusted; \
                             pass the earlier verifier keys with --trusted-key",
                            self.cfg.topics.sealed, part.p, f.offset, r.header.seq, r.header.key_id
                        )));
                    }
                    // Otherwise a forgery by a writer with topic access (a
                    // known key id with a bad signature, or a record beside a
                    // ledger that holds the chain): malformed, as every
                    // consumer judges it. Stopping here would let any such
                    // writer halt the partition. Said loudly, and counted in
                    // `traceledger_sealed_bad_signatures_total`.
                    Stats::add(&self.stats.malformed, 1);
                    Stats::add(&self.stats.bad_signatures, 1);
                    tracing::error!(
                        topic = %self.cfg.topics.sealed,
                        partition = part.p,
                        offset = f.offset,
                        tenant = %tenant,
                        seq = r.header.seq,
                        key_id = format_args!("{:08x}", r.header.key_id),
                        "a sealed record that fits the chain is not signed by a trusted key ({}); skipped as malformed",
                        if known { "bad signature" } else { "unknown key id" },
                    );
                    continue;
                }
                let ignored = match verdict {
                    Verdict::Accept => None,
                    Verdict::Duplicate => Some(&self.stats.sealed_duplicates),
                    Verdict::Fork => Some(&self.stats.forks),
                    Verdict::Gap => Some(&self.stats.gaps),
                    Verdict::Malformed => Some(&self.stats.malformed),
                };
                if let Some(counter) = ignored {
                    Stats::add(counter, 1);
                    continue;
                }
                let seq = r.header.seq;
                if seq < st.local.next_seq {
                    // Ours? The store holds a record at this seq.
                    if leaf_at(&nodes, seq) != Some(r.leaf_hash) {
                        return Err(Error::Diverged(format!(
                            "the sealed topic accepted another record at {tenant}/{seq} than this ledger holds"
                        )));
                    }
                    b.located(&tenant, seq, part.p, f.offset)?;
                } else {
                    // Adopt: the store was missing or behind.
                    let new_nodes = merkle::append_leaf(seq, r.leaf_hash, &nodes)?;
                    let stored = self.store.at_rest(&r, &f.record.value)?;
                    b.record(&tenant, seq, r.event.event_id, &stored, &new_nodes)?;
                    b.located(&tenant, seq, part.p, f.offset)?;
                    if let Some(er) = erasure_of(&r).filter(|er| !er.seqs.is_empty()) {
                        // Adopted from a broker that still holds the content
                        // an erasure later in the stream removes: erase again.
                        b.erasure(part.p, er.id, &er.tenant, &er.seqs)?;
                        part.erasures = true;
                    }
                    pend.extend(new_nodes.iter().copied());
                    st.local.advance(&r);
                    if let Some(src) = &r.header.source {
                        if src.topic == self.cfg.topics.raw && src.partition == part.p {
                            part.raw_next = part.raw_next.max(src.offset + 1);
                        }
                    }
                    Stats::add(&self.stats.adopted, 1);
                }
                st.accepted.advance(&r);
                b.tenant(part.p, &tenant, st)?;
            }
            b.sealed_next(part.p, part.sealed_next)?;
            if self.store.raw_next(part.p)?.is_some_and(|n| n < part.raw_next) {
                b.raw_next(part.p, part.raw_next)?;
            }
            b.commit(true)?;
        }
        Ok(())
    }
}

/// The accepted leaf hash at `seq`, from a tenant's stored hashes.
fn leaf_at(nodes: &store::Nodes<'_>, seq: u64) -> Option<Hash> {
    use merkle::HashReader;
    nodes.read_hashes(&[merkle::leaf_index(seq)]).ok().and_then(|v| v.first().copied()).map(Hash::from)
}
