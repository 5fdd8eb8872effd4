//! API keys: `tlk_<env>_` and 32 random bytes (base64url), shown once at
//! creation; at rest only their SHA-256. A presented key is hashed, looked
//! up by hash, and the stored hash compared to the computed one in constant
//! time. Each key belongs to one tenant and has one role; keys expire,
//! can be revoked, and rotation issues a new key while the old one keeps
//! working for an overlap window.
//!
//! A key's public id is random and independent of its secret
//! (`tlk_<env>_<16 random characters>…<last 4 of the secret>`, 96 random
//! bits), so ids never collide; a store written before ids were random is
//! migrated when it opens (docs/security.md). Only an Owner may create,
//! rotate or revoke an Owner key, and a revoked or expired key cannot be
//! rotated back to life.

use base64::Engine;
use rand::RngCore;
use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, DB};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use subtle::ConstantTimeEq;

const KEYS: &str = "keys";
const IDS: &str = "ids";
/// Where the store stands in the key journal, and the keys written while
/// no journal was attached (to be journaled when one is).
const META: &str = "meta";
const UNJOURNALED: &str = "unjournaled";
const POSITION: &[u8] = b"journal/position";

/// The five roles, least privileged last but one (Auditor is read-only
/// with evidence rights; Viewer sees no content).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, tenant settings included.
    Owner,
    /// Keys and policies, ingest, reads.
    Admin,
    /// Ingest and reads.
    Member,
    /// Reads, with content redacted.
    Viewer,
    /// Read-only: records with content, proofs, exports, reports, access log.
    Auditor,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer, Role::Auditor];

    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
            Role::Auditor => "auditor",
        }
    }

    /// Does the role have `p`? The permission matrix (docs/api.md).
    pub fn can(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner => true,
            Role::Admin => !matches!(p, TenantSettings),
            Role::Member => matches!(p, Ingest | Read | ReadContent | Proofs),
            Role::Viewer => matches!(p, Read),
            Role::Auditor => matches!(p, Read | ReadContent | Proofs | Export | AccessLog | Policy | Reports),
        }
    }
}

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Send events.
    Ingest,
    /// Read sessions, records (content redacted unless ReadContent), checkpoints.
    Read,
    /// See content fields (input, output, reasoning, tool arguments/results).
    ReadContent,
    /// Inclusion and consistency proofs.
    Proofs,
    /// Export bundles.
    Export,
    /// Create, list, rotate and revoke API keys.
    ManageKeys,
    /// Read the access log.
    AccessLog,
    /// Tenant settings (retention, providers).
    TenantSettings,
    /// See the policy in force (rules, budgets, limits, sinks; never secrets).
    Policy,
    /// Make the signed SOC 2 evidence report.
    Reports,
    /// Erase content: DSAR erasure, retention runs on demand.
    Erase,
}

/// A stored key (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyInfo {
    /// Public id: the prefix, 16 random characters and the secret's last
    /// four, e.g. `tlk_live_Z3k9aQ2mX1pL8vRt…Qx3w`.
    pub id: String,
    /// Tenant it belongs to.
    pub tenant: String,
    /// Role.
    pub role: Role,
    /// Free-form label.
    pub name: String,
    /// Created, µs since the epoch.
    pub created_at: i64,
    /// Stops working at, µs.
    pub expires_at: Option<i64>,
    /// Revoked at, µs.
    pub revoked_at: Option<i64>,
    /// The key this one replaced by rotation.
    pub rotated_from: Option<String>,
    /// Rate-limit tier (`standard` unless given).
    #[serde(default = "standard_tier")]
    pub tier: String,
}

/// What a new key is.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec<'a> {
    /// Role.
    pub role: Role,
    /// Environment tag of its prefix (`live`, `test`).
    pub env: &'a str,
    /// A label.
    pub name: &'a str,
    /// Stops working at, µs.
    pub expires_at: Option<i64>,
    /// Rate-limit tier.
    pub tier: &'a str,
}

impl<'a> KeySpec<'a> {
    /// A key of `role` in `env`, no label or expiry, the standard tier.
    pub fn new(role: Role, env: &'a str) -> Self {
        KeySpec { role, env, name: "", expires_at: None, tier: STANDARD_TIER }
    }
}

/// The longest lifetime a key may be given at creation (ten years).
pub const MAX_EXPIRES_IN_DAYS: u32 = 3650;

