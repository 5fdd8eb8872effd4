//! SHA-256 based hashes of the ledger: RFC 6962 leaf hashes, the per-tenant
//! hash chain and the salted content commitments.

use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

/// A 32-byte random salt of a content commitment.
pub type Salt = [u8; 32];

impl Hash {
    /// Lowercase hex, as in every report and JSON output.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Hash(out))
    }

    /// The bytes of the digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl From<tlog_tiles::Hash> for Hash {
    fn from(h: tlog_tiles::Hash) -> Self {
        Hash(h.0)
    }
}

impl From<Hash> for tlog_tiles::Hash {
    fn from(h: Hash) -> Self {
        tlog_tiles::Hash(h.0)
    }
}

/// Plain SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Hash {
    Hash(Sha256::digest(data).into())
}

/// RFC 6962 leaf hash: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    Hash(h.finalize().into())
}

/// Domain prefix of a tenant's genesis chain value.
pub const GENESIS_PREFIX: &[u8] = b"traceledger/chain/genesis/v1\n";

/// The chain value before a tenant's first record:
/// SHA-256("traceledger/chain/genesis/v1\n" || tenant_id).
pub fn genesis(tenant_id: &str) -> Hash {
    let mut h = Sha256::new();
    h.update(GENESIS_PREFIX);
    h.update(tenant_id.as_bytes());
    Hash(h.finalize().into())
}

/// The next chain value: chain[n] = SHA-256(chain[n-1] || leaf[n]).
pub fn chain_next(prev: &Hash, leaf: &Hash) -> Hash {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(&prev.0);
    buf[32..].copy_from_slice(&leaf.0);
    Hash(Sha256::digest(buf).into())
}

/// Content commitment: SHA-256(salt || UTF-8 value).
pub fn commitment(salt: &Salt, value: &str) -> Hash {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(value.as_bytes());
    Hash(h.finalize().into())
}

/// Constant-time equality of two digests (commitment and MAC checks).
pub fn ct_eq(a: &Hash, b: &Hash) -> bool {
    use subtle::ConstantTimeEq;
    a.0.ct_eq(&b.0).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_hash_matches_rfc6962_vector() {
        assert_eq!(leaf_hash(b"").to_hex(), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    }

    #[test]
    fn genesis_is_per_tenant() {
        assert_ne!(genesis("a"), genesis("b"));
        assert_eq!(genesis("a"), genesis("a"));
    }

    #[test]
    fn chain_depends_on_order() {
        let (a, b) = (sha256(b"a"), sha256(b"b"));
        assert_ne!(chain_next(&a, &b), chain_next(&b, &a));
    }

    #[test]
    fn hex_round_trip() {
        let h = sha256(b"x");
        assert_eq!(Hash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(Hash::from_hex("zz"), None);
    }
}
