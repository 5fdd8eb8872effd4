//! Carrying out sealed erasures: content erased in the ledger and in the
//! log's copies, in idempotent steps, the pending entry last.

use super::*;

impl Sequencer {
    /// Carries out partition `p`'s pending erasures (see the module docs).
    pub(crate) fn carry_out_erasures(&self, part: &mut Part) -> Result<()> {
        const CHUNK: usize = 2_000;
        let t = &self.cfg.topics;
        let mut log_can = true;
        for (id, tenant, left) in self.store.erasures(part.p)? {
            // Only seqs the chain has: a range past its head names nothing
            // (and is not materialised).
            let head = part.tenants.get(&tenant).map_or(0, |st| st.local.next_seq);
            let mut left: Vec<u64> = left.truncated(head).iter().collect();
            let mut erased = 0u64;
            while !left.is_empty() {
                let rest = left.split_off(left.len().min(CHUNK));
                let mut b = self.store.batch();
                let (mut raw, mut sealed): (HashMap<u32, Vec<_>>, HashMap<u32, Vec<_>>) = Default::default();
                for seq in &left {
                    let Some(bytes) = self.store.record(&tenant, *seq)? else { continue };
                    let mut r = wire::decode_record(&bytes, usize::MAX)
                        .map_err(|e| StoreError::Corrupt(format!("record {tenant}/{seq}: {e}")))?;
                    r.erase_all_content();
                    let now = wire::encode_record(&r);
                    if now != bytes {
                        erased += 1;
                        b.rewrite_record(&tenant, *seq, &self.store.at_rest(&r, &now)?)?;
                    }
                    // The log's copies, erased or not yet: a crash may have
                    // come between the ledger's erasure and theirs.
                    if let Some(src) = r.header.source.as_ref().filter(|s| s.topic == t.raw) {
                        let tomb = Record::keyed(tenant.as_bytes(), Vec::new())
                            .with_header("traceledger-erased", id.to_string());
                        raw.entry(src.partition).or_default().push((src.offset, tomb));
                    }
                    if let Some((sp, off)) = self.store.located(&tenant, *seq)? {
                        sealed.entry(sp).or_default().push((off, Record::keyed(tenant.as_bytes(), now)));
                    }
                }
                // The log first: the ledger's remainder entry moves only
                // once the copies are gone.
                for (topic, by_part) in [(&t.raw, raw), (&t.sealed, sealed)] {
                    for (lp, recs) in by_part {
                        match self.log.rewrite(topic, lp, &recs) {
                            Ok(()) => {}
                            Err(traceledger_log::Error::Unsupported(why)) => {
                                if log_can {
                                    tracing::warn!(%why, "erased content stays on the broker until the topics' retention deletes it");
                                }
                                log_can = false;
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                // What is left; the entry itself goes after the purge below.
                b.erasure(part.p, id, &tenant, &SeqRanges::from_seqs(rest.iter().copied()))?;
                b.commit(true)?;
                left = rest;
            }
            self.store.purge_erased()?;
            if log_can {
                self.log.purge_rewritten()?;
            } else {
                Stats::add(&self.stats.erasures_not_in_log, 1);
            }
            let mut b = self.store.batch();
            b.erasure_done(part.p, id)?;
            b.commit(true)?;
            Stats::add(&self.stats.erasures, 1);
            Stats::add(&self.stats.erased_records, erased);
            tracing::info!(%tenant, erasure = %id, erased, "content erased");
        }
        part.erasures = false;
        Ok(())
    }
}