/// The tier of keys created without one.
pub const STANDARD_TIER: &str = "standard";

fn standard_tier() -> String {
    STANDARD_TIER.to_string()
}

/// Is `t` a tier name: `[a-z0-9_-]{1,32}`?
pub fn is_tier_name(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 32
        && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl KeyInfo {
    /// Does the key work at `now`?
    pub fn active(&self, now: i64) -> bool {
        self.revoked_at.is_none_or(|t| now < t) && self.expires_at.is_none_or(|t| now < t)
    }
}

/// Key store errors.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Storage failed.
    #[error("key store: {0}")]
    Store(#[from] rocksdb::Error),
    /// Stored data that does not parse.
    #[error("key store is corrupt: {0}")]
    Corrupt(String),
    /// No such key.
    #[error("no key `{0}`")]
    NotFound(String),
    /// The caller's role may not act on this key.
    #[error("{0}")]
    Forbidden(String),
    /// The key is revoked or expired and cannot be rotated.
    #[error("key `{0}` is revoked or expired; create a new key instead")]
    Inactive(String),
    /// A fresh random id is already taken (never expected: 96 random bits).
    #[error("key id `{0}` is already taken")]
    IdTaken(String),
    /// The key journal could not take the change (its log is down): the
    /// change was not made.
    #[error("key journal: {0}")]
    Journal(String),
}

/// A change of a key, as every instance applies it: the SHA-256 of its
/// secret (never the secret) and what the key now is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEvent {
    /// Hex SHA-256 of the secret.
    pub hash: String,
    /// The key.
    pub info: KeyInfo,
}

/// Takes each key change before it is made locally (durably, or it fails).
pub type Journal = Box<dyn Fn(&KeyEvent) -> Result<(), String> + Send + Sync>;

/// May a key of role `actor` create, rotate or revoke a key of role
/// `target`? Nobody hands out more than they have: only an Owner acts on
/// Owner keys.
pub fn may_manage(actor: Role, target: Role) -> bool {
    target != Role::Owner || actor == Role::Owner
}

fn forbidden(actor: Role, target: Role, what: &str) -> KeyError {
    KeyError::Forbidden(format!("a key of role `{}` cannot {what} a key of role `{}`", actor.name(), target.name()))
}

