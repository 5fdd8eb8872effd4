//! What a node creates in its data directory on first start: its signing
//! key, the API key store and the tenant's first Owner key.

use anyhow::Context;
use std::path::Path;
use traceledger_api::api_keys::{KeySpec, KeyStore, Role};
use traceledger_bundle::{read_signing_key, write_signing_key};
use traceledger_core::signing::SigningKey;

/// The node's signing key (`<data>/keys/ledger.key`), created on first use.
pub fn node_key(data: &Path, name: &str) -> anyhow::Result<SigningKey> {
    let keys = data.join("keys");
    std::fs::create_dir_all(&keys).with_context(|| keys.display().to_string())?;
    let key_path = keys.join("ledger.key");
    if key_path.exists() {
        return Ok(read_signing_key(&key_path)?);
    }
    let k = SigningKey::generate(name, &mut rand::rngs::OsRng)?;
    write_signing_key(&key_path, &k)?;
    std::fs::write(keys.join("ledger.pub"), format!("{}\n", k.verifier_key_string()))?;
    crate::output::notice(&format!("created signing key {} (0600)", key_path.display()));
    Ok(k)
}

/// The API key store of a data directory (`DATA/api/keys`).
pub fn open_keys(data: &Path) -> anyhow::Result<KeyStore> {
    let p = data.join("api").join("keys");
    std::fs::create_dir_all(&p).with_context(|| p.display().to_string())?;
    KeyStore::open(&p)
        .with_context(|| format!("API key store {} (is a node running on this data directory?)", p.display()))
}

/// On a node's first start: an Owner key for `tenant`, printed once and
/// written to `DATA/bootstrap-owner.key` (0600). Nothing when keys exist.
pub fn bootstrap_owner(keys: &KeyStore, data: &Path, tenant: &str) -> anyhow::Result<()> {
    if !keys.is_empty()? {
        return Ok(());
    }
    check_tenant(tenant)?;
    let spec = KeySpec { name: "bootstrap owner", ..KeySpec::new(Role::Owner, "live") };
    let (secret, info) = keys.create(tenant, &spec, crate::now().0)?;
    let path = data.join("bootstrap-owner.key");
    write_secret(&path, &secret)?;
    if crate::output::logs_are_json() {
        // Log pipelines keep what they read: the secret stays in the file.
        tracing::warn!(key = %info.id, tenant, file = %path.display(), "created the owner API key; its secret is in the file only (mode 0600)");
    } else {
        eprintln!("created the owner API key {} of tenant `{tenant}`; it is shown once:", info.id);
        eprintln!("  {secret}");
        eprintln!("  (also in {}, mode 0600; delete it once stored elsewhere)", path.display());
    }
    Ok(())
}

/// A tenant an API key may be issued for: valid, and not one of the
/// system's own (`_…`, such as the access-log chains).
pub fn check_tenant(tenant: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        traceledger_core::event::is_valid_tenant_id(tenant)
            && tenant.len() <= traceledger_core::event::MAX_TENANT_ID_LEN,
        "tenant `{tenant}`: must be 1-128 characters of [A-Za-z0-9._-], not starting with '.'"
    );
    anyhow::ensure!(
        !traceledger_core::event::is_system_tenant_id(tenant),
        "tenant `{tenant}`: ids starting with '_' are reserved for the system"
    );
    Ok(())
}

/// Writes a secret to a new file readable by the owner only.
pub fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| path.display().to_string())?;
    f.write_all(format!("{secret}\n").as_bytes())?;
    Ok(())
}
