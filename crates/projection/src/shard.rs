//! Which tenants a read instance serves when several share the work
//! (`traceledger project --instances N --instance-index I`).
//!
//! Instance `I` serves the tenants whose partition `p` of the sealed topic
//! has `p % N == I` — the sequencer's assignment of partitions to
//! instances (a tenant's records are on the partition its id hashes to).
//! Its read models hold those tenants' chains and nothing else, and any
//! other instance forwards the tenants' requests to it.
//!
//! A tenant's data is three chains: its own, its privacy chain (on the
//! same partition) and its access chain `_access.T`, which is on the
//! partition that *its* name hashes to — often another. The SOC 2 report
//! and `/v1/access-log` read the access chain beside the tenant's data, so
//! an instance keeps the access chains of its tenants too: it reads every
//! partition, and of a partition it does not own it keeps only those.
//! The records of other tenants are passed over by their Kafka key (the
//! chain, as the sequencer writes it) before they are decoded or their
//! signatures checked, so the extra reading costs a fetch and a compare
//! per record, not the verification.

use traceledger_core::event::chain_tenant;
use traceledger_log::partition_for;

/// Instance `index` of `count`, over a sealed topic of `partitions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantShard {
    /// This instance, `0 ≤ index < count`.
    pub index: u32,
    /// Instances in all.
    pub count: u32,
    /// Partitions of the sealed topic.
    pub partitions: u32,
}

impl TenantShard {
    /// One instance serving everything.
    pub fn all(partitions: u32) -> Self {
        TenantShard { index: 0, count: 1, partitions }
    }

    /// The instance that serves `chain` (a tenant or one of its system
    /// chains).
    pub fn owner(&self, chain: &str) -> u32 {
        partition_for(chain_tenant(chain).as_bytes(), self.partitions) % self.count.max(1)
    }

    /// Does this instance serve `chain`?
    pub fn owns(&self, chain: &str) -> bool {
        self.count <= 1 || self.owner(chain) == self.index
    }

    /// Is this instance the only one?
    pub fn is_whole(&self) -> bool {
        self.count <= 1
    }

    /// The partitions whose tenants it serves: `p % count == index`.
    pub fn partitions_served(&self) -> Vec<u32> {
        (0..self.partitions).filter(|p| p % self.count.max(1) == self.index).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every chain has exactly one owner, the owner of its tenant, on
        /// the instance that runs the tenant's partition.
        #[test]
        fn every_chain_has_one_owner_with_its_tenant(tenant in "[a-z0-9][a-z0-9._-]{0,20}", count in 1u32..6, partitions in 1u32..12) {
            let owners: Vec<u32> = (0..count)
                .filter(|&index| TenantShard { index, count, partitions }.owns(&tenant))
                .collect();
            prop_assert_eq!(owners.len(), 1);
            let s = TenantShard { index: owners[0], count, partitions };
            prop_assert_eq!(partition_for(tenant.as_bytes(), partitions) % count, owners[0]);
            for chain in [format!("_access.{tenant}"), format!("_privacy.{tenant}")] {
                prop_assert!(s.owns(&chain), "{}", chain);
            }
        }
    }

    #[test]
    fn one_instance_owns_everything() {
        let s = TenantShard::all(4);
        assert!(s.is_whole() && s.owns("acme") && s.owns("_access") && s.owns("_access.x"));
        assert_eq!(s.owner("acme"), 0);
    }
}