/// A new public key id for a secret: random, with the secret's last four
/// characters so a holder can tell which key it is.
fn new_id(env: &str, secret: &str) -> String {
    let mut raw = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let tail = &secret[secret.len().saturating_sub(4)..];
    format!("tlk_{env}_{}…{tail}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}

/// Was `id` made before ids were random (`tlk_<env>_…XXXX`: the secret's
/// last four characters only)?
fn is_legacy_id(id: &str) -> bool {
    id.strip_prefix("tlk_").and_then(|r| r.split_once('_')).is_some_and(|(_, rest)| rest.starts_with('…'))
}

/// The API keys of a node (`DATA/api/keys`).
pub struct KeyStore {
    db: DB,
    /// Every instance of a deployment applies the journal's events
    /// (`traceledger_node::keysync`): a key made on one works on all.
    journal: std::sync::OnceLock<Journal>,
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl KeyStore {
    /// Opens (or creates) the store.
    pub fn open(path: &Path) -> Result<Self, KeyError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = [KEYS, IDS, META, UNJOURNALED].map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
        let store = KeyStore { db: DB::open_cf_descriptors(&opts, path, cfs)?, journal: std::sync::OnceLock::new() };
        store.migrate_ids()?;
        Ok(store)
    }

    /// Migrates a store written when ids were the secret's last four
    /// characters (24 bits, which collide after a few thousand keys): a key
    /// whose id index entry another key took over gets a random id and its
    /// own index entry back. A legacy id that is still its key's own stays
    /// (ids are public handles that scripts name). Idempotent.
    fn migrate_ids(&self) -> Result<(), KeyError> {
        let mut moved = Vec::new();
        for item in self.db.iterator_cf(self.cf(KEYS)?, IteratorMode::Start) {
            let (hash, v) = item?;
            let info: KeyInfo = serde_json::from_slice(&v).map_err(|e| KeyError::Corrupt(e.to_string()))?;
            if !is_legacy_id(&info.id) {
                continue;
            }
            let owner = self.db.get_cf(self.cf(IDS)?, info.id.as_bytes())?;
            if owner.as_deref() != Some(&hash[..]) {
                let hash: [u8; 32] = hash[..].try_into().map_err(|_| KeyError::Corrupt("key hash".into()))?;
                moved.push((hash, info));
            }
        }
        for (hash, mut info) in moved {
            let env = info.id.strip_prefix("tlk_").and_then(|r| r.split_once('_')).map_or("live", |(e, _)| e);
            let tail: String = info.id.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
            let id = new_id(env, &tail);
            let old = std::mem::replace(&mut info.id, id);
            tracing::warn!(old = %old, new = %info.id, tenant = %info.tenant, "a key whose id collided with another key's has a new id");
            self.put(&hash, &info)?;
        }
        Ok(())
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, KeyError> {
        traceledger_storage::family(&self.db, name).map_err(KeyError::Corrupt)
    }

    /// Creates a key; returns the secret (shown once) and its info.
    pub fn create(&self, tenant: &str, spec: &KeySpec<'_>, now: i64) -> Result<(String, KeyInfo), KeyError> {
        let KeySpec { role, env, name, expires_at, tier } = *spec;
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let secret = format!("tlk_{env}_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw));
        let id = new_id(env, &secret);
        if self.db.get_cf(self.cf(IDS)?, id.as_bytes())?.is_some() {
            return Err(KeyError::IdTaken(id));
        }
        let info = KeyInfo {
            id: id.clone(),
            tenant: tenant.to_string(),
            role,
            name: name.to_string(),
            created_at: now,
            expires_at,
            revoked_at: None,
            rotated_from: None,
            tier: tier.to_string(),
        };
        self.put(&digest(&secret), &info)?;
        Ok((secret, info))
    }

    /// Makes a change: into the journal first (when attached; a change the
    /// journal refuses is not made), then into this store.
    fn put(&self, hash: &[u8; 32], info: &KeyInfo) -> Result<(), KeyError> {
        let mut wb = rocksdb::WriteBatch::default();
        match self.journal.get() {
            Some(j) => j(&KeyEvent { hash: hex::encode(hash), info: info.clone() }).map_err(KeyError::Journal)?,
            None => wb.put_cf(self.cf(UNJOURNALED)?, hash, []),
        }
        self.stage(&mut wb, hash, info)?;
        self.write(wb)
    }

    fn stage(&self, wb: &mut rocksdb::WriteBatch, hash: &[u8; 32], info: &KeyInfo) -> Result<(), KeyError> {
        let v = serde_json::to_vec(info).map_err(|e| KeyError::Corrupt(e.to_string()))?;
        wb.put_cf(self.cf(KEYS)?, hash, v);
        wb.put_cf(self.cf(IDS)?, info.id.as_bytes(), hash);
        Ok(())
    }

    fn write(&self, wb: rocksdb::WriteBatch) -> Result<(), KeyError> {
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        Ok(self.db.write_opt(wb, &wo)?)
    }

    /// Attaches the journal: from now on every change goes to it first.
    /// Returns the keys changed while none was attached (made offline with
    /// `traceledger keys`, or before journals existed), for the caller to
    /// journal with [`KeyStore::journaled`].
    pub fn attach_journal(&self, journal: Journal) -> Result<Vec<KeyEvent>, KeyError> {
        let _ = self.journal.set(journal);
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(UNJOURNALED)?, IteratorMode::Start) {
            let (hash, _) = item?;
            if let Some(v) = self.db.get_cf(self.cf(KEYS)?, &hash)? {
                let info = serde_json::from_slice(&v).map_err(|e| KeyError::Corrupt(e.to_string()))?;
                out.push(KeyEvent { hash: hex::encode(&hash), info });
            }
        }
        Ok(out)
    }

    /// Marks keys as journaled (after [`KeyStore::attach_journal`]).
    pub fn journaled(&self, events: &[KeyEvent]) -> Result<(), KeyError> {
        let mut wb = rocksdb::WriteBatch::default();
        for e in events {
            let hash = hex::decode(&e.hash).map_err(|_| KeyError::Corrupt("key hash".into()))?;
            wb.delete_cf(self.cf(UNJOURNALED)?, hash);
        }
        self.write(wb)
    }

    /// The next journal position to apply.
    pub fn journal_position(&self) -> Result<u64, KeyError> {
        match self.db.get_cf(self.cf(META)?, POSITION)? {
            None => Ok(0),
            Some(v) => Ok(u64::from_be_bytes(v.try_into().map_err(|_| KeyError::Corrupt("journal position".into()))?)),
        }
    }

    /// Applies journal events (this instance's own included: idempotent)
    /// and stores `next` as the position, in one write. The event is the
    /// key as its writer last made it, but a revocation is never undone:
    /// an event with a later (or no) revocation than the stored one keeps
    /// the stored one, so that events applied in any order end revoked at
    /// the earliest time any instance revoked it. An event that does not
    /// parse is skipped (and logged): the journal is written by instances
    /// of this deployment only.
    pub fn apply_journal(&self, events: &[Vec<u8>], next: u64) -> Result<usize, KeyError> {
        let mut wb = rocksdb::WriteBatch::default();
        let mut staged: std::collections::HashMap<[u8; 32], KeyInfo> = std::collections::HashMap::new();
        let mut applied = 0;
        for raw in events {
            let Some((hash, mut info)) = serde_json::from_slice::<KeyEvent>(raw)
                .ok()
                .and_then(|e| Some((<[u8; 32]>::try_from(hex::decode(&e.hash).ok()?).ok()?, e.info)))
            else {
                tracing::warn!("a key journal event that does not parse was skipped");
                continue;
            };
            let before = match staged.get(&hash) {
                Some(i) => Some(i.clone()),
                None => self
                    .db
                    .get_cf(self.cf(KEYS)?, hash)?
                    .map(|v| serde_json::from_slice::<KeyInfo>(&v))
                    .transpose()
                    .map_err(|e| KeyError::Corrupt(e.to_string()))?,
            };
            if let Some(b) = before {
                info.revoked_at = match (b.revoked_at, info.revoked_at) {
                    (Some(x), Some(y)) => Some(x.min(y)),
                    (x, y) => x.or(y),
                };
            }
            self.stage(&mut wb, &hash, &info)?;
            staged.insert(hash, info);
            applied += 1;
        }
        wb.put_cf(self.cf(META)?, POSITION, next.to_be_bytes());
        self.write(wb)?;
        Ok(applied)
    }

    /// The key a request presents, if it exists and works at `now`.
    pub fn authenticate(&self, presented: &str, now: i64) -> Result<Option<KeyInfo>, KeyError> {
        let hash = digest(presented);
        // Found by its hash, an exact match: the lookup's timing depends on
        // the SHA-256 of what was presented, which tells nothing of a valid
        // secret. The id index is not consulted: a key authenticates as
        // itself whatever another key's id is. The index entry is compared
        // in constant time so that a key whose id was taken over is noticed.
        let Some(stored_info) = self.db.get_cf(self.cf(KEYS)?, hash)? else { return Ok(None) };
        let info: KeyInfo = serde_json::from_slice(&stored_info).map_err(|e| KeyError::Corrupt(e.to_string()))?;
        match self.db.get_cf(self.cf(IDS)?, info.id.as_bytes())? {
            Some(indexed) if bool::from(indexed.as_slice().ct_eq(&hash)) => {}
            _ => tracing::warn!(key = %info.id, "a key's id index entry is missing or another key's"),
        }
        Ok(info.active(now).then_some(info))
    }

    fn by_id(&self, id: &str) -> Result<([u8; 32], KeyInfo), KeyError> {
        let hash = self.db.get_cf(self.cf(IDS)?, id.as_bytes())?.ok_or_else(|| KeyError::NotFound(id.to_string()))?;
        let hash: [u8; 32] = hash.try_into().map_err(|_| KeyError::Corrupt("key hash".into()))?;
        let v = self.db.get_cf(self.cf(KEYS)?, hash)?.ok_or_else(|| KeyError::NotFound(id.to_string()))?;
        let info = serde_json::from_slice(&v).map_err(|e| KeyError::Corrupt(e.to_string()))?;
        Ok((hash, info))
    }

    /// The keys of a tenant (ids and metadata only), oldest first.
    pub fn list(&self, tenant: &str) -> Result<Vec<KeyInfo>, KeyError> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(KEYS)?, IteratorMode::Start) {
            let (_, v) = item?;
            let info: KeyInfo = serde_json::from_slice(&v).map_err(|e| KeyError::Corrupt(e.to_string()))?;
            if info.tenant == tenant {
                out.push(info);
            }
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// A key of `tenant` by id (another tenant's key is not found).
    pub fn get(&self, tenant: &str, id: &str) -> Result<KeyInfo, KeyError> {
        let (_, info) = self.by_id(id)?;
        if info.tenant != tenant {
            return Err(KeyError::NotFound(id.to_string()));
        }
        Ok(info)
    }

    /// Revokes a key of `tenant` at `at`, on behalf of a key of role `actor`.
    pub fn revoke(&self, tenant: &str, id: &str, at: i64, actor: Role) -> Result<KeyInfo, KeyError> {
        let (hash, mut info) = self.by_id(id)?;
        if info.tenant != tenant {
            return Err(KeyError::NotFound(id.to_string()));
        }
        if !may_manage(actor, info.role) {
            return Err(forbidden(actor, info.role, "revoke"));
        }
        info.revoked_at = Some(info.revoked_at.map_or(at, |t| t.min(at)));
        self.put(&hash, &info)?;
        Ok(info)
    }

    /// Rotates a key of `tenant` on behalf of a key of role `actor`: a new
    /// key with the same role, and the old one revoked `overlap` µs from
    /// `now`. Returns the new secret and info. A revoked (or revoking) or
    /// expired key is not rotated: that would bring it back to life.
    pub fn rotate(
        &self,
        tenant: &str,
        id: &str,
        env: &str,
        now: i64,
        overlap: i64,
        actor: Role,
    ) -> Result<(String, KeyInfo), KeyError> {
        let old = self.get(tenant, id)?;
        if !may_manage(actor, old.role) {
            return Err(forbidden(actor, old.role, "rotate"));
        }
        if !old.active(now) || old.revoked_at.is_some() {
            return Err(KeyError::Inactive(old.id));
        }
        let (secret, mut info) = self.create(
            tenant,
            &KeySpec { role: old.role, env, name: &old.name, expires_at: old.expires_at, tier: &old.tier },
            now,
        )?;
        info.rotated_from = Some(old.id.clone());
        self.put(&digest(&secret), &info)?;
        self.revoke(tenant, id, now.saturating_add(overlap), actor)?;
        Ok((secret, info))
    }

    /// Is there any key at all (for the bootstrap)?
    pub fn is_empty(&self) -> Result<bool, KeyError> {
        Ok(self.db.iterator_cf(self.cf(KEYS)?, IteratorMode::Start).next().is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_works_until_revoked_or_expired_and_only_as_itself() {
        let dir = tempfile::tempdir().expect("tmp");
        let ks = KeyStore::open(dir.path()).expect("open");
        let (secret, info) = ks
            .create("acme", &KeySpec { name: "ci", expires_at: Some(1_000), ..KeySpec::new(Role::Member, "test") }, 100)
            .expect("create");
        assert!(secret.starts_with("tlk_test_") && secret.len() == "tlk_test_".len() + 43);
        assert!(info.id.starts_with("tlk_test_") && info.id.ends_with(&secret[secret.len() - 4..]));
        assert_eq!(info.id.chars().count(), "tlk_test_".len() + 16 + 1 + 4, "96 random bits, then the tail");
        assert_eq!(ks.authenticate(&secret, 200).expect("auth"), Some(info.clone()));
        assert_eq!(ks.authenticate(&secret, 1_000).expect("auth"), None, "expired");
        // One character changed (never to itself: secrets end in 'A' 1 time in 64).
        let mut wrong = secret.clone();
        let last = wrong.pop();
        wrong.push(if last == Some('A') { 'B' } else { 'A' });
        assert_eq!(ks.authenticate(&wrong, 200).expect("auth"), None);
        assert!(
            matches!(ks.revoke("globex", &info.id, 300, Role::Owner), Err(KeyError::NotFound(_))),
            "other tenants cannot"
        );
        ks.revoke("acme", &info.id, 300, Role::Admin).expect("revoke");
        assert_eq!(ks.authenticate(&secret, 299).expect("auth").map(|i| i.id), Some(info.id.clone()));
        assert_eq!(ks.authenticate(&secret, 300).expect("auth"), None, "revoked");
        // Nothing at rest holds the secret.
        drop(ks);
        for entry in std::fs::read_dir(dir.path()).expect("dir") {
            let bytes = std::fs::read(entry.expect("entry").path()).unwrap_or_default();
            assert!(!bytes.windows(20).any(|w| w == &secret.as_bytes()[9..29]), "the secret is stored nowhere");
        }
    }

    /// Issue 19, finding 5: ids were the secret's last four characters
    /// (24 bits): after a few thousand keys a new key took over an older
    /// key's id. Ids are random now, and a store written before is migrated
    /// when it opens: the key whose id was taken over gets its own again.
    #[test]
    fn key_ids_never_collide_and_collided_legacy_ids_are_migrated() {
        let dir = tempfile::tempdir().expect("tmp");
        let ks = KeyStore::open(dir.path()).expect("open");
        let mut ids = std::collections::HashSet::new();
        for i in 0..500 {
            let (_, info) = ks.create("acme", &KeySpec::new(Role::Member, "test"), i).expect("create");
            assert!(ids.insert(info.id), "ids are unique");
        }
        // A legacy store: two keys (two tenants) whose ids collided, the
        // index entry held by the newer one.
        let legacy = |tenant: &str| KeyInfo {
            id: "tlk_test_…AbCd".into(),
            tenant: tenant.into(),
            role: Role::Member,
            name: String::new(),
            created_at: 1,
            expires_at: None,
            revoked_at: None,
            rotated_from: None,
            tier: STANDARD_TIER.into(),
        };
        let (old, new) = ("tlk_test_old-secret-AbCd", "tlk_test_new-secret-AbCd");
        ks.put(&digest(old), &legacy("victim")).expect("put");
        ks.put(&digest(new), &legacy("acme")).expect("put");
        drop(ks);
        let ks = KeyStore::open(dir.path()).expect("reopen migrates");
        let victim = ks.list("victim").expect("list");
        assert_eq!(victim.len(), 1);
        assert!(!is_legacy_id(&victim[0].id) && victim[0].id.ends_with("AbCd"), "{}", victim[0].id);
        assert_eq!(ks.get("victim", &victim[0].id).expect("its own id").tenant, "victim");
        assert_eq!(ks.get("acme", "tlk_test_…AbCd").expect("the holder keeps it").tenant, "acme");
        assert_eq!(ks.authenticate(old, 2).expect("auth").map(|i| i.tenant), Some("victim".into()));
        ks.revoke("victim", &victim[0].id, 3, Role::Owner).expect("revoke by its new id");
        assert_eq!(ks.authenticate(new, 4).expect("auth").map(|i| i.tenant), Some("acme".into()), "the other stays");
        drop(ks);
        let again = KeyStore::open(dir.path()).expect("idempotent");
        assert_eq!(again.list("victim").expect("list")[0].id, victim[0].id);
    }

    #[test]
    fn rotation_overlaps_then_retires_the_old_key() {
        let dir = tempfile::tempdir().expect("tmp");
        let ks = KeyStore::open(dir.path()).expect("open");
        let (old, info) =
            ks.create("acme", &KeySpec { name: "deploy", ..KeySpec::new(Role::Admin, "live") }, 0).expect("create");
        let (new, new_info) = ks.rotate("acme", &info.id, "live", 10, 50, Role::Admin).expect("rotate");
        assert_eq!(new_info.role, Role::Admin);
        assert_eq!(new_info.rotated_from.as_deref(), Some(info.id.as_str()));
        assert!(ks.authenticate(&old, 59).expect("auth").is_some(), "old key works during the overlap");
        assert!(ks.authenticate(&old, 60).expect("auth").is_none());
        assert!(ks.authenticate(&new, 60).expect("auth").is_some());
        assert_eq!(ks.list("acme").expect("list").len(), 2);
        assert!(ks.list("globex").expect("list").is_empty());
    }

    #[test]
    fn the_matrix_is_least_privilege() {
        use Permission::*;
        let all = [Ingest, Read, ReadContent, Proofs, Export, ManageKeys, AccessLog, TenantSettings, Erase];
        let grants = |r: Role| all.iter().filter(|p| r.can(**p)).count();
        assert_eq!(grants(Role::Owner), all.len());
        assert!(!Role::Admin.can(TenantSettings) && Role::Admin.can(ManageKeys) && Role::Admin.can(Erase));
        assert!(!Role::Auditor.can(Erase) && !Role::Member.can(Erase) && !Role::Viewer.can(Erase));
        assert!(!Role::Auditor.can(Ingest) && !Role::Auditor.can(ManageKeys) && Role::Auditor.can(Export));
        assert!(!Role::Viewer.can(ReadContent) && Role::Viewer.can(Read));
        assert_eq!(grants(Role::Viewer), 1);
        assert!(!Role::Member.can(ManageKeys) && Role::Member.can(Ingest));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.name()), Some(r));
        }
    }
}
