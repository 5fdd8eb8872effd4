//! The report archive: every report the node makes is kept, byte for byte,
//! with its signed note, so that the console can list past reports with
//! the checkpoints they rest on and anyone allowed can fetch one again and
//! check it offline (`traceledger verify-report`).
//!
//! Layout: `DIR/<tenant>/<id>.<format>`, `<id>.<format>.sig` (the signed
//! note) and `<id>.entry.json` (what the list shows). Each file is written to a
//! temporary name and renamed, the listing file last, so a crash leaves no
//! half report listed. Reports are evidence: the archive never deletes one.
//! Plain files rather than a store: a report is written once and read
//! whole, and an operator can hand the directory to an auditor as it is.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A stored report, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredReport {
    /// Id (`soc2-<generated µs>-<first 12 hex of the SHA-256>`).
    pub id: String,
    /// Kind (`soc2`).
    pub kind: String,
    /// `html` or `json`.
    pub format: String,
    /// Period start (RFC 3339).
    pub from: String,
    /// Period end (RFC 3339, exclusive).
    pub to: String,
    /// When it was made (RFC 3339).
    pub generated_at: String,
    /// SHA-256 of its bytes (hex), as its note signs.
    pub sha256: String,
    /// The checkpoint it rests on: `<origin> <size> <root>`; none before the first.
    pub anchor: Option<String>,
    /// Size in bytes.
    pub bytes: u64,
    /// The API key id that asked for it.
    pub requested_by: String,
}

/// The archive of one node.
#[derive(Debug)]
pub struct ReportArchive {
    dir: PathBuf,
}

/// The listing file's suffix (a JSON report's body is `<id>.json`).
const ENTRY: &str = "entry.json";

/// Ids and tenants name files: only this alphabet (tenant ids are already
/// restricted to it).
fn safe(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

impl ReportArchive {
    /// The archive in `dir` (created when missing).
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(ReportArchive { dir: dir.to_path_buf() })
    }

    fn tenant_dir(&self, tenant: &str) -> std::io::Result<PathBuf> {
        if !safe(tenant) {
            return Err(std::io::Error::other(format!("tenant `{tenant}` cannot name a directory")));
        }
        Ok(self.dir.join(tenant))
    }

    /// Keeps a report and its note; returns what the list shows.
    pub fn store(&self, tenant: &str, meta: &StoredReport, bytes: &[u8], note: &str) -> std::io::Result<()> {
        if !safe(&meta.id) || !safe(&meta.format) {
            return Err(std::io::Error::other("bad report id"));
        }
        let dir = self.tenant_dir(tenant)?;
        std::fs::create_dir_all(&dir)?;
        let body = dir.join(format!("{}.{}", meta.id, meta.format));
        write_new(&body, bytes)?;
        write_new(&dir.join(format!("{}.{}.sig", meta.id, meta.format)), note.as_bytes())?;
        write_new(
            &dir.join(format!("{}.{ENTRY}", meta.id)),
            &serde_json::to_vec_pretty(meta).map_err(std::io::Error::other)?,
        )
    }

    /// The tenant's reports, newest first.
    pub fn list(&self, tenant: &str) -> std::io::Result<Vec<StoredReport>> {
        let dir = self.tenant_dir(tenant)?;
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for e in entries {
            let p = e?.path();
            if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(ENTRY)) {
                match serde_json::from_slice::<StoredReport>(&std::fs::read(&p)?) {
                    Ok(r) => out.push(r),
                    Err(err) => {
                        tracing::warn!(file = %p.display(), error = %err, "an archived report's listing does not parse")
                    }
                }
            }
        }
        out.sort_by(|a, b| b.generated_at.cmp(&a.generated_at).then_with(|| b.id.cmp(&a.id)));
        Ok(out)
    }

    /// One report: its listing, bytes and signed note; `None` when there is none of that id.
    pub fn get(&self, tenant: &str, id: &str) -> std::io::Result<Option<(StoredReport, Vec<u8>, String)>> {
        if !safe(id) {
            return Ok(None);
        }
        let dir = self.tenant_dir(tenant)?;
        let meta: StoredReport = match std::fs::read(dir.join(format!("{id}.{ENTRY}"))) {
            Ok(b) => serde_json::from_slice(&b).map_err(std::io::Error::other)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let bytes = std::fs::read(dir.join(format!("{id}.{}", meta.format)))?;
        let note = std::fs::read_to_string(dir.join(format!("{id}.{}.sig", meta.format)))?;
        Ok(Some((meta, bytes, note)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str, at: &str) -> StoredReport {
        StoredReport {
            id: id.into(),
            kind: "soc2".into(),
            format: "json".into(),
            from: "2026-01-01T00:00:00Z".into(),
            to: "2026-02-01T00:00:00Z".into(),
            generated_at: at.into(),
            sha256: "ab".into(),
            anchor: None,
            bytes: 2,
            requested_by: "k".into(),
        }
    }

    #[test]
    fn reports_are_kept_listed_newest_first_and_fetched_by_safe_ids_only() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = ReportArchive::open(dir.path()).expect("open");
        assert!(a.list("acme").expect("list").is_empty());
        a.store("acme", &meta("soc2-1-aa", "2026-03-01T00:00:00Z"), b"{}", "note 1").expect("store");
        a.store("acme", &meta("soc2-2-bb", "2026-03-02T00:00:00Z"), b"[]", "note 2").expect("store");
        let ids: Vec<String> = a.list("acme").expect("list").into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["soc2-2-bb", "soc2-1-aa"]);
        let (m, bytes, note) = a.get("acme", "soc2-1-aa").expect("get").expect("there");
        assert_eq!((m.id.as_str(), bytes.as_slice(), note.as_str()), ("soc2-1-aa", &b"{}"[..], "note 1"));
        assert!(a.list("other").expect("list").is_empty(), "tenants do not see each other's");
        assert!(a.get("other", "soc2-1-aa").expect("get").is_none());
        for bad in ["../acme/soc2-1-aa", "", ".hidden", "a/b"] {
            assert!(a.get("acme", bad).expect("get").is_none(), "{bad}");
        }
        assert!(a.list("../x").is_err());
    }
}
